"""Robot description facts (config/robot/g1.yaml) and the Ψ0 36-D action/state layout.

Pure Python + NumPy. The joint map lives in the YAML file; this module only gives it a typed shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from psi0.profiles import share_dir


@dataclass(frozen=True)
class JointSet:
    """A group of motors in one command frame (the 29 body motors, or one Dex3 hand's 7)."""

    names: tuple[str, ...]
    motor: np.ndarray  # (N,) int, slot in the robot's command/state arrays
    groups: tuple[str, ...]
    lower: np.ndarray  # (N,) rad
    upper: np.ndarray
    effort: np.ndarray  # (N,) N·m
    velocity_limit: np.ndarray  # (N,) rad/s
    kp: np.ndarray
    kd: np.ndarray
    default: np.ndarray  # (N,) rad, start-up / standing pose

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)


def _joint_set(rows: list[dict], default_group: str) -> JointSet:
    def col(key: str) -> np.ndarray:
        return np.array([float(r[key]) for r in rows])

    return JointSet(
        names=tuple(r["name"] for r in rows),
        motor=np.array([int(r["motor"]) for r in rows]),
        groups=tuple(r.get("group", default_group) for r in rows),
        lower=col("lower"),
        upper=col("upper"),
        effort=col("effort"),
        velocity_limit=col("velocity_limit"),
        kp=col("kp"),
        kd=col("kd"),
        default=col("default"),
    )


@dataclass(frozen=True)
class G1:
    body: JointSet  # 29 motors, motor order 0..28
    left_hand: JointSet  # 7 Dex3 motors
    right_hand: JointSet

    @property
    def hands(self) -> JointSet:
        """Both hands as one 14-joint set: left 7 then right 7 (each in its Dex3 motor order)."""
        lh, rh = self.left_hand, self.right_hand
        return JointSet(
            names=lh.names + rh.names,
            motor=np.concatenate([lh.motor, rh.motor]),
            groups=("hands",) * 14,
            lower=np.concatenate([lh.lower, rh.lower]),
            upper=np.concatenate([lh.upper, rh.upper]),
            effort=np.concatenate([lh.effort, rh.effort]),
            velocity_limit=np.concatenate([lh.velocity_limit, rh.velocity_limit]),
            kp=np.concatenate([lh.kp, rh.kp]),
            kd=np.concatenate([lh.kd, rh.kd]),
            default=np.concatenate([lh.default, rh.default]),
        )

    def joint_state_names(self) -> list[str]:
        """Names published on `joint_states`: 29 body joints then 14 hand joints."""
        return list(self.body.names + self.left_hand.names + self.right_hand.names)


@cache
def load_g1(path: str | None = None) -> G1:
    f = Path(path) if path else share_dir() / "config" / "robot" / "g1.yaml"
    data = yaml.safe_load(f.read_text())
    body = _joint_set(data["body"], "body")
    if sorted(body.motor.tolist()) != list(range(len(body))):
        raise ValueError(f"{f}: body motors must be 0..{len(body) - 1}")
    return G1(body, _joint_set(data["hands"]["left"], "hands"), _joint_set(data["hands"]["right"], "hands"))


# ---- Ψ0 action / state layout (DESIGN.md §6): 36-D, absolute -----------------------------------
ACTION_DIM = 36
HANDS = slice(0, 14)  # Dex3 joints, left 7 then right 7 (rad)
ARMS = slice(14, 28)  # arm joints, left 7 then right 7 (body motors 15..28)
TORSO_RPY = slice(28, 31)  # torso roll, pitch, yaw -> whole-body controller
BASE_HEIGHT = 31  # m (0.75 nominal) -> whole-body controller
VELOCITY = slice(32, 35)  # vx, vy, yaw rate -> whole-body controller
TARGET_YAW = 35
ARM_MOTORS = np.arange(15, 29)
WBC_NAMES = ("torso_roll", "torso_pitch", "torso_yaw", "base_height", "vx", "vy", "yaw_rate", "target_yaw")


def action_names(robot: G1 | None = None) -> list[str]:
    """The 36 column names of a Ψ0 action chunk (ActionChunk.names)."""
    robot = robot or load_g1()
    arms = [robot.body.names[m] for m in ARM_MOTORS]
    names = [*robot.hands.names, *arms, *WBC_NAMES]
    assert len(names) == ACTION_DIM
    return names


def default_action(robot: G1 | None = None, base_height: float = 0.75) -> np.ndarray:
    """The action that holds the default pose: (36,) float64."""
    robot = robot or load_g1()
    a = np.zeros(ACTION_DIM)
    a[HANDS] = robot.hands.default
    a[ARMS] = robot.body.default[ARM_MOTORS]
    a[BASE_HEIGHT] = base_height
    return a
