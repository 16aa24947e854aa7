"""Closed loop: the simulated G1 (real MuJoCo, robot DDS) with the real bridge process.

The simulator runs in this test process (so the test reads ground truth from the physics); the
bridge runs as its own process; the ROS side (heartbeat, chunks, services) is a test node.
"""

from __future__ import annotations

import os
import time

import mujoco
import numpy as np
import pytest
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, LowCmd_

from psi0.launcher import find_executable
from psi0.robot import load_g1
from psi0_bridge.lowlevel import MotorTargets, hand_cmd, lowcmd_message, pack_lowcmd
from psi0_bridge.robot_dds import Endpoint
from psi0_sim.loop import SimLoop
from psi0_sim.model import Scene
from psi0_sim.physics import G1Physics
from psi0_sim.robot_interface import SimRobotInterface
from tests.bridge.helpers import hold_chunk
from tests.bridge.test_bridge_node import RosSide
from tests.conftest import PYTHON, next_robot_domain

pytestmark = [pytest.mark.sim, pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(180)]
G1 = load_g1()
HERE = os.path.dirname(__file__)
NOMINAL_PELVIS = 0.78


def _sim(**physics_kw):
    domain = next_robot_domain()
    physics = G1Physics(Scene.random(0), **physics_kw)
    iface = SimRobotInterface(physics, domain, "lo")
    loop = SimLoop(physics, iface, realtime=True)
    loop.start()
    return domain, physics, iface, loop


@pytest.fixture
def sim():
    """Free-standing G1, hung from the start-up gantry until the bridge's ramp has run."""
    domain, physics, iface, loop = _sim(gantry_release_s=3.0)
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
            "-p", "auto_enable:=true"]
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


def test_stands_for_20s_then_estop_damps_every_motor(sim, rclpy_context, spawn):
    domain, physics, _iface, loop = sim
    bridge = _bridge(spawn, domain)
    ros = RosSide(rclpy_context)
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 20), bridge.output()
        # the gantry lowers the robot 3 s of *sim* time after the motors became stiff (on a loaded machine the
        # simulator runs slower than the wall clock: wait on its time, not a fixed wall time)
        def released() -> bool:
            with loop.lock:
                return physics.band.stiff_since is not None and physics.time - physics.band.stiff_since > 3.5

        assert ros.wait(released, 20), f"still on the gantry at sim time {physics.time:.2f} s"
        heights, t_end = [], time.monotonic() + 20
        while time.monotonic() < t_end:
            ros.spin(0.25)
            with loop.lock:
                heights.append(physics.data.qpos[2])
        heights = np.array(heights)
        print(f"pelvis height over 20 s: min {heights.min():.3f} max {heights.max():.3f} m")
        assert np.all(np.abs(heights - NOMINAL_PELVIS) < 0.05), heights
        assert ros.state() == "ACTIVE"
        assert ros.call("estop").success
        ros.spin(0.2)
        with loop.lock:
            c = physics.cmd
            assert np.all(c.kp == 0.0) and np.all(c.kd[:29] > 0) and np.all(c.enabled[:29])
        assert ros.state() == "ESTOP"
    finally:
        ros.close()


def test_arm_chunk_moves_the_wrist_to_its_target(sim_band, rclpy_context, spawn):
    domain, physics, _iface, loop = sim_band
    bridge = _bridge(spawn, domain, "arm_gravity_ff:=true")
    ros = RosSide(rclpy_context)
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


def test_unitree_sdk_style_client_drives_the_simulator(sim, spawn):
    domain, physics, iface, loop = sim
    client = spawn([PYTHON, os.path.join(HERE, "unitree_style_client.py"), str(domain), "4.0"], name="client")
    assert client.wait(timeout=60) == 0, client.output()
    with loop.lock:
        q = physics.motor_state()[0][15]
        z = physics.data.qpos[2]
    print(client.output().strip(), f"; sim says {q:.3f}")
    # moved most of the way (plain PD at kp 50 sags under the arm's weight) and held the rest of the body
    assert q < -0.5
    assert z > 0.7
    assert iface.commands > 1000
