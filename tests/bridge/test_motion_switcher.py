"""S1, the robot's built-in controller: the bridge asks the motion switcher at start-up and refuses to start while a
mode owns the motors; `psi0 motion-mode --release` (unitree_sdk2py's own MotionSwitcherClient) releases it. The service
side is the one the simulator and the test robot serve (psi0_core.motion_switcher), so the SDK's client checks its
wire format and the bridge's client checks the same service."""

import time

import pytest

from psi0.launcher import find_executable
from psi0_core.motion_switcher import RELEASE_MODE, MotionSwitcherClient
from psi0_core.robot_dds import Endpoint
from tests.conftest import next_robot_domain
from tests.support.fake_robot import FakeRobot

pytestmark = [pytest.mark.ros, pytest.mark.timeout(90)]
BRIDGE = str(find_executable("psi0_bridge", "bridge_node"))


@pytest.fixture
def robot_in_ai_mode():
    robot = FakeRobot(next_robot_domain(), motion_mode="ai")
    yield robot
    robot.close()


def test_the_bridges_client_reads_and_releases_the_mode(robot_in_ai_mode):
    ep = Endpoint(robot_in_ai_mode.domain, "lo")
    try:
        client = MotionSwitcherClient(ep)
        assert client.active_mode(3.0) == "ai"
        assert client.call(RELEASE_MODE, 3.0).header.status.code == 0
        assert client.active_mode(3.0) == "" and robot_in_ai_mode.motion_switcher.state.mode == ""
    finally:
        ep.close()
    silent = Endpoint(next_robot_domain(), "lo")  # no robot on this domain
    try:
        assert MotionSwitcherClient(silent).active_mode(0.3) is None
    finally:
        silent.close()


def test_bridge_refuses_while_a_mode_is_active_and_starts_once_released(robot_in_ai_mode, spawn):
    domain = robot_in_ai_mode.domain
    refused = spawn([BRIDGE, "--ros-args", "-p", f"robot_domain:={domain}"], name="bridge_refused")
    assert refused.wait(timeout=40) == 2, refused.output()[-2000:]
    assert "built-in motion mode 'ai' owns the motors; refusing to start (S1)" in refused.output()
    assert "psi0 motion-mode --release" in refused.output()

    # the operator's step, through the SDK's own client in its own process
    check = spawn(["psi0", "motion-mode", "--robot-domain", str(domain)], name="check")
    assert check.wait(timeout=40) == 1 and "active mode: 'ai'" in check.output(), check.output()[-2000:]
    release = spawn(["psi0", "motion-mode", "--release", "--robot-domain", str(domain)], name="release")
    assert release.wait(timeout=40) == 0 and "released" in release.output(), release.output()[-2000:]
    assert robot_in_ai_mode.motion_switcher.state.mode == ""

    bridge = spawn([BRIDGE, "--ros-args", "-p", f"robot_domain:={domain}"], name="bridge")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "bridge up" not in bridge.output():
        time.sleep(0.1)
    assert "motion switcher: no built-in mode active" in bridge.output() and "bridge up" in bridge.output(), \
        bridge.output()[-2000:]


def test_motion_mode_without_a_robot_says_so(spawn):
    silent = spawn(["psi0", "motion-mode", "--robot-domain", str(next_robot_domain()), "--timeout", "0.5"], name="silent")
    assert silent.wait(timeout=40) == 3 and "no motion switcher answered" in silent.output(), silent.output()[-2000:]
