"""robot_state: the G1's robot model and frame transforms, for RViz, Foxglove and `psi0 view`.

What robot_state_publisher does, for the G1 and from psi0's own facts table (no URDF file to keep in sync):
- `robot_description` (std_msgs/String, reliable, transient-local): the URDF of psi0_core.g1_urdf, once.
- `/tf_static` (tf2_msgs/TFMessage, transient-local): the fixed frames: head, d435, its optical frame
  `head_camera` (the camera images' frame_id), imu_in_pelvis (the imu's frame_id), imu_in_torso.
- `/tf` at `publish_rate_hz`: every joint of the newest joint_states (stamped with its stamp) and, once an imu
  message came, odom → pelvis (orientation from the IMU, height from the feet; no horizontal odometry).

Behaviour: joints not named in joint_states are not published (a viewer shows their links as missing, not at a
made-up angle); a NaN or infinite position skips that joint and is counted in the warning; unknown joint names are
ignored. No joint_states for `state_timeout_s` (wall time) stops /tf until they return, so a viewer marks the frames
stale rather than showing a frozen robot as live. Runs as its own process beside the bridge, never inside it: the
robot path does not depend on it.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from psi0.robot_state_config import RobotStateConfig
from psi0_core.g1_kinematics import BASE_PARENT, ROOT, Joint, load_kinematics, matrices_to_quats, matrix_to_quat
from psi0_core.g1_urdf import g1_urdf
from psi0_core.node_runner import run_node
from psi0_core.qos import latched_qos
from psi0_core.ros_params import declare_config

LATCHED = latched_qos()


def to_transform(parent: str, child: str, t: np.ndarray, stamp) -> TransformStamped:
    m = TransformStamped()
    m.header.stamp, m.header.frame_id, m.child_frame_id = stamp, parent, child
    set_pose(m, t[:3, 3], matrix_to_quat(t[:3, :3]))
    return m


def set_pose(m: TransformStamped, xyz: np.ndarray, wxyz: np.ndarray) -> None:
    tr, r = m.transform.translation, m.transform.rotation
    tr.x, tr.y, tr.z = float(xyz[0]), float(xyz[1]), float(xyz[2])
    r.w, r.x, r.y, r.z = float(wxyz[0]), float(wxyz[1]), float(wxyz[2]), float(wxyz[3])


class RobotStateNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("robot_state", **kwargs)
        self.config = cfg = declare_config(self, RobotStateConfig)
        self.kin = load_kinematics()
        self._joint = {j.name: j for j in self.kin.movable}
        # The newest joint_states and imu, kept serialized and decoded at the publish rate, not at their 100 Hz:
        # decoding both 100 Hz inputs cost ~6 % of a core (measured at a 1 Hz publish rate: 11.9 % decoded, 5.9 % raw).
        self._js_raw: bytes | None = None
        self._received = -math.inf  # monotonic time of the newest joint_states
        self._imu_raw: bytes | None = None
        self._layout: tuple[tuple[str, ...], list[Joint], list[TransformStamped]] = ((), [], [])
        self.skipped_nonfinite = 0
        self.pub_description = self.create_publisher(String, "robot_description", LATCHED)
        self.pub_static = self.create_publisher(TFMessage, "/tf_static", LATCHED)
        self.pub_tf = self.create_publisher(TFMessage, "/tf", 10)
        self.create_subscription(JointState, cfg.joint_states_topic, self._on_joint_states, 10, raw=True)
        self.create_subscription(Imu, cfg.imu_topic, self._on_imu, 10, raw=True)
        self.pub_description.publish(String(data=g1_urdf()))
        stamp = self.get_clock().now().to_msg()
        self.pub_static.publish(TFMessage(transforms=[
            to_transform(self._frame(j.parent), self._frame(j.child), j.origin, stamp) for j in self.kin.fixed]))
        self._base = to_transform(self._frame(BASE_PARENT), self._frame(ROOT), np.eye(4), stamp)
        self.published = 0
        self.create_timer(1.0 / cfg.publish_rate_hz, self._publish)
        self.create_timer(5.0, self._report)

    def _frame(self, name: str) -> str:
        return self.config.frame_prefix + name

    def _on_joint_states(self, data: bytes) -> None:
        self._js_raw, self._received = data, time.monotonic()

    def _on_imu(self, data: bytes) -> None:
        self._imu_raw = data

    def _imu_quat(self) -> tuple[float, float, float, float] | None:
        if self._imu_raw is None:
            return None
        o = deserialize_message(self._imu_raw, Imu).orientation
        quat = (o.w, o.x, o.y, o.z)
        return quat if all(math.isfinite(v) for v in quat) and sum(v * v for v in quat) > 0.5 else None

    def _publish(self) -> None:
        if self._js_raw is None or time.monotonic() - self._received > self.config.state_timeout_s:
            return
        msg = deserialize_message(self._js_raw, JointState)
        positions: dict[str, float] = {}
        for name, q in zip(msg.name, msg.position, strict=False):
            if name in self._joint:
                if math.isfinite(q):
                    positions[name] = float(q)
                else:
                    self.skipped_nonfinite += 1
        names = tuple(positions)
        if names != self._layout[0]:  # the joints present changed: new transform messages (else reused)
            joints = [self._joint[n] for n in names]
            self._layout = (names, joints, [to_transform(self._frame(j.parent), self._frame(j.child), np.eye(4),
                                                         msg.header.stamp) for j in joints])
        _, joints, out = self._layout
        local = self.kin.batch_local(joints, np.array([positions[n] for n in names]))
        for m, t, quat in zip(out, local, matrices_to_quats(local[:, :3, :3]), strict=True):
            m.header.stamp = msg.header.stamp
            set_pose(m, t[:3, 3], quat)
        imu = self._imu_quat()
        if imu is not None:
            base = self.kin.base_pose(imu, positions)
            self._base.header.stamp = msg.header.stamp
            set_pose(self._base, base[:3, 3], matrix_to_quat(base[:3, :3]))
        self.pub_tf.publish(TFMessage(transforms=[*out, self._base] if imu is not None else out))
        self.published += 1

    def _report(self) -> None:
        if self.skipped_nonfinite:
            self.get_logger().warning(f"{self.skipped_nonfinite} non-finite joint positions skipped")
            self.skipped_nonfinite = 0


def main() -> int:
    return run_node(RobotStateNode)


if __name__ == "__main__":
    sys.exit(main())
