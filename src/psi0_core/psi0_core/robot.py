"""Unitree G1 29-DoF + Dex3-1 robot facts (config/robot/g1.yaml) and the G1's constants. Pure Python + NumPy.

The joint map (names, motor slots, limits, gains, default pose) lives in the YAML file; this module gives it a
typed shape and holds the few numbers that are the robot's and not a file's: how many body and hand motors a
frame drives, which motors the whole-body controller owns, the arms' motor slots, the nominal base height.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from psi0_core.share import robot_file

BODY_MOTORS = 29  # body motor slots 0..28 of a unitree_hg frame (of 35)
HAND_MOTORS = 7  # per Dex3-1 hand
LOWER_BODY = 15  # motors 0..14: legs 0..11, waist 12..14 — the whole-body controller's
LEGS = 12
ARM_MOTORS = np.arange(15, 29)  # left arm 15..21, right arm 22..28
NOMINAL_BASE_HEIGHT = 0.75  # m, pelvis height of the standing G1
MODE_MACHINE_29DOF = 5  # LowState.mode_machine reported by a 29-DoF G1 (the simulator reports it)
# What 29-DoF G1s are reported to send (public issues: unitreerobotics/unitree_rl_lab#6, #114, HansZ8/unitree_cpp#2):
# 5 with the waist unlocked, 6 with the waist locked. The bridge echoes the robot's own value in every LowCmd.
MODE_MACHINES_29DOF = (5, 6)


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
            groups=("hands",) * (2 * HAND_MOTORS),
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

    def motor_joint_names(self) -> list[str]:
        """Every motor in the robot's motor order: body 0..28, left Dex3 0..6, right Dex3 0..6 (= joint_states)."""
        return self.joint_state_names()


@cache
def load_g1(path: str | None = None) -> G1:
    """The robot facts from `path` (default: psi0_core's config/robot/g1.yaml); ValueError if they are no G1."""
    f = Path(path) if path else robot_file("g1.yaml")
    data = yaml.safe_load(f.read_text())
    body = _joint_set(data["body"], "body")
    if sorted(body.motor.tolist()) != list(range(BODY_MOTORS)):
        raise ValueError(f"{f}: body motors must be 0..{BODY_MOTORS - 1}")
    hands = [_joint_set(data["hands"][side], "hands") for side in ("left", "right")]
    for side, h in zip(("left", "right"), hands, strict=True):
        if sorted(h.motor.tolist()) != list(range(HAND_MOTORS)):
            raise ValueError(f"{f}: {side} hand motors must be 0..{HAND_MOTORS - 1}")
    return G1(body, *hands)
