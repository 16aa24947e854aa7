"""Graph layer: two real processes exchange psi0_msgs/ActionChunk and sensor_msgs/JointState over
Fast DDS (localhost discovery, the test's own domain); every field survives the round trip."""

from pathlib import Path

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from psi0_msgs.msg import ActionChunk
from tests.conftest import PYTHON, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]
HERE = Path(__file__).resolve().parent


def _chunk() -> ActionChunk:
    rng = np.random.default_rng(7)
    m = ActionChunk()
    m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id = 1234, 567_000_000, "g1"
    m.chunk_id = 2**40 + 3
    m.obs_stamp.sec, m.obs_stamp.nanosec = 1233, 999_000_001
    m.dt, m.horizon, m.dim = float(np.float32(1.0 / 30.0)), 30, 36  # float32 field: send a float32 value
    m.names = [f"j{i}" for i in range(36)]
    m.data = rng.standard_normal(30 * 36).astype(np.float32).tolist()
    m.prefix_len, m.inference_ms = 5, 42.5
    return m


def _joint_state() -> JointState:
    m = JointState()
    m.header.stamp.sec, m.header.stamp.nanosec = 99, 1
    m.name = [f"joint_{i}" for i in range(43)]
    m.position = [0.01 * i for i in range(43)]
    m.velocity = [-0.02 * i for i in range(43)]
    m.effort = [0.5 * i for i in range(43)]
    return m


def test_chunk_and_joint_state_round_trip(rclpy_context, spawn):
    peer = spawn([PYTHON, str(HERE / "echo_peer.py")], name="echo_peer")
    node = Node("graph_test", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    got_c: list[ActionChunk] = []
    got_j: list[JointState] = []
    pub_c = node.create_publisher(ActionChunk, "chunk_in", qos)
    pub_j = node.create_publisher(JointState, "js_in", qos)
    node.create_subscription(ActionChunk, "chunk_out", got_c.append, qos)
    node.create_subscription(JointState, "js_out", got_j.append, qos)

    matched = spin_until(
        ex,
        lambda: pub_c.get_subscription_count() > 0 and pub_j.get_subscription_count() > 0
        and node.count_publishers("chunk_out") > 0 and node.count_publishers("js_out") > 0,
        timeout_s=20,
    )
    assert matched, f"peer never matched; its output:\n{peer.output()}"
    sent_c, sent_j = _chunk(), _joint_state()

    def publish_and_check() -> bool:  # publish until echoed: the reverse direction may match a little later
        if not got_c:
            pub_c.publish(sent_c)
        if not got_j:
            pub_j.publish(sent_j)
        return bool(got_c and got_j)

    assert spin_until(ex, publish_and_check, timeout_s=10, step_s=0.1)
    c, j = got_c[0], got_j[0]
    for field in ActionChunk.get_fields_and_field_types():
        assert getattr(c, field) == getattr(sent_c, field), (field, getattr(c, field), getattr(sent_c, field))
    assert np.array_equal(np.asarray(c.data, np.float32), np.asarray(sent_c.data, np.float32))
    for field in JointState.get_fields_and_field_types():
        assert getattr(j, field) == getattr(sent_j, field), field
    ex.shutdown()
    node.destroy_node()
