"""The nodes' typed configurations: defaults valid, every field checked on construction, cross-field rules,
immutability, one unknown-key validator for node parameters, model and training configs and profiles."""

import dataclasses
import importlib

import pytest

from psi0.cli import SCHEMAS
from psi0_bridge.bridge_config import BridgeConfig
from psi0_camera.camera_config import CameraConfig
from psi0_core.params import ConfigError, NodeConfig, check_keys, param
from psi0_policy.policy_config import PolicyConfig
from psi0_sim.sim_config import SimConfig

pytestmark = pytest.mark.unit


def _config_classes() -> dict[str, type[NodeConfig]]:
    out = {}
    for node, ref in SCHEMAS.items():
        module, attr = ref.split(":")
        out[node] = getattr(importlib.import_module(module), attr)
    return out


@pytest.mark.parametrize("node", sorted(SCHEMAS))
def test_every_node_config_has_valid_defaults_and_its_node_name(node):
    cls = _config_classes()[node]
    cfg = cls()
    assert node == cls.NODE and cls.schema().node == node
    assert set(cfg.to_dict()) == set(cls.schema().names())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.__setattr__(cls.schema().names()[0], None)


def test_fields_are_typed_values_and_lists_become_tuples():
    cfg = BridgeConfig.from_values({"kp_legs": [100, 100, 100, 200, 50, 20], "control_rate_hz": 400})
    assert cfg.kp_legs == (100.0, 100.0, 100.0, 200.0, 50.0, 20.0) and isinstance(cfg.control_rate_hz, float)
    with pytest.raises(ConfigError, match="expected 6 elements"):
        BridgeConfig(kp_legs=(1.0,))  # direct construction is checked as well
    with pytest.raises(ConfigError, match="outside the allowed range"):
        BridgeConfig.from_values({"damping_kd": 0.5})


@pytest.mark.parametrize(("values", "message"), [
    ({"height_min": 0.75, "height_max": 0.72}, "height_min .* must be below height_max"),
    ({"state_warn_s": 0.05, "state_stop_s": 0.04}, "state_warn_s .* must be below state_stop_s"),
    ({"hold_after_s": 0.1, "stop_after_s": 0.1}, "hold_after_s .* must be below stop_after_s"),
    ({"loop_warn_ms": 3.0, "loop_error_ms": 2.0}, "loop_warn_ms .* must be below loop_error_ms"),
    ({"control_rate_hz": 200.0, "hand_rate_hz": 250.0}, "hand_rate_hz .* cannot exceed control_rate_hz"),
    ({"mode_machine_allow": []}, "mode_machine_allow is empty"),
    ({"wbc": " "}, "wbc is empty"),
])
def test_bridge_cross_field_rules(values, message):
    with pytest.raises(ConfigError, match=message):
        BridgeConfig.from_values(values)


def test_other_nodes_cross_field_rules():
    with pytest.raises(ConfigError, match="crop must be"):
        CameraConfig.from_values({"crop": [0, 0, 10]})
    with pytest.raises(ConfigError, match="both width and height"):
        CameraConfig.from_values({"width": 320})
    with pytest.raises(ConfigError, match="image_topics is empty"):
        PolicyConfig.from_values({"image_topics": []})
    with pytest.raises(ConfigError, match="exclude each other"):
        SimConfig.from_values({"fixed_base": True, "elastic_band": True})


def test_replace_validates_like_a_new_config():
    cfg = BridgeConfig()
    assert cfg.replace(vx_max=0.2).vx_max == 0.2 and cfg.vx_max == 0.5
    with pytest.raises(ConfigError, match="did you mean 'vx_max'"):
        cfg.replace(vx_mx=0.2)
    with pytest.raises(ConfigError, match="height_min"):
        cfg.replace(height_min=0.75, height_max=0.7)


def test_one_unknown_key_validator_for_every_kind_of_configuration(tmp_path):
    from psi0.profiles import load_profile
    from psi0_policy.model.config import ModelConfigError, from_dict
    from psi0_policy.train.config import TrainConfigError
    from psi0_policy.train.config import from_dict as train_from_dict

    with pytest.raises(ConfigError, match="bridge: unknown parameter 'ramp_seconds'"):
        BridgeConfig.from_values({"ramp_seconds": 3.0})
    with pytest.raises(ModelConfigError, match="did you mean 'horizon'") as e:
        from_dict({"horizn": 16})
    assert isinstance(e.value, ConfigError)
    with pytest.raises(TrainConfigError, match="did you mean 'steps'") as e:
        train_from_dict({"stage": "finetune", "datasets": ["x"], "step": 3})
    assert isinstance(e.value, ConfigError)
    profile = tmp_path / "p.yaml"
    profile.write_text("nodes:\n  - {name: a, package: psi0, executable: x, requird: true}\n")
    with pytest.raises(ConfigError, match="did you mean 'required'"):
        load_profile(str(profile))
    with pytest.raises(ConfigError, match="where: unknown key 'b'"):
        check_keys({"a": 1, "b": 2}, ["a"], "where")


def test_a_config_field_without_param_or_with_an_unsupported_type_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Bad(NodeConfig, node="bad"):
        x: float = 1.0

    with pytest.raises(ConfigError, match="declare config fields with param"):
        Bad()

    @dataclasses.dataclass(frozen=True)
    class Worse(NodeConfig, node="worse"):
        x: float | None = param(1.0, "an optional number")

    with pytest.raises(ConfigError, match="unsupported type"):
        Worse()
