"""Observation assembly for the policy node (pure: no rclpy).

State (36-D, DESIGN.md §6): hands 14 and arms 14 from joint_states (by name), the last commanded
torso roll/pitch/yaw and base height (4, from the last chunk; nominal before the first), zero
padding 4. Images: the newest frame per camera with its capture stamp.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from psi0.robot import ARM_MOTORS, BASE_HEIGHT, G1, TORSO_RPY

STATE_DIM = 36


class StateBuilder:
    def __init__(self, robot: G1) -> None:
        self.hand_names = list(robot.hands.names)
        self.arm_names = [robot.body.names[m] for m in ARM_MOTORS]
        self.last_torso = np.array([0.0, 0.0, 0.0, 0.75])  # roll, pitch, yaw, height
        self.joints: dict[str, float] = {}
        self.stamp: float | None = None

    def update_joints(self, names: Sequence[str], positions: Sequence[float], stamp: float) -> None:
        for n, q in zip(names, positions, strict=False):
            self.joints[n] = float(q)
        self.stamp = stamp

    def update_command(self, action: np.ndarray) -> None:
        """Remember the torso/height part of the last commanded action (36,)."""
        self.last_torso = np.r_[action[TORSO_RPY], action[BASE_HEIGHT]]

    def missing(self) -> list[str]:
        return [n for n in self.hand_names + self.arm_names if n not in self.joints]

    def state(self) -> np.ndarray:
        s = np.zeros(STATE_DIM)
        s[:14] = [self.joints.get(n, 0.0) for n in self.hand_names]
        s[14:28] = [self.joints.get(n, 0.0) for n in self.arm_names]
        s[28:32] = self.last_torso
        return s
