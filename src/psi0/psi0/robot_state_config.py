"""The robot_state node's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require


@dataclass(frozen=True)
class RobotStateConfig(NodeConfig, node="robot_state"):
    publish_rate_hz: float = param(30.0, "rate of the moving transforms on /tf (from the newest joint_states and imu)",
                                   range=(1.0, 200.0))
    joint_states_topic: str = param("joint_states", "sensor_msgs/JointState input (the bridge's, 100 Hz)")
    imu_topic: str = param("imu", "sensor_msgs/Imu input: the pelvis IMU's orientation gives odom → pelvis")
    frame_prefix: str = param("", "prefix of every frame id (two robots on one /tf: 'g1a/', 'g1b/')")
    state_timeout_s: float = param(
        0.5, "joint_states older than this (wall time since received) stop /tf: a viewer shows the robot as stale "
        "instead of a frozen pose that looks live", range=(0.05, 10.0))

    def check(self) -> None:
        require(bool(self.joint_states_topic.strip()), "robot_state: joint_states_topic is empty")
        require(bool(self.imu_topic.strip()), "robot_state: imu_topic is empty")
