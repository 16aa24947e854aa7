"""Inverse kinematics of one G1 arm for grasping (pure NumPy, on g1_kinematics' tree).

`ArmIK(side)` places the hand's grasp point — the centre between the open Dex3 hand's thumb tip link and its index
and middle finger tip links, fixed in the wrist frame — at a position with the wrist at an orientation, both in the
pelvis frame, by damped least squares on the seven arm joints (the waist held where it is): an analytic Jacobian of
the revolute chain, each step clipped to the joint limits. The result says how far it missed (position m, rotation
rad), so a caller knows when a target is out of reach instead of getting a silently wrong pose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from psi0_core.g1_kinematics import ROOT, G1Kinematics, Joint, load_kinematics
from psi0_core.robot import load_g1

ARM_JOINTS = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
GRASP_TIPS = ("thumb_2", "index_1", "middle_1")


def arm_joint_names(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_{j}_joint" for j in ARM_JOINTS)


@dataclass(frozen=True)
class Solution:
    q: np.ndarray  # (7,) arm joints, shoulder pitch … wrist yaw
    position_error_m: float
    rotation_error_rad: float

    def reached(self, tol_m: float = 0.01, tol_rad: float = 0.15) -> bool:
        return self.position_error_m <= tol_m and self.rotation_error_rad <= tol_rad


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3) a × b along the last axis (np.cross is ~30× slower on these small arrays)."""
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _rotation_error(r: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(3,) axis × angle (small-angle) that turns r towards target, in the common frame."""
    return 0.5 * _cross(r.T, target.T).sum(axis=0)


def _angle(r: np.ndarray, target: np.ndarray) -> float:
    return float(np.arccos(np.clip((np.trace(r.T @ target) - 1) / 2, -1.0, 1.0)))


class ArmIK:
    def __init__(self, side: str, kin: G1Kinematics | None = None) -> None:
        if side not in ("left", "right"):
            raise ValueError(f"side: left or right, not {side!r}")
        self.side = side
        self.kin = kin or load_kinematics()
        by_child = {j.child: j for j in self.kin.joints}
        chain: list[Joint] = []
        link = f"{side}_wrist_yaw_link"
        while link != ROOT:
            chain.append(by_child[link])
            link = by_child[link].parent
        self.chain = tuple(reversed(chain))  # pelvis → wrist: waist yaw, roll, pitch, then the seven arm joints
        self.names = arm_joint_names(side)
        if tuple(j.name for j in self.chain[-7:]) != self.names:
            raise ValueError(f"unexpected {side} arm chain: {[j.name for j in self.chain]}")
        self._axes = np.array([j.axis for j in self.chain[-7:]])  # (7, 3) in each joint's child frame
        self.lower = np.array([j.lower for j in self.chain[-7:]])
        self.upper = np.array([j.upper for j in self.chain[-7:]])
        hands = load_g1().hands
        open_hand = self.kin.forward(dict(zip(hands.names, hands.default, strict=True)))  # the hand at its default
        wrist = open_hand[f"{side}_wrist_yaw_link"]
        tips = [open_hand[f"{side}_hand_{t}_link"][:3, 3] for t in GRASP_TIPS]
        centre = (tips[0] + (tips[1] + tips[2]) / 2) / 2
        self.grasp_point = wrist[:3, :3].T @ (centre - wrist[:3, 3])  # (3,) in the wrist frame

    def _frames(self, q_arm: np.ndarray, waist: Mapping[str, float]) -> list[np.ndarray]:
        """(4, 4) pose in the pelvis frame of every chain link, after its joint's rotation."""
        values = {**dict(waist), **dict(zip(self.names, q_arm, strict=True))}
        locals_ = G1Kinematics.batch_local(self.chain, np.array([float(values.get(j.name, 0.0)) for j in self.chain]))
        frames, t = [], np.eye(4)
        for local in locals_:
            t = t @ local
            frames.append(t)
        return frames

    def wrist(self, q_arm: Sequence[float], waist: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(grasp point (3,), wrist rotation (3, 3)) in the pelvis frame."""
        f = self._frames(np.asarray(q_arm, float), waist or {})[-1]
        return f[:3, :3] @ self.grasp_point + f[:3, 3], f[:3, :3]

    def solve(self, position: Sequence[float], rotation: np.ndarray, q0: Sequence[float],
              waist: Mapping[str, float] | None = None, iters: int = 150, rot_weight: float = 0.3,
              damping: float = 1e-3, tol: float = 1e-5) -> Solution:
        """Arm joints that put the grasp point at `position` with the wrist at `rotation` (pelvis frame), from q0;
        stops after `iters` steps or once the (rotation-weighted) error is below `tol`."""
        target_p, target_r = np.asarray(position, float), np.asarray(rotation, float)
        q = np.clip(np.asarray(q0, float), self.lower, self.upper)
        waist = waist or {}
        for _ in range(iters):
            frames = self._frames(q, waist)
            wr = frames[-1]
            p = wr[:3, :3] @ self.grasp_point + wr[:3, 3]
            e = np.r_[target_p - p, rot_weight * _rotation_error(wr[:3, :3], target_r)]
            if np.linalg.norm(e) < tol:
                break
            arm = np.array(frames[-7:])  # (7, 4, 4)
            axes = np.einsum("kij,kj->ki", arm[:, :3, :3], self._axes)  # (7, 3) joint axes in the pelvis frame
            jac = np.vstack([_cross(axes, p - arm[:, :3, 3]).T, rot_weight * axes.T])  # (6, 7)
            step = jac.T @ np.linalg.solve(jac @ jac.T + damping * np.eye(6), e)
            q = np.clip(q + step, self.lower, self.upper)
        p, r = self.wrist(q, waist)
        return Solution(q, float(np.linalg.norm(target_p - p)), _angle(r, target_r))
