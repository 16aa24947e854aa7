"""`psi0 convert`: official Ψ0 run folders and releases → a bundle the policy node serves.

The official layouts are built here from tensors in the official names: the expert of the official-parity fixture
(../shared, when present) or a tiny expert of ours (its names are the official ones), and a tiny Qwen3-VL under
`vlm_model.model.*` with the tied `lm_head`. The converted bundle must hold exactly those tensors, normalise with
the official stats (32-D states zero-padded, bounds → min/max) and serve chunks through the policy node.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from rclpy.parameter import Parameter
from safetensors.torch import load_file, save_file
from std_msgs.msg import String

from psi0_core.g1_adapter import default_action
from psi0_policy.model.checkpoint import CheckpointLayoutError, load_checkpoint
from psi0_policy.model.config import get_config
from psi0_policy.model.expert import ActionExpert
from psi0_policy.model.official import OfficialLayoutError, bundle_stats, expert_shape, load_release, load_run
from psi0_policy.model.psi0 import Psi0Model
from psi0_policy.train.cli import cmd_convert
from tests.conftest import spin_until

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "psi0" / "official_parity"


def _tiny_expert() -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    cfg = get_config("tiny")
    e = ActionExpert(cfg, context_dim=cfg.text.hidden_size)
    for p in e.parameters():
        p.data.add_(0.02 * torch.randn_like(p))
    return {k: v.clone() for k, v in e.state_dict().items()}


def _expert(source: str) -> dict[str, torch.Tensor]:
    if source == "fixture":
        if not (FIXTURE / "small_expert.safetensors").exists():
            pytest.skip(f"official-parity fixture not found at {FIXTURE} (../shared/reference is not on this machine)")
        return load_file(str(FIXTURE / "small_expert.safetensors"))
    return _tiny_expert()


def _vlm() -> dict[str, torch.Tensor]:
    """A tiny Qwen3-VL in the official names (save_pretrained: model.*, lm_head.weight tied to the embedding)."""
    torch.manual_seed(4)
    m = Psi0Model(get_config("tiny"))
    sd = {"model." + k[len("backbone.vlm."):]: v.clone() for k, v in m.state_dict().items() if k.startswith("backbone.vlm.")}
    sd["lm_head.weight"] = sd["model.language_model.embed_tokens.weight"].clone()
    return sd


def _stats() -> dict:
    d = default_action()
    return {"action": {"min": (d - 0.05).tolist(), "max": (d + 0.05).tolist(), "mean": d.tolist(), "std": [0.05] * 36,
                       "q01": (d - 0.04).tolist(), "q99": (d + 0.04).tolist()},
            "states": {"min": (d[:32] - 0.1).tolist(), "max": (d[:32] + 0.1).tolist(), "mean": d[:32].tolist(),
                       "std": [0.1] * 32, "q01": (d[:32] - 0.08).tolist(), "q99": (d[:32] + 0.08).tolist()}}


def make_run(folder: Path, expert: dict[str, torch.Tensor], step: int = 400, norm: str = "bounds") -> Path:
    """An official training run folder: run_config.json + checkpoints/ckpt_<step>/model.safetensors + stats."""
    sd = {"action_header." + k: v for k, v in expert.items()}
    sd.update({"vlm_model." + k: v for k, v in _vlm().items()})
    (folder / "checkpoints" / f"ckpt_{step}").mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(folder / "checkpoints" / f"ckpt_{step}" / "model.safetensors"))
    launch = {"model": {"action_chunk_size": 30, "action_dim": 36, "odim": 36, "rtc": True, "max_delay": 8,
                        "model_name_or_path": "Qwen/Qwen3-VL-2B-Instruct"},
              "data": {"transform": {"field": {"action_norm_type": norm, "stat_action_key": "action",
                                               "stat_state_key": "states", "stat_path": "meta/stats_psi0.json"}}},
              "train": {"name": "finetune"}}
    (folder / "run_config.json").write_text(json.dumps(launch))
    (folder / "stats_psi0.json").write_text(json.dumps(_stats()))
    return folder


@pytest.mark.parametrize("source", ["ours", "fixture"])
def test_a_run_folder_converts_to_a_bundle_with_the_same_tensors(tmp_path, source):
    expert = _expert(source)
    run = make_run(tmp_path / "run", expert)
    ns = type("NS", (), dict(run=str(run), vlm=None, expert=None, step=None, stats=None, base="tiny",
                             out=str(tmp_path / "bundle"), no_onnx=True, text_tokenizer=None))()
    assert cmd_convert(ns) == 0
    model, stats = load_checkpoint(tmp_path / "bundle")
    own = model.state_dict()
    for k, v in expert.items():
        assert torch.equal(own["expert." + k], v), k
    for k, v in _vlm().items():
        if k != "lm_head.weight":
            assert torch.equal(own["backbone.vlm." + k[len("model."):]], v), k
    shape = expert_shape(expert)
    assert (model.cfg.expert.width, model.cfg.expert.depth, model.cfg.expert.heads) == \
           (shape["width"], shape["depth"], shape["heads"])
    assert model.cfg.rtc_max_delay == 7  # official max_delay 8 draws delays 0..7
    assert stats["norm_mode"] == "minmax" and len(stats["state"]["min"]) == 36
    assert stats["state"]["min"][32:] == [0.0] * 4 and stats["state"]["max"][32:] == [0.0] * 4  # zero padding
    manifest = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert manifest["stage"] == "finetune" and manifest["step"] == 400


def test_the_fixture_expert_has_the_small_configs_shape():
    expert = _expert("fixture")
    cfg = json.loads((FIXTURE / "small_config.json").read_text())["constructor_kwargs"]
    s = expert_shape(expert)
    assert (s["width"], s["depth"], s["heads"], s["horizon"], s["action_dim"], s["state_dim"], s["context_dim"]) == (
        cfg["action_hidden_dim"], cfg["action_num_blocks"], cfg["action_nheads"], cfg["action_pred_horizon"],
        cfg["action_dim"], cfg["odim"], cfg["view_feature_dim"])


def test_a_release_converts_like_the_run(tmp_path):
    expert = _tiny_expert()
    vlm = tmp_path / "Psi0-VLM"
    vlm.mkdir()
    save_file({k: v.contiguous() for k, v in _vlm().items()}, str(vlm / "model.safetensors"))
    save_file(expert, str(tmp_path / "action_header.safetensors"))
    (tmp_path / "stats_psi0.json").write_text(json.dumps(_stats()))
    model, stats, facts = load_release(vlm, tmp_path / "action_header.safetensors", tmp_path / "stats_psi0.json", "tiny")
    run_model, run_stats, _ = load_run(make_run(tmp_path / "run", expert), base="tiny")
    a, b = model.state_dict(), run_model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert stats == run_stats and facts["stage"] == "release"


def test_quantile_bounds_and_their_use_by_the_policy(tmp_path):
    from psi0_policy.policy import Policy

    model, stats, _ = load_run(make_run(tmp_path / "run", _tiny_expert(), norm="bounds_q99"), base="tiny")
    assert stats["norm_mode"] == "quantile"
    policy = Policy(model, stats)
    d = default_action()
    np.testing.assert_allclose(policy.action_norm.low, d - 0.04)
    np.testing.assert_allclose(policy.action_norm.high, d + 0.04)
    np.testing.assert_allclose(policy.state_norm.low[:32], d[:32] - 0.08)


@pytest.mark.parametrize("damage, error, match", [
    (lambda run: (run / "run_config.json").unlink(), OfficialLayoutError, "official run config"),
    (lambda run: (run / "stats_psi0.json").unlink(), OfficialLayoutError, "pass the dataset's meta/stats_psi0.json"),
    (lambda run: (run / "stats_psi0.json").write_text(json.dumps({"action": _stats()["action"]})), OfficialLayoutError,
     "no 'states' entry"),
    (lambda run: (run / "run_config.json").write_text(json.dumps({"model": {"action_chunk_size": 16}})),
     CheckpointLayoutError, "action_chunk_size = 16"),
    (lambda run: _rename(run, "action_header.action_proj_out.linear.bias", "action_header.action_proj_out.norm.bias"),
     CheckpointLayoutError, "action_proj_out"),
    (lambda run: _rename(run, "vlm_model.model.language_model.norm.weight", "vlm_model.model.language_model.ln_f.weight"),
     CheckpointLayoutError, "language_model.norm.weight"),
])
def test_a_broken_run_is_named(tmp_path, damage, error, match):
    run = make_run(tmp_path / "run", _tiny_expert())
    damage(run)
    with pytest.raises(error, match=match):
        load_run(run, base="tiny")


def test_a_missing_step_and_a_wrong_backbone_are_named(tmp_path):
    run = make_run(tmp_path / "run", _tiny_expert())
    with pytest.raises(OfficialLayoutError, match="checkpoint of step 5"):
        load_run(run, step=5, base="tiny")
    with pytest.raises(CheckpointLayoutError, match="64-wide VLM features but the 'psi0' backbone is 2048"):
        load_run(run, base="psi0")


def test_bundle_stats_refuse_more_dims_than_the_model_and_missing_bounds():
    with pytest.raises(OfficialLayoutError, match="40 values, the model takes 36"):
        bundle_stats({"action": {"min": [0] * 40, "max": [1] * 40}, "states": {"min": [0], "max": [1]}}, 36, 36)
    minmax = {"action": {"min": [0] * 36, "max": [1] * 36}, "states": {"min": [0] * 32, "max": [1] * 32}}
    assert bundle_stats(minmax, 36, 36)["state"]["max"] == [1] * 32 + [0] * 4
    with pytest.raises(OfficialLayoutError, match=r"action lack \['q01', 'q99'\] \(normalisation quantile\)"):
        bundle_stats(minmax, 36, 36, norm_mode="quantile")


def _rename(run: Path, old: str, new: str) -> None:
    f = run / "checkpoints" / "ckpt_400" / "model.safetensors"
    sd = load_file(str(f))
    sd[new] = sd.pop(old)
    save_file(sd, str(f))


@pytest.mark.ros
@pytest.mark.timeout(120)
@pytest.mark.parametrize("source", ["ours", "fixture"])
def test_the_converted_run_serves_through_the_policy_node(rclpy_context, tmp_path, source):
    from psi0_policy.policy_node import PolicyNode
    from tests.policy.test_policy_node import Feeder

    run = make_run(tmp_path / "run", _expert(source))
    ns = type("NS", (), dict(run=str(run), vlm=None, expert=None, step=None, stats=None, base="tiny",
                             out=str(tmp_path / "bundle"), no_onnx=False, text_tokenizer=None))()
    assert cmd_convert(ns) == 0
    node = PolicyNode(context=rclpy_context, parameter_overrides=[Parameter("bundle", value=str(tmp_path / "bundle")),
                                                                   Parameter("seed", value=7)])
    f = Feeder(rclpy_context, node)
    try:
        f.instr.publish(String(data="Raise your right hand"))
        assert spin_until(f.ex, lambda: len(f.chunks) >= 2, 40), (node.last_reject, node.last_error)
        a = np.asarray(f.chunks[0].data, np.float64).reshape(30, 36)
        d = default_action()
        assert np.all(np.isfinite(a)) and np.all(np.abs(a - d) <= 0.05 + 1e-5)  # inside the official bounds
        assert np.ptp(a, axis=0).max() > 1e-4  # the converted expert moves, it does not return a constant
    finally:
        f.ex.shutdown()
        node.destroy_node()
        f.node.destroy_node()
