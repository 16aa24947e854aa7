"""Stage 1: the VLM learns to answer image + instruction with FAST action tokens (next-token prediction).

Vocabulary, as the official FastActionTokenizer extends it: A action tokens <|a_i|> are added after the text
tokenizer's T = len(tokenizer) ids, then the two markers:
    ids T .. T+A−1  <|a_0|> … <|a_{A−1}|> (FAST id + T);  T+A  <|action_start|>;  T+A+1  <|action_end|>
and the embedding is resized to max(its size, T+A+2 rounded up to a multiple of 192) (resize_token_embeddings(...,
pad_to_multiple_of=192)); the action tokens' rows and any new ones start at the mean of the text tokens' rows.
The output layer is the tied embedding.

Sequence per sample: the chat template of the user turn (images, instruction lower-cased) and an assistant turn
whose text is the action tokens (not wrapped in the markers):
    <|im_start|>user\n <images> instruction <|im_end|>\n <|im_start|>assistant\n a₁ … a_k <|im_end|>\n
The loss is the cross-entropy of a₁ … a_k, <|im_end|> and the newline (the official "answer + EOS + formatting"
tokens); padding (right, masked out) and the prompt carry no loss. Generation decodes action tokens until
<|im_end|>.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from psi0_policy.data.fast import FastTokenizer
from psi0_policy.model.config import from_dict
from psi0_policy.model.preprocess import Preprocessor
from psi0_policy.model.psi0 import Psi0Model

IGNORE = -100


VOCAB_MULTIPLE = 192  # official resize_token_embeddings(pad_to_multiple_of=192)


def extend_vocab(model: Psi0Model, action_vocab: int) -> None:
    """Make room for action_vocab + 2 tokens from cfg.text_tokens on (in place) and record it in the model config."""
    if model.cfg.action_vocab:
        if model.cfg.action_vocab != action_vocab:
            raise ValueError(f"model already has {model.cfg.action_vocab} action tokens, tokenizer has {action_vocab}")
        return
    lm = model.backbone.vlm.language_model
    old = lm.embed_tokens
    v, c = old.weight.shape
    need = model.cfg.text_tokens + action_vocab + 2
    size = max(v, -(-need // VOCAB_MULTIPLE) * VOCAB_MULTIPLE)
    new = nn.Embedding(size, c, padding_idx=old.padding_idx)
    with torch.no_grad():
        new.weight[:v] = old.weight
        new.weight[v:] = old.weight[: model.cfg.text_tokens].mean(0, keepdim=True)
        new.weight[model.cfg.text_tokens: need] = old.weight[: model.cfg.text_tokens].mean(0, keepdim=True)
    lm.embed_tokens = new
    d = model.cfg.to_dict()
    d["text"]["vocab_size"] = size
    d["action_vocab"] = action_vocab
    model.cfg = from_dict(d)
    model.backbone.cfg = model.cfg
    model.backbone.vlm.config.text_config.vocab_size = size


@dataclasses.dataclass(frozen=True)
class ActionIds:
    offset: int  # id of FAST token 0 (<|a_0|>)
    count: int
    start: int  # <|action_start|>
    end: int  # <|action_end|>

    @staticmethod
    def of(model: Psi0Model) -> ActionIds:
        a, t = model.cfg.action_vocab, model.cfg.text_tokens
        if not a:
            raise ValueError("the model has no action tokens (extend_vocab first)")
        return ActionIds(offset=t, count=a, start=t + a, end=t + a + 1)


def build_batch(pre: Preprocessor, ids: ActionIds, images: list[np.ndarray], instructions: list[str],
                answers: list[list[int]] | None) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """→ (backbone inputs, labels (B, L) with IGNORE outside the answer). answers=None: prompt only (generation)."""
    seqs, labels = [], []
    for b, text in enumerate(instructions):
        prompt = pre.prompt_ids(1, text)  # user turn + assistant header
        answer = [] if answers is None else [ids.offset + t for t in answers[b]] + pre.end_of_turn()
        seqs.append(prompt + answer)
        labels.append([IGNORE] * len(prompt) + answer)
    inputs = pre.inputs(seqs, [[img] for img in images])
    lab = torch.full(inputs["input_ids"].shape, IGNORE, dtype=torch.long)
    for b, y in enumerate(labels):
        lab[b, : len(y)] = torch.tensor(y)
    return inputs, (lab if answers is not None else None)


def token_loss(model: Psi0Model, inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Answer-token cross-entropy: per sample mean over its answer tokens, then mean over the batch."""
    return model("tokens", inputs, labels).mean()


@torch.no_grad()
def generate(model: Psi0Model, pre: Preprocessor, image: np.ndarray, instruction: str, max_tokens: int = 256,
             fast: FastTokenizer | None = None, horizon: int | None = None) -> tuple[list[int], bool]:
    """Greedy decoding of FAST token ids (restricted to action tokens and <|im_end|>) for one observation.

    With `fast` and `horizon`, decoding also stops once the tokens spell the T·D coefficients a chunk needs
    (a length-constrained decoder: the answer's size is known). Returns (FAST ids, whether the model itself
    ended its turn with <|im_end|>)."""
    ids = ActionIds.of(model)
    inputs, _ = build_batch(pre, ids, [image], [instruction], None)
    out: list[int] = []
    allowed = torch.full((model.cfg.text.vocab_size,), float("-inf"))
    allowed[ids.offset: ids.offset + ids.count] = 0
    stop = model.cfg.im_end_token_id
    allowed[stop] = 0
    need = (horizon or 0) * (fast.action_dim if fast else 0)
    for _ in range(max_tokens):
        nxt = int((model.token_logits(inputs)[0, -1].float() + allowed).argmax())
        if nxt == stop:
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
