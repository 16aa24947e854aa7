"""Flow matching for action chunks, with Ψ0's official conventions (src/psi/trainers/finetune.py, psi0.py).

- noise level σ ∈ [0, 1]: x_σ = (1 − σ)·a + σ·ε, σ = 1 pure noise, σ = 0 the clean (normalised) chunk a;
- the expert takes the timestep t = σ·1000 (float32), per sample (B,) or per action token (B, H);
- it predicts the velocity v ≈ ε − a (the training target);
- sampling: the FlowMatch Euler schedule of N steps, σ_i = linspace(1, 0.001, N) then 0 (diffusers
  FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000).set_timesteps(N), no shift); x ← x + (σ_{i+1} − σ_i)·v.
- training loss: Σ_d w_d · mean_b Σ_j m_bj·(v − (ε − a))², w_d = 1/D (a sum over the chunk's positions, a mean over
  the batch); with training-time RTC, d ~ U{0..max_delay} per sample, the first d tokens clean (σ = 0) and m = 0 there.

Real-time chunking at inference:
- training-time (Ψ0's, `sample_rtc`): before every step the committed prefix is written back as clean data with
  timestep 0; after the last step it is not (so the prefix differs from the committed actions by ≤ 0.001·|v|; the
  bridge never executes those steps of the new chunk). `exact_prefix=True` also writes it back after the last step
  (this project's earlier behaviour; not official).
- inference-time guidance (Black, Galliker & Levine 2025) for checkpoints trained without it (`sample_guided`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B,H,D), timestep (B,) or (B,H)) → v (B,H,D)
TRAIN_TIMESTEPS = 1000


def schedule(num_steps: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(timesteps (N,) = σ·1000, sigmas (N+1,) with the terminal 0), float32 exactly as the official scheduler."""
    sigmas = torch.from_numpy((np.linspace(TRAIN_TIMESTEPS, 1, num_steps) / TRAIN_TIMESTEPS).astype(np.float32))
    timesteps = sigmas * TRAIN_TIMESTEPS
    return timesteps.to(device), torch.cat([sigmas, torch.zeros(1)]).to(device)


def sample_delays(batch: int, max_delay: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """d ~ U{0..max_delay} per sample: (B,) long (the official randint(0, max_delay + 1))."""
    return torch.randint(0, max_delay + 1, (batch,), generator=generator)


def prefix_mask(delays: torch.Tensor, horizon: int) -> torch.Tensor:
    """(B,) delays → (B, H) bool, True on the clean prefix tokens."""
    return torch.arange(horizon, device=delays.device)[None] < delays[:, None]


def flow_loss(velocity: Velocity, actions: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor,
              prefix: torch.Tensor | None = None, reduce: bool = True) -> torch.Tensor:
    """actions, noise (B, H, D); sigma (B,) noise levels; prefix (B, H) bool (clean tokens, out of the loss).
    → the official loss (scalar), or per sample (B,) with reduce=False (their mean is the official loss)."""
    b, h, d = actions.shape
    if prefix is None:
        s = sigma.to(actions.dtype)
        x = (1 - s)[:, None, None] * actions + s[:, None, None] * noise
        t = s * TRAIN_TIMESTEPS  # (B,)
        keep = torch.ones(b, h, dtype=actions.dtype, device=actions.device)
    else:
        s = torch.where(prefix, torch.zeros_like(prefix, dtype=actions.dtype), sigma.to(actions.dtype)[:, None])  # (B, H)
        x = (1 - s)[..., None] * actions + s[..., None] * noise
        t = s * TRAIN_TIMESTEPS  # (B, H)
        keep = (~prefix).to(actions.dtype)
    err = (velocity(x, t).float() - (noise - actions).float()).pow(2)  # (B, H, D)
    per_sample = ((err * keep[..., None]).sum(dim=1) / d).sum(dim=-1)  # Σ_j Σ_d w_d m err², w_d = 1/D
    return per_sample.mean() if reduce else per_sample


@torch.no_grad()
def sample(velocity: Velocity, noise: torch.Tensor, num_steps: int, per_token: bool = False) -> torch.Tensor:
    """Euler integration on the official schedule from noise (σ = 1) to actions (σ = 0): (B, H, D). The timestep is
    per sample (B,) as the official predict_action passes it, or with `per_token` (B, H) (static-shape engines)."""
    return sample_rtc(velocity, noise, num_steps, None, 0, per_token=per_token)


@torch.no_grad()
def sample_rtc(velocity: Velocity, noise: torch.Tensor, num_steps: int, prefix: torch.Tensor | None, prefix_len: int,
               exact_prefix: bool = False, per_token: bool = False) -> torch.Tensor:
    """Training-time RTC: prefix (B, ≥prefix_len, D) committed actions, conditioned on as clean tokens (timestep 0)
    before every step (official predict_action_with_training_rtc_flow). prefix_len = 0 is plain sampling."""
    timesteps, sigmas = schedule(num_steps, noise.device)
    x = noise.clone()
    b, h, _ = x.shape
    clean = torch.arange(h, device=x.device)[None].expand(b, h) < prefix_len
    p = prefix[:, :prefix_len].to(x.dtype) if prefix_len else None
    for i in range(num_steps):
        if p is not None:
            x[:, :prefix_len] = p
        if prefix_len or per_token:
            t = torch.where(clean, torch.zeros((), device=x.device), timesteps[i])  # (B, H)
        else:
            t = timesteps[i].expand(b)  # (B,)
        x = x + (sigmas[i + 1] - sigmas[i]) * velocity(x, t)
    if exact_prefix and p is not None:
        x[:, :prefix_len] = p
    return x


def guidance_weights(horizon: int, frozen: int, overlap: int, device: torch.device | None = None) -> torch.Tensor:
    """(H,) soft mask: 1 on [0, frozen), exponential decay on [frozen, overlap), 0 after."""
    i = torch.arange(horizon, dtype=torch.float32, device=device)
    w = torch.zeros(horizon, device=device)
    w[:frozen] = 1.0
    span = overlap - frozen
    if span > 0:
        c = (overlap - i[frozen:overlap]) / (span + 1)
        w[frozen:overlap] = c * (torch.exp(c) - 1) / (math.e - 1)
    return w


def sample_guided(velocity: Velocity, noise: torch.Tensor, num_steps: int, previous: torch.Tensor, frozen: int,
                  beta: float = 5.0) -> torch.Tensor:
    """Inference-time RTC (ΠGDM guidance) on the same schedule. previous (B, P, D): the previous chunk's actions for
    the first P steps of the new chunk (P = overlap), of which the first `frozen` are already committed."""
    b, h, _ = noise.shape
    overlap = min(previous.shape[1], h)
    y = torch.zeros_like(noise)
    y[:, :overlap] = previous[:, :overlap].to(noise.dtype)
    w = guidance_weights(h, frozen, overlap, noise.device)[None, :, None]
    timesteps, sigmas = schedule(num_steps, noise.device)
    x = noise.clone()
    for i in range(num_steps):
        s = float(sigmas[i])
        tau = 1.0 - s  # the paper's time (0 = noise, 1 = data)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            v = velocity(xg, timesteps[i].expand(b))
            x0 = xg - s * v  # predicted clean chunk
            (g,) = torch.autograd.grad(x0, xg, grad_outputs=(y - x0.detach()) * w)
        r2 = (1 - tau) ** 2 / (tau**2 + (1 - tau) ** 2)
        c = beta if tau == 0 else min(beta, (1 - tau) / (tau * r2))
        x = (x + (sigmas[i + 1] - sigmas[i]) * (v.detach() - c * g)).detach()
    return x
