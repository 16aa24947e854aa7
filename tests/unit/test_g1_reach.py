"""Arm IK (psi0_core.g1_reach): it reaches what the arm can reach, says when it cannot, stays inside the joint limits,
and its grasp point is where MuJoCo's G1 (built from the same facts by other code) has the open hand's centre."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psi0_core.g1_kinematics import load_kinematics
from psi0_core.g1_model import robot_only_mjcf
from psi0_core.g1_reach import GRASP_TIPS, ArmIK, arm_joint_names
from psi0_core.robot import load_g1

pytestmark = pytest.mark.unit


def _default_arm(side: str) -> np.ndarray:
    g1 = load_g1()
    return np.array([g1.body.default[g1.body.index(n)] for n in arm_joint_names(side)])


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_grasp_point_is_the_open_hands_centre_in_mujoco(side):
    model = mujoco.MjModel.from_xml_string(robot_only_mjcf())
    data = mujoco.MjData(model)
    g1 = load_g1()
    rng = np.random.default_rng(3)
    ik = ArmIK(side)
    for _ in range(5):
        q = rng.uniform(ik.lower, ik.upper)
        data.qpos[:] = 0.0
        data.qpos[3] = 1.0  # the floating base at identity
        for name, v in zip(ik.names, q, strict=True):
            data.qpos[model.jnt_qposadr[model.joint(name).id]] = v
        for name in g1.left_hand.names + g1.right_hand.names:  # the hand at its default (open) pose
            data.qpos[model.jnt_qposadr[model.joint(name).id]] = g1.hands.default[g1.hands.index(name)]
        mujoco.mj_kinematics(model, data)
        pelvis = model.body("pelvis").id
        r_p, p_p = data.xmat[pelvis].reshape(3, 3), data.xpos[pelvis]
        tips = [r_p.T @ (data.body(f"{side}_hand_{t}_link").xpos - p_p) for t in GRASP_TIPS]
        centre = (tips[0] + (tips[1] + tips[2]) / 2) / 2
        point, rot = ik.wrist(q)
        wrist = model.body(f"{side}_wrist_yaw_link").id
        assert np.allclose(point, centre, atol=1e-6), (point, centre)
        assert np.allclose(rot, r_p.T @ data.xmat[wrist].reshape(3, 3), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(side=st.sampled_from(["left", "right"]), seed=st.integers(0, 2**31 - 1))
def test_it_reaches_any_pose_the_arm_can_take(side, seed):
    """A target made by the arm itself (random joints inside the limits, kept within 40° of the default) is reached
    from the default arm to a millimetre and a hundredth of a radian, inside the limits."""
    ik = ArmIK(side)
    rng = np.random.default_rng(seed)
    q0 = _default_arm(side)
    q_true = np.clip(q0 + rng.uniform(-0.7, 0.7, 7), ik.lower, ik.upper)
    position, rotation = ik.wrist(q_true)
    sol = ik.solve(position, rotation, q0, iters=300)
    assert sol.position_error_m < 1e-3 and sol.rotation_error_rad < 1e-2, sol
    assert sol.reached()
    assert np.all(sol.q >= ik.lower - 1e-12) and np.all(sol.q <= ik.upper + 1e-12)
    p, _ = ik.wrist(sol.q)  # the reported errors are the real ones
    assert abs(np.linalg.norm(p - position) - sol.position_error_m) < 1e-9


@pytest.mark.parametrize("side", ["left", "right"])
def test_an_unreachable_target_is_reported_as_missed(side):
    ik = ArmIK(side)
    q0 = _default_arm(side)
    _, rot = ik.wrist(q0)
    sol = ik.solve((1.0, 0.0, 0.0), rot, q0)  # a metre ahead of the pelvis: the arm is ~0.5 m long
    assert not sol.reached()
    assert sol.position_error_m > 0.3
    assert np.all(sol.q >= ik.lower) and np.all(sol.q <= ik.upper)


def test_the_waist_moves_the_arm_and_the_solver_accounts_for_it():
    """The chain starts at the pelvis: a waist pitch carries the hand, and IK with the waist given solves for it."""
    ik = ArmIK("right")
    q0 = _default_arm("right")
    upright, _ = ik.wrist(q0)
    leaning, rot = ik.wrist(q0, {"waist_pitch_joint": 0.3})
    assert np.linalg.norm(leaning - upright) > 0.05 and leaning[2] < upright[2] - 0.05  # pitched forward: the hand dips
    sol = ik.solve(leaning, rot, q0, waist={"waist_pitch_joint": 0.3})
    assert sol.position_error_m < 1e-6 and np.allclose(sol.q, q0, atol=1e-3)
    unaware = ik.solve(leaning, rot, q0)  # the same target without the waist needs other arm joints
    assert not np.allclose(unaware.q, q0, atol=1e-2)


def test_bad_arguments_fail_loudly():
    with pytest.raises(ValueError, match="left or right"):
        ArmIK("middle")
    assert ArmIK("left", load_kinematics()).names == arm_joint_names("left")
