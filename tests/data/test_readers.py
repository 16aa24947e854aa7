"""Readers: EgoDex HDF5+MP4 → 48-D hand actions; G1 teleoperation data.json+JPEG → 36-D Ψ0 state/action."""

import json

import h5py
import numpy as np
import pytest

from psi0_policy.data import egodex, teleop
from psi0_policy.data.episode import EpisodeError
from psi0_policy.data.geometry import invert, matrix_from_rpy, rpy_from_matrix
from tests.data.fixtures import frames_rgb, make_egodex, make_teleop, pose

pytestmark = pytest.mark.unit


def test_rpy_round_trip_and_inverse():
    rng = np.random.default_rng(0)
    rpy = rng.uniform([-3, -1.4, -3], [3, 1.4, 3], size=(50, 3))
    assert np.allclose(rpy_from_matrix(matrix_from_rpy(rpy)), rpy)
    t = np.stack([pose(rng.normal(size=3), r) for r in rpy])
    assert np.allclose(invert(t) @ t, np.eye(4), atol=1e-12)


def test_egodex_hand_computed_delta(tmp_path):
    """Camera at (1, 0, 0) turned 90° about z; the left wrist moves +0.1 m along world y and turns 0.1 rad
    about z between frames: in the camera frame that is +0.1 m along x and a yaw of 0.1."""
    n = 3
    cam = np.stack([pose([1, 0, 0], [0, 0, np.pi / 2])] * n)
    joints = {name: np.stack([pose([0, 0, 0], [0, 0, 0])] * n) for s in egodex.SIDES for name in egodex.joint_names(s)}
    joints["leftHand"] = np.stack([pose([1, 1 + 0.1 * k, 0], [0, 0, 0.1 * k]) for k in range(n)])
    state, action = egodex.hand_features(cam, joints, stride=1)
    assert state.shape == action.shape == (2, 48)
    assert np.allclose(action[0, 0:3], [0.1, 0, 0], atol=1e-12)
    assert np.allclose(action[0, 3:6], [0, 0, 0.1], atol=1e-12)
    assert np.allclose(action[:, 6:9], 0) and np.allclose(action[:, 30:33], 0)
    assert np.allclose(state[0, 0:3], [1, 0, 0], atol=1e-12)  # wrist at world (1,1,0) is 1 m ahead on the camera's x
    assert np.allclose(action[:, 9:24], 0)  # fingertips do not move; right hand still
    # stride 2 skips a frame: one action spanning both moves
    _, a2 = egodex.hand_features(cam, joints, stride=2)
    assert a2.shape == (1, 48) and np.allclose(a2[0, 0:3], [0.2, 0, 0]) and np.allclose(a2[0, 3:6], [0, 0, 0.2])


def test_egodex_rotation_delta_is_about_the_camera_axes():
    """Official order R(t')·R(t)ᵀ: a wrist rolled 90° that then turns 0.1 rad about the camera's z has delta rpy
    (0, 0, 0.1); the other order (R(t)ᵀ·R(t'), the turn about the wrist's own axes) would read (0, 0.1, 0)."""
    cam = np.stack([pose([0, 0, 0], [0, 0, 0])] * 2)
    joints = {name: np.stack([pose([0, 0, 0], [0, 0, 0])] * 2) for s in egodex.SIDES for name in egodex.joint_names(s)}
    r0 = matrix_from_rpy(np.array([np.pi / 2, 0, 0]))
    r1 = matrix_from_rpy(np.array([0, 0, 0.1])) @ r0
    joints["rightHand"] = np.stack([np.eye(4), np.eye(4)])
    joints["rightHand"][0, :3, :3], joints["rightHand"][1, :3, :3] = r0, r1
    _, action = egodex.hand_features(cam, joints, stride=1)
    assert np.allclose(action[0, 27:30], [0, 0, 0.1], atol=1e-12)
    assert np.allclose(rpy_from_matrix(r0.T @ r1), [0, 0.1, 0], atol=1e-12)  # the order this test tells apart


def test_egodex_reader_shapes_frames_and_task(tmp_path):
    h5 = make_egodex(tmp_path / "put_cup", n=21, seed=3)
    ep = egodex.read_egodex(h5, stride=2)
    assert ep.task == "put the cup on the plate" and ep.fps == 15
    assert ep.action.shape == (10, 48) and ep.state.shape == (10, 48)
    assert np.allclose(np.diff(ep.capture_time), 2 / 30)
    frames = list(ep.cameras["ego"]())
    src = frames_rgb(21, 48, 64, seed=3)
    assert len(frames) == 10
    for k, f in enumerate(frames):  # kept frame k is source frame 2k (closest of all sources)
        err = [np.abs(f.astype(float) - s).mean() for s in src]
        assert int(np.argmin(err)) == 2 * k
    with h5py.File(h5, "r") as f:
        cam, wl = f["transforms/camera"][()], f["transforms/leftHand"][()]
    expect = (np.linalg.inv(cam[0]) @ wl[2])[:3, 3] - (np.linalg.inv(cam[0]) @ wl[0])[:3, 3]
    assert np.allclose(ep.action[0, 0:3], expect)


def test_egodex_malformed(tmp_path):
    bad = tmp_path / "t" / "0.hdf5"
    bad.parent.mkdir()
    with h5py.File(bad, "w") as f:
        f["transforms/camera"] = np.stack([np.eye(4)] * 4)
    with pytest.raises(EpisodeError, match="missing joints"):
        egodex.read_egodex(bad)
    (tmp_path / "t" / "1.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(EpisodeError, match="unreadable"):
        egodex.read_egodex(tmp_path / "t" / "1.hdf5")


def test_teleop_reader_values(tmp_path):
    """Dims 28–35 are the operator's commands of the same frame; state 28–31 the torso command of the frame before
    (nominal before the first); hands and arms of the action are the commands, of the state the measurements."""
    ep_dir = make_teleop(tmp_path / "wave" / "episode_0", n=6, seed=1)
    doc = json.loads((ep_dir / "data.json").read_text())["data"]
    ep = teleop.read_teleop(ep_dir)
    assert ep.task == "wave" and ep.state.shape == ep.action.shape == (6, 36)
    s, a = [fr["states"] for fr in doc], [fr["actions"] for fr in doc]
    k = 2
    np.testing.assert_allclose(ep.action[k, 0:7], a[k]["left_angles"], rtol=1e-6)
    np.testing.assert_allclose(ep.action[k, 7:14], a[k]["right_angles"], rtol=1e-6)
    np.testing.assert_allclose(ep.action[k, 14:28], a[k]["sol_q"][15:29], rtol=1e-6)  # arms are body motors 15..28
    c = a[k]
    np.testing.assert_allclose(ep.action[k, 28:36], [*c["torso_rpy"], c["torso_height"], c["torso_vx"], c["torso_vy"],
                                                     c["torso_vyaw"], c["target_yaw"]], rtol=1e-6)
    np.testing.assert_allclose(ep.state[k, 0:14], s[k]["hand_state"], rtol=1e-6)
    np.testing.assert_allclose(ep.state[k, 14:28], s[k]["arm_state"], rtol=1e-6)
    np.testing.assert_allclose(ep.state[k, 28:32], [*a[k - 1]["torso_rpy"], a[k - 1]["torso_height"]], rtol=1e-6)
    np.testing.assert_allclose(ep.state[0, 28:32], [0, 0, 0, 0.75])
    assert np.all(ep.state[:, 32:] == 0)
    np.testing.assert_allclose(ep.capture_time, [fr["time"] - doc[0]["time"] for fr in doc])
    imgs = list(ep.cameras["head"]())
    assert len(imgs) == 6 and imgs[0].shape == (48, 64, 3)


def test_teleop_sol_q_of_the_arms_only_is_accepted(tmp_path):
    ep_dir = make_teleop(tmp_path / "episode_0", n=4, seed=2)
    doc = json.loads((ep_dir / "data.json").read_text())
    for fr in doc["data"]:
        fr["actions"]["sol_q"] = fr["actions"]["sol_q"][15:29]
    (ep_dir / "data.json").write_text(json.dumps(doc))
    ep = teleop.read_teleop(ep_dir)
    np.testing.assert_allclose(ep.action[1, 14:28], doc["data"][1]["actions"]["sol_q"], rtol=1e-6)


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["data"][1]["states"].pop("arm_state"), "missing states.arm_state"),
    (lambda d: d["data"][2]["states"].__setitem__("hand_state", [0.0] * 3), "hand_state has 3 values"),
    (lambda d: d["data"][3].__setitem__("time", 0.0), "strictly increasing"),
    (lambda d: d["data"][0]["actions"].pop("sol_q"), "missing actions.sol_q"),
    (lambda d: d["data"][0]["actions"].__setitem__("sol_q", [0.0] * 5), "sol_q has 5 values"),
    (lambda d: d["data"][1]["actions"].pop("left_angles"), "missing actions.left_angles"),
    (lambda d: d["data"][2]["actions"].pop("torso_height"), "missing actions.torso_height"),
    (lambda d: d["data"][2]["actions"].pop("target_yaw"), "missing actions.target_yaw"),
])
def test_teleop_malformed_is_a_clear_error(tmp_path, damage, message):
    ep_dir = make_teleop(tmp_path / "episode_0", n=5, seed=0)
    doc = json.loads((ep_dir / "data.json").read_text())
    damage(doc)
    (ep_dir / "data.json").write_text(json.dumps(doc))
    with pytest.raises(EpisodeError, match=message):
        teleop.read_teleop(ep_dir)


def test_teleop_missing_image_and_bad_json(tmp_path):
    ep_dir = make_teleop(tmp_path / "episode_0", n=4)
    (ep_dir / "color" / "frame_000002.jpg").unlink()
    with pytest.raises(EpisodeError, match="image files missing"):
        teleop.read_teleop(ep_dir)
    (ep_dir / "data.json").write_text("{broken")
    with pytest.raises(EpisodeError, match="invalid JSON"):
        teleop.read_teleop(ep_dir)
