"""The learned lower-body controller slot: a small policy file with the declared shapes, end to end."""

import numpy as np
import pytest
import torch
import yaml

from psi0.params import ConfigError
from psi0.robot import load_g1
from psi0_bridge.learned_wbc import LearnedController
from psi0_bridge.wbc import CMD_FIELDS, RobotState

pytestmark = pytest.mark.unit
G1 = load_g1()
LAYOUT = {
    "observation": [
        {"term": "ang_vel", "scale": 0.25}, {"term": "roll_pitch"}, {"term": "joint_pos"},
        {"term": "joint_vel", "scale": 0.05}, {"term": "last_action"},
        {"term": "command", "fields": ["vx", "vy", "yaw_rate", "base_height"]},
    ],
    "history": 2,
    "action": {"dim": 15, "scale": 0.25, "clip": 5.0},
}
FRAME = 3 + 2 + 15 + 15 + 15 + 4


def _policy(in_dim: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(in_dim, 32), torch.nn.ELU(), torch.nn.Linear(32, 15)).eval()


@pytest.fixture(params=["onnx", "torchscript"])
def policy_files(request, tmp_path):
    net = _policy(FRAME * 3)
    path = tmp_path / ("wbc.onnx" if request.param == "onnx" else "wbc.pt")
    x = torch.zeros(1, FRAME * 3)
    if request.param == "onnx":
        torch.onnx.export(net, (x,), str(path), input_names=["obs"], output_names=["action"], dynamo=False)
    else:
        torch.jit.trace(net, x).save(str(path))
    layout = tmp_path / "layout.yaml"
    layout.write_text(yaml.safe_dump(LAYOUT))
    return net, path, layout


def _state(rng):
    return RobotState(q=G1.body.default + rng.normal(0, 0.05, 29), dq=rng.normal(0, 0.5, 29),
                      quat_wxyz=np.array([0.99, 0.05, -0.03, 0.0]) / np.linalg.norm([0.99, 0.05, -0.03, 0.0]),
                      gyro=rng.normal(0, 0.2, 3))


def test_plumbing_matches_the_declared_layout(policy_files):
    net, path, layout = policy_files
    wbc = LearnedController.load(str(path), str(layout), G1.body.default)
    assert wbc.obs_dim == FRAME * 3
    assert set(wbc.unsupported) == {"torso_roll", "torso_pitch", "torso_yaw", "target_yaw"}
    rng = np.random.default_rng(1)
    cmd = np.zeros(len(CMD_FIELDS))
    cmd[CMD_FIELDS.index("vx")], cmd[CMD_FIELDS.index("base_height")] = 0.3, 0.72
    seen = []
    run = wbc.runner.run
    wbc.runner.run = lambda x: (seen.append(x.copy()), run(x))[1]
    for i in range(4):  # fills the history
        s = _state(rng)
        prev = wbc.last_action.copy()
        q = wbc.step(cmd, s)
        obs = seen[-1]
        assert obs.shape == (1, FRAME * 3) and obs.dtype == np.float32
        if i == 0:  # history padded with the first frame
            np.testing.assert_array_equal(obs[0, :FRAME], obs[0, -FRAME:])
        else:
            np.testing.assert_array_equal(obs[0, FRAME:2 * FRAME], seen[-2][0, -FRAME:])
        # recompute independently: newest frame = scaled terms in declared order
        newest = obs[0, -FRAME:]
        np.testing.assert_allclose(newest[:3], 0.25 * s.gyro, rtol=1e-6)
        np.testing.assert_allclose(newest[5:20], s.q[:15] - G1.body.default[:15], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(newest[35:50], prev, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(newest[50:], [0.3, 0, 0, 0.72], rtol=1e-6)
        with torch.no_grad():
            expected = net(torch.from_numpy(obs)).numpy()[0]
        np.testing.assert_allclose(q, G1.body.default[:15] + 0.25 * np.clip(expected, -5, 5), rtol=1e-4, atol=1e-5)


def test_shape_mismatch_refuses_to_start(tmp_path):
    net = _policy(FRAME)  # built without history
    path = tmp_path / "wbc.onnx"
    torch.onnx.export(net, (torch.zeros(1, FRAME),), str(path), dynamo=False)
    layout = tmp_path / "layout.yaml"
    layout.write_text(yaml.safe_dump(LAYOUT))
    with pytest.raises(ConfigError, match="policy expects"):
        LearnedController.load(str(path), str(layout), G1.body.default)


def test_bridge_core_runs_the_learned_controller(policy_files):
    from psi0_bridge.config import SCHEMA
    from psi0_bridge.core import BridgeCore
    from tests.bridge.helpers import Driver

    _, path, layout = policy_files
    core = BridgeCore(SCHEMA.validate({}), G1, LearnedController.load(str(path), str(layout), G1.body.default))
    d = Driver(core, q0=G1.body.default)
    d.activate()
    d.run_for(0.5)
    assert core.state.name == "ACTIVE"
    assert not np.allclose(d.q[:15], G1.body.default[:15])  # the policy drives the legs
