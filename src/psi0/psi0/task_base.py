"""What every simulated task shares (pure NumPy): the action rate, smooth joint paths, the world a privileged expert
reads, and "held for long enough" for success tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

DT = 1.0 / 30.0


@dataclass(frozen=True)
class World:
    """One instant of the simulator's ground truth, for a privileged expert: body name → (position (3,), orientation
    (4,) w x y z) in the world frame, and joint name → measured angle."""

    poses: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    joints: Mapping[str, float] = field(default_factory=dict)
    # body name → (3,) its mean position over the last gait period (SMOOTH_S): a walking robot's pelvis sways ±5–10 cm
    # with every step, more than a walking expert's stopping tolerance
    smoothed: Mapping[str, np.ndarray] = field(default_factory=dict)

    def mean_position(self, name: str) -> np.ndarray:
        """(3,) the body's smoothed position where the world has one, else its newest."""
        return np.asarray(self.smoothed[name] if name in self.smoothed else self.poses[name][0], dtype=np.float64)


SMOOTH_S = 1.0  # World.smoothed: over this long (System-0's gait period: the sway of the steps averages out)


def smooth_path(a: np.ndarray, b: np.ndarray, seconds: float, hold_s: float = 0.0, dt: float = DT) -> np.ndarray:
    """(N, D) from a to b with a cosine speed profile over `seconds`, then b held for `hold_s`."""
    n = max(2, round(seconds / dt) + 1)
    s = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, n))
    path = a[None] + s[:, None] * (b - a)[None]
    return np.concatenate([path, np.repeat(b[None], round(hold_s / dt), axis=0)]) if hold_s > 0 else path


def joint_move(columns: Sequence[int], from_action: np.ndarray, to_joints: np.ndarray, max_speed: float,
               hold_s: float) -> np.ndarray:
    """(N, 36): action `columns` from `from_action`'s values to `to_joints` (peak speed ≈ max_speed), everything else
    as in from_action, then held `hold_s`."""
    a = np.asarray(from_action, dtype=np.float64)
    b = a.copy()
    b[list(columns)] = to_joints
    dist = float(np.abs(b - a).max())
    seconds = max(0.6, 1.6 * dist / max_speed)
    return smooth_path(a, b, seconds, hold_s)


def held_for(times: np.ndarray, ok: np.ndarray, hold_s: float, limit_s: float) -> tuple[bool, float | None]:
    """(True, start of the first run of `ok` lasting hold_s that completes within limit_s of times[0]) or (False, None)."""
    start = None
    for t, u in zip(times, ok, strict=True):
        if t - times[0] > limit_s:
            break
        if u and start is None:
            start = t
        elif not u:
            start = None
        if start is not None and t - start >= hold_s:
            return True, float(start - times[0])
    return False, None


def torso_up(q: np.ndarray) -> np.ndarray:
    """(T, 4) orientations (w, x, y, z) → (T, 3) the body's z axis in the world."""
    w, x, y, z = (np.asarray(q, dtype=np.float64)[..., i] for i in range(4))
    return np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=-1)
