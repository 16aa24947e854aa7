"""Whole-body controller slot: legs and waist (body motors 0..14) at 50 Hz.

A controller turns the bounded locomotion command (torso roll/pitch/yaw, base height, vx, vy,
yaw rate, target yaw) and the measured state into position targets for the 15 lower-body motors.

- `StandController` holds the default standing pose. It honours torso roll/pitch/yaw through the
  waist joints and base height through symmetric leg flexion (a two-link planar leg model), and
  reports the fields it cannot honour (vx, vy, yaw rate, target yaw): a standing controller cannot
  walk, so those commands are ignored and listed in BridgeStatus.
- `learned_wbc.LearnedController` runs an operator-supplied RL policy file (see that module).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

LOWER_BODY = 15  # motors 0..14: legs 0..11, waist 12..14
CMD_FIELDS = ("torso_roll", "torso_pitch", "torso_yaw", "base_height", "vx", "vy", "yaw_rate", "target_yaw")


@dataclass(frozen=True)
class RobotState:
    """What a lower-body controller may read; body arrays are (29,), in motor order."""

    q: np.ndarray
    dq: np.ndarray
    quat_wxyz: np.ndarray  # (4,) IMU orientation
    gyro: np.ndarray  # (3,) rad/s, IMU frame


class WholeBodyController(Protocol):
    name: str
    unsupported: tuple[str, ...]  # command fields this controller ignores

    def reset(self, state: RobotState) -> None: ...

    def step(self, cmd: np.ndarray, state: RobotState) -> np.ndarray:
        """cmd: (8,) bounded command in CMD_FIELDS order → (15,) position targets for motors 0..14."""
        ...


class StandController:
    name = "stand"
    unsupported = ("vx", "vy", "yaw_rate", "target_yaw")

    def __init__(self, default_pose: np.ndarray, nominal_height: float = 0.75, thigh: float = 0.3, shin: float = 0.3,
                 ankle_gain: float = 0.0, ankle_damping: float = 0.0) -> None:
        self.default = np.asarray(default_pose[:LOWER_BODY], dtype=np.float64)
        self.nominal_height = nominal_height
        self.leg = thigh + shin  # symmetric two-link leg: vertical extent = leg · cos(θ)
        self.theta0 = 0.5 * float(self.default[3])  # knee = 2θ at the default pose
        # ankle strategy: lean the ankles against the measured pelvis pitch (IMU) to keep the COM over the feet
        self.ankle_gain, self.ankle_damping = ankle_gain, ankle_damping

    def reset(self, state: RobotState) -> None:  # stateless
        return None

    def _flexion(self, height: float) -> float:
        extent = self.leg * math.cos(self.theta0) + (height - self.nominal_height)
        return math.acos(min(max(extent / self.leg, 0.0), 1.0)) - self.theta0

    def step(self, cmd: np.ndarray, state: RobotState) -> np.ndarray:
        q = self.default.copy()
        d = self._flexion(float(cmd[3]))
        for hip, knee, ankle in ((0, 3, 4), (6, 9, 10)):
            q[hip] -= d
            q[knee] += 2.0 * d
            q[ankle] -= d
        q[12], q[13], q[14] = cmd[2], cmd[0], cmd[1]  # waist yaw, roll, pitch
        if self.ankle_gain or self.ankle_damping:
            w, x, y, z = state.quat_wxyz
            pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
            delta = self.ankle_gain * pitch + self.ankle_damping * float(state.gyro[1])
            q[4] += delta
            q[10] += delta
        return q
