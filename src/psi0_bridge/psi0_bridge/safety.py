"""Limit enforcement (S5, S6, S10) and loop-health statistics (S11). Pure NumPy, no rclpy.

`TargetGuard` is the last stage before a frame is built: it clamps the commanded position targets,
first to the per-joint velocity limit relative to the previously *emitted* target, then to the
joint limits minus the margin. Because every emitted target already lies inside the limits, the
position clamp is a projection onto an interval that contains the previous target, so it can only
shrink the step: both invariants hold for every frame, whatever the input (NaN included: a
non-finite target is replaced by the previous one).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np


class TargetGuard:
    """Position and velocity clamp for one joint set (body or hands)."""

    def __init__(self, lower: np.ndarray, upper: np.ndarray, velocity_limit: np.ndarray, margin: float) -> None:
        self.lower = np.asarray(lower, dtype=np.float64) + margin
        self.upper = np.asarray(upper, dtype=np.float64) - margin
        if np.any(self.lower > self.upper):
            raise ValueError("position margin leaves an empty range for some joint")
        self.velocity_limit = np.asarray(velocity_limit, dtype=np.float64)
        self.previous: np.ndarray | None = None
        self.position_clamps = 0  # joints clamped, summed over frames
        self.velocity_clamps = 0

    def reset(self, measured: np.ndarray) -> None:
        """Start from the measured pose (brought inside the limits): the baseline of the first step."""
        self.previous = np.clip(np.nan_to_num(measured, nan=0.0), self.lower, self.upper)

    def apply(self, target: np.ndarray, dt: float) -> np.ndarray:
        """Clamp `target` for a frame emitted `dt` seconds after the previous one."""
        if self.previous is None:
            raise RuntimeError("TargetGuard.apply before reset")
        t = np.where(np.isfinite(target), target, self.previous)
        step = self.velocity_limit * max(dt, 0.0)
        lo, hi = self.previous - step, self.previous + step
        v_clamped = (t < lo) | (t > hi)
        t = np.clip(t, lo, hi)
        p_clamped = (t < self.lower) | (t > self.upper)
        t = np.clip(t, self.lower, self.upper)
        self.velocity_clamps += int(v_clamped.sum())
        self.position_clamps += int(p_clamped.sum())
        self.previous = t
        return t.copy()


@dataclass(frozen=True)
class LocomotionBounds:
    """S10: bounds applied to the whole-body controller's command."""

    vx_max: float
    vy_max: float
    yaw_rate_max: float
    height_min: float
    height_max: float
    torso_roll_max: float
    torso_pitch_max: float
    torso_yaw_max: float

    @classmethod
    def from_config(cls, cfg: Any) -> LocomotionBounds:
        """The bounds of a configuration holding fields of the same names (BridgeConfig)."""
        return cls(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls)})

    def clamp(self, cmd: np.ndarray) -> tuple[np.ndarray, int]:
        """cmd = (torso_roll, torso_pitch, torso_yaw, base_height, vx, vy, yaw_rate, target_yaw).

        Returns the bounded command and how many fields were clamped. Non-finite fields become
        the neutral value (0, or the mid height).
        """
        lo = np.array([-self.torso_roll_max, -self.torso_pitch_max, -self.torso_yaw_max, self.height_min,
                       -self.vx_max, -self.vy_max, -self.yaw_rate_max, -np.pi])
        hi = np.array([self.torso_roll_max, self.torso_pitch_max, self.torso_yaw_max, self.height_max,
                       self.vx_max, self.vy_max, self.yaw_rate_max, np.pi])
        neutral = np.array([0, 0, 0, 0.5 * (self.height_min + self.height_max), 0, 0, 0, 0])
        c = np.where(np.isfinite(cmd), cmd, neutral)
        out = np.clip(c, lo, hi)
        return out, int(np.count_nonzero(out != cmd))


class LoopStats:
    """S11: control-loop period error over a sliding window (ms).

    `record` (control thread, every tick) writes one slot of a preallocated ring: no allocation, no Python-level
    iteration. The percentiles (executor thread, a few times a second) run in NumPy over that ring; building them
    from a deque with `np.fromiter` held the GIL for the whole iteration, which the control thread then waited on.
    Set `history` to a list to keep every sample as well (benchmarks).
    """

    def __init__(self, period_s: float, warn_ms: float, error_ms: float, window: int = 5000) -> None:
        self.period_s = period_s
        self.warn_ms = warn_ms
        self.error_ms = error_ms
        self._ring = np.zeros(window)
        self.history: list[float] | None = None
        self.overruns = 0
        self.ticks = 0
        self.worst_ms = 0.0

    def record(self, actual_period_s: float) -> None:
        err = abs(actual_period_s - self.period_s) * 1e3
        self._ring[self.ticks % self._ring.size] = err
        if self.history is not None:
            self.history.append(err)
        self.ticks += 1
        self.worst_ms = max(self.worst_ms, err)
        if err > self.error_ms:
            self.overruns += 1

    def reset(self) -> None:
        self.overruns = self.ticks = 0
        self.worst_ms = 0.0

    def percentiles(self, qs: tuple[float, ...] = (50.0, 99.0)) -> tuple[float, ...]:
        """Percentiles of the window's period errors (ms), zeros before the first tick."""
        n = min(self.ticks, self._ring.size)
        if n == 0:
            return tuple(0.0 for _ in qs)
        return tuple(float(v) for v in np.percentile(self._ring[:n], qs))

    def percentile(self, q: float) -> float:
        return self.percentiles((q,))[0]

    def level(self, p99: float | None = None) -> int:
        """0 OK, 1 WARN, 2 ERROR (diagnostic_msgs levels), from the window's p99."""
        p99 = self.percentile(99) if p99 is None else p99
        return 2 if p99 > self.error_ms else 1 if p99 > self.warn_ms else 0
