"""Stage 1: the VLM learns to answer image + instruction with FAST action tokens (next-token prediction).

Vocabulary: the text vocabulary V is extended by the tokenizer's A action tokens and two markers:
    ids V .. V+A−1  action tokens (FAST id + V);  V+A  <action_start>;  V+A+1  <action_end>
The new embedding rows start at the mean of the old ones. The output layer is the (tied) embedding matrix.

Sequence per sample: <vision_start> <image>×N <vision_end>  instruction tokens  <action_start>  a₁ … a_k  <action_end>
The loss is the cross-entropy of predicting a₁ … a_k and <action_end> (the answer tokens only); padding
(right, masked out) and the prompt carry no loss.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from psi0_policy.data.fast import FastTokenizer
from psi0_policy.model.config import from_dict
from psi0_policy.model.preprocess import Preprocessor, patchify, resize_image
from psi0_policy.model.psi0 import Psi0Model

IGNORE = -100


def extend_vocab(model: Psi0Model, action_vocab: int) -> None:
    """Append action_vocab + 2 rows to the text embedding (in place) and record it in the model config."""
    if model.cfg.action_vocab:
        if model.cfg.action_vocab != action_vocab:
            raise ValueError(f"model already has {model.cfg.action_vocab} action tokens, tokenizer has {action_vocab}")
        return
    lm = model.backbone.vlm.language_model
    old = lm.embed_tokens
    v, c = old.weight.shape
    new = nn.Embedding(v + action_vocab + 2, c, padding_idx=old.padding_idx)
    with torch.no_grad():
        new.weight[:v] = old.weight
        new.weight[v:] = old.weight.mean(0, keepdim=True)
    lm.embed_tokens = new
    d = model.cfg.to_dict()
    d["text"]["vocab_size"] = v + action_vocab + 2
    d["action_vocab"] = action_vocab
    model.cfg = from_dict(d)
    model.backbone.cfg = model.cfg
    model.backbone.vlm.config.text_config.vocab_size = v + action_vocab + 2


@dataclasses.dataclass(frozen=True)
class ActionIds:
    offset: int  # id of FAST token 0
    count: int
    start: int
    end: int

    @staticmethod
    def of(model: Psi0Model) -> ActionIds:
        a, v = model.cfg.action_vocab, model.cfg.text.vocab_size
        if not a:
            raise ValueError("the model has no action tokens (extend_vocab first)")
        return ActionIds(offset=v - a - 2, count=a, start=v - 2, end=v - 1)


def build_batch(pre: Preprocessor, ids: ActionIds, images: list[np.ndarray], instructions: list[str],
                answers: list[list[int]] | None) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """→ (backbone inputs, labels (B, L) with IGNORE outside the answer). answers=None: prompt only (generation)."""
    cfg = pre.cfg
    seqs, labels, pix, grids = [], [], [], []
    for b, (img, text) in enumerate(zip(images, instructions, strict=True)):
        pv, grid = patchify(resize_image(img, cfg.image_size), cfg)
        pix.append(pv)
        grids.append(grid)
        prompt = [cfg.vision_start_token_id] + [cfg.image_token_id] * cfg.image_tokens + [cfg.vision_end_token_id]
        prompt += [*pre.tokenizer.encode(text)[: cfg.max_text_tokens], ids.start]
        answer = [] if answers is None else [ids.offset + t for t in answers[b]] + [ids.end]
        seqs.append(prompt + answer)
        labels.append([IGNORE] * len(prompt) + answer)
    n = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), n), cfg.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    lab = torch.full((len(seqs), n), IGNORE, dtype=torch.long)
    for b, (s, y) in enumerate(zip(seqs, labels, strict=True)):
        input_ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
        lab[b, : len(y)] = torch.tensor(y)
    inputs = {"input_ids": input_ids, "mm_token_type_ids": (input_ids == cfg.image_token_id).int(), "attention_mask": mask,
              "pixel_values": torch.cat(pix), "image_grid_thw": torch.stack(grids)}
    return inputs, (lab if answers is not None else None)


def token_loss(model: Psi0Model, inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Answer-token cross-entropy: per sample mean over its answer tokens, then mean over the batch."""
    return model("tokens", inputs, labels).mean()


@torch.no_grad()
def generate(model: Psi0Model, pre: Preprocessor, image: np.ndarray, instruction: str, max_tokens: int = 256,
             fast: FastTokenizer | None = None, horizon: int | None = None) -> tuple[list[int], bool]:
    """Greedy decoding of FAST token ids (restricted to action tokens and <action_end>) for one observation.

    With `fast` and `horizon`, decoding also stops once the tokens spell the T·D coefficients a chunk needs
    (a length-constrained decoder: the answer's size is known). Returns (FAST ids, whether the model itself
    emitted <action_end>)."""
    ids = ActionIds.of(model)
    inputs, _ = build_batch(pre, ids, [image], [instruction], None)
    out: list[int] = []
    allowed = torch.full((model.cfg.text.vocab_size,), float("-inf"))
    allowed[ids.offset: ids.offset + ids.count] = 0
    allowed[ids.end] = 0
    need = (horizon or 0) * (fast.action_dim if fast else 0)
    for _ in range(max_tokens):
        nxt = int((model.token_logits(inputs)[0, -1].float() + allowed).argmax())
        if nxt == ids.end:
            return out, True
        out.append(nxt - ids.offset)
        if need and len(fast.bpe.decode(out)) >= need:
            break
        one = torch.tensor([[nxt]])
        inputs["input_ids"] = torch.cat([inputs["input_ids"], one], 1)
        inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(one)], 1)
        inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(one, dtype=torch.int)], 1)
    return out, False


def encode_answers(tok: FastTokenizer, chunks: torch.Tensor) -> list[list[int]]:
    """(B, H, D) normalised chunks → FAST token ids per sample."""
    return tok.encode(chunks.double().numpy())
