"""Parity with the official Ψ0 action expert (physical-superintelligence-lab/Psi0@15d7d3a), on the golden fixture
made by running the unmodified official code (../shared/reference/psi0/official_parity, README there): the official
small-config state dict loads into the project's expert by name, and every golden tensor — forward (per-sample and
per-token time, with and without the context mask, per-block intermediates), the 8-step sampler in its deploy and
trainer variants, training-time RTC inference, the training loss with and without RTC and its gradients — is
reproduced in fp32 within 1e-4; the full-size expert has exactly the official manifest's keys and shapes."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from psi0_policy.model import flow
from psi0_policy.model.config import ExpertConfig, ModelConfig
from psi0_policy.model.expert import ActionExpert
from tests.conftest import reference_dir

pytestmark = pytest.mark.unit
TOL = 1e-4


@pytest.fixture(scope="module")
def fixture():
    folder = reference_dir("psi0", "official_parity")  # skips with the reason when ../shared is absent
    cfg = json.loads((folder / "small_config.json").read_text())["constructor_kwargs"]
    mcfg = ModelConfig(name="official_small", horizon=cfg["action_pred_horizon"], action_dim=cfg["action_dim"],
                       state_dim=cfg["odim"], expert=ExpertConfig(width=cfg["action_hidden_dim"],
                                                                  depth=cfg["action_num_blocks"], heads=cfg["action_nheads"],
                                                                  head_dim=cfg["attention_head_dim"]))
    expert = ActionExpert(mcfg, context_dim=cfg["view_feature_dim"]).eval()
    sd = load_file(str(folder / "small_expert.safetensors"))
    missing, unexpected = expert.load_state_dict(sd, strict=True), []
    assert not missing.missing_keys and not missing.unexpected_keys and not unexpected
    torch.set_num_threads(1)
    return expert, load_file(str(folder / "small_golden.safetensors")), mcfg


def _obs(expert, g):
    return expert.encode_context(g["ctx"], g["state"][:, 0])


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> float:
    err = float((a - b).abs().max())
    print(f"{what}: max |Δ| = {err:.2e}")
    assert err <= TOL, f"{what}: {err:.2e} > {TOL}"
    return err


@torch.no_grad()
def test_forward_matches_with_and_without_mask_and_per_token_time(fixture):
    expert, g, _ = fixture
    obs = _obs(expert, g)
    _close(obs, g["fwd_dbg.obs_tokens_in"], "observation tokens")
    _close(expert.action_proj_in(g["fwd.x_t"]), g["fwd_dbg.action_tokens_in"], "action tokens")
    _close(expert.time_ins_embed(g["fwd.t"]), g["fwd_dbg.temb"], "time embedding")
    _close(expert(obs, g["fwd.x_t"], g["fwd.t"], g["ctx_mask"]), g["fwd.v_masked"], "velocity, masked")
    _close(expert(obs, g["fwd.x_t"], g["fwd.t"], None), g["fwd.v_nomask"], "velocity, no mask")
    _close(expert(obs, g["fwd.x_t_tok"], g["fwd.t_tok"], g["ctx_mask"]), g["fwd.v_per_token_masked"],
           "velocity, per-token time")


@torch.no_grad()
def test_per_block_intermediates_match(fixture):
    expert, g, _ = fixture
    obs = _obs(expert, g)
    temb = expert.time_ins_embed(g["fwd.t"])
    mask = torch.cat([g["ctx_mask"].float(), torch.ones(4, 1)], dim=1)
    _close(mask, g["fwd_dbg.obs_token_mask"], "observation mask")
    a, o = expert.transformer_blocks[0](expert.action_proj_in(g["fwd.x_t"]), obs, temb, mask)
    _close(a, g["fwd_dbg.block0.action_out"], "block 0, action stream")
    _close(o, g["fwd_dbg.block0.obs_out"], "block 0, observation stream")
    a, o = expert.transformer_blocks[1](a, o, temb, mask)
    assert o is None  # the last block is context-pre-only
    _close(a, g["fwd_dbg.block1.action_out"], "block 1 (last), action stream")


@torch.no_grad()
def test_eight_step_sampler_deploy_and_trainer_variants(fixture):
    expert, g, _ = fixture
    timesteps, sigmas = flow.schedule(8)
    assert torch.equal(timesteps, g["sched.timesteps"]) and torch.equal(sigmas, g["sched.sigmas"])
    obs = _obs(expert, g)
    for mask, key in ((None, "sample.deploy"), (g["ctx_mask"], "sample.trainer_masked")):  # deploy passes no mask
        out = flow.sample(lambda x, t, m=mask: expert(obs, x, t, m), g["sample.noise"], 8)
        _close(out, g[f"{key}.out"], f"{key} 8-step sample")
        _close(out, g[f"{key}.x_traj"][-1], f"{key} trajectory end")


@torch.no_grad()
def test_training_time_rtc_inference(fixture):
    expert, g, _ = fixture
    obs = expert.encode_context(g["ctx"][:1], g["state"][:1, 0])
    d = int(g["rtc.d"])
    out = flow.sample_rtc(lambda x, t: expert(obs, x, t, None), g["rtc.noise"], 8, g["rtc.prev_actions"], d)
    _close(out, g["rtc.out"], f"RTC with a {d}-step prefix")
    assert (out[:, :d] - g["rtc.prev_actions"][:, :d]).abs().max() > 0  # not re-inserted after the last step


@pytest.mark.parametrize("variant", ["loss_rtc", "loss_nortc"])
def test_training_loss_and_gradients(fixture, variant):
    expert, g, _ = fixture
    names = json.loads((reference_dir("psi0", "official_parity") / "golden_index.json").read_text())["grad_norm_param_order"]
    expert.zero_grad()
    obs = _obs(expert, g)
    delays = g[f"{variant}.delay"] if variant == "loss_rtc" else None
    prefix = flow.prefix_mask(delays, 30) if delays is not None else None
    loss = flow.flow_loss(lambda x, t: expert(obs, x, t, g["ctx_mask"]), g[f"{variant}.actions"], g[f"{variant}.noise"],
                          g[f"{variant}.sigma_draw"], prefix)
    _close(loss.detach(), g[f"{variant}.loss"], f"{variant} value ({float(loss.detach()):.6f})")
    loss.backward()
    params = dict(expert.named_parameters())
    norms = torch.stack([params[n].grad.norm() if params[n].grad is not None else torch.zeros(()) for n in names])
    rel = float(((norms - g[f"{variant}.grad_norms"]).abs() / g[f"{variant}.grad_norms"].clamp_min(1e-6)).max())
    print(f"{variant} gradient norms: max relative |Δ| = {rel:.2e} over {len(names)} parameters")
    assert rel < 1e-3
    for name in ("action_proj_in.dec_pos", "action_proj_out.linear.weight", "time_ins_embed.out_net.0.weight"):
        _close(params[name].grad, g[f"{variant}.grad.{name}"], f"{variant} gradient of {name}")


@pytest.mark.parametrize(("variant", "horizon"), [("finetune_chunk30", 30), ("posttrain_chunk16", 16)])
def test_full_size_expert_has_the_official_keys_and_shapes(variant, horizon):
    manifest = json.loads((reference_dir("psi0", "official_parity") / "full_expert_manifest.json").read_text())
    want = {k: v["shape"] for k, v in manifest["variants"][variant]["state_dict"].items()}
    mcfg = ModelConfig(horizon=horizon)
    with torch.device("meta"):
        expert = ActionExpert(mcfg, context_dim=mcfg.text.hidden_size)
    got = {k: list(v.shape) for k, v in expert.state_dict().items()}
    assert got == want, {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
    assert sum(v.numel() for v in expert.state_dict().values()) == manifest["variants"][variant]["total_numel"]
    trainable = sum(p.numel() for p in expert.parameters() if p.requires_grad)
    assert trainable == manifest["variants"][variant]["trainable_numel"]
