"""The robot_state node in its own process, over DDS: the latched robot_description and /tf_static reach a late
subscriber, /tf carries every joint of joint_states (FK checked against psi0_core.g1_kinematics) and the IMU's
odom → pelvis, a NaN joint is skipped, unknown names are ignored, /tf stops when joint_states stop, and the vendored
TFMessage has upstream tf2_msgs' type hash (so RViz/Foxglove on a full ROS install read it)."""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from psi0.launcher import find_executable
from psi0_core.g1_kinematics import load_kinematics, matrix_to_quat, quat_to_matrix, rpy_to_matrix
from psi0_core.robot import load_g1
from tests.conftest import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(90)]
# ros2/geometry2's tf2_msgs/msg/TFMessage (its golden-hash test; `ros2 topic info -v /tf` on Jazzy and later)
UPSTREAM_TF_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _pose(t) -> np.ndarray:
    r, p = t.transform.rotation, t.transform.translation
    out = np.eye(4)
    out[:3, :3] = quat_to_matrix((r.w, r.x, r.y, r.z))
    out[:3, 3] = (p.x, p.y, p.z)
    return out


def test_robot_state_publishes_the_model_and_the_transforms(rclpy_context, spawn):
    proc = spawn([str(find_executable("psi0", "robot_state")), "--ros-args", "-p", "publish_rate_hz:=50.0",
                  "-p", "state_timeout_s:=0.3"], name="robot_state")
    node = Node("tf_listener", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    got: dict[str, list] = {"description": [], "static": [], "tf": []}
    try:
        pub_js = node.create_publisher(JointState, "joint_states", 10)
        pub_imu = node.create_publisher(Imu, "imu", 10)
        node.create_subscription(TFMessage, "/tf", lambda m: got["tf"].append((time.monotonic(), m)), 10)
        assert spin_until(ex, lambda: node.count_publishers("/tf_static") > 0, 30), proc.output()[-2000:]
        time.sleep(0.5)  # published before anyone listened: only transient-local brings them
        node.create_subscription(String, "robot_description", lambda m: got["description"].append(m.data), LATCHED)
        node.create_subscription(TFMessage, "/tf_static", lambda m: got["static"].append(m), LATCHED)
        assert spin_until(ex, lambda: got["description"] and got["static"], 10), proc.output()[-2000:]

        urdf = ET.fromstring(got["description"][0].split("\n", 1)[1])
        assert urdf.get("name") == "g1" and len([j for j in urdf.findall("joint") if j.get("type") == "revolute"]) == 43
        static = {t.child_frame_id: t for t in got["static"][0].transforms}
        assert static["head_camera"].header.frame_id == "d435" and static["imu_in_pelvis"].header.frame_id == "pelvis"
        optical = _pose(static["head_camera"])
        np.testing.assert_allclose(optical[:3, 2], [1, 0, 0], atol=1e-9)  # optical z = the D435's viewing axis

        rng = np.random.default_rng(7)
        names = load_g1().joint_state_names()
        kin = load_kinematics()
        limits = {j.name: (j.lower, j.upper) for j in kin.movable}
        q = [float(rng.uniform(*limits[n])) for n in names]
        q[names.index("right_elbow_joint")] = math.nan
        imu_quat = matrix_to_quat(rpy_to_matrix((0.05, -0.1, 0.4)))
        js = JointState(name=[*names, "not_a_joint"], position=[*q, 1.0])
        js.header.stamp.sec = 123
        imu = Imu()
        imu.orientation.w, imu.orientation.x, imu.orientation.y, imu.orientation.z = (float(v) for v in imu_quat)

        def feed() -> bool:
            pub_js.publish(js)
            pub_imu.publish(imu)
            return len(got["tf"]) >= 5

        assert spin_until(ex, feed, 15), proc.output()[-2000:]
        msg = got["tf"][-1][1]
        tf = {t.child_frame_id: t for t in msg.transforms}
        assert "right_elbow_link" not in tf and "not_a_joint" not in tf  # the NaN joint is skipped, not published
        assert len(tf) == 43 - 1 + 1  # every other joint, and odom → pelvis
        assert all(t.header.stamp.sec == 123 for t in msg.transforms)  # the joint_states' stamp
        positions = {n: v for n, v in zip(names, q, strict=True) if math.isfinite(v)}
        for j, local in kin.local_transforms(positions):
            if j.name in positions:
                assert tf[j.child].header.frame_id == j.parent
                np.testing.assert_allclose(_pose(tf[j.child]), local, atol=1e-6, err_msg=j.name)
        base = tf["pelvis"]
        assert base.header.frame_id == "odom"
        np.testing.assert_allclose(_pose(base), kin.base_pose(imu_quat, positions), atol=1e-6)

        info = node.get_publishers_info_by_topic("/tf")
        assert info and all(str(i.topic_type_hash) == UPSTREAM_TF_HASH for i in info), [str(i.topic_type_hash) for i in info]

        spin_until(ex, lambda: False, 1.0)  # no more joint_states: /tf stops after state_timeout_s (0.3 s) ...
        quiet_from = time.monotonic()
        spin_until(ex, lambda: False, 1.0)
        late = [t for t, _ in got["tf"] if t > quiet_from]  # ... so nothing arrives from 1 s after the last one on
        assert not late, f"{len(late)} /tf messages more than 1 s after joint_states stopped"
        assert spin_until(ex, feed, 10)  # and it resumes when they come back
    finally:
        ex.shutdown()
        node.destroy_node()
