"""A demonstration recorded through the live graph with psi0's Recorder → Episode → LeRobot dataset.

Publishers stand in for the camera, the bridge's joint_states and a scripted expert's ActionChunks; every
value is a known linear function of its stamp, so the reader's action (chunk contract: newest chunk in
force, interpolated) and state (newest joint_states ≤ frame time) can be checked exactly."""

import time

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from psi0.bags.record import Recorder
from psi0_core.g1_adapter import action_names, default_action
from psi0_core.image_codec import numpy_to_image
from psi0_core.robot import load_g1
from psi0_core.rostime import to_time_msg
from psi0_msgs.msg import ActionChunk
from psi0_policy.data import convert as conv
from psi0_policy.data.lerobot_reader import LeRobotData, check
from psi0_policy.data.rosbag_reader import read_bag
from tests.conftest import spin_until
from tests.data.fixtures import frames_rgb

pytestmark = [pytest.mark.ros, pytest.mark.timeout(90)]
COL = action_names().index("right_shoulder_pitch_joint")
PITCH = action_names().index("torso_pitch")
TOPICS = {"camera/head/image_raw": "sensor_msgs/msg/Image", "joint_states": "sensor_msgs/msg/JointState",
          "action_chunk": "psi0_msgs/msg/ActionChunk", "instruction": "std_msgs/msg/String"}


def _record(ctx, path, t0):
    node = Node("demo_source", context=ctx)
    rec_node = Node("recorder", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(rec_node)
    rel = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    p_img = node.create_publisher(Image, "camera/head/image_raw", rel)
    p_js = node.create_publisher(JointState, "joint_states", rel)
    p_ch = node.create_publisher(ActionChunk, "action_chunk", rel)
    p_tx = node.create_publisher(String, "instruction", latched)
    rec = Recorder(rec_node, path, list(TOPICS))
    rec.start(TOPICS)
    spin_until(ex, lambda: all(p.get_subscription_count() for p in (p_img, p_js, p_ch, p_tx)), 10)
    p_tx.publish(String(data="raise your right hand"))
    names = load_g1().joint_state_names()
    sent = 1
    imgs = frames_rgb(34, 48, 64)
    dt = 1 / 30
    for c in range(2):  # two chunks of 20 steps starting at t0 + 0.1 and t0 + 0.5; value = 0.1 + 0.5·(t − t0)
        start = t0 + 0.1 + 0.4 * c
        a = np.tile(default_action(), (20, 1))
        a[:, COL] = 0.1 + 0.5 * (start + np.arange(20) * dt - t0)
        a[:, PITCH] = 0.05 + 0.1 * (start + np.arange(20) * dt - t0)  # a torso command that changes every step
        m = ActionChunk(chunk_id=c + 1, dt=dt, horizon=20, dim=36, names=action_names(),
                        data=a.astype(np.float32).ravel().tolist(), prefix_len=0)
        m.header.stamp = to_time_msg(start)
        p_ch.publish(m)
        sent += 1
    for k in range(100):  # joint_states at 100 Hz over 1 s: right shoulder = 0.2 + 0.3·(t − t0)
        t = t0 + k * 0.01
        js = JointState(name=names, position=[0.2 + 0.3 * (t - t0) if n == "right_shoulder_pitch_joint" else 0.0 for n in names])
        js.header.stamp = to_time_msg(t)
        p_js.publish(js)
        sent += 1
        if k % 3 == 0:
            im = numpy_to_image(imgs[k // 3], "rgb8")
            im.header.stamp = to_time_msg(t + 0.001)
            p_img.publish(im)
            sent += 1
        spin_until(ex, lambda: False, 0.002)
    spin_until(ex, lambda: rec.count >= sent, 10)
    rec.stop()
    ex.shutdown()
    return sent, rec.count


def test_recorded_demonstration_becomes_a_dataset(rclpy_context, tmp_path):
    t0 = 1000.0
    bag = tmp_path / "demo_0"
    sent, got = _record(rclpy_context, bag, t0)
    assert got == sent
    ep = read_bag(bag)
    assert ep.task == "raise your right hand"
    # frames at t0 + 0.03k + 0.001; actions in force from t0 + 0.1 to the last chunk's end (t0 + 0.5 + 19/30 + 1/30)
    t = t0 + 0.001 + 0.03 * np.arange(34)
    keep = t[(t >= t0 + 0.1) & (t <= t0 + 0.5 + 20 / 30)]
    assert len(ep) == len(keep)
    np.testing.assert_allclose(ep.capture_time, keep - keep[0], atol=1e-6)
    expect = np.minimum(0.1 + 0.5 * (keep - t0), 0.1 + 0.5 * (0.5 + 19 / 30))  # held after the last row
    np.testing.assert_allclose(ep.action[:, COL], expect, atol=1e-5)
    np.testing.assert_allclose(ep.action[:, 31], 0.75, atol=1e-6)
    # state 28..31: the torso rpy + height commanded at the frame before; before the first chunk, the nominal pose
    np.testing.assert_allclose(ep.state[1:, 28:32], np.c_[ep.action[:-1, 28:31], ep.action[:-1, 31]], atol=1e-6)
    np.testing.assert_allclose(ep.state[0, 28:32], [0, 0, 0, 0.75], atol=1e-6)
    assert np.ptp(ep.state[:, PITCH]) > 0.05  # the check above compares values that change
    lag = (0.2 + 0.3 * (keep - t0)) - ep.state[:, 14 + 7]  # right shoulder pitch is arm slot 7
    assert np.all(lag >= -1e-6) and np.all(lag <= 0.3 * 0.0101)  # the newest joint_states at or before the frame
    frames = list(ep.cameras["head"]())
    assert len(frames) == len(ep) and frames[0].shape == (48, 64, 3)
    out = tmp_path / "ds"
    rep = conv.convert("bag", [tmp_path], out, progress=False)
    assert rep.converted == 1 and check(out) == []
    np.testing.assert_array_equal(LeRobotData(out).action, ep.action)


def test_bag_without_actions_is_reported(rclpy_context, tmp_path):
    node = Node("only_joints", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    rec = Recorder(node, tmp_path / "b", ["joint_states"])
    rec.start({"joint_states": "sensor_msgs/msg/JointState"})
    time.sleep(0.1)
    rec.stop()
    rep = conv.convert("bag", [tmp_path], tmp_path / "ds", progress=False)
    assert rep.converted == 0 and len(rep.failed) == 1 and "no topic" in rep.failed[0]["error"]
