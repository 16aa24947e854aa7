"""A tiny Ψ0 trained with prefix conditioning on smooth motions: the policy of the RTC tests and the
rtc_smoothness benchmark."""

import numpy as np
import torch

from psi0_policy.model import flow
from psi0_policy.model.config import get_config
from psi0_policy.model.psi0 import Psi0Model
from tests.policy.helpers import observations


def train_continuing_policy(steps: int = 900):
    """A tiny model trained with prefix conditioning on smooth motions (random phase per sample): the
    observation says nothing about the phase, so only the committed prefix can make the next chunk
    continue the current one (900 steps). The observation never changes, so the backbone runs once and only the
    action expert trains (the run took 96 s of a 120 s test timeout when the VLM ran every step; now 43 s)."""
    torch.manual_seed(0)
    cfg = get_config("tiny")
    m = Psi0Model(cfg)
    inputs, state = observations(1, seed=2)
    batch = 32
    m.eval()
    with torch.no_grad():
        obs, mask = m.context(inputs, state, deploy=True)  # (1, L+1, W), (1, L): what sample_actions conditions on
    obs, mask = obs.expand(batch, -1, -1), mask.expand(batch, -1) if mask is not None else None
    velocity = m.velocity_fn(obs, mask)
    g = torch.Generator().manual_seed(0)
    tt = torch.arange(cfg.horizon) / 30.0
    omega = 2 * np.pi * 0.5  # 0.5 Hz motions, a phase offset per joint
    offset = torch.arange(cfg.action_dim) / cfg.action_dim * 2 * np.pi
    opt = torch.optim.AdamW(m.expert.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    m.expert.train()
    for _ in range(steps):
        phase = torch.rand(batch, 1, 1, generator=g) * 2 * np.pi
        actions = 0.7 * torch.sin(omega * tt[None, :, None] + phase + offset)
        noise = torch.randn(actions.shape, generator=g)
        sigma = torch.rand(batch, generator=g)
        prefix = flow.prefix_mask(flow.sample_delays(batch, cfg.rtc_max_delay, g), cfg.horizon)
        loss = flow.flow_loss(velocity, actions, noise, sigma, prefix)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    m.eval()
    gen = torch.Generator().manual_seed(1)

    def policy_fn(prefix, d):
        p = torch.as_tensor(prefix, dtype=torch.float32)[None] if d else None
        n = torch.randn(1, cfg.horizon, cfg.action_dim, generator=gen)
        return m.sample_actions(inputs, state, n, p, d)[0].double().numpy()

    return policy_fn
