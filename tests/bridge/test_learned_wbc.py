"""The learned lower-body controller runtime: layouts, observation terms, history, gait clock, output mapping,
stateful policies, gains; and every published layout against its policy file."""

import math

import numpy as np
import pytest
import torch
import yaml

from psi0_bridge.learned_wbc import GaitClock, LearnedController, Runner, projected_gravity
from psi0_bridge.wbc import RobotState
from psi0_bridge.wbc_layout import layout_file, load_layout, resolve_policy_path
from psi0_core.g1_adapter import WBC_FIELDS
from psi0_core.params import ConfigError
from psi0_core.robot import load_g1
from tests.conftest import reference_dir

pytestmark = pytest.mark.unit
G1 = load_g1()
BODY = list(G1.body.names)
LEGS = BODY[:12]


def _layout(**changes) -> dict:
    layout = {
        "name": "toy", "policy": "toy.onnx", "rate_hz": 50, "joints": BODY, "outputs": BODY[:15],
        "default_pose": [0.1 * (i % 3) for i in range(29)],
        "kp": [100.0] * 12 + [300.0] * 3, "kd": [2.0] * 12 + [5.0] * 3,
        "action": {"scale": 0.25, "clip": 5.0},
        "observation": {"order": "alphabetical", "terms": [
            {"term": "projected_gravity"}, {"term": "base_ang_vel", "scale": 0.25, "history": 2},
            {"term": "dof_pos"}, {"term": "dof_vel", "scale": 0.05}, {"term": "actions"},
            {"term": "command_lin_vel"}, {"term": "ref_upper_dof_pos"}, {"term": "sin_phase"}]},
        "gait": {"period": 1.0, "offsets": [0.0, math.pi], "standing": "hold", "stand_phase": math.pi},
    }
    layout.update(changes)
    return layout


OBS = 3 + 2 * 3 + 29 + 29 + 15 + 2 + 14 + 2  # the toy layout's sizes (base_ang_vel twice: history 2)


def _policy(in_dim: int, out_dim: int = 15) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(in_dim, 32), torch.nn.ELU(), torch.nn.Linear(32, out_dim)).eval()


@pytest.fixture(params=["onnx", "torchscript"])
def toy(request, tmp_path):
    net = _policy(OBS)
    path = tmp_path / ("toy.onnx" if request.param == "onnx" else "toy.pt")
    x = torch.zeros(1, OBS)
    if request.param == "onnx":
        torch.onnx.export(net, (x,), str(path), input_names=["obs"], output_names=["action"], dynamo=False)
    else:
        torch.jit.trace(net, x).save(str(path))
    layout = tmp_path / "toy.yaml"
    layout.write_text(yaml.safe_dump(_layout(policy=path.name)))
    return net, layout


def _state(rng, arms=None):
    quat = np.array([0.99, 0.05, -0.03, 0.02])
    return RobotState(q=G1.body.default + rng.normal(0, 0.05, 29), dq=rng.normal(0, 0.5, 29),
                      quat_wxyz=quat / np.linalg.norm(quat), gyro=rng.normal(0, 0.2, 3),
                      arm_targets=rng.normal(0, 0.3, 14) if arms is None else arms)


def test_observation_terms_order_scales_history_and_targets_follow_the_layout(toy):
    net, layout_path = toy
    wbc = LearnedController.load(layout_path, G1)
    assert wbc.obs_dim == OBS and wbc.runner.in_dim in (None, OBS)
    default = np.asarray(_layout()["default_pose"])
    rng = np.random.default_rng(1)
    cmd = np.zeros(len(WBC_FIELDS))
    cmd[WBC_FIELDS.index("vx")] = 0.3
    seen = []
    run = wbc.runner.run
    wbc.runner.run = lambda x: (seen.append(x.copy()), run(x))[1]
    gyros = []
    for i in range(4):
        s = _state(rng)
        gyros.append(s.gyro)
        prev = wbc.last_action.copy()
        q = wbc.step(cmd, s)
        obs = seen[-1][0]
        # alphabetical: actions 15, base_ang_vel 3×2, command_lin_vel 2, dof_pos 29, dof_vel 29, projected_gravity 3,
        # ref_upper_dof_pos 14, sin_phase 2 — recomputed independently of the module
        k = 0
        np.testing.assert_allclose(obs[k:k + 15], prev, rtol=1e-5, atol=1e-6)
        k += 15
        older = gyros[-2] if i > 0 else gyros[-1]  # history padded with the first frame after a reset
        np.testing.assert_allclose(obs[k:k + 6], 0.25 * np.r_[older, gyros[-1]], rtol=1e-5, atol=1e-6)
        k += 6
        np.testing.assert_allclose(obs[k:k + 2], [0.3, 0.0], atol=1e-7)
        k += 2
        np.testing.assert_allclose(obs[k:k + 29], s.q - default, rtol=1e-5, atol=1e-6)
        k += 29
        np.testing.assert_allclose(obs[k:k + 29], 0.05 * s.dq, rtol=1e-5, atol=1e-6)
        k += 29
        w, x, y, z = s.quat_wxyz
        R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                      [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                      [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
        np.testing.assert_allclose(obs[k:k + 3], R.T @ [0, 0, -1], rtol=1e-5, atol=1e-6)
        k += 3
        np.testing.assert_allclose(obs[k:k + 14], s.arm_targets, rtol=1e-5, atol=1e-6)
        k += 14
        phase = 2 * np.pi * i / 50 + np.array([0.0, np.pi])  # walking (vx 0.3): the clock advances from [0, π]
        np.testing.assert_allclose(obs[k:k + 2], np.sin(np.mod(phase + np.pi, 2 * np.pi) - np.pi), atol=1e-5)
        with torch.no_grad():
            expected = net(torch.from_numpy(seen[-1])).numpy()[0]
        np.testing.assert_allclose(q, default[:15] + 0.25 * np.clip(expected, -5, 5), rtol=1e-4, atol=1e-5)
    assert set(wbc.unsupported) == {"torso_roll", "torso_pitch", "torso_yaw", "base_height", "yaw_rate", "target_yaw"}
    wbc.reset(_state(rng))
    assert not wbc.last_action.any() and wbc.clock.ticks == 0


def test_gait_clock_holds_while_standing_and_restarts_when_walking():
    c = GaitClock(1.0, (0.0, math.pi), "hold", math.pi, 0.02)
    assert np.allclose(c.phase(False), [math.pi, math.pi]) and np.allclose(c.phase(False), [math.pi, math.pi])
    assert np.allclose(c.phase(True), [0.0, -math.pi])  # wrapped to [−π, π)
    p = c.phase(True)
    assert np.allclose(p, [2 * math.pi * 0.02, 2 * math.pi * 0.02 - math.pi])
    c.phase(False)
    assert np.allclose(c.phase(True), [0.0, -math.pi])  # walking again starts at the offsets
    run = GaitClock(0.8, (0.0,), "run", 0.0, 0.02)
    assert [round(float(run.phase(False)[0]), 6) for _ in range(3)] == [0.0, round(2 * math.pi * 0.025, 6),
                                                                         round(2 * math.pi * 0.05, 6)]


def test_projected_gravity_is_gravity_in_the_base_frame():
    assert np.allclose(projected_gravity([1, 0, 0, 0]), [0, 0, -1])
    th = np.radians(30)  # rotated by 30° about y: gravity in the base frame is (sin θ, 0, −cos θ)
    assert np.allclose(projected_gravity([np.cos(th / 2), 0, np.sin(th / 2), 0]), [np.sin(th), 0, -np.cos(th)])
    assert np.allclose(projected_gravity([np.cos(th / 2), np.sin(th / 2), 0, 0]), [0, -np.sin(th), -np.cos(th)])


def test_a_layout_that_does_not_match_the_file_refuses_to_start(tmp_path):
    path = tmp_path / "toy.onnx"
    torch.onnx.export(_policy(OBS - 3), (torch.zeros(1, OBS - 3),), str(path), dynamo=False)
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(_layout()))
    with pytest.raises(ConfigError, match="policy expects"):
        LearnedController.load(tmp_path / "toy.yaml", G1)
    torch.onnx.export(_policy(OBS, 12), (torch.zeros(1, OBS),), str(path), dynamo=False)
    with pytest.raises(ConfigError, match="policy outputs 12 values"):
        LearnedController.load(tmp_path / "toy.yaml", G1)
    with pytest.raises(ConfigError, match=r"trained at 50\.0 Hz"):
        LearnedController.load(tmp_path / "toy.yaml", G1, rate_hz=100.0)


@pytest.mark.parametrize(("changes", "message"), [
    ({"joints": [*BODY[:28], "left_toe_joint"]}, "are not G1 body joints"),
    ({"kp": [500.0] * 15}, "outside the bridge's S8 ranges"),
    ({"default_pose": [0.0] * 5}, "default_pose: expected one number or 29"),
    ({"observation": {"terms": [{"term": "joint_angles"}]}}, "unknown observation term"),
    ({"observation": {"terms": [{"term": "command", "fields": ["speed"]}]}}, "unknown command fields"),
    ({"gait": None}, "sin_phase needs a `gait`"),
    ({"gaitt": {"period": 1.0}}, "did you mean 'gait'"),
    ({"upper_body_observation": "mirrored"}, "upper_body_observation must be one of"),
])
def test_bad_layouts_fail_loudly(tmp_path, changes, message):
    (tmp_path / "l.yaml").write_text(yaml.safe_dump(_layout(**changes)))
    with pytest.raises(ConfigError, match=message):
        load_layout(tmp_path / "l.yaml", G1)


def test_arm_outputs_are_ignored_and_the_waist_of_a_leg_policy_follows_the_torso_command(tmp_path):
    layout = _layout(joints=LEGS, outputs=LEGS, default_pose=[0.0] * 12, observation={"terms": [{"term": "dof_pos"}]},
                     gait=None)
    path = tmp_path / "legs.onnx"
    torch.onnx.export(_policy(12, 12), (torch.zeros(1, 12),), str(path), dynamo=False)
    (tmp_path / "legs.yaml").write_text(yaml.safe_dump({**layout, "policy": path.name}))
    wbc = LearnedController.load(tmp_path / "legs.yaml", G1)
    cmd = np.zeros(8)
    cmd[WBC_FIELDS.index("torso_yaw")], cmd[WBC_FIELDS.index("torso_pitch")] = 0.2, -0.1
    q = wbc.step(cmd, _state(np.random.default_rng(0)))
    assert q[12] == 0.2 and q[14] == -0.1 and q[13] == 0.0  # waist yaw, roll, pitch from the torso command
    assert "torso_yaw" not in wbc.unsupported and "vx" in wbc.unsupported
    full = _layout(outputs=BODY, observation={"terms": [{"term": "dof_pos"}]}, gait=None)
    torch.onnx.export(_policy(29, 29), (torch.zeros(1, 29),), str(path), dynamo=False)
    (tmp_path / "full.yaml").write_text(yaml.safe_dump({**full, "policy": path.name}))
    wbc = LearnedController.load(tmp_path / "full.yaml", G1)
    assert len(wbc.ignored_outputs) == 14 and "14 arm joints" in wbc.diagnostics()["wbc_ignored_outputs"]
    assert wbc.step(np.zeros(8), _state(np.random.default_rng(0))).shape == (15,)


def test_policy_targets_observation_shows_the_arms_where_the_policy_commands_them(tmp_path):
    full = _layout(outputs=BODY, observation={"terms": [{"term": "dof_pos"}, {"term": "dof_vel"}]}, gait=None,
                   upper_body_observation="policy_targets")
    path = tmp_path / "full.onnx"
    torch.onnx.export(_policy(58, 29), (torch.zeros(1, 58),), str(path), dynamo=False)
    (tmp_path / "full.yaml").write_text(yaml.safe_dump({**full, "policy": path.name}))
    wbc = LearnedController.load(tmp_path / "full.yaml", G1)
    rng = np.random.default_rng(0)
    wbc.step(np.zeros(8), _state(rng))
    last = wbc.last_action.copy()
    obs = wbc.observation(np.zeros(8), _state(rng))[0]
    default = np.asarray(full["default_pose"])
    np.testing.assert_allclose(obs[15:29], 0.25 * last[15:29], atol=1e-6)  # q − default = scale × own action
    assert not obs[29 + 15:].any()  # arm velocities observed as 0
    assert obs[:15].any() and not np.allclose(obs[:15] + default[:15], default[:15] + 0.25 * last[:15])


def test_bridge_core_ramps_to_the_controllers_pose_and_uses_its_gains(toy):
    from psi0_bridge.bridge_config import BridgeConfig
    from psi0_bridge.core import BridgeCore
    from tests.bridge.helpers import Driver

    _, layout_path = toy
    wbc = LearnedController.load(layout_path, G1)
    core = BridgeCore(BridgeConfig(), G1, wbc)
    d = Driver(core, q0=G1.body.default)
    d.step()
    assert core.enable(d.t)[0]
    d.run_for(core.cfg.ramp_s - 0.01)
    assert core.state.name == "RAMPING"  # nearly done: the ramp ends in the controller's pose, not the robot default
    np.testing.assert_allclose(d.q[:15], wbc.default_pose, atol=0.01 * np.abs(G1.body.default[:15] - wbc.default_pose).max()
                               + 1e-9)
    out = d.run_for(0.5)
    assert core.state.name == "ACTIVE" and wbc.steps > 20
    np.testing.assert_array_equal(out.body.kp[:15], _layout()["kp"])  # the gains it was trained with
    np.testing.assert_array_equal(out.body.kp[15:29], core.kp_body[15:29])  # arms keep the bridge's (Ψ0's)
    assert not np.allclose(d.q[:15], wbc.default_pose)  # the policy drives the legs


PUBLISHED = {"holosoma_ppo": (100, 29), "holosoma_fastsac": (100, 29), "falcon_dec_loco": (102, 15),
             "unitree_rl_lab_velocity": (480, 29), "unitree_rl_gym_g1": (47, 12)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_published_layout_matches_its_policy_file(name):
    layout = load_layout(layout_file(name), G1)
    try:
        path = resolve_policy_path(layout.policy, layout.path)
    except FileNotFoundError as e:
        pytest.skip(f"{name}: {e}")
    wbc = LearnedController(layout, Runner(path), G1, 50.0)
    assert (wbc.obs_dim, wbc.layout.action_dim) == PUBLISHED[name]
    q = wbc.step(np.array([0, 0, 0, 0.75, 0, 0, 0, 0.0]), _state(np.random.default_rng(0), arms=G1.body.default[15:]))
    assert q.shape == (15,) and np.all(np.isfinite(q)) and wbc.bad_actions == 0
    assert np.all(np.abs(q - wbc.default_pose) < 1.5)  # a standing robot's first targets stay near the pose
    if name.startswith("holosoma"):  # the gains are the ONNX file's own metadata
        import onnx

        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert np.allclose(layout.kp, yaml.safe_load(meta["kp"])[:15]) and yaml.safe_load(meta["dof_names"]) == BODY


def test_a_stateful_torchscript_policy_keeps_and_resets_its_memory():
    path = reference_dir("wbc", "unitree_rl_gym_g1") / "motion.pt"  # skips with a reason without ../shared
    wbc = LearnedController.load(layout_file("unitree_rl_gym_g1"), G1, policy_path=str(path))
    assert wbc.runner.stateful
    s = _state(np.random.default_rng(0), arms=G1.body.default[15:])
    cmd = np.array([0, 0, 0, 0.75, 0.3, 0, 0, 0.0])
    first = wbc.step(cmd, s)
    wbc.last_action[:] = 0.0
    wbc.clock.reset()
    assert not np.allclose(wbc.step(cmd, s), first)  # same input, other memory
    wbc.reset(s)
    np.testing.assert_allclose(wbc.step(cmd, s), first, atol=1e-6)  # reset: the memory is gone


@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0])
def test_the_controller_steps_at_its_rate_in_robot_time(toy, scale):
    """time_scale = robot seconds per bridge second (a simulator at 0.5× real time: 0.5): the controller is stepped at
    wbc_rate_hz of robot time, so its gait clock keeps the pace it was trained at."""
    from psi0_bridge.bridge_config import BridgeConfig
    from psi0_bridge.core import BridgeCore
    from tests.bridge.helpers import Driver

    _, layout_path = toy
    wbc = LearnedController.load(layout_path, G1)
    core = BridgeCore(BridgeConfig(), G1, wbc)
    d = Driver(core, q0=G1.body.default)
    d.activate()
    core.time_scale = scale
    before = wbc.steps
    d.run_for(2.0)  # bridge-clock seconds = 2 × scale robot seconds
    assert wbc.steps - before == pytest.approx(2.0 * scale * core.cfg.wbc_rate_hz, abs=1)
