"""Simulated tasks: instruction, seeded randomisation, scripted expert and a success test on the physical outcome
(pure NumPy).

`raise_left_hand` / `raise_right_hand` ("raise your left hand" / "raise your right hand"): each episode starts with
*both* arms in a seeded random pose (shoulder pitch ∈ [−0.5, 0.4], roll ∈ ±[0.05, 0.4] away from the body, elbow ∈
[0.1, 1.0] rad), so the instruction — not the start — says which arm to raise. Success, on the simulator's ground
truth (sim/bodies): the named hand's wrist at least 8 cm above its shoulder while the other wrist stays below its
own shoulder — heights along the torso's up axis, so a lean of the standing robot neither makes nor breaks a raise —
held 0.5 s within the time limit (8 s); an episode in which the robot fell is never a success (the
harness). The expert moves the named arm's three joints from wherever they are to the raised pose (pitch −1.6,
roll ∓0.3, elbow 0.6: the wrist 18 cm above the shoulder) on a smooth (cosine) profile at ≤ 1.25 rad/s, then holds
it; the other arm holds its start. Suites (`raise_hand`) alternate their tasks over the episode seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psi0_core.g1_adapter import action_names

DT = 1.0 / 30.0
RAISED_M = 0.08  # the named wrist this far above its shoulder counts as raised
LOWERED_M = 0.0  # the other wrist must stay below its shoulder


def smooth_path(a: np.ndarray, b: np.ndarray, seconds: float, hold_s: float = 0.0, dt: float = DT) -> np.ndarray:
    """(N, D) from a to b with a cosine speed profile over `seconds`, then b held for `hold_s`."""
    n = max(2, round(seconds / dt) + 1)
    s = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, n))
    path = a[None] + s[:, None] * (b - a)[None]
    return np.concatenate([path, np.repeat(b[None], round(hold_s / dt), axis=0)]) if hold_s > 0 else path


def torso_up(q: np.ndarray) -> np.ndarray:
    """(T, 4) orientations (w, x, y, z) → (T, 3) the body's z axis in the world."""
    w, x, y, z = (np.asarray(q, dtype=np.float64)[..., i] for i in range(4))
    return np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def _arm(side: str) -> tuple[str, str, str]:
    return (f"{side}_shoulder_pitch_joint", f"{side}_shoulder_roll_joint", f"{side}_elbow_joint")


def _other(side: str) -> str:
    return {"left": "right", "right": "left"}[side]


@dataclass(frozen=True)
class RaiseHand:
    side: str = "right"
    success_hold_s: float = 0.5
    time_limit_s: float = 8.0
    max_speed: float = 1.25  # rad/s (peak of the cosine profile is π/2 × the mean)

    def __post_init__(self) -> None:
        if self.side not in ("left", "right"):
            raise ValueError(f"side: left or right, not {self.side!r}")

    @property
    def name(self) -> str:
        return f"raise_{self.side}_hand"

    @property
    def instruction(self) -> str:
        return f"raise your {self.side} hand"

    @property
    def joints(self) -> tuple[str, ...]:
        """The joints the task moves (its start pose and the expert): the named arm, then the other arm."""
        return _arm(self.side) + _arm(_other(self.side))

    @property
    def bodies(self) -> tuple[str, ...]:
        """Ground-truth bodies the success test reads (positions; the torso's orientation too)."""
        arms = (f"{s}_{link}" for s in (self.side, _other(self.side)) for link in ("wrist_yaw_link", "shoulder_pitch_link"))
        return ("torso_link", *arms)

    @property
    def columns(self) -> list[int]:
        names = action_names()
        return [names.index(j) for j in self.joints]

    @staticmethod
    def _roll_sign(side: str) -> float:
        return -1.0 if side == "right" else 1.0  # away from the body

    def start_pose(self, seed: int) -> np.ndarray:
        """(6,) the seeded random start of both arms (named arm first), each pitch, roll, elbow."""
        rng = np.random.default_rng([20251126, seed])
        out = []
        for side in (self.side, _other(self.side)):
            pitch, roll, elbow = rng.uniform((-0.5, 0.05, 0.1), (0.4, 0.4, 1.0))
            out += [pitch, self._roll_sign(side) * roll, elbow]
        return np.array(out)

    @property
    def target(self) -> tuple[float, float, float]:
        return (-1.6, 0.3 * self._roll_sign(self.side), 0.6)

    def with_joints(self, base: np.ndarray, values: np.ndarray) -> np.ndarray:
        a = np.array(base, dtype=np.float64, copy=True)
        a[self.columns[: len(values)]] = values
        return a

    def move(self, from_action: np.ndarray, to_joints: np.ndarray, hold_s: float) -> np.ndarray:
        """(N, 36): the task's first len(to_joints) joints from `from_action`'s values to `to_joints`, everything else
        as in from_action."""
        a = np.asarray(from_action, dtype=np.float64)
        b = self.with_joints(a, to_joints)
        cols = self.columns[: len(to_joints)]
        dist = float(np.abs(b[cols] - a[cols]).max())
        seconds = max(0.6, 1.6 * dist / self.max_speed)
        return smooth_path(a, b, seconds, hold_s)

    def expert(self, from_action: np.ndarray, hold_s: float = 2.0) -> np.ndarray:
        return self.move(from_action, np.asarray(self.target), hold_s)

    def raised(self, positions: dict[str, np.ndarray], torso_quat: np.ndarray) -> np.ndarray:
        """(T,) bool: the named wrist raised and the other one not, from ground-truth positions name → (T, 3) and
        the torso's orientation (T, 4) (w, x, y, z): heights along the torso's up axis."""
        up = torso_up(torso_quat)  # (T, 3)

        def rise(side: str) -> np.ndarray:
            d = positions[f"{side}_wrist_yaw_link"] - positions[f"{side}_shoulder_pitch_link"]
            return np.einsum("ti,ti->t", d, up)

        return (rise(self.side) >= RAISED_M) & (rise(_other(self.side)) < LOWERED_M)

    def success(self, times: np.ndarray, positions: dict[str, np.ndarray],
                torso_quat: np.ndarray) -> tuple[bool, float | None]:
        """(success, time of the first sample of the successful hold, relative to times[0])."""
        times = np.asarray(times)
        up = self.raised(positions, torso_quat)
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


TASKS = {t.name: t for t in (RaiseHand("right"), RaiseHand("left"))}
SUITES = {"raise_hand": ("raise_right_hand", "raise_left_hand")}


def get_task(name: str) -> RaiseHand:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)} (suites: {', '.join(SUITES)})")
    return TASKS[name]


def suite(name: str) -> tuple[RaiseHand, ...]:
    """The tasks of a suite, or the one task of that name."""
    if name in SUITES:
        return tuple(get_task(n) for n in SUITES[name])
    return (get_task(name),)


def task_for(tasks: tuple[RaiseHand, ...], seed: int) -> RaiseHand:
    """The task of an episode: a suite alternates its tasks over consecutive seeds."""
    return tasks[seed % len(tasks)]


def wrong_instruction(task: RaiseHand, tasks: tuple[RaiseHand, ...]) -> str:
    """Another task's instruction (the evaluation's wrong-instruction control)."""
    others = [t for t in (*tasks, *TASKS.values()) if t.instruction != task.instruction]
    return others[0].instruction
