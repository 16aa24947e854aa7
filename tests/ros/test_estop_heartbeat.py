"""The e-stop heartbeat node in its own process: it beats at its rate, and with `realtime_priority` every thread of
it runs SCHED_FIFO (the sim and demo profiles set it: there it shares the machine with the bridge's real-time
threads, which starved a normal-priority heartbeat past the bridge's 0.5 s timeout)."""

import os
import signal
import time
from pathlib import Path

import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from psi0.launcher import find_executable
from tests.conftest import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]


def _fifo_allowed() -> bool:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except PermissionError:
        return False
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    return True


@pytest.mark.parametrize("priority", [0, 20])
def test_heartbeat_beats_and_runs_at_its_priority(rclpy_context, spawn, priority):
    if priority and not _fifo_allowed():
        pytest.skip("SCHED_FIFO is not allowed for this user (no CAP_SYS_NICE, RLIMIT_RTPRIO 0)")
    proc = spawn([str(find_executable("psi0", "estop_heartbeat")), "--ros-args", "-p", "rate_hz:=50.0",
                  "-p", f"realtime_priority:={priority}"], name="heartbeat")
    node = Node("beat_listener", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    beats: list[float] = []
    node.create_subscription(Bool, "estop", lambda m: m.data and beats.append(time.monotonic()),
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    try:
        assert spin_until(ex, lambda: len(beats) >= 25, 30), proc.output()[-2000:]
        tasks = [int(t.name) for t in Path(f"/proc/{proc.popen.pid}/task").iterdir()]
        policies = {os.sched_getscheduler(t) for t in tasks}
        expected = os.SCHED_FIFO if priority else os.SCHED_OTHER
        assert len(tasks) > 3 and policies == {expected}, (policies, proc.output()[-2000:])
        if priority:
            assert {os.sched_getparam(t).sched_priority for t in tasks} == {priority}
    finally:
        ex.shutdown()
        node.destroy_node()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_heartbeat_sends_its_explicit_stop_and_exits_zero(rclpy_context, spawn, sig):
    """Ctrl-C / SIGTERM: the node publishes one False (the bridge e-stops at once instead of after its heartbeat
    timeout) while its context is still valid, then exits 0. With rclpy's own signal handlers the context was shut
    down from another thread first, so the False was never sent and a racing publish could exit 1."""
    proc = spawn([str(find_executable("psi0", "estop_heartbeat")), "--ros-args", "-p", "rate_hz:=50.0"],
                 name="heartbeat")
    node = Node("beat_listener", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    got: list[bool] = []
    node.create_subscription(Bool, "estop", lambda m: got.append(m.data),
                             QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    try:
        assert spin_until(ex, lambda: len(got) >= 10, 30), proc.output()[-2000:]
        proc.popen.send_signal(sig)
        assert spin_until(ex, lambda: False in got, 5), (got[-5:], proc.output()[-2000:])
        assert proc.wait(timeout=10) == 0, proc.output()[-2000:]
        assert got[-1] is False and got.count(False) == 1
    finally:
        ex.shutdown()
        node.destroy_node()
