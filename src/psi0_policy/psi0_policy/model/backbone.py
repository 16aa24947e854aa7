"""System-2: the Qwen3-VL vision-language backbone (transformers' Qwen3-VL classes).

Returns the whole last-layer hidden sequence (text and vision tokens, no pooling), which conditions
the action expert. Built from our config (no hub access); weights come from a checkpoint.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn
from transformers import Qwen3VLConfig, Qwen3VLModel

from psi0_policy.model.config import ModelConfig


def qwen3vl_config(cfg: ModelConfig) -> Qwen3VLConfig:
    t, v = cfg.text, cfg.vision
    return Qwen3VLConfig(
        text_config=dict(
            hidden_size=t.hidden_size, num_hidden_layers=t.num_hidden_layers, intermediate_size=t.intermediate_size,
            num_attention_heads=t.num_attention_heads, num_key_value_heads=t.num_key_value_heads, head_dim=t.head_dim,
            vocab_size=t.vocab_size, tie_word_embeddings=True, rope_theta=t.rope_theta, max_position_embeddings=262144,
            rope_scaling={"rope_type": "default", "mrope_section": list(t.mrope_section), "mrope_interleaved": True},
            pad_token_id=cfg.pad_token_id,
        ),
        vision_config=dict(
            depth=v.depth, hidden_size=v.hidden_size, intermediate_size=v.intermediate_size, num_heads=v.num_heads,
            out_hidden_size=t.hidden_size, patch_size=v.patch_size, spatial_merge_size=v.spatial_merge_size,
            temporal_patch_size=v.temporal_patch_size, deepstack_visual_indexes=list(v.deepstack_visual_indexes),
            num_position_embeddings=v.num_position_embeddings,
        ),
        image_token_id=cfg.image_token_id, vision_start_token_id=cfg.vision_start_token_id,
        vision_end_token_id=cfg.vision_end_token_id, tie_word_embeddings=True,
    )


_TAKES_MM_TYPES = "mm_token_type_ids" in inspect.signature(Qwen3VLModel.forward).parameters


class Backbone(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vlm = Qwen3VLModel(qwen3vl_config(cfg))

    @property
    def hidden_size(self) -> int:
        return self.cfg.text.hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixel_values: torch.Tensor,
                image_grid_thw: torch.Tensor, mm_token_type_ids: torch.Tensor) -> torch.Tensor:
        """→ (B, L, hidden) last-layer hidden states."""
        extra = {"mm_token_type_ids": mm_token_type_ids} if _TAKES_MM_TYPES else {}  # transformers ≥ 5.2x needs it
        out = self.vlm(input_ids=input_ids, attention_mask=attention_mask, **extra,
                       pixel_values=pixel_values.to(self.vlm.visual.patch_embed.proj.weight.dtype),
                       image_grid_thw=image_grid_thw, use_cache=False)
        return out.last_hidden_state
