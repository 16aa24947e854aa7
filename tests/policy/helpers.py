"""Shared builders for model tests: a tiny model, synthetic observations."""

from __future__ import annotations

import numpy as np
import torch

from psi0_policy.model import flow
from psi0_policy.model.config import get_config
from psi0_policy.model.preprocess import Preprocessor, make_tokenizer
from psi0_policy.model.psi0 import Psi0Model


def flow_loss(m: Psi0Model, inputs, state: torch.Tensor, actions: torch.Tensor,
              generator: torch.Generator | None = None, rtc: bool = True) -> torch.Tensor:
    """Mean flow-matching loss of a batch, sampled in one draw (tests; the trainer draws per sample): t ~ U(0, 1),
    and with `rtc` a clean prefix of d ~ U{0..rtc_max_delay} steps per sample, left out of the loss."""
    b = actions.shape[0]
    noise = torch.randn(actions.shape, generator=generator).to(actions.device)
    t = torch.rand(b, generator=generator).to(actions.device)
    delays = flow.sample_delays(b, m.cfg.rtc_max_delay, generator) if rtc and m.cfg.rtc_max_delay > 0 else None
    return m.loss_from(inputs, state, actions, noise, t, delays).mean()


def tiny_model(seed: int = 0) -> Psi0Model:
    torch.manual_seed(seed)
    return Psi0Model(get_config("tiny")).eval()


def observations(batch: int, cameras: int = 1, seed: int = 0, instruction: str = "touch the red cube"):
    rng = np.random.default_rng(seed)
    cfg = get_config("tiny")
    pre = Preprocessor(cfg, make_tokenizer(cfg))
    imgs = [[rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(cameras)] for _ in range(batch)]
    inputs = pre(imgs, [instruction] * batch)
    state = torch.as_tensor(rng.uniform(-1, 1, (batch, cfg.state_dim)), dtype=torch.float32)
    return inputs, state


def noise(batch: int, seed: int = 0) -> torch.Tensor:
    cfg = get_config("tiny")
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, cfg.horizon, cfg.action_dim, generator=g)


def engine_case(seed: int = 0, cameras: int = 1):
    """For engine parity: a tiny model whose expert is not the identity (AdaLN-Zero starts every block there),
    the byte-level preprocessor (fixed-length prompts), `cameras` random 64×96 images and the rng that made them."""
    from psi0_policy.model.preprocess import ByteTokenizer

    torch.manual_seed(0)
    m = Psi0Model(get_config("tiny")).eval()
    for p in m.expert.parameters():
        p.data.add_(0.02 * torch.randn_like(p))
    pre = Preprocessor(m.cfg, ByteTokenizer(), fixed_length=True)  # the engines' static prompt shape
    rng = np.random.default_rng(seed)
    imgs = [rng.uniform(0, 255, (64, 96, 3)).astype(np.uint8) for _ in range(cameras)]
    return m, pre, imgs, rng
