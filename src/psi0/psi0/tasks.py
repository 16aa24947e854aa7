"""Simulated tasks: instruction, seeded randomisation, scripted expert and success test (pure NumPy).

`raise_right_hand` ("raise your right hand"): each episode starts with the right arm in a seeded random pose
(shoulder pitch ∈ [−0.5, 0.4], roll ∈ [−0.4, −0.05], elbow ∈ [0.1, 1.0] rad). Success: the measured right
shoulder pitch stays at or beyond −1.3 rad (arm raised forward-up) for 0.5 s within the time limit (8 s).
The expert moves the three joints from wherever they are to the raised pose (−1.6, −0.3, 0.6) on a smooth
(cosine) profile at ≤ 1.25 rad/s, then holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psi0.robot import action_names, default_action

DT = 1.0 / 30.0


def smooth_path(a: np.ndarray, b: np.ndarray, seconds: float, hold_s: float = 0.0, dt: float = DT) -> np.ndarray:
    """(N, D) from a to b with a cosine speed profile over `seconds`, then b held for `hold_s`."""
    n = max(2, round(seconds / dt) + 1)
    s = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, n))
    path = a[None] + s[:, None] * (b - a)[None]
    return np.concatenate([path, np.repeat(b[None], round(hold_s / dt), axis=0)]) if hold_s > 0 else path


@dataclass(frozen=True)
class RaiseRightHand:
    name: str = "raise_right_hand"
    instruction: str = "raise your right hand"
    joints: tuple[str, ...] = ("right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_elbow_joint")
    target: tuple[float, ...] = (-1.6, -0.3, 0.6)
    start_low: tuple[float, ...] = (-0.5, -0.4, 0.1)
    start_high: tuple[float, ...] = (0.4, -0.05, 1.0)
    success_pitch: float = -1.3
    success_hold_s: float = 0.5
    time_limit_s: float = 8.0
    max_speed: float = 1.25  # rad/s (peak of the cosine profile is π/2 × the mean)

    @property
    def columns(self) -> list[int]:
        names = action_names()
        return [names.index(j) for j in self.joints]

    def start_pose(self, seed: int) -> np.ndarray:
        """(3,) the seeded random start of the task's joints."""
        rng = np.random.default_rng([20251126, seed])
        return rng.uniform(self.start_low, self.start_high)

    def with_joints(self, base: np.ndarray, values: np.ndarray) -> np.ndarray:
        a = np.array(base, dtype=np.float64, copy=True)
        a[self.columns] = values
        return a

    def move(self, from_action: np.ndarray, to_joints: np.ndarray, hold_s: float) -> np.ndarray:
        """(N, 36): the task's joints from `from_action`'s values to `to_joints`, everything else as in from_action."""
        a = np.asarray(from_action, dtype=np.float64)
        b = self.with_joints(a, to_joints)
        dist = float(np.abs(b[self.columns] - a[self.columns]).max())
        seconds = max(0.6, 1.6 * dist / self.max_speed)
        return smooth_path(a, b, seconds, hold_s)

    def expert(self, from_action: np.ndarray, hold_s: float = 2.0) -> np.ndarray:
        return self.move(from_action, np.asarray(self.target), hold_s)

    def success(self, times: np.ndarray, pitch: np.ndarray) -> tuple[bool, float | None]:
        """(success, time of the first sample of the successful hold, relative to times[0])."""
        times, pitch = np.asarray(times), np.asarray(pitch)
        up = pitch <= self.success_pitch
        start = None
        for t, u in zip(times, up, strict=True):
            if t - times[0] > self.time_limit_s:
                break
            if u and start is None:
                start = t
            elif not u:
                start = None
            if start is not None and t - start >= self.success_hold_s:
                return True, float(start - times[0])
        return False, None


TASKS = {"raise_right_hand": RaiseRightHand()}


def get_task(name: str) -> RaiseRightHand:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def start_action(task: RaiseRightHand, seed: int) -> np.ndarray:
    """The full 36-D action of the episode's start pose (default pose elsewhere)."""
    return task.with_joints(default_action(), task.start_pose(seed))
