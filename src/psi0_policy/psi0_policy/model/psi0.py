"""Ψ0: Qwen3-VL backbone (System-2) + MM-DiT flow-matching action expert (System-1).

Works on normalised actions and states (see normalize.py); `psi0_policy.policy` wraps it with
preprocessing and normalisation for deployment. Shapes: B batch, L context tokens, H horizon,
D action dim, S state dim, W expert width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from psi0_policy.model import flow
from psi0_policy.model.backbone import Backbone
from psi0_policy.model.config import ModelConfig
from psi0_policy.model.expert import ActionExpert

BackboneInputs = dict[str, torch.Tensor]  # input_ids, mm_token_type_ids, attention_mask, pixel_values, image_grid_thw


class Psi0Model(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.expert = ActionExpert(cfg, context_dim=cfg.text.hidden_size)

    def context(self, inputs: BackboneInputs, state: torch.Tensor, deploy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Observation → (obs stream (B, L+1, W), context mask (B, L)). Runs the VLM once per chunk.

        deploy: code the state token at the prompt's valid length (the official deploy path, which pads nothing), so
        a fixed-length padded prompt gives what the unpadded one gives; training keeps the official training
        layout (the state token right after the padded batch's last token)."""
        hidden = self.backbone(**inputs)  # (B, L, C)
        where = inputs["attention_mask"].sum(1) if deploy else None
        return self.expert.encode_context(hidden, state.to(hidden.dtype), where), inputs["attention_mask"]

    def velocity_fn(self, obs: torch.Tensor, obs_mask: torch.Tensor | None) -> flow.Velocity:
        """v(x, timestep) for one observation; timestep = σ·1000, (B,) or (B, H)."""
        return lambda x, t: self.expert(obs, x.to(obs.dtype), t, obs_mask).float()

    def loss_from(self, inputs: BackboneInputs, state: torch.Tensor, actions: torch.Tensor, noise: torch.Tensor,
                  sigma: torch.Tensor, delays: torch.Tensor | None = None, state_at_valid_length: bool = False) -> torch.Tensor:
        """Per-sample flow losses (B,) (their mean is the official loss) for given noise (B, H, D), noise levels
        sigma (B,) and RTC delays (B,) (None: no prefix). state_at_valid_length: code the state token where deployment
        codes it (the prompt's valid length) instead of after the padded batch's last token (the official training
        layout) — then a sample's loss does not depend on how long the other instructions of its batch are."""
        obs, mask = self.context(inputs, state, deploy=state_at_valid_length)
        prefix = flow.prefix_mask(delays.to(actions.device), actions.shape[1]) if delays is not None else None
        return flow.flow_loss(self.velocity_fn(obs, mask), actions, noise, sigma, prefix, reduce=False)

    def token_logits(self, inputs: BackboneInputs) -> torch.Tensor:
        """(B, L, V) next-token logits of the backbone through its tied embedding (stage-1 pre-training)."""
        hidden = self.backbone(**inputs)  # (B, L, C)
        return hidden @ self.backbone.vlm.language_model.embed_tokens.weight.T.to(hidden.dtype)

    def answer_token_loss(self, inputs: BackboneInputs, labels: torch.Tensor, ignore: int = -100) -> torch.Tensor:
        """Per-sample (B,) cross-entropy of the labelled tokens (labels (B, L), `ignore` elsewhere): position i
        predicts token i + 1; each sample averages over its own labelled tokens."""
        logits = self.token_logits(inputs)[:, :-1].float()
        y = labels[:, 1:]
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=ignore,
                             reduction="none").view_as(y)
        keep = (y != ignore).float()
        return (ce * keep).sum(1) / keep.sum(1).clamp_min(1.0)

    def forward(self, mode: str, *args: torch.Tensor | BackboneInputs | bool | None) -> torch.Tensor:
        """Training entry point (what DDP/FSDP wrap): "flow" → loss_from(...), "tokens" → answer_token_loss(...)."""
        if mode == "flow":
            return self.loss_from(*args)
        if mode == "tokens":
            return self.answer_token_loss(*args)
        raise ValueError(f"unknown training mode {mode!r}")

    @torch.no_grad()
    def sample_actions(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
                       prefix: torch.Tensor | None = None, prefix_len: int = 0, mode: str = "training",
                       num_steps: int | None = None) -> torch.Tensor:
        """→ (B, H, D) normalised chunk. mode "training": conditioned on the first prefix_len steps of `prefix`
        (training-time RTC, flow.sample_rtc); mode "guidance": inpaint toward `prefix` (previous chunk, overlap = its
        length)."""
        obs, mask = self.context(inputs, state, deploy=True)
        v = self.velocity_fn(obs, mask)
        n = num_steps or self.cfg.num_steps
        if mode == "guidance" and prefix is not None:
            return flow.sample_guided(v, noise, n, prefix, frozen=prefix_len)
        if mode not in ("training", "guidance"):
            raise ValueError(f"unknown conditioning mode {mode!r}")
        return flow.sample_rtc(v, noise, n, prefix, prefix_len) if prefix is not None else flow.sample(v, noise, n)
