"""Flow matching for action chunks: training loss, Euler sampling, real-time-chunking conditioning.

Conventions (used everywhere in psi0):
- flow time t ∈ [0, 1]; t = 1 is pure noise, t = 0 is data;
- interpolation path x_t = t·ε + (1 − t)·a, with ε ~ N(0, I) and a the (normalised) action chunk;
- the network predicts the velocity v = dx_t/dt = ε − a (the training target);
- sampling integrates from t = 1 to t = 0 with N Euler steps: x ← x − (1/N)·v.

Real-time chunking (RTC):
- training-time (Ψ0's): during training a delay d ~ U{0..d_max} is drawn per sample; the first d
  action tokens are given clean (t = 0, x = a) and left out of the loss. At inference the committed
  prefix is passed the same way and stays exactly as given: zero extra cost.
- inference-time guidance (Black, Galliker & Levine 2025) for checkpoints trained without it: a
  soft-masked inpainting of the previous chunk's overlapping actions Y with ΠGDM guidance — at each
  step the predicted clean chunk â = x − t·v is pulled toward Y with weights W (1 on the d frozen
  steps, decaying exponentially over the rest of the overlap, 0 after it), through a vector–Jacobian
  product of the expert (needs autograd: torch engine only).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B,H,D), t (B,H)) → v (B,H,D)


def sample_delays(batch: int, max_delay: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """d ~ U{0..max_delay} per sample: (B,) long."""
    return torch.randint(0, max_delay + 1, (batch,), generator=generator)


def prefix_mask(delays: torch.Tensor, horizon: int) -> torch.Tensor:
    """(B,) delays → (B, H) bool, True on the clean prefix tokens."""
    return torch.arange(horizon, device=delays.device)[None] < delays[:, None]


def flow_loss(velocity: Velocity, actions: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
              prefix: torch.Tensor | None = None, reduce: bool = True) -> torch.Tensor:
    """Squared velocity error, averaged per sample over its non-prefix tokens, then over the batch (every
    sample weighs the same whatever its delay: batches split across processes average to the same value).

    actions, noise (B, H, D); t (B,) flow time; prefix (B, H) bool (clean tokens, excluded from the loss).
    reduce=False → (B,) per-sample losses.
    """
    b, h, _ = actions.shape
    t_tok = t[:, None].expand(b, h).clone()
    if prefix is not None:
        t_tok = torch.where(prefix, torch.zeros_like(t_tok), t_tok)
    x = t_tok[..., None] * noise + (1 - t_tok[..., None]) * actions
    err = (velocity(x, t_tok) - (noise - actions)).pow(2).mean(dim=-1)  # (B, H)
    keep = torch.ones_like(err) if prefix is None else (~prefix).to(err.dtype)
    per_sample = (err * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)  # (B,)
    return per_sample.mean() if reduce else per_sample


@torch.no_grad()
def sample(velocity: Velocity, noise: torch.Tensor, num_steps: int, prefix: torch.Tensor | None = None,
           prefix_len: int = 0) -> torch.Tensor:
    """Euler integration from noise (t = 1) to actions (t = 0), training-time RTC conditioning.

    noise (B, H, D); prefix (B, ≥prefix_len, D) committed actions → the first prefix_len steps of the
    result equal prefix[:, :prefix_len] exactly.
    """
    x = noise.clone()
    b, h, _ = x.shape
    clean = torch.arange(h, device=x.device)[None].expand(b, h) < prefix_len
    if prefix_len:
        x[:, :prefix_len] = prefix[:, :prefix_len].to(x.dtype)
    dt = 1.0 / num_steps
    for i in range(num_steps):
        t = 1.0 - i * dt
        t_tok = torch.where(clean, torch.zeros(b, h, device=x.device), torch.full((b, h), t, device=x.device))
        x = x - dt * velocity(x, t_tok)
        if prefix_len:
            x[:, :prefix_len] = prefix[:, :prefix_len].to(x.dtype)
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
    """Inference-time RTC (ΠGDM guidance). previous (B, P, D): the previous chunk's actions for the first P
    steps of the new chunk (P = overlap), of which the first `frozen` are already committed."""
    b, h, _ = noise.shape
    overlap = min(previous.shape[1], h)
    y = torch.zeros_like(noise)
    y[:, :overlap] = previous[:, :overlap].to(noise.dtype)
    w = guidance_weights(h, frozen, overlap, noise.device)[None, :, None]
    x = noise.clone()
    dt = 1.0 / num_steps
    for i in range(num_steps):
        t = 1.0 - i * dt
        tau = 1.0 - t  # the paper's time (0 = noise, 1 = data)
        t_tok = torch.full((b, h), t, device=noise.device)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            v = velocity(xg, t_tok)
            x0 = xg - t * v  # predicted clean chunk
            (g,) = torch.autograd.grad(x0, xg, grad_outputs=(y - x0.detach()) * w)
        r2 = (1 - tau) ** 2 / (tau**2 + (1 - tau) ** 2)
        c = beta if tau == 0 else min(beta, (1 - tau) / (tau * r2))
        x = (x - dt * (v.detach() - c * g)).detach()
    return x
