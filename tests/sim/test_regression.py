"""Bag-replay regression: a golden bag recorded from the project's own simulator (sim + bridge + policy
node with a tiny bundle) re-infers identically, and a perturbed model parameter fails, naming the step."""

import os

import pytest
import torch
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from psi0.bags.record import Recorder
from psi0.launcher import find_executable
from psi0_policy.model.checkpoint import load_checkpoint, save_checkpoint
from psi0_policy.policy import Policy
from psi0_policy.regression import compare
from tests.conftest import next_robot_domain, shared_machine_params, spin_until
from tests.policy.bundle import tiny_bundle

pytestmark = [pytest.mark.sim, pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(150)]


@pytest.fixture(scope="module")
def golden(tmp_path_factory, ros_domain_module):
    tmp = tmp_path_factory.mktemp("golden")
    bundle = tiny_bundle(tmp / "bundle")
    from tests.conftest import Proc

    domain = next_robot_domain()
    env = {"ROS_DOMAIN_ID": str(ros_domain_module)}
    procs = [
        Proc([str(find_executable("psi0_sim", "sim_node")), "--ros-args", "-p", f"robot_domain:={domain}",
              "-p", "width:=320", "-p", "height:=240", *shared_machine_params("sim")], tmp / "sim.log", env),
        Proc([str(find_executable("psi0_bridge", "bridge_node")), "--ros-args", "-p", f"robot_domain:={domain}",
              "-p", "auto_enable:=true", "-p", "use_sim_time:=true", "-p", "require_heartbeat:=false",
              "-p", "wbc:=holosoma_ppo", *shared_machine_params("bridge")],
             tmp / "bridge.log", env),
        Proc([str(find_executable("psi0_policy", "policy_node")), "--ros-args", "-p", f"bundle:={bundle}",
              "-p", "use_sim_time:=true", "-p", "seed:=11"], tmp / "policy.log", env),
    ]
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx, domain_id=ros_domain_module)
    try:
        node = Node("golden_recorder", context=ctx)
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_publisher(String, "instruction", latched).publish(String(data="touch the red cube"))
        rec = Recorder(node, tmp / "golden", ["camera/head/image_raw", "policy/input", "action_chunk"])
        rec.start({"camera/head/image_raw": "sensor_msgs/msg/Image", "policy/input": "psi0_msgs/msg/PolicyInput",
                   "action_chunk": "psi0_msgs/msg/ActionChunk"})
        # at least 6 chunks with their inputs: a fixed recording time gave only 2 on a loaded CI machine
        assert spin_until(ex, lambda: rec.counts["action_chunk"] >= 6, 60), (tmp / "policy.log").read_text()[-2000:]
        spin_until(ex, lambda: False, 1.0)
        paths = rec.stop()
        ex.shutdown()
    finally:
        rclpy.try_shutdown(context=ctx)
        for p in procs:
            p.kill()
    return bundle, paths[0], tmp


@pytest.fixture(scope="module")
def ros_domain_module():
    return 70 + os.getpid() % 9


def test_identical_replay_passes(golden):
    bundle, bag, _ = golden
    report = compare(Policy.load(bundle), bag)
    print(report, report.skipped[:3])
    assert report.passed and report.chunks >= 3


def test_perturbed_parameter_fails_and_names_the_step(golden):
    bundle, bag, tmp = golden
    model, stats = load_checkpoint(bundle)
    with torch.no_grad():
        model.expert.action_proj_out.linear.bias[14 + 3] += 0.5  # one arm joint's velocity bias
    save_checkpoint(model, tmp / "perturbed", stats=stats)
    report = compare(Policy.load(tmp / "perturbed"), bag)
    print(report)
    assert not report.passed and report.first is not None
    assert "chunk" in str(report) and "step" in str(report) and report.first.joint
