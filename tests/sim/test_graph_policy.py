"""Graph layer, whole stack: simulator + bridge + policy node (tiny bundle, torch engine on CPU) as
three processes for 20 s: chunks arrive, the bridge executes them, no safety stop. Run with the sim profile's
settings for one machine (shared_machine_params)."""

import time

import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from psi0.launcher import find_executable
from psi0_core.rostime import to_sec
from tests.bridge.test_bridge_node import RosSide
from tests.conftest import next_robot_domain, shared_machine_params
from tests.policy.bundle import tiny_bundle

pytestmark = [pytest.mark.sim, pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(150)]


def test_sim_bridge_policy_run_20s_without_a_stop(rclpy_context, spawn, tmp_path):
    domain = next_robot_domain()
    bundle = tiny_bundle(tmp_path / "bundle")
    # 320×240 frames: what Ψ0 feeds the model anyway (it halves 640×480), and a quarter of the rendering and
    # transport load of full frames on this 2-core machine (the sim node test covers 640×480)
    sim = spawn([str(find_executable("psi0_sim", "sim_node")), "--ros-args", "-p", f"robot_domain:={domain}",
                 "-p", "width:=320", "-p", "height:=240", *shared_machine_params("sim")], name="sim")
    bridge = spawn([str(find_executable("psi0_bridge", "bridge_node")), "--ros-args", "-p", f"robot_domain:={domain}",
                    "-p", "auto_enable:=true", "-p", "use_sim_time:=true", "-p", "wbc:=holosoma_ppo",
                    *shared_machine_params("bridge")], name="bridge")
    policy = spawn([str(find_executable("psi0_policy", "policy_node")), "--ros-args", "-p", f"bundle:={bundle}",
                    "-p", "use_sim_time:=true"], name="policy")
    ros = RosSide(rclpy_context)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    instr = ros.node.create_publisher(String, "instruction", latched)
    instr.publish(String(data="raise your right hand"))
    try:
        assert ros.wait(lambda: ros.status is not None and ros.state() == "ACTIVE", 40), \
            (bridge.output()[-2000:], sim.output()[-2000:])
        assert ros.wait(lambda: ros.status.chunks_received > 0, 30), policy.output()[-3000:]
        first = ros.status.chunks_received
        # at least 20 s, and at least 20 chunks (~2 per second of *sim* time with s_min = H/2; on a loaded machine the
        # simulator runs slower than the wall clock, so allow up to 40 s more for them)
        states, t_start = set(), time.monotonic()
        sim_start = to_sec(ros.status.header.stamp)
        while time.monotonic() < t_start + 20 or (ros.status.chunks_received - first < 20 and
                                                  time.monotonic() < t_start + 60):
            ros.spin(0.2)
            states.add(ros.state())
        st = ros.status
        print(f"{time.monotonic() - t_start:.0f} s ({to_sec(st.header.stamp) - sim_start:.1f} s of sim time): "
              f"{st.chunks_received - first} chunks executed, states {sorted(states)}, rejected {st.chunks_rejected}, "
              f"clamps pos {st.position_clamps} vel {st.velocity_clamps}, stop: {st.stop_reason!r}")
        assert st.chunks_received - first >= 20
        assert st.stops == 0 and st.chunks_rejected == 0
        assert states <= {"ACTIVE", "HOLDING"}, (states, st.stop_reason)
        assert st.falls == 0 and st.max_tilt_deg < 10.0, (st.max_tilt_deg, st.stop_reason)  # standing, on System-0
    finally:
        ros.close()
