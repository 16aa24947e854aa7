"""Forward kinematics of the G1 from the facts table (config/robot/g1_facts.yaml). Pure NumPy.

The tree is the facts' bodies: `pelvis` at the root, one revolute joint per other body (29 body + 14 Dex3 joints).
Named frames hang off it as fixed links: the head, the D435 (x along the view, z up), its optical frame
`head_camera` (z along the view, x right, y down: the frame the camera images are stamped in, REP-103) and the two
IMU sites. The robot_state node publishes these transforms on /tf and /tf_static; g1_urdf writes the same tree as
URDF, so RViz, Foxglove and this module agree by construction.

The base: `odom → pelvis` is the pelvis IMU's orientation with the pelvis at the height that puts the lower foot's
contact points on the ground (z = 0). It has no horizontal odometry: x and y stay 0, so a walking robot walks in
place in the viewer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from psi0_core.g1_model import load_facts

ROOT = "pelvis"
BASE_PARENT = "odom"
OPTICAL = "head_camera"  # child of d435: z forward, x right, y down
OPTICAL_RPY = (-math.pi / 2, 0.0, -math.pi / 2)


def quat_to_matrix(wxyz: Sequence[float]) -> np.ndarray:
    """(3, 3) rotation of a unit quaternion (w, x, y, z); normalised first."""
    w, x, y, z = np.asarray(wxyz, float) / np.linalg.norm(wxyz)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """(w, x, y, z) with w ≥ 0 of a (3, 3) rotation."""
    m = np.asarray(r, float)
    t = np.trace(m)
    if t > 0:
        s = 2 * math.sqrt(t + 1)
        q = [s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2 * math.sqrt(1 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0] * 4
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = s / 4
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    return q if q[0] >= 0 else -q


def rpy_to_matrix(rpy: Sequence[float]) -> np.ndarray:
    """Fixed-axis roll, pitch, yaw (URDF's convention): R = Rz(yaw) · Ry(pitch) · Rx(roll)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def matrix_to_rpy(r: np.ndarray) -> tuple[float, float, float]:
    """Inverse of rpy_to_matrix (pitch in [−π/2, π/2])."""
    pitch = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    if abs(r[2, 0]) < 1 - 1e-9:
        return math.atan2(r[2, 1], r[2, 2]), pitch, math.atan2(r[1, 0], r[0, 0])
    return 0.0, pitch, math.atan2(-r[0, 1], r[1, 1])  # gimbal lock: roll folded into yaw


def transform(rotation: np.ndarray, translation: Sequence[float]) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rotation, translation
    return t


@dataclass(frozen=True)
class Joint:
    """One edge of the tree: child-in-parent = origin · Rot(axis, q) (fixed when `name` is None; G1Kinematics.batch_local)."""

    parent: str
    child: str
    origin: np.ndarray  # (4, 4)
    name: str | None = None
    axis: np.ndarray | None = None  # (3,) in the child frame
    lower: float = 0.0
    upper: float = 0.0
    effort: float = 0.0


def axis_angles(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations by `angles` (N,) about the unit `axes` (N, 3): Rodrigues, batched."""
    k = np.zeros((len(axes), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axes[:, 2], axes[:, 1], -axes[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = axes[:, 2], -axes[:, 1], axes[:, 0]
    s, c = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def matrices_to_quats(r: np.ndarray) -> np.ndarray:
    """(N, 4) (w, x, y, z), w ≥ 0, of (N, 3, 3) rotations."""
    return np.array([matrix_to_quat(m) for m in r]) if len(r) else np.zeros((0, 4))


@dataclass(frozen=True)
class G1Kinematics:
    joints: tuple[Joint, ...]  # parents before children
    feet: dict[str, np.ndarray]  # link → (K, 3) contact points in the link frame

    @property
    def movable(self) -> tuple[Joint, ...]:
        return tuple(j for j in self.joints if j.name is not None)

    @property
    def fixed(self) -> tuple[Joint, ...]:
        return tuple(j for j in self.joints if j.name is None)

    @property
    def links(self) -> list[str]:
        return [ROOT] + [j.child for j in self.joints]

    def local_transforms(self, positions: Mapping[str, float]) -> list[tuple[Joint, np.ndarray]]:
        """Every movable joint's child-in-parent transform at `positions` (a joint missing there sits at 0)."""
        movable = self.movable
        locals_ = self.batch_local(movable, np.array([float(positions.get(j.name, 0.0)) for j in movable]))
        return list(zip(movable, locals_, strict=True))

    @staticmethod
    def batch_local(joints: Sequence[Joint], q: np.ndarray) -> np.ndarray:
        """(N, 4, 4) child-in-parent transforms of movable `joints` at angles `q` (N,)."""
        if not len(joints):
            return np.zeros((0, 4, 4))
        motion = np.tile(np.eye(4), (len(joints), 1, 1))
        motion[:, :3, :3] = axis_angles(np.array([j.axis for j in joints]), np.asarray(q, float))
        return np.array([j.origin for j in joints]) @ motion

    def forward(self, positions: Mapping[str, float]) -> dict[str, np.ndarray]:
        """Every link's and frame's (4, 4) pose in the pelvis frame."""
        local = dict(zip((j.child for j in self.movable), (t for _, t in self.local_transforms(positions)), strict=True))
        poses = {ROOT: np.eye(4)}
        for j in self.joints:
            poses[j.child] = poses[j.parent] @ local.get(j.child, j.origin)
        return poses

    def base_pose(self, imu_wxyz: Sequence[float], positions: Mapping[str, float]) -> np.ndarray:
        """odom → pelvis: the IMU's orientation, at the height that puts the lowest foot contact point at z = 0."""
        rot = quat_to_matrix(imu_wxyz)
        poses = self.forward(positions)
        lowest = min(float((rot @ (poses[link][:3, :3] @ pts.T + poses[link][:3, 3:4]))[2].min())
                     for link, pts in self.feet.items())
        return transform(rot, (0.0, 0.0, -lowest))


@cache
def load_kinematics() -> G1Kinematics:
    facts = load_facts()
    joints = []
    for b in facts["bodies"]:
        if b["parent"] == "world":
            continue
        origin = transform(quat_to_matrix(b["quat"]), b["pos"])
        j = b.get("joint")
        if j:
            joints.append(Joint(b["parent"], b["name"], origin, j["name"], np.asarray(j["axis"], float),
                                float(j["range"][0]), float(j["range"][1]), float(j["effort"])))
        else:
            joints.append(Joint(b["parent"], b["name"], origin))
    for name, f in facts["frames"].items():
        joints.append(Joint(f["body"], name, transform(rpy_to_matrix(f["rpy"]), f["pos"])))
        if name == "d435":
            joints.append(Joint("d435", OPTICAL, transform(rpy_to_matrix(OPTICAL_RPY), (0.0, 0.0, 0.0))))
    for name, s in facts["sites"].items():
        joints.append(Joint(s["body"], name, transform(np.eye(3), s["pos"])))
    feet = {b["name"]: np.asarray(b["contact_points"], float) for b in facts["bodies"] if "contact_points" in b}
    return G1Kinematics(tuple(joints), feet)
