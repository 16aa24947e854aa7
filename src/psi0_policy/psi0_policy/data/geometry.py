"""Rigid-transform helpers for the readers (NumPy, batched over leading axes)."""

from __future__ import annotations

import numpy as np


def invert(t: np.ndarray) -> np.ndarray:
    """(..., 4, 4) rigid transforms → their inverses."""
    r, p = t[..., :3, :3], t[..., :3, 3]
    out = np.zeros_like(t)
    rt = np.swapaxes(r, -1, -2)
    out[..., :3, :3] = rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rt, p)
    out[..., 3, 3] = 1.0
    return out


def rpy_from_matrix(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation → (..., 3) roll, pitch, yaw with R = Rz(yaw)·Ry(pitch)·Rx(roll)."""
    roll = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    pitch = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    yaw = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.stack([roll, pitch, yaw], axis=-1)


def matrix_from_rpy(rpy: np.ndarray) -> np.ndarray:
    """(..., 3) roll, pitch, yaw → (..., 3, 3), the inverse of rpy_from_matrix."""
    a, b, c = (np.asarray(rpy)[..., i] for i in range(3))
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    return np.stack([
        np.stack([cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa], -1),
        np.stack([sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa], -1),
        np.stack([-sb, cb * sa, cb * ca], -1),
    ], -2)


def quat_to_rpy(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternion (w, x, y, z) → (..., 3) roll, pitch, yaw."""
    w, x, y, z = (np.asarray(q)[..., i] for i in range(4))
    return np.stack([np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)),
                     np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0)),
                     np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))], axis=-1)
