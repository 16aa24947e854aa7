"""The Ψ0 model: shapes, sizes, flow sampling with prefixes, determinism, overfitting, checkpoints."""

import numpy as np
import pytest
import torch

from psi0_policy.model.checkpoint import (
    convert_released_state_dict,
    load_checkpoint,
    released_expert_names,
    save_checkpoint,
)
from psi0_policy.model.config import ModelConfigError, from_dict, get_config
from psi0_policy.model.flow import guidance_weights
from psi0_policy.model.psi0 import Psi0Model
from tests.policy.helpers import noise, observations, tiny_model

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("cameras", [1, 2])
def test_output_shapes_for_one_and_two_cameras(cameras):
    m = tiny_model()
    inputs, state = observations(2, cameras)
    cfg = m.cfg
    assert inputs["input_ids"].shape == (2, cameras * (cfg.image_tokens + 2) + cfg.max_text_tokens)
    obs, _ = m.context(inputs, state)
    assert obs.shape == (2, inputs["input_ids"].shape[1] + 1, cfg.expert.width)
    out = m.sample_actions(inputs, state, noise(2))
    assert out.shape == (2, cfg.horizon, cfg.action_dim) and torch.isfinite(out).all()


def test_full_size_parameter_counts():
    with torch.device("meta"):
        m = Psi0Model(get_config("psi0"))
    backbone = sum(p.numel() for p in m.backbone.parameters())
    expert = sum(p.numel() for p in m.expert.parameters())
    print(f"psi0: backbone {backbone / 1e9:.3f} B, expert {expert / 1e9:.3f} B parameters")
    assert 2.0e9 < backbone < 2.25e9
    assert 0.45e9 < expert < 0.6e9


def test_fixed_noise_gives_bit_identical_chunks():
    m = tiny_model()
    inputs, state = observations(2)
    a = m.sample_actions(inputs, state, noise(2, seed=5))
    b = m.sample_actions(inputs, state, noise(2, seed=5))
    c = m.sample_actions(inputs, state, noise(2, seed=6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def eight_samples():
    """A fresh tiny model and 8 training samples: observations and smooth chunks distinct per sample."""
    torch.manual_seed(0)
    m = Psi0Model(get_config("tiny"))
    inputs, state = observations(8, seed=1)
    t = torch.linspace(0, 1, m.cfg.horizon)
    actions = torch.stack([torch.sin(2 * np.pi * (t[:, None] * (k + 1) / 4 + torch.arange(36) / 36)) * 0.8
                           for k in range(8)])  # (8, H, D)
    return m, inputs, state, actions, torch.Generator().manual_seed(0)


@pytest.fixture(scope="module")
def trained():
    """A tiny model overfitted on 8 samples (shared by the overfit, prefix and checkpoint tests).

    Each step sees the 8 samples with 4 independent (t, ε) draws (batch 32): the flow loss is an
    expectation over t and ε, and averaging draws makes its gradient precise enough to memorise the
    8 chunks in a few hundred steps (one draw per sample plateaus near 0.15 after 400 steps).
    """
    m, inputs, state, actions, g = eight_samples()
    rep = 4
    batch_inputs = {k: v.repeat(rep, 1) for k, v in inputs.items()}
    steps, opt = 400, torch.optim.AdamW(m.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    losses = []
    m.train()
    for _ in range(steps):
        loss = m.loss(batch_inputs, state.repeat(rep, 1), actions.repeat(rep, 1, 1), generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    m.eval()
    return m, inputs, state, actions, losses


def test_tiny_model_overfits_eight_samples(trained):
    _, _, _, _, losses = trained
    final = float(np.mean(losses[-20:]))
    print(f"flow loss: first {np.mean(losses[:10]):.3f}, last-20 mean {final:.4f}")
    assert final < 0.05


def test_training_time_prefix_is_reproduced_exactly(trained):
    m, inputs, state, actions, _ = trained
    d = 5
    prefix = actions[:, :d] + 0.1  # any committed actions
    out = m.sample_actions(inputs, state, noise(8, 3), prefix=prefix, prefix_len=d)
    assert torch.equal(out[:, :d], prefix)
    free = m.sample_actions(inputs, state, noise(8, 3))
    assert (out[:, d:] - actions[:, d:]).abs().mean() < 0.2 and (free - actions).abs().mean() < 0.2


def test_guidance_mode_pulls_the_prefix_within_tolerance():
    """Inference-time RTC: the previous chunk is one of the policy's own samples (as at run time); a new
    chunk drawn with other noise follows it on the frozen steps when guided, not when unguided.
    A partly trained model is used: it still has sample diversity for guidance to act on."""
    m, inputs, state, actions, g = eight_samples()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    for _ in range(100):
        loss = m.loss(inputs, state, actions, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    previous = m.sample_actions(inputs, state, noise(8, 1))[:, :15]
    free = m.sample_actions(inputs, state, noise(8, 2))
    guided = m.sample_actions(inputs, state, noise(8, 2), prefix=previous, prefix_len=5, mode="guidance")
    err_free = (free[:, :5] - previous[:, :5]).abs().mean().item()
    err_guided = (guided[:, :5] - previous[:, :5]).abs().mean().item()
    print(f"frozen-prefix error vs the previous chunk: unguided {err_free:.3f}, guided {err_guided:.3f}")
    assert err_guided < 0.08 and err_guided < 0.25 * err_free


def test_guidance_weights_shape():
    w = guidance_weights(30, frozen=5, overlap=15)
    assert torch.all(w[:5] == 1) and torch.all(w[15:] == 0) and torch.all(torch.diff(w[5:15]) < 0)


def test_save_load_round_trip_is_exact(trained, tmp_path):
    m, inputs, state, _, _ = trained
    stats = {"action": {"min": [-1.0] * 36, "max": [1.0] * 36}}
    save_checkpoint(m, tmp_path / "ckpt", stats=stats)
    m2, stats2 = load_checkpoint(tmp_path / "ckpt")
    assert stats2 == stats
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert torch.equal(m.sample_actions(inputs, state, noise(8, 9)), m2.sample_actions(inputs, state, noise(8, 9)))


def test_released_layout_converter_on_a_synthetic_checkpoint(trained):
    """Build a checkpoint in the documented release layout from our weights, convert it back, compare."""
    m, inputs, state, _, _ = trained
    depth = m.cfg.expert.depth
    ours = m.state_dict()
    released: dict[str, torch.Tensor] = {}
    for k, v in ours.items():
        if k.startswith("backbone.vlm."):
            released["vlm.model." + k[len("backbone.vlm."):]] = v
    extra = {}
    for k, v in ours.items():
        if k.startswith("expert.") and ".blocks." not in k:
            released["action_expert.misc." + k] = v
            extra["action_expert.misc." + k] = k
    names = released_expert_names(depth)
    for i in range(depth):
        for stream, (qkv, norm, ff, out) in {"act": ("", "norm1", "ff", "to_out.0"),
                                              "obs": ("add_", "norm1_context", "ff_context", "to_add_out")}.items():
            src = f"expert.blocks.{i}.{stream}"
            b = f"action_expert.transformer_blocks.{i}"
            q, k_, v_ = ours[f"{src}.qkv.weight"].chunk(3)
            qb, kb, vb = ours[f"{src}.qkv.bias"].chunk(3)
            for x, w, bias in (("q", q, qb), ("k", k_, kb), ("v", v_, vb)):
                n = f"{b}.attn.{qkv}{x}_proj" if qkv else f"{b}.attn.to_{x}"
                released[n + ".weight"], released[n + ".bias"] = w, bias
            released[f"{b}.{norm}.linear.weight"] = ours[f"{src}.ada.1.weight"]
            released[f"{b}.{norm}.linear.bias"] = ours[f"{src}.ada.1.bias"]
            released[f"{b}.attn.{out}.weight"] = ours[f"{src}.proj.weight"]
            released[f"{b}.attn.{out}.bias"] = ours[f"{src}.proj.bias"]
            released[f"{b}.{ff}.net.0.proj.weight"] = ours[f"{src}.mlp.0.weight"]
            released[f"{b}.{ff}.net.0.proj.bias"] = ours[f"{src}.mlp.0.bias"]
            released[f"{b}.{ff}.net.2.weight"] = ours[f"{src}.mlp.2.weight"]
            released[f"{b}.{ff}.net.2.bias"] = ours[f"{src}.mlp.2.bias"]
            qn, kn = ("norm_added_q", "norm_added_k") if qkv else ("norm_q", "norm_k")
            released[f"{b}.attn.{qn}.weight"] = ours[f"{src}.q_norm.weight"]
            released[f"{b}.attn.{kn}.weight"] = ours[f"{src}.k_norm.weight"]
    assert {n for n in released if "transformer_blocks" in n} == {"action_expert." + n for n in names}
    converted = convert_released_state_dict(released, depth, extra=extra)
    m2 = Psi0Model(m.cfg).eval()
    missing, unexpected = m2.load_state_dict(converted, strict=False)
    assert not unexpected and (not missing or all("embed_tokens" in k for k in missing))
    assert torch.equal(m.sample_actions(inputs, state, noise(8, 2)), m2.sample_actions(inputs, state, noise(8, 2)))
    with pytest.raises(KeyError, match="not mapped"):
        convert_released_state_dict({**released, "action_expert.unknown.weight": torch.zeros(1)}, depth, extra=extra)


def test_config_registry_validates():
    with pytest.raises(ModelConfigError, match="did you mean 'horizon'"):
        from_dict({"horizn": 10})
    with pytest.raises(ModelConfigError, match="multiples of 32"):
        get_config("tiny", image_size=[60, 96])
    with pytest.raises(ModelConfigError, match="unknown model config"):
        get_config("psi1")
    assert get_config("psi0").horizon == 30 and get_config("psi0").num_steps == 8
    assert get_config("psi0").expert.width == 1536 and get_config("psi0").expert.heads == 24
