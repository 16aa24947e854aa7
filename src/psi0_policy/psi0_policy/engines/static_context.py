"""The observation path — Qwen3-VL backbone + the expert's context projection — with no host synchronisation,
so that a CUDA graph can capture it (engines/cuda_graph.py).

    ctx = StaticContext(model, cameras=1)                         # once: host-side precomputation
    obs = ctx(input_ids, attention_mask, pixel_values, position_ids, state)   # (1, L+1, W), device only

The stock Hugging Face forward reads device values on the host in several places; each is replaced by
something computed once, on the host, from what the Preprocessor fixes (one image size, one camera count,
`max_text_tokens` text slots):
- vision position tables, bilinear position-embedding taps, attention segment lengths: functions of the image
  grid only — precomputed with transformers' own `vision_utils` helpers and passed in through the keyword
  arguments the vision tower accepts for exactly this purpose; the segment lengths stay on the host (the
  non-flash attention path splits by them with `.tolist()`);
- image features into the text embeddings (`masked_scatter` after a placeholder-count check that calls
  `.item()`): an `index_copy` at the image tokens' fixed positions;
- the causal + padding mask (the mask builder asks the host whether any padding exists): a 4-D boolean mask
  built on the device from the padding mask, which the language model takes as it is;
- DeepStack (a boolean-mask index_put): the `index_add` of engines/onnx_context.py;
- the 3-D M-RoPE position ids depend on the instruction's length: an input, computed on the host by
  `rope_position_ids` (cached per text length).
tests/policy/test_static_context.py checks the result against the stock forward, and that a run on the meta
device neither reads a device value on the host nor copies host data to the device.
"""

from __future__ import annotations

import torch
from torch import nn

from psi0_policy.engines.onnx_context import example_inputs, image_token_positions, position_ids, static_deepstack
from psi0_policy.model.preprocess import Preprocessor
from psi0_policy.model.psi0 import BackboneInputs, Psi0Model


class StaticContext(nn.Module):
    def __init__(self, model: Psi0Model, cameras: int = 1, preprocessor: Preprocessor | None = None) -> None:
        super().__init__()
        try:  # transformers ≥ 5.2x: the vision helpers whose results the vision tower accepts precomputed
            from transformers.vision_utils import (
                get_vision_attention_seqlens,
                get_vision_interpolation_indices_and_weights,
                get_vision_position_ids,
            )
        except ImportError as e:
            raise RuntimeError(f"this transformers version cannot precompute the vision tables ({e})") from e
        self.model = model
        self.cameras = cameras
        dev = next(model.parameters()).device
        ref = example_inputs(model, cameras, preprocessor)
        self.grid = ref["image_grid_thw"].cpu()  # host constant: the vision tower derives split sizes from it
        self.length = ref["input_ids"].shape[1]
        vis = model.backbone.vlm.visual
        idx, w = get_vision_interpolation_indices_and_weights(
            self.grid, num_grid_per_side=vis.num_grid_per_side, mode=vis.interpolation_mode,
            align_corners=vis.interpolation_align_corners, spatial_merge_size=vis.config.spatial_merge_size)
        self.register_buffer("interp_indices", idx.to(dev), persistent=False)  # (patches, taps)
        self.register_buffer("interp_weights", w.to(dev), persistent=False)  # (patches, taps) fp32
        self.register_buffer("vision_position_ids", get_vision_position_ids(self.grid, vis.spatial_merge_size).to(dev),
                             persistent=False)  # (patches, 2)
        self.cu_seqlens, self.max_seqlen = get_vision_attention_seqlens(self.grid, vis.config)  # host
        self.register_buffer("image_positions", image_token_positions(ref).to(dev), persistent=False)
        causal = torch.ones(self.length, self.length, dtype=torch.bool, device=dev).tril()
        self.register_buffer("causal", causal, persistent=False)  # (L, L)
        self._rope: dict[int, torch.Tensor] = {}

    def vision_kwargs(self) -> dict:
        """Fresh every call: the vision tower pops what it uses."""
        kw = {"interp_indices": self.interp_indices, "interp_weights": self.interp_weights,
              "position_ids": self.vision_position_ids, "cu_seqlens": self.cu_seqlens}
        if self.max_seqlen is not None:
            kw["max_seqlen"] = self.max_seqlen
        return kw

    def rope_position_ids(self, inputs: BackboneInputs) -> torch.Tensor:
        """(3, 1, L) M-RoPE ids on the host; they depend only on how many text slots are used."""
        used = int(inputs["attention_mask"].sum())
        if used not in self._rope:
            self._rope[used] = position_ids(self.model, {k: v.cpu() for k, v in inputs.items()})
        return self._rope[used]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor,
                position_ids: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        vlm = self.model.backbone.vlm
        vis = vlm.visual
        out = vis(pixel_values.to(vis.patch_embed.proj.weight.dtype), grid_thw=self.grid, return_dict=True,
                  **self.vision_kwargs())
        emb = vlm.get_input_embeddings()(input_ids)  # (1, L, C)
        emb = emb.index_copy(1, self.image_positions, out.pooler_output.unsqueeze(0).to(emb.dtype))
        mask = self.causal[None, None] & attention_mask[:, None, None, :].bool()  # (1, 1, L, L), True = attend
        with static_deepstack(self.model, self.image_positions):
            hidden = vlm.language_model(input_ids=None, inputs_embeds=emb, attention_mask=mask,
                                        position_ids=position_ids, visual_pos_masks=None,
                                        deepstack_visual_embeds=out.deepstack_features, use_cache=False)
        last = hidden.last_hidden_state  # (1, L, C)
        return self.model.expert.encode_context(last, state.to(last.dtype), attention_mask.sum(1))  # (1, L+1, W)
