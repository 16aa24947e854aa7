"""Node/graph layer: the bridge as its own process, a test-side G1 on real Cyclone DDS
(unitree_hg LowState publisher / LowCmd subscriber), and a ROS test node over Fast DDS.

Times are measured where the robot would see them: the arrival of LowCmd frames at the fake robot.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from psi0.launcher import find_executable
from psi0_core.g1_adapter import action_names
from psi0_core.robot import load_g1
from psi0_core.rostime import to_time_msg
from psi0_msgs.msg import ActionChunk, BridgeStatus
from tests.bridge.helpers import hold_chunk
from tests.conftest import next_robot_domain, spin_until
from tests.support.fake_robot import FakeRobot

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]
G1 = load_g1()
BRIDGE = str(find_executable("psi0_bridge", "bridge_node"))
R_ELBOW = G1.body.index("right_elbow_joint")


class RosSide:
    """ROS side of a bridge test: heartbeat, chunks, services, status."""

    def __init__(self, ctx, heartbeat_reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE) -> None:
        self.node = Node("bridge_tester", context=ctx)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(self.node)
        q1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.hb = self.node.create_publisher(Bool, "estop", QoSProfile(depth=1, reliability=heartbeat_reliability))
        self.chunks = self.node.create_publisher(ActionChunk, "action_chunk", q1)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.status: BridgeStatus | None = None
        self.node.create_subscription(BridgeStatus, "bridge/status", self._on_status, latched)
        self.heartbeat_on = True
        self._closing = threading.Event()
        self._hb_thread = threading.Thread(target=self._heartbeat, daemon=True)  # beats even while the test waits
        self._hb_thread.start()
        self.clients = {n: self.node.create_client(Trigger, f"bridge/{n}") for n in ("estop", "reset", "enable")}
        self.chunk_id = 0

    def _heartbeat(self) -> None:
        while not self._closing.wait(0.05):
            if self.heartbeat_on:
                self.hb.publish(Bool(data=True))

    def _on_status(self, msg: BridgeStatus) -> None:
        self.status = msg

    def spin(self, seconds: float) -> None:
        spin_until(self.ex, lambda: False, seconds)

    def wait(self, pred, timeout: float) -> bool:
        return spin_until(self.ex, pred, timeout)

    def state(self) -> str:
        return self.status.state_name if self.status else "?"

    def call(self, name: str) -> Trigger.Response:
        c = self.clients[name]
        assert self.wait(c.service_is_ready, 10), f"service bridge/{name} not available"
        fut = c.call_async(Trigger.Request())
        assert self.wait(fut.done, 5)
        return fut.result()

    def send_chunk(self, actions: np.ndarray, t0: float | None = None, dt: float = 1 / 30, prefix: int = 0) -> None:
        self.chunk_id += 1
        m = ActionChunk()
        now = self.node.get_clock().now().nanoseconds * 1e-9 if t0 is None else t0
        m.header.stamp = to_time_msg(now)
        m.chunk_id, m.dt, m.horizon, m.dim = self.chunk_id, dt, actions.shape[0], actions.shape[1]
        m.names, m.data, m.prefix_len = action_names(), actions.astype(np.float32).ravel().tolist(), prefix
        self.chunks.publish(m)

    def close(self) -> None:
        self._closing.set()
        self._hb_thread.join(timeout=1)
        self.ex.shutdown()
        self.node.destroy_node()


@pytest.fixture
def rig(rclpy_context, spawn):
    """Fake robot + ROS tester + a bridge process factory."""
    robot_domain = next_robot_domain()
    made = {}

    def start(robot: bool = True, tester_kw: dict | None = None, **params):
        if robot:
            made["robot"] = FakeRobot(robot_domain)
        args = [BRIDGE, "--ros-args", "-p", f"robot_domain:={robot_domain}"]
        for k, v in params.items():
            args += ["-p", f"{k}:={str(v).lower() if isinstance(v, bool) else v}"]
        made["proc"] = spawn(args, name="bridge")
        made["tester"] = RosSide(rclpy_context, **(tester_kw or {}))
        return made.get("robot"), made["tester"], made["proc"]

    made["domain"] = robot_domain
    yield start, made
    if "tester" in made:
        made["tester"].close()
    if "robot" in made:
        made["robot"].close()


def _until_active(robot, tester, proc, since: float, timeout: float = 10.0) -> float:
    """Wait for ACTIVE after an enable or a reset at `since`. The bridge was right to stop if this test-side robot
    itself stalled ≥ 90 ms (S2, 100 ms): a loaded 2-core machine can stall it. Then, and only then, reset once and
    wait again; a stop without such a stall fails the test, with the robot's own largest send gap in the message.
    Returns the time of the enable or reset that led to ACTIVE (the start of its ramp)."""
    if tester.wait(lambda: tester.state() in ("ACTIVE", "STOPPED"), timeout) and tester.state() == "ACTIVE":
        return since
    gap = robot.largest_gap_since(since) if robot is not None else 0.0
    assert robot is not None and gap >= 0.09 and "LowState" in tester.status.stop_reason, \
        (tester.state(), tester.status.stop_reason if tester.status else None, f"robot gap {gap * 1e3:.0f} ms",
         proc.output()[-3000:])
    print(f"fake robot stalled {gap * 1e3:.0f} ms (bridge stopped, S2, correctly): resetting once")
    t_reset = time.monotonic()
    assert tester.call("reset").success
    assert tester.wait(lambda: tester.state() == "ACTIVE", timeout), (tester.state(), proc.output()[-3000:])
    return t_reset


def _activate(robot, tester, proc):
    assert tester.wait(lambda: tester.status is not None and tester.state() == "IDLE", 20), proc.output()
    t_enable = time.monotonic()
    assert tester.call("enable").success
    _until_active(robot, tester, proc, t_enable)


def test_startup_ramp_chunk_execution_stale_stream_hold_then_a_controlled_stop(rig):
    start, _ = rig
    robot, tester, proc = start()
    q0 = robot.q.copy()
    q0[15:29] = 0.3
    robot.q = q0
    assert tester.wait(lambda: tester.status is not None, 20), proc.output()
    assert tester.state() == "IDLE"
    idle = robot.wait_for(lambda f: True, 5)
    assert idle is not None and idle.damping and idle.mode_machine == 5 and idle.mode_pr == 0 and idle.crc_ok

    # S7: enable → ramp from the measured pose, at least 2 s
    t_enable = time.monotonic()
    assert tester.call("enable").success
    first = robot.wait_for(lambda f: not f.damping, 5, since=t_enable)
    assert first is not None and np.allclose(first.q[15:29], 0.3, atol=0.05)
    assert list(first.mode[:29]) == [1] * 29 and list(first.mode[29:]) == [0] * 6
    assert tester.wait(lambda: tester.state() == "ACTIVE", 10)
    r_sp = G1.body.index("right_shoulder_pitch_joint")  # default 0.0, started at 0.3
    reached = robot.wait_for(lambda f: abs(f.q[r_sp] - G1.body.default[r_sp]) < 1e-3, 1, since=first.t)
    assert reached is not None and reached.t - first.t >= 1.95

    # chunks execute: a 1 s chunk moving the right elbow
    a = hold_chunk()
    a[:, action_names().index("right_elbow_joint")] = np.linspace(0.3, 1.0, 30)
    tester.send_chunk(a)
    t_sent = time.monotonic()
    moved = robot.wait_for(lambda f: f.q[R_ELBOW] > 0.9, 3, since=t_sent)
    tester.spin(0.2)
    assert moved is not None, (tester.status, proc.output()[-2000:])
    # S3: no more chunks → HOLDING, then a controlled stop within 0.5 s after the last step ran out: stiff frames
    # holding the last commanded arm pose (the whole-body controller keeps balancing), never damping
    assert tester.wait(lambda: tester.state() == "HOLDING", 3)
    assert tester.wait(lambda: tester.state() == "STOPPED", 3)
    t_stop = time.monotonic()
    assert "S3" in tester.status.stop_reason and tester.status.stop_kind == "controlled"
    assert t_stop - t_sent <= 1.0 + 0.5 + 0.3  # chunk span + stop_after + status transport slack
    tester.spin(0.3)
    after = robot.frames_since(t_stop)
    assert after and not any(f.damping for f in after) and all(f.kp[3] > 0 for f in after)
    assert abs(after[-1].q[R_ELBOW] - 1.0) < 0.05
    assert all(f.crc_ok for f in robot.frames_since(0))


def test_estop_service_damps_within_20ms_latches_and_resets(rig):
    """S9 over the whole path (ROS service → bridge → DDS → robot), three e-stop/reset cycles.

    Each first damping frame must arrive within 50 ms and the median within 20 ms: on this shared
    2-core machine single samples have reached ~35 ms when the test process itself was descheduled.
    """
    start, _ = rig
    robot, tester, proc = start()
    _activate(robot, tester, proc)
    latencies = []
    for _ in range(3):
        tester.send_chunk(hold_chunk(h=300))  # 10 s of chunk
        tester.spin(0.3)
        fut = tester.clients["estop"].call_async(Trigger.Request())
        t_req = time.monotonic()
        first = robot.wait_for(lambda f: f.damping, 2, since=t_req)
        assert tester.wait(fut.done, 5) and fut.result().success
        assert first is not None
        latencies.append(first.t - t_req)
        tester.spin(0.3)
        assert tester.state() == "ESTOP"
        assert not tester.call("enable").success  # latched
        assert all(f.damping for f in robot.frames_since(first.t))
        t_reset = time.monotonic()
        assert tester.call("reset").success
        t_reset = _until_active(robot, tester, proc, t_reset)  # a fake-robot stall during the ramp is S2's to stop
        full = robot.wait_for(lambda f: f.kp[3] >= 330.0 - 1e-3, 3, since=t_reset)
        assert full is not None and full.t - t_reset >= 0.95  # S9: re-stiffen over ≥ 1 s
    ms = sorted(1e3 * x for x in latencies)
    print(f"e-stop request -> first damping frame (ms): {ms}")
    assert ms[1] <= 20.0 and ms[-1] <= 50.0, ms


def test_heartbeat_loss_and_lowstate_loss(rig):
    start, _ = rig
    robot, tester, proc = start()
    _activate(robot, tester, proc)
    # S9 heartbeat timeout 0.5 s
    tester.heartbeat_on = False
    tester.spin(0.02)
    t_lost = time.monotonic()
    stop = robot.wait_for(lambda f: f.damping, 2, since=t_lost)
    assert stop is not None and stop.t - t_lost <= 0.5 + 0.1
    assert tester.wait(lambda: tester.state() == "ESTOP", 2)
    tester.heartbeat_on = True
    tester.spin(0.2)
    t_reset = time.monotonic()
    assert tester.call("reset").success
    _until_active(robot, tester, proc, t_reset)
    # S2: LowState stops → damping within 100 ms
    robot.publishing = False
    time.sleep(0.01)
    t_last = robot.last_state_sent
    stop = robot.wait_for(lambda f: f.damping, 2, since=t_last)
    # 100 ms bound (exact on simulated time in test_safety_core.py) + 25 ms for this harness's own timestamping
    # (the fake robot's DDS listener shares a GIL with the test's ROS executor).
    assert stop is not None and stop.t - t_last <= 0.100 + 0.025, f"{1e3 * (stop.t - t_last):.1f} ms"
    print(f"LowState lost -> first damping frame: {1e3 * (stop.t - t_last):.1f} ms")
    assert tester.wait(lambda: tester.state() == "STOPPED", 2) and "LowState" in tester.status.stop_reason


def test_malformed_chunks_rejected_then_stop(rig):
    start, _ = rig
    robot, tester, proc = start()
    _activate(robot, tester, proc)
    bad = hold_chunk()
    bad[4, 2] = np.nan
    tester.send_chunk(bad)
    assert tester.wait(lambda: tester.status.chunks_rejected == 1, 3) and tester.state() == "ACTIVE"
    tester.send_chunk(bad)
    tester.spin(0.1)
    tester.send_chunk(bad[:, :30].copy())  # wrong width
    assert tester.wait(lambda: tester.state() == "STOPPED", 3), tester.status
    assert tester.status.chunks_rejected == 3 and tester.status.stop_kind == "controlled"


def test_bad_crc_lowstate_is_dropped_counted_and_never_enables(rig):
    start, _ = rig
    robot, tester, proc = start(auto_enable=True)
    robot.corrupt_crc = True
    assert tester.wait(lambda: tester.status is not None and tester.status.lowstate_crc_errors > 100, 20), proc.output()
    assert tester.state() == "IDLE" and not robot.frames_since(0)


def test_wrong_mode_machine_is_refused(rig):
    start, _ = rig
    cpu = max(os.sched_getaffinity(0))
    robot, tester, proc = start(auto_enable=True, cpu_affinity=f"[{cpu}]")
    robot.mode_machine = 9
    assert tester.wait(lambda: tester.status is not None, 20), proc.output()  # start-up time varies with load
    tester.spin(1.0)
    assert tester.state() == "IDLE" and "mode_machine 9" in tester.status.last_error
    assert not any(not f.damping for f in robot.frames_since(0))
    # cpu_affinity: every thread of the bridge (control loop, DDS, ROS) runs on that CPU only
    tasks = list(Path(f"/proc/{proc.popen.pid}/task").iterdir())
    allowed = {t.name: os.sched_getaffinity(int(t.name)) for t in tasks}
    assert len(allowed) > 5 and all(a == {cpu} for a in allowed.values()), allowed
    # Cyclone's receive thread fills the robot-state readers: real-time, like the threads that run Python
    recv = [int(t.name) for t in tasks if (t / "comm").read_text().strip() == "recv"]
    assert recv and all(os.sched_getscheduler(tid) == os.SCHED_FIFO for tid in recv)


def test_second_writer_refuses_start_and_is_detected_later(rig, spawn):
    start, made = rig
    robot, tester, proc = start(auto_enable=True)
    assert tester.wait(lambda: tester.status is not None and tester.state() == "ACTIVE", 20), proc.output()
    # a second bridge on the same robot must refuse to start (S1)
    second = spawn([BRIDGE, "--ros-args", "-r", "__ns:=/other", "-p", f"robot_domain:={made['domain']}"],
                   name="bridge2")
    assert second.wait(timeout=30) == 2
    assert "refusing to start (S1)" in second.output()
    # a writer appearing later stops the running bridge
    from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_

    intruder = robot.ep.writer("rt/lowcmd", LowCmd_)
    assert tester.wait(lambda: tester.state() == "STOPPED", 5) and "writer" in tester.status.stop_reason
    del intruder


def test_shutdown_ends_in_damping(rig):
    """Ctrl-C / SIGTERM / a dead launcher (SIGINT through the parent-death signal): the last frames the robot gets
    are damping frames, not the last targets held forever."""
    start, _ = rig
    robot, tester, proc = start()
    _activate(robot, tester, proc)
    t_sig = time.monotonic()
    proc.popen.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0, proc.output()
    after = robot.frames_since(t_sig)
    damping = [f for f in after if f.damping]
    assert after and after[-1].damping and len(damping) >= 10, (len(after), len(damping), proc.output()[-1500:])
    assert "shutting down: damping" in proc.output()
    assert "Traceback" not in proc.output() and "RCLError" not in proc.output(), proc.output()[-2000:]
    print(f"{len(after)} frames after SIGINT, {len(damping)} damping, the last one damping")


def test_a_stall_of_the_bridge_itself_is_not_a_lost_robot(rig):
    """SIGSTOP the whole bridge for 150 ms while the robot keeps sending: on resume its LowState is queued in the
    socket, not missing. The bridge must not stop (S2 is the robot's silence); a real loss still stops (above).
    Pinned to one CPU, as on the robot: there the control thread runs before the receive thread after a stall."""
    start, _ = rig
    robot, tester, proc = start(cpu_affinity=f"[{max(os.sched_getaffinity(0))}]")
    _activate(robot, tester, proc)
    stops = tester.status.stops
    for _ in range(3):
        proc.popen.send_signal(signal.SIGSTOP)
        time.sleep(0.15)
        proc.popen.send_signal(signal.SIGCONT)
        tester.spin(0.5)
    assert tester.state() == "ACTIVE" and tester.status.stops == stops, \
        (tester.state(), tester.status.stop_reason, proc.output()[-1500:])
    assert robot.wait_for(lambda f: not f.damping, 1, since=time.monotonic()) is not None


def test_a_best_effort_heartbeat_counts_and_transitions_are_published_at_once(rig):
    """An operator's stop button on sensor QoS (best-effort) is a heartbeat like any other (before: silently unmatched,
    the bridge never enabled). With status at 1 Hz, the ESTOP transition still arrives within 0.3 s of the call."""
    start, _ = rig
    robot, tester, proc = start(tester_kw={"heartbeat_reliability": ReliabilityPolicy.BEST_EFFORT}, status_rate_hz=1.0)
    _activate(robot, tester, proc)
    assert tester.wait(lambda: tester.state() == "ACTIVE", 3)
    tester.spin(0.05)  # just after a status message: the next timer one is ~1 s away
    t_call = time.monotonic()
    tester.clients["estop"].call_async(Trigger.Request())
    assert tester.wait(lambda: tester.state() == "ESTOP", 0.3), f"no ESTOP status {time.monotonic() - t_call:.2f} s later"
    tester.hb.publish(Bool(data=False))  # a best-effort False is an e-stop too (already latched here)
    tester.heartbeat_on = False
    tester.spin(0.1)
    assert tester.state() == "ESTOP"


def test_a_best_effort_chunk_publisher_is_reported_not_silently_ignored(rig, rclpy_context):
    start, _ = rig
    robot, tester, proc = start()
    _activate(robot, tester, proc)
    pub = tester.node.create_publisher(ActionChunk, "action_chunk",
                                       QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "incompatible QoS" not in proc.output():
        tester.spin(0.1)
    assert "action_chunk: 1 publisher(s) with incompatible QoS (RELIABILITY)" in proc.output(), proc.output()[-1500:]
    tester.node.destroy_publisher(pub)
