"""System-1: the flow-matching action expert, an SD3-style multimodal diffusion transformer (MM-DiT).

Two token streams with their own weights, mixed by joint attention in every block:
- observation stream: VLM hidden states projected to the expert width, plus one proprioception token;
- action stream: H noisy action tokens (+ learned position embedding).
Flow time enters through AdaLN-Zero. Times are per action token, so a committed prefix can be marked
clean (t = 0) while the rest is noisy; the observation stream is modulated by the sample's time
(that of its noisiest action token).

Shapes: B batch, L context tokens, H horizon, D action dim, W width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from psi0_policy.model.config import ModelConfig


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of flow time t ∈ [0, 1] (scaled to [0, 1000]): (...,) → (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = (t.float() * 1000.0)[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class RMSNorm(nn.Module):
    """RMS norm over the last dim (written out: exports to every ONNX opset and TensorRT)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class TimeEmbed(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, 256).to(self.mlp[0].weight.dtype))


class StreamHalf(nn.Module):
    """One stream's weights inside a joint block: AdaLN modulation, QKV, output, MLP."""

    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)
        self.q_norm = RMSNorm(width // heads)
        self.k_norm = RMSNorm(width // heads)
        self.proj = nn.Linear(width, width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.ada[1].weight)  # AdaLN-Zero: every block starts as the identity
        nn.init.zeros_(self.ada[1].bias)

    def pre_attention(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (B, N, W), c (B, N, W) per-token conditioning → q, k, v (B, heads, N, W/heads) and the gates."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        b, n, w = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        return self.q_norm(q), self.k_norm(k), v, (gate1, shift2, scale2, gate2)

    def post_attention(self, x: torch.Tensor, attn: torch.Tensor, mods: tuple[torch.Tensor, ...]) -> torch.Tensor:
        gate1, shift2, scale2, gate2 = mods
        x = x + gate1 * self.proj(attn)
        return x + gate2 * self.mlp(self.norm2(x) * (1 + scale2) + shift2)


class JointBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.obs = StreamHalf(width, heads, mlp_ratio)
        self.act = StreamHalf(width, heads, mlp_ratio)

    def forward(self, o: torch.Tensor, a: torch.Tensor, c_obs: torch.Tensor, c_act: torch.Tensor,
                obs_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        qo, ko, vo, mo = self.obs.pre_attention(o, c_obs)
        qa, ka, va, ma = self.act.pre_attention(a, c_act)
        q, k, v = torch.cat([qo, qa], 2), torch.cat([ko, ka], 2), torch.cat([vo, va], 2)  # (B, h, L+H, d)
        mask = None
        if obs_mask is not None:  # keys: padded context tokens are never attended to
            keep = torch.cat([obs_mask, torch.ones(a.shape[:2], dtype=torch.bool, device=a.device)], dim=1)
            mask = keep[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        b, h, n, d = out.shape
        out = out.transpose(1, 2).reshape(b, n, h * d)
        lo = o.shape[1]
        return self.obs.post_attention(o, out[:, :lo], mo), self.act.post_attention(a, out[:, lo:], ma)


class ActionExpert(nn.Module):
    def __init__(self, cfg: ModelConfig, context_dim: int) -> None:
        super().__init__()
        e = cfg.expert
        w = e.width
        self.context_proj = nn.Linear(context_dim, w)  # VLM hidden → expert width
        self.state_proj = nn.Sequential(nn.Linear(cfg.state_dim, w), nn.SiLU(), nn.Linear(w, w))  # proprio token
        self.action_in = nn.Linear(cfg.action_dim, w)
        self.action_pos = nn.Parameter(torch.zeros(1, cfg.horizon, w))
        nn.init.normal_(self.action_pos, std=0.02)
        self.time = TimeEmbed(w)
        self.blocks = nn.ModuleList(JointBlock(w, e.heads, e.mlp_ratio) for _ in range(e.depth))
        self.final_norm = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(w, 2 * w))
        self.final_out = nn.Linear(w, cfg.action_dim)
        for m in (self.final_ada[1], self.final_out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def encode_context(self, hidden: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """hidden (B, L, C), state (B, S) → observation stream (B, L+1, W). Depends only on the observation:
        computed once per chunk, reused by every Euler step."""
        return torch.cat([self.context_proj(hidden), self.state_proj(state)[:, None]], dim=1)

    def forward(self, obs: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                obs_mask: torch.Tensor | None = None) -> torch.Tensor:
        """obs (B, L+1, W), x (B, H, D) noisy actions, t (B, H) per-token flow time → velocity (B, H, D)."""
        c_act = self.time(t)  # (B, H, W)
        c_obs = self.time(t.max(dim=1).values)[:, None].expand(-1, obs.shape[1], -1)  # (B, L+1, W)
        a = self.action_in(x) + self.action_pos[:, : x.shape[1]]
        o = obs
        if obs_mask is not None:
            obs_mask = torch.cat([obs_mask.bool(), torch.ones_like(obs_mask[:, :1], dtype=torch.bool)], dim=1)
        for blk in self.blocks:
            o, a = blk(o, a, c_obs, c_act, obs_mask)
        shift, scale = self.final_ada(c_act).chunk(2, dim=-1)
        return self.final_out(self.final_norm(a) * (1 + scale) + shift)
