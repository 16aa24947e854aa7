"""The project-owned G1 model against Unitree's reference model (../shared/reference/g1)."""

import mujoco
import numpy as np
import pytest

from psi0_core.robot import load_g1
from psi0_sim.model import Scene, g1_mjcf, load_facts, motor_joint_names
from tests.conftest import reference_dir

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def models():
    ref = mujoco.MjModel.from_xml_path(str(reference_dir("g1") / "g1_body29_hand14.xml"))
    ours = mujoco.MjModel.from_xml_string(g1_mjcf(Scene()))
    return ref, ours


def _hinges(m):
    return [(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j), tuple(np.round(m.jnt_range[j], 5)), tuple(m.jnt_axis[j]))
            for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]


def test_same_joint_names_order_axes_and_limits(models):
    ref, ours = models
    assert _hinges(ours)[:43] == _hinges(ref)
    assert [mujoco.mj_id2name(ours, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in range(ours.nu)] == motor_joint_names()
    for a in range(ours.nu):  # torque limits
        j = ref.joint(motor_joint_names()[a]).id
        assert ours.actuator_forcerange[a][1] == pytest.approx(ref.jnt_actfrcrange[j][1])


def test_total_mass_within_1_percent(models):
    ref, ours = models
    m_ref = ref.body_subtreemass[ref.body("pelvis").id]
    m_ours = ours.body_subtreemass[ours.body("pelvis").id]
    assert abs(m_ours - m_ref) / m_ref < 0.01
    print(f"mass reference {m_ref:.3f} kg, ours {m_ours:.3f} kg")


def _frames(m, d):
    out = {}
    for name in ("left_wrist_yaw_link", "right_wrist_yaw_link", "left_hand_index_1_link", "right_hand_index_1_link",
                 "left_ankle_roll_link", "right_ankle_roll_link"):  # hands (palm is merged into wrist_yaw), feet
        out[name] = d.body(name).xpos.copy()
    head = load_facts()["frames"]["head"]
    t = m.body(head["body"]).id
    out["head"] = d.xpos[t] + d.xmat[t].reshape(3, 3) @ np.array(head["pos"])
    return out


def test_hand_head_foot_frames_within_5mm_over_100_random_configurations(models):
    ref, ours = models
    rng = np.random.default_rng(0)
    d_ref, d_ours = mujoco.MjData(ref), mujoco.MjData(ours)
    worst = 0.0
    for _ in range(100):
        q = np.zeros(ref.nq)
        q[:3] = rng.uniform(-1, 1, 3)
        quat = rng.normal(size=4)
        q[3:7] = quat / np.linalg.norm(quat)
        lo, hi = ref.jnt_range[1:, 0], ref.jnt_range[1:, 1]
        q[7:] = rng.uniform(lo, hi)
        d_ref.qpos[:] = q
        d_ours.qpos[:] = 0
        d_ours.qpos[: ref.nq] = q
        mujoco.mj_kinematics(ref, d_ref)
        mujoco.mj_kinematics(ours, d_ours)
        a, b = _frames(ref, d_ref), _frames(ours, d_ours)
        for k in a:
            worst = max(worst, float(np.linalg.norm(a[k] - b[k])))
    print(f"worst frame error over 100 configurations: {worst * 1e3:.3f} mm")
    assert worst < 0.005


def test_motor_order_matches_the_bridge_joint_map():
    g1 = load_g1()
    assert motor_joint_names()[:29] == list(g1.body.names)
    assert motor_joint_names()[29:36] == list(g1.left_hand.names)
    assert motor_joint_names()[36:] == list(g1.right_hand.names)


def test_scene_is_seeded():
    assert Scene.random(3) == Scene.random(3)
    assert Scene.random(3) != Scene.random(4)


def test_a_reset_restarts_real_time_pacing_at_the_new_sim_time():
    """After sim/reset the real-time simulator keeps running at 1× wall time (before: the reset set physics time back
    to 0 and the loop ran flat out until it caught up with its old time; the gantry released early). The clock does not
    jump back either."""
    import time

    from psi0_sim.loop import SimLoop
    from psi0_sim.model import Scene
    from psi0_sim.physics import G1Physics

    class NoDDS:  # the loop's robot interface, without a DDS participant
        def apply_commands(self) -> None: ...
        def publish_state(self) -> None: ...
        def reset_commands(self) -> None: ...

    physics = G1Physics(Scene(table_pos=(6.0, 0.0)), fixed_base=True)
    loop = SimLoop(physics, NoDDS(), realtime=True)
    loop.start()
    try:
        time.sleep(4.0)
        before = physics.time
        loop.reset()
        assert physics.time >= before  # /clock never runs backwards
        time.sleep(0.02)
        t0, w0 = physics.time, time.monotonic()
        time.sleep(1.0)
        rate = (physics.time - t0) / (time.monotonic() - w0)
        assert 0.7 < rate < 1.3, f"{rate:.2f}× real time after the reset"
    finally:
        loop.stop()
    assert loop.error is None


def test_the_third_person_camera_follows_the_walking_robot():
    """The third-person view keeps its offset from the robot (and its world orientation) wherever the robot walks: a
    world-fixed camera lost the robot after the first walk_to_table episode."""
    m = mujoco.MjModel.from_xml_string(g1_mjcf())
    d = mujoco.MjData(m)
    cam = m.camera("third_person").id
    mujoco.mj_forward(m, d)
    start, axes = d.cam_xpos[cam].copy(), d.cam_xmat[cam].copy()
    np.testing.assert_allclose(start, (1.9, -1.6, 1.5), atol=0.05)  # where the world camera used to be
    d.qpos[:2] += (2.5, 1.5)  # the robot 2.9 m away
    mujoco.mj_forward(m, d)
    np.testing.assert_allclose(d.cam_xpos[cam] - start, (2.5, 1.5, 0.0), atol=0.02)
    np.testing.assert_allclose(d.cam_xmat[cam], axes, atol=1e-9)
