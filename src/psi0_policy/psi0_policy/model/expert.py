"""System-1: Ψ0's flow-matching action expert, module for module the official `ActionTransformerModel`.

An SD3-style multimodal diffusion transformer with two token streams mixed by joint attention in every block:
- observation stream: the VLM's last hidden states projected to the expert width, plus one proprioception token
  appended last (Dropout + Linear), plus a fixed sinusoidal position code on every token;
- action stream: H noisy action tokens, Linear(D, D)–GELU–Linear(D, W) plus learned positions.
Flow time enters through AdaLN-Zero; the last block is "context pre-only" (its observation stream is only
normalised for the keys/values, with a continuous AdaLN and no feed-forward); the output head is x·scale + shift
then a Linear (no LayerNorm, no 1 +). Parameter names are the official state-dict names (tests load the official
parity fixture directly), so released checkpoints need only a prefix map (checkpoint.py).

Time: `t` is the official timestep, σ·1000 with σ ∈ [0, 1] the noise level (flow.py converts), per sample (B,)
or per action token (B, H) — real-time chunking gives committed tokens t = 0. The observation stream is modulated
with the time embedding of the *last* action token.

Shapes: B batch, L VLM tokens, H horizon, D action dim, S state dim, C VLM width, W expert width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from psi0_policy.model.config import ModelConfig

MAX_POSITIONS = 5000  # rows of the fixed observation position table (official _PositionalEncoding max_len)


class TimeEmbedding(nn.Module):
    """t (...,) → (..., W): out_net([cos(t·w), sin(t·w)]), w_k = exp(−k·ln 10⁴ / (half − 1)) (a fixed parameter)."""

    def __init__(self, width: int, time_dim: int = 256) -> None:
        super().__init__()
        half = time_dim // 2
        w = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1))).float()
        self.w = nn.Parameter(w, requires_grad=False)
        self.out_net = nn.Sequential(nn.Linear(time_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        x = t[..., None] * self.w
        return self.out_net(torch.cat((torch.cos(x), torch.sin(x)), dim=-1))


class PositionTable(nn.Module):
    """The fixed sinusoidal table added to the observation tokens: pe (MAX_POSITIONS, 1, W)."""

    def __init__(self, width: int, max_len: int = MAX_POSITIONS) -> None:
        super().__init__()
        pe = torch.zeros(max_len, width)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div = torch.exp(torch.arange(0, width, 2, dtype=torch.float) * -(math.log(10000.0) / width))
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.pe = nn.Parameter(pe[:, None], requires_grad=False)

    def forward(self, n: int) -> torch.Tensor:
        """(n, W): the codes of the first n positions."""
        return self.pe[:n, 0]


class ObservationProjection(nn.Module):
    """VLM hidden (B, L, C) + state (B, S) → observation tokens (B, L+1, W)."""

    def __init__(self, context_dim: int, state_dim: int, width: int, state_dropout: float = 0.2,
                 token_dropout: float = 0.1) -> None:
        super().__init__()
        self.enc_pos = PositionTable(width)
        self.views_proj = nn.Linear(context_dim, width)
        self._obs_proc = nn.Sequential(nn.Dropout(p=state_dropout), nn.Linear(state_dim, width))
        self.post_proc = nn.Sequential(nn.Identity(), nn.Identity(), nn.Dropout(token_dropout))

    def forward(self, hidden: torch.Tensor, state: torch.Tensor, state_position: torch.Tensor | None = None) -> torch.Tensor:
        """state_position (B,): the position code of the state token (None: L, right after the VLM tokens, as the
        official code always does). A right-padded prompt passes its valid length, so the state token is coded as
        if the padding were not there (the official deploy path feeds no padding)."""
        tokens = torch.cat([self.views_proj(hidden), self._obs_proc(state)[:, None]], dim=1)  # (B, L+1, W)
        n = tokens.shape[1]
        codes = self.enc_pos(n).to(tokens.dtype)[None].expand(tokens.shape[0], n, -1)  # (B, L+1, W)
        if state_position is not None:
            state_code = self.enc_pos.pe[state_position.long(), 0].to(tokens.dtype)  # (B, W)
            codes = torch.cat([codes[:, :-1], state_code[:, None]], dim=1)
        return self.post_proc(tokens) + codes


class ActionProjectionIn(nn.Module):
    def __init__(self, horizon: int, action_dim: int, width: int) -> None:
        super().__init__()
        self.ac_proj = nn.Sequential(nn.Linear(action_dim, action_dim), nn.GELU(approximate="tanh"),
                                     nn.Linear(action_dim, width))
        self.dec_pos = nn.Parameter(torch.empty(horizon, width))
        nn.init.xavier_uniform_(self.dec_pos.data)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, D) → (B, H, W)."""
        return self.ac_proj(x) + self.dec_pos[: x.shape[1]][None]


def _as_tokens(c: torch.Tensor) -> torch.Tensor:
    """Conditioning (B, W) or (B, T, W) → (B, 1 or T, W)."""
    return c[:, None] if c.dim() == 2 else c


class AdaLNZero(nn.Module):
    """LN(x)·(1 + scale) + shift, and the gates: chunks (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(width, 6 * width)
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.linear(self.silu(_as_tokens(c))).chunk(6, -1)
        return self.norm(x) * (1 + scale_msa) + shift_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLNContinuous(nn.Module):
    """LN(x)·(1 + scale) + shift with chunks (scale, shift): the last block's observation stream."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(width, 2 * width)
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(self.silu(_as_tokens(c)).to(x.dtype)).chunk(2, -1)
        return self.norm(x) * (1 + scale) + shift


class GELUProj(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(width, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, width: int, mult: float = 4.0) -> None:
        super().__init__()
        self.net = nn.ModuleList([GELUProj(width, int(width * mult)), nn.Dropout(0.0), nn.Linear(int(width * mult), width)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.net:
            x = m(x)
        return x


class JointAttention(nn.Module):
    """Joint attention over [action tokens ; observation tokens]; padded observation keys masked; SDPA's 1/√d scale."""

    def __init__(self, width: int, heads: int, head_dim: int, context_pre_only: bool) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads, self.context_pre_only = heads, context_pre_only
        self.to_q, self.to_k, self.to_v = (nn.Linear(width, inner) for _ in range(3))
        self.add_q_proj, self.add_k_proj, self.add_v_proj = (nn.Linear(width, inner) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(inner, width), nn.Dropout(0.0)])
        self.to_add_out = None if context_pre_only else nn.Linear(inner, width)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, inner = x.shape
        return x.view(b, n, self.heads, inner // self.heads).transpose(1, 2)  # (B, heads, n, d)

    def forward(self, a: torch.Tensor, o: torch.Tensor,
                obs_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = torch.cat([self._heads(self.to_q(a)), self._heads(self.add_q_proj(o))], dim=2)
        k = torch.cat([self._heads(self.to_k(a)), self._heads(self.add_k_proj(o))], dim=2)
        v = torch.cat([self._heads(self.to_v(a)), self._heads(self.add_v_proj(o))], dim=2)
        mask = None
        if obs_mask is not None:  # keys: every action token, the valid observation tokens
            keep = torch.cat([torch.ones(a.shape[:2], dtype=torch.bool, device=a.device), obs_mask == 1], dim=1)
            mask = keep[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads, H+L+1, d)
        b, h, n, d = out.shape
        out = out.transpose(1, 2).reshape(b, n, h * d)
        act, obs = out[:, : a.shape[1]], out[:, a.shape[1]:]
        return self.to_out[0](act), (None if self.to_add_out is None else self.to_add_out(obs))


class TransformerBlock(nn.Module):
    def __init__(self, width: int, heads: int, head_dim: int, context_pre_only: bool, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.context_pre_only = context_pre_only
        self.norm1_act = AdaLNZero(width)
        self.norm1_obs = AdaLNContinuous(width) if context_pre_only else AdaLNZero(width)
        self.attn = JointAttention(width, heads, head_dim, context_pre_only)
        self.norm2_act = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ff_act = FeedForward(width, mlp_ratio)
        if not context_pre_only:
            self.norm2_obs = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
            self.ff_obs = FeedForward(width, mlp_ratio)

    def forward(self, a: torch.Tensor, o: torch.Tensor, temb: torch.Tensor,
                obs_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        na, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1_act(a, temb)
        c_obs = temb[:, -1] if temb.dim() > 2 else temb  # the observation stream follows the last action token's time
        if self.context_pre_only:
            no = self.norm1_obs(o, c_obs)
        else:
            no, o_gate_msa, o_shift_mlp, o_scale_mlp, o_gate_mlp = self.norm1_obs(o, c_obs)
        attn_a, attn_o = self.attn(na, no, obs_mask)
        a = a + gate_msa * attn_a
        a = a + gate_mlp * self.ff_act(self.norm2_act(a) * (1 + scale_mlp) + shift_mlp)
        if self.context_pre_only:
            return a, None
        o = o + o_gate_msa * attn_o
        o = o + o_gate_mlp * self.ff_obs(self.norm2_obs(o) * (1 + o_scale_mlp) + o_shift_mlp)
        return a, o


class ActionProjectionOut(nn.Module):
    """x·scale + shift (no LayerNorm, no 1 +: the official head), then Linear(W, D); (shift, scale) from the time."""

    def __init__(self, width: int, action_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, action_dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(_as_tokens(temb)).chunk(2, dim=-1)
        return self.linear(x * scale + shift)


class ActionExpert(nn.Module):
    def __init__(self, cfg: ModelConfig, context_dim: int) -> None:
        super().__init__()
        e = cfg.expert
        w = e.width
        self.time_ins_embed = TimeEmbedding(w)
        self.obs_proj = ObservationProjection(context_dim, cfg.state_dim, w, e.state_dropout, e.token_dropout)
        self.action_proj_in = ActionProjectionIn(cfg.horizon, cfg.action_dim, w)
        self.transformer_blocks = nn.ModuleList(
            TransformerBlock(w, e.heads, e.head_dim, context_pre_only=i == e.depth - 1, mlp_ratio=e.mlp_ratio)
            for i in range(e.depth))
        self.action_proj_out = ActionProjectionOut(w, cfg.action_dim)

    def encode_context(self, hidden: torch.Tensor, state: torch.Tensor,
                       state_position: torch.Tensor | None = None) -> torch.Tensor:
        """hidden (B, L, C), state (B, S) → observation tokens (B, L+1, W). Depends only on the observation: computed
        once per chunk, reused by every flow step. state_position: see ObservationProjection."""
        return self.obs_proj(hidden, state, state_position)

    def forward(self, obs: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """obs (B, L+1, W), x (B, H, D) noisy actions, t (B,) or (B, H) timesteps σ·1000, context_mask (B, L) of the
        VLM tokens (1/True valid) or None (every token attended) → velocity (B, H, D) (≈ ε − a)."""
        temb = self.time_ins_embed(t.to(self.time_ins_embed.w.dtype)).to(obs.dtype)  # (B, W) or (B, H, W)
        obs_mask = None
        if context_mask is not None:  # the state token (last) is always valid
            m = context_mask.to(obs.dtype)
            obs_mask = torch.cat([m, torch.ones_like(m[:, :1])], dim=1)  # (B, L+1)
        a = self.action_proj_in(x)
        o: torch.Tensor | None = obs
        for blk in self.transformer_blocks:
            a, o = blk(a, o, temb, obs_mask)
        return self.action_proj_out(a, temb)
