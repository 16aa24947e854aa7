"""The observation path — Qwen3-VL backbone + the expert's context projection — as one static-shape ONNX graph.

    export_context(model, "context.onnx", cameras=1)
    obs = session.run(None, context_feeds(model, inputs, state))[0]       # (1, L+1, W)

What makes the stock Hugging Face forward exportable with static shapes (one image size, one camera count,
`max_text_tokens` instruction slots — the Preprocessor's fixed layout, chat template included):
- the image grid is a constant of the graph, so the vision tower's position tables, window lengths and split
  sizes (computed on the host from it) are baked in correctly;
- the 3-D M-RoPE position ids depend on the instruction's length: they are an *input*, computed by
  `context_feeds` with the model's own `get_rope_index` (cheap, on the host);
- the DeepStack update of the language model (`hidden[visual_mask] += features`, a boolean-mask index_put whose
  ONNX conversion is broken) is replaced during export by an `index_add` at the image tokens' fixed positions —
  the same arithmetic (checked against the stock forward in tests/policy/test_engines.py).
The padding mask stays an input (the graph is exported with padding present), so any instruction length works.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from psi0_policy.model.preprocess import Preprocessor
from psi0_policy.model.psi0 import BackboneInputs, Psi0Model

INPUTS = ("input_ids", "attention_mask", "pixel_values", "position_ids", "state")


def image_token_positions(inputs: BackboneInputs) -> torch.Tensor:
    """Indices of the image tokens of a (batch-1) prompt in the Preprocessor's fixed layout."""
    return torch.nonzero(inputs["mm_token_type_ids"][0] == 1).flatten()


@contextmanager
def static_deepstack(model: Psi0Model, positions: torch.Tensor) -> Iterator[None]:
    """Temporarily replace the language model's boolean-mask DeepStack update by an index_add (batch 1)."""
    lm = model.backbone.vlm.language_model

    def deepstack(self, hidden_states: torch.Tensor, visual_pos_masks: torch.Tensor, visual_embeds: torch.Tensor):
        return hidden_states.index_add(1, positions.to(hidden_states.device), visual_embeds.unsqueeze(0).to(hidden_states.dtype))

    lm._deepstack_process = types.MethodType(deepstack, lm)
    try:
        yield
    finally:
        del lm._deepstack_process  # back to the class's method


class _Context(nn.Module):
    def __init__(self, model: Psi0Model, grid: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("grid", grid)

    def forward(self, input_ids, attention_mask, pixel_values, position_ids, state):
        mm = (input_ids == self.model.cfg.image_token_id).int()
        out = self.model.backbone.vlm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                      pixel_values=pixel_values, image_grid_thw=self.grid, mm_token_type_ids=mm,
                                      use_cache=False)
        return self.model.expert.encode_context(out.last_hidden_state, state, attention_mask.sum(1))


def position_ids(model: Psi0Model, inputs: BackboneInputs) -> torch.Tensor:
    """(3, B, L) M-RoPE position ids, as the stock forward computes them."""
    vlm = model.backbone.vlm
    p, _ = vlm.get_rope_index(inputs["input_ids"], image_grid_thw=inputs["image_grid_thw"],
                              attention_mask=inputs["attention_mask"], mm_token_type_ids=inputs["mm_token_type_ids"])
    return p


def example_inputs(model: Psi0Model, cameras: int, pre: Preprocessor | None = None) -> BackboneInputs:
    """A fixed-length prompt with padding present (a short instruction), laid out by `pre` — the Preprocessor the
    engine will be fed by. Byte-tokenizer models can make their own; a Qwen-tokenizer model needs its tokenizer,
    since the chat template's token count fixes the layout."""
    from psi0_policy.model.preprocess import ByteTokenizer, Preprocessor

    if pre is None:
        if model.cfg.tokenizer != "bytes":
            raise ValueError("a qwen-tokenizer model's fixed prompt layout needs its Preprocessor (the bundle's tokenizer)")
        pre = Preprocessor(model.cfg, ByteTokenizer(), fixed_length=True)
    elif not pre.fixed_length:
        pre = Preprocessor(pre.cfg, pre.tokenizer, fixed_length=True)
    h, w = model.cfg.image_size
    img = np.full((h, w, 3), 128, np.uint8)
    return pre([[img] * cameras], ["abc"])


def export_context(model: Psi0Model, path: str | Path, cameras: int = 1, opset: int = 17,
                   pre: Preprocessor | None = None) -> Path:
    model = model.float().eval()
    inputs = example_inputs(model, cameras, pre)
    state = torch.zeros(1, model.cfg.state_dim)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = _Context(model, inputs["image_grid_thw"].clone()).eval()
    args = (inputs["input_ids"], inputs["attention_mask"], inputs["pixel_values"], position_ids(model, inputs), state)
    with static_deepstack(model, image_token_positions(inputs)), torch.no_grad():
        torch.onnx.export(graph, args, str(path), input_names=list(INPUTS), output_names=["obs"], opset_version=opset,
                          dynamo=False)
    return path


def context_feeds(model: Psi0Model, inputs: BackboneInputs, state: torch.Tensor) -> dict[str, np.ndarray]:
    return {"input_ids": inputs["input_ids"].numpy().astype(np.int64),
            "attention_mask": inputs["attention_mask"].numpy().astype(np.int64),
            "pixel_values": inputs["pixel_values"].float().numpy(),
            "position_ids": position_ids(model, inputs).numpy().astype(np.int64),
            "state": state.float().numpy()}
