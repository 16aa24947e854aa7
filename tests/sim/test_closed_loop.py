"""Closed loop: the simulated G1 (real MuJoCo, robot DDS) with the real bridge process.

The simulator runs in this test process (so the test reads ground truth from the physics); the
bridge runs as its own process; the ROS side (heartbeat, chunks, services) is a test node.
"""

from __future__ import annotations

import os
import re
import time

import mujoco
import numpy as np
import pytest
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, LowCmd_

from psi0.launcher import find_executable
from psi0_core.g1_adapter import action_names
from psi0_core.lowlevel import MotorTargets, hand_cmd, lowcmd_message, pack_lowcmd
from psi0_core.robot import load_g1
from psi0_core.robot_dds import Endpoint
from psi0_sim.loop import SimLoop
from psi0_sim.model import Scene, SceneObject
from psi0_sim.physics import G1Physics
from psi0_sim.robot_interface import SimRobotInterface
from tests.bridge.helpers import hold_chunk
from tests.bridge.test_bridge_node import RosSide
from tests.conftest import PYTHON, next_robot_domain, shared_machine_params

pytestmark = [pytest.mark.sim, pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(180)]
G1 = load_g1()
HERE = os.path.dirname(__file__)


def _sim(scene: Scene | None = None, **physics_kw):
    domain = next_robot_domain()
    physics = G1Physics(scene or Scene.random(0), **physics_kw)
    iface = SimRobotInterface(physics, domain, "lo")
    loop = SimLoop(physics, iface, realtime=True)
    loop.start()
    return domain, physics, iface, loop


@pytest.fixture
def sim():
    """Free-standing G1, hung from the start-up gantry until the bridge's ramp has run; the table moved out of
    reach (a robot leaning on it would look like one standing)."""
    domain, physics, iface, loop = _sim(gantry_release_s=3.0, scene=Scene(table_pos=(6.0, 0.0)))
    yield domain, physics, iface, loop
    loop.stop()
    iface.close()
    assert loop.error is None


@pytest.fixture
def sim_band():
    """G1 held by the elastic band (upper-body work)."""
    domain, physics, iface, loop = _sim(elastic_band=True)
    yield domain, physics, iface, loop
    loop.stop()
    iface.close()
    assert loop.error is None


def _bridge(spawn, domain, *params):
    args = [str(find_executable("psi0_bridge", "bridge_node")), "--ros-args", "-p", f"robot_domain:={domain}",
            "-p", "auto_enable:=true", *shared_machine_params("bridge")]
    for p in params:
        args += ["-p", p]
    return spawn(args, name="bridge")


def wrist_target(physics: G1Physics, arm_q: dict[str, float]) -> np.ndarray:
    """Forward kinematics of the right wrist with the current base pose and the given arm angles."""
    d = mujoco.MjData(physics.model)
    with_lock = physics.data
    d.qpos[:] = with_lock.qpos
    for name, q in arm_q.items():
        d.qpos[physics.model.jnt_qposadr[physics.model.joint(name).id]] = q
    mujoco.mj_kinematics(physics.model, d)
    return d.body("right_wrist_yaw_link").xpos.copy()


def tilt_deg(physics: G1Physics) -> float:
    """Ground truth: the angle of the pelvis z axis from vertical."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, physics.data.qpos[3:7])
    return float(np.degrees(np.arccos(np.clip(mat[8], -1.0, 1.0))))


def _wait_released(ros: RosSide, physics: G1Physics, loop: SimLoop, after_s: float = 3.6) -> None:
    """The gantry lowers the robot 3 s of *sim* time after the motors became stiff (on a loaded machine the simulator
    runs slower than the wall clock: wait on its time, not a fixed wall time); `after_s` lets it settle too."""
    def released() -> bool:
        with loop.lock:
            return physics.band.stiff_since is not None and physics.time - physics.band.stiff_since > after_s

    assert ros.wait(released, 20), f"still on the gantry at sim time {physics.time:.2f} s"


def _arm_motion(t: float) -> np.ndarray:
    """A chunk row at time t (s since start): the right arm raised and lowered, the left reaching forward."""
    s = 0.5 - 0.5 * np.cos(2 * np.pi * t / 6.0)
    return hold_chunk(h=1, right_shoulder_pitch_joint=-1.5 * s, right_elbow_joint=0.3 + 0.4 * s,
                      left_shoulder_pitch_joint=-0.7 * s, left_elbow_joint=0.3 + 0.6 * s)[0]


@pytest.mark.parametrize("wbc", ["holosoma_ppo", "stand"])
def test_free_standing_with_arm_motion_stays_upright_then_estop_damps_every_motor(sim, rclpy_context, spawn, wbc):
    """The default System-0 keeps the released robot upright (ground-truth tilt < 10°, pelvis above 0.65 m) for 20 s
    while the arms move. The same check run with the fixed `stand` pose must see it fall: the test can fail."""
    domain, physics, _iface, loop = sim
    bridge = _bridge(spawn, domain, f"wbc:={wbc}")
    ros = RosSide(rclpy_context)
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 30), bridge.output()
        _wait_released(ros, physics, loop)
        tilts, heights, t_start, next_chunk = [], [], time.monotonic(), 0.0
        while time.monotonic() - t_start < 20:
            t = time.monotonic() - t_start
            if t >= next_chunk:  # 2 s chunks, a new one every second: the bridge never runs dry
                ros.send_chunk(np.stack([_arm_motion(t + i / 30) for i in range(60)]))
                next_chunk = t + 1.0
            ros.spin(0.1)
            with loop.lock:
                tilts.append(tilt_deg(physics))
                heights.append(physics.data.qpos[2])
        tilts, heights = np.array(tilts), np.array(heights)
        upright = bool(tilts.max() < 10.0 and heights.min() > 0.65)
        print(f"wbc={wbc}: max tilt {tilts.max():.1f}°, pelvis {heights.min():.3f}..{heights.max():.3f} m, "
              f"bridge {ros.state()} {ros.status.stop_reason}")
        if wbc == "stand":  # a fixed pose cannot balance a released robot: the check sees the fall
            assert not upright
            return
        assert upright, (tilts.max(), heights.min())
        assert ros.state() in ("ACTIVE", "HOLDING") and ros.status.falls == 0 and ros.status.max_tilt_deg < 10.0
        assert ros.call("estop").success
        ros.spin(0.2)
        with loop.lock:
            c = physics.cmd
            assert np.all(c.kp == 0.0) and np.all(c.kd[:29] > 0) and np.all(c.enabled[:29])
        assert ros.state() == "ESTOP"
    finally:
        ros.close()


def test_walks_on_the_velocity_command_of_the_action_chunks(sim, rclpy_context, spawn):
    """Dims 32..34 of the chunks → bridge (S10) → learned controller → rt/lowcmd → MuJoCo: commanded vx 0.3 m/s
    for 8 s (wall time ≈ sim time here), the base moves forward at a measured speed near it, upright."""
    domain, physics, _iface, loop = sim
    bridge = _bridge(spawn, domain, "wbc:=holosoma_ppo")
    ros = RosSide(rclpy_context)
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 30), bridge.output()
        _wait_released(ros, physics, loop, after_s=4.0)
        walk = hold_chunk(h=60, vx=0.3)
        with loop.lock:
            x0, t0 = physics.data.qpos[:2].copy(), physics.time
        tilts, t_start, next_chunk = [], time.monotonic(), 0.0
        while time.monotonic() - t_start < 8:
            if time.monotonic() - t_start >= next_chunk:
                ros.send_chunk(walk)
                next_chunk += 1.0
            ros.spin(0.1)
            with loop.lock:
                tilts.append(tilt_deg(physics))
        with loop.lock:
            x1, t1 = physics.data.qpos[:2].copy(), physics.time
        speed = float(np.linalg.norm(x1 - x0) / (t1 - t0))
        print(f"walked {np.linalg.norm(x1 - x0):.2f} m in {t1 - t0:.1f} s of sim time: {speed:.2f} m/s "
              f"(commanded 0.30, acceleration included); max tilt {max(tilts):.1f}°; {ros.status.state_name}")
        assert 0.15 < speed < 0.45 and max(tilts) < 10.0 and ros.status.falls == 0
        assert "vx" not in ros.status.stop_reason and ros.state() in ("ACTIVE", "HOLDING")
    finally:
        ros.close()


def test_a_fall_is_an_s12_stop(sim, rclpy_context, spawn):
    """The released robot under the fixed `stand` pose tips over; the bridge sees the tilt pass 35° on its IMU and
    damps (S12), latched, counted in BridgeStatus."""
    domain, physics, _iface, loop = sim
    bridge = _bridge(spawn, domain, "wbc:=stand")
    ros = RosSide(rclpy_context)
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 30), bridge.output()
        assert ros.wait(lambda: ros.state() == "STOPPED", 40), (ros.state(), tilt_deg(physics))
        assert "(S12)" in ros.status.stop_reason and ros.status.falls == 1 and ros.status.max_tilt_deg > 35.0
        # BridgeStatus goes out on the transition itself; the first damping LowCmd reaches the simulator one
        # control cycle and a DDS hop later.
        def damped() -> bool:
            with loop.lock:
                return bool(np.all(physics.cmd.kp[:29] == 0.0))

        assert ros.wait(damped, 0.5), physics.cmd.kp[:29]
        with loop.lock:
            assert tilt_deg(physics) > 30.0
    finally:
        ros.close()


def _tf_pose(tf: dict, frame: str, root: str = "pelvis") -> np.ndarray:
    """(4, 4) pose of `frame` in `root`, composed from the newest /tf transforms by child frame."""
    from psi0_core.g1_kinematics import quat_to_matrix

    pose = np.eye(4)
    while frame != root:
        t = tf[frame]
        local = np.eye(4)
        r, p = t.transform.rotation, t.transform.translation
        local[:3, :3], local[:3, 3] = quat_to_matrix((r.w, r.x, r.y, r.z)), (p.x, p.y, p.z)
        pose, frame = local @ pose, t.header.frame_id
    return pose


def _body_in_pelvis(physics: G1Physics, body: str) -> np.ndarray:
    d = physics.data
    world = {}
    for name in ("pelvis", body):
        world[name] = np.eye(4)
        world[name][:3, :3], world[name][:3, 3] = d.body(name).xmat.reshape(3, 3), d.body(name).xpos
    return np.linalg.inv(world["pelvis"]) @ world[body]


def test_arm_chunk_moves_the_wrist_to_its_target_and_tf_shows_it(sim_band, rclpy_context, spawn):
    """The wrist reaches its target, and the robot_state node's /tf (from the bridge's joint_states and imu) puts
    the wrist and the hand where the simulator has them, relative to the pelvis, and the pelvis at its attitude."""
    from tf2_msgs.msg import TFMessage

    domain, physics, _iface, loop = sim_band
    bridge = _bridge(spawn, domain, "arm_gravity_ff:=true")
    spawn([str(find_executable("psi0", "robot_state"))], name="robot_state")
    ros = RosSide(rclpy_context)
    tf: dict = {}
    ros.node.create_subscription(TFMessage, "/tf", lambda m: tf.update({t.child_frame_id: t for t in m.transforms}), 10)
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 20), bridge.output()
        arm = {"right_shoulder_pitch_joint": -0.6, "right_shoulder_roll_joint": -0.25, "right_elbow_joint": 0.9}
        a = hold_chunk(h=60, **arm)
        a[:20] = np.linspace(hold_chunk(h=1)[0], a[20], 20)  # get there in 2/3 s, then hold
        ros.send_chunk(a)
        ros.spin(1.8)
        with loop.lock:
            target = wrist_target(physics, arm)
            actual = physics.data.body("right_wrist_yaw_link").xpos.copy()
        err = float(np.linalg.norm(actual - target))
        print(f"right wrist error {err * 100:.2f} cm")
        assert err < 0.02

        tf.clear()
        assert ros.wait(lambda: "pelvis" in tf and "right_hand_index_1_link" in tf, 10), sorted(tf)
        with loop.lock:  # the arm holds still now: /tf (≤ 1/30 s old) and the physics see the same pose
            truth = {b: _body_in_pelvis(physics, b) for b in ("right_wrist_yaw_link", "right_hand_index_1_link")}
            pelvis_rot = physics.data.body("pelvis").xmat.reshape(3, 3).copy()
        for body, pose in truth.items():
            shown = _tf_pose(tf, body)
            assert np.linalg.norm(shown[:3, 3] - pose[:3, 3]) < 0.01, (body, shown[:3, 3], pose[:3, 3])
        base = _tf_pose(tf, "pelvis", root="odom")[:3, :3]
        angle = np.degrees(np.arccos(np.clip((np.trace(base.T @ pelvis_rot) - 1) / 2, -1, 1)))
        assert angle < 2.0, f"odom → pelvis is {angle:.1f}° off the simulator's pelvis attitude"
    finally:
        ros.close()


def test_bad_crc_commands_have_no_effect(sim):
    domain, physics, iface, loop = sim
    ep = Endpoint(domain, "lo")
    w = ep.writer("rt/lowcmd", LowCmd_)
    time.sleep(0.5)
    t = MotorTargets()
    t.q[:29], t.kp[:29], t.enabled[:29] = 1.0, 100.0, True
    msg = lowcmd_message(pack_lowcmd(t, mode_machine=5))
    msg.crc ^= 0x1
    for _ in range(50):
        w.write(msg)
        time.sleep(0.004)
    time.sleep(0.1)
    assert iface.bad_crc >= 40 and iface.commands == 0
    with loop.lock:
        assert np.all(physics.cmd.kp == 0.0)
    msg.crc ^= 0x1  # the same frame with its correct CRC is applied
    w.write(msg)
    time.sleep(0.2)
    assert iface.commands >= 1
    with loop.lock:
        assert np.all(physics.cmd.kp[:29] == 100.0)
    ep.close()


def test_dex3_commands_reach_the_hand_motors(sim):
    domain, physics, iface, loop = sim
    ep = Endpoint(domain, "lo")
    w = ep.writer("rt/dex3/right/cmd", HandCmd_)
    q = np.linspace(0.1, 0.7, 7)
    deadline = time.monotonic() + 5
    while iface.hand_commands == 0 and time.monotonic() < deadline:
        w.write(hand_cmd(q, np.full(7, 2.0), np.full(7, 0.1)))
        time.sleep(0.05)
    assert iface.hand_commands >= 1
    with loop.lock:
        right = slice(36, 43)
        assert np.allclose(physics.cmd.q[right], q, atol=1e-6) and np.all(physics.cmd.kp[right] == 2.0)
        assert np.all(physics.cmd.enabled[right]) and np.all(physics.cmd.kp[29:36] == 0.0)  # left hand untouched
    ep.close()


def test_unitree_sdk_style_client_drives_the_simulator(sim_band, spawn):
    domain, physics, iface, loop = sim_band
    client = spawn([PYTHON, os.path.join(HERE, "unitree_style_client.py"), str(domain), "4.0"], name="client")
    assert client.wait(timeout=60) == 0, client.output()
    with loop.lock:
        q = physics.motor_state()[0][15]
        z = physics.data.qpos[2]
    print(client.output().strip(), f"; sim says {q:.3f}")
    # moved most of the way (plain PD at kp 50 sags under the arm's weight) and held the rest of the body (on the
    # elastic band: a fixed pose does not balance a free robot)
    assert q < -0.5
    assert z > 0.7
    # every command the client wrote reached the physics (the SDK's pure-Python CRC and serialiser hold the client to
    # 200-500 Hz depending on the machine, so the rate itself is not the test)
    written = int(re.search(r"wrote (\d+) commands", client.output()).group(1))
    assert written > 400 and iface.commands >= 0.9 * written, (written, iface.commands)


# The right Dex3 closed on an object between its thumb and its index and middle fingers (joint targets, rad).
RIGHT_HAND_CLOSED = {"right_hand_thumb_0_joint": 0.0, "right_hand_thumb_1_joint": -0.6, "right_hand_thumb_2_joint": -1.2,
                     "right_hand_index_0_joint": 1.0, "right_hand_index_1_joint": 1.2,
                     "right_hand_middle_0_joint": 1.0, "right_hand_middle_1_joint": 1.2}


def _grasp_row(t: float, close: bool) -> np.ndarray:
    """A chunk row at t s: the hand open for 1 s, closing over the next 1 s (if `close`), the arm lifting 0.5 rad of
    shoulder pitch over 2.5..4 s, then held."""
    row = hold_chunk(h=1)[0]
    names = action_names()
    a = float(np.clip(t - 1.0, 0.0, 1.0)) if close else 0.0
    for joint, target in RIGHT_HAND_CLOSED.items():
        i = names.index(joint)
        row[i] += a * (target - row[i])
    i = names.index("right_shoulder_pitch_joint")
    row[i] -= 0.5 * float(np.clip((t - 2.5) / 1.5, 0.0, 1.0))
    return row


def _hand_centre(physics: G1Physics) -> np.ndarray:
    """Between the right thumb's tip link and the index and middle fingers' (world, m)."""
    tips = [physics.data.body(f"right_hand_{f}_link").xpos.copy() for f in ("thumb_2", "index_1", "middle_1")]
    return (tips[0] + (tips[1] + tips[2]) / 2) / 2


def _place_cube(physics: G1Physics, centre: np.ndarray) -> None:
    """The cube at `centre`, on the pedestal (the scene's table, 4 × 4 cm) moved under it."""
    m, d = physics.model, physics.data
    half = m.geom("table_top").size.copy()
    half[2] = (centre[2] - 0.025) / 2
    g = m.geom("table_top").id
    m.geom_size[g] = half
    m.geom_rbound[g] = float(np.linalg.norm(half))  # the broad phase's bounds follow the new size
    m.geom_aabb[g] = (0.0, 0.0, 0.0, *half)
    m.body("table").pos[:] = (centre[0], centre[1], half[2])
    adr = m.jnt_qposadr[m.body("red_cube").jntadr[0]]
    d.qpos[adr:adr + 7] = (*centre[:2], centre[2] + 0.001, 1.0, 0.0, 0.0, 0.0)
    d.qvel[m.jnt_dofadr[m.body("red_cube").jntadr[0]]:][:6] = 0.0
    mujoco.mj_forward(m, d)


@pytest.mark.parametrize("close", [True, False])
def test_a_dex3_grasp_through_the_bridge_lifts_a_50_g_cube(rclpy_context, spawn, close):
    """The hand and arm dims of the chunks → bridge → rt/dex3/right/cmd and rt/lowcmd → MuJoCo: the right hand closes
    on a 50 g cube standing on a pedestal between its thumb and fingers, the arm lifts, and the cube (ground truth)
    stays ≥ 5 cm above where it stood for the last second. With the hand left open the same lift leaves the cube
    behind: the test can fail. (The robot hangs in the elastic band: this tests the hand, not the legs.)"""
    cube = SceneObject("red_cube", "box", (0.025, 0.025, 0.025), "0.85 0.1 0.1 1", (6.0, 0.0, 0.03))
    domain, physics, iface, loop = _sim(Scene(table_pos=(6.0, 1.0), table_size=(0.02, 0.02, 0.3), objects=(cube,)),
                                        elastic_band=True)
    bridge = _bridge(spawn, domain, "arm_gravity_ff:=true")
    ros = RosSide(rclpy_context)
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 30), bridge.output()
        ros.send_chunk(hold_chunk(h=60))
        ros.spin(1.5)  # the open hand settles where the bridge holds it: the cube goes there
        with loop.lock:
            centre = _hand_centre(physics)
            _place_cube(physics, centre)
        ros.send_chunk(hold_chunk(h=30))
        ros.spin(0.5)
        with loop.lock:
            z0 = float(physics.data.body("red_cube").xpos[2])
        assert abs(z0 - centre[2]) < 0.01, (z0, centre)  # it stands on its pedestal in the open hand
        heights, t_start, next_chunk = [], time.monotonic(), 0.0
        while (t := time.monotonic() - t_start) < 6.0:
            if t >= next_chunk:
                ros.send_chunk(np.stack([_grasp_row(t + i / 30, close) for i in range(60)]))
                next_chunk = t + 1.0
            ros.spin(0.05)
            if t > 5.0:
                with loop.lock:
                    heights.append(float(physics.data.body("red_cube").xpos[2]) - z0)
        lift = np.array(heights)
        with loop.lock:  # what touches the cube now
            m, d = physics.model, physics.data
            cube_geom = m.geom("red_cube_geom").id
            touching = {m.geom(int(c.geom2 if c.geom1 == cube_geom else c.geom1)).name
                        for c in d.contact[:d.ncon] if cube_geom in (c.geom1, c.geom2)}
        print(f"close={close}: cube lifted {lift.min() * 100:.1f}..{lift.max() * 100:.1f} cm over the last second, "
              f"touching {sorted(touching)}, bridge {ros.state()}")
        assert ros.state() in ("ACTIVE", "HOLDING") and ros.status.stops == 0
        if close:
            assert lift.min() > 0.05, lift
            assert touching and all(g.startswith("right_") for g in touching), touching  # held by the hand alone
            assert any("thumb" in g for g in touching) and any("index" in g or "middle" in g for g in touching), touching
        else:
            assert lift.max() < 0.02, lift  # the open hand does not carry it (it may knock it off its pedestal)
    finally:
        ros.close()
        loop.stop()
        iface.close()
        assert loop.error is None
