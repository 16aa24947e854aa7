"""Whole-body controller slot: legs and waist (body motors 0..14) at 50 Hz.

A controller turns the bounded locomotion command (torso roll/pitch/yaw, base height, vx, vy,
yaw rate, target yaw) and the measured state into position targets for the 15 lower-body motors.

- `StandController` holds the default standing pose. It honours torso roll/pitch/yaw through the
  waist joints and base height through symmetric leg flexion (a two-link planar leg model), and
  reports the fields it cannot honour (vx, vy, yaw rate, target yaw): a standing controller cannot
  walk, so those commands are ignored and listed in BridgeStatus.
- `learned_wbc.LearnedController` runs a published or operator-supplied RL policy file with its layout
  (config/wbc/*.yaml; see learned_wbc.py and wbc_layout.py).

A controller may bring its own standing pose (`default_pose`, the bridge's start-up ramp goes there) and the
lower-body gains it was trained with (`kp`, `kd`; None: the bridge's S8 gains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from psi0_core.robot import LOWER_BODY, NOMINAL_BASE_HEIGHT


@dataclass(frozen=True)
class RobotState:
    """What a lower-body controller may read; body arrays are (29,), in motor order."""

    q: np.ndarray
    dq: np.ndarray
    quat_wxyz: np.ndarray  # (4,) IMU orientation
    gyro: np.ndarray  # (3,) rad/s, IMU frame
    arm_targets: np.ndarray | None = None  # (14,) what the bridge commands to motors 15..28 (Ψ0's arms)


class WholeBodyController(Protocol):
    name: str
    unsupported: tuple[str, ...]  # command fields this controller ignores
    default_pose: np.ndarray  # (15,) standing pose of motors 0..14
    kp: np.ndarray | None  # (15,) lower-body gains it needs (None: the bridge's)
    kd: np.ndarray | None

    def diagnostics(self) -> dict[str, str]: ...

    def reset(self, state: RobotState) -> None: ...

    def step(self, cmd: np.ndarray, state: RobotState) -> np.ndarray:
        """cmd: (8,) bounded command in WBC_FIELDS order → (15,) position targets for motors 0..14."""
        ...


class StandController:
    name = "stand"
    unsupported = ("vx", "vy", "yaw_rate", "target_yaw")

    def __init__(self, default_pose: np.ndarray, nominal_height: float = NOMINAL_BASE_HEIGHT, thigh: float = 0.3,
                 shin: float = 0.3, ankle_gain: float = 0.0, ankle_damping: float = 0.0) -> None:
        self.default = np.asarray(default_pose[:LOWER_BODY], dtype=np.float64)
        self.default_pose = self.default
        self.kp = self.kd = None
        self.nominal_height = nominal_height
        self.leg = thigh + shin  # symmetric two-link leg: vertical extent = leg · cos(θ)
        self.theta0 = 0.5 * float(self.default[3])  # knee = 2θ at the default pose
        # ankle strategy: lean the ankles against the measured pelvis pitch (IMU) to keep the COM over the feet
        self.ankle_gain, self.ankle_damping = ankle_gain, ankle_damping

    def reset(self, state: RobotState) -> None:  # stateless
        return None

    def diagnostics(self) -> dict[str, str]:
        return {"wbc_controller": self.name, "wbc_unsupported": ",".join(self.unsupported)}

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
