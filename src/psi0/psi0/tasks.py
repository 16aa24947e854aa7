"""Simulated tasks: instruction, seeded randomisation, scripted expert and a success test on the physical outcome
(pure NumPy). The suites: `raise_hand` (below), `pick` (psi0.task_pick), `walk_and_pick` (psi0.task_walk, which has
`walk_to_table` too), `all` (every task), `demo` (what `make demo` runs: walk_and_pick with two objects, a pick, a
raise).

The task interface the episode harness uses: name, instruction, joints (recorded and moved to the start pose), bodies
(the ground truth the success test reads), columns, time_limit_s, start_pose(seed), move(from, to, hold_s),
scene(seed) (what the simulator's place_scene is asked for before the episode: seed, distance, bearing, facing),
expert(from_action, world, hold_s) and evaluate(times, poses).

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

from psi0.task_base import DT, World, held_for, joint_move, smooth_path, torso_up
from psi0.task_pick import Pick
from psi0.task_walk import WalkAndPick, WalkToTable
from psi0_core.g1_adapter import action_names

__all__ = [
    "DT",
    "FAMILIES",
    "SUITES",
    "TASKS",
    "Pick",
    "RaiseHand",
    "WalkAndPick",
    "WalkToTable",
    "World",
    "get_task",
    "smooth_path",
    "suite",
    "task_for",
    "torso_up",
    "wrong_instruction",
]

RAISE_TABLE_M = 0.6  # a raise-hand episode keeps the table's edge this far ahead of the pelvis: ≥ 11 cm clear of any start
RAISED_M = 0.08  # the named wrist this far above its shoulder counts as raised
LOWERED_M = 0.0  # the other wrist must stay below its shoulder


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
        return joint_move(self.columns[: len(to_joints)], from_action, to_joints, self.max_speed, hold_s)

    def scene(self, seed: int) -> tuple[int, float, float, float]:
        """The table back to where no start pose reaches it (seed, distance, bearing, facing)."""
        return seed, RAISE_TABLE_M, 0.0, 0.0

    def expert(self, from_action: np.ndarray, world: World | None = None, hold_s: float = 2.0) -> np.ndarray:
        """The raise from wherever the arm is (the world is not needed)."""
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
        return held_for(np.asarray(times), self.raised(positions, torso_quat), self.success_hold_s, self.time_limit_s)

    def evaluate(self, times: np.ndarray, poses) -> tuple[bool, float | None]:
        """success() from ground-truth poses name → (positions (T, 3), orientations (T, 4))."""
        return self.success(times, {n: poses[n][0] for n in self.bodies}, poses["torso_link"][1])


Task = RaiseHand | Pick | WalkToTable | WalkAndPick
TASKS: dict[str, Task] = {t.name: t for t in (RaiseHand("right"), RaiseHand("left"), Pick("red_cube"),
                                              Pick("green_cube"), Pick("blue_can"), WalkToTable(),
                                              WalkAndPick("red_cube"), WalkAndPick("green_cube"), WalkAndPick("blue_can"))}
SUITES = {"raise_hand": ("raise_right_hand", "raise_left_hand"),
          "pick": ("pick_red_cube", "pick_green_cube", "pick_blue_can"),
          "walk_and_pick": ("walk_and_pick_red_cube", "walk_and_pick_green_cube", "walk_and_pick_blue_can")}
SUITES["all"] = SUITES["pick"] + SUITES["raise_hand"] + ("walk_to_table",) + SUITES["walk_and_pick"]
# `make demo`: the long-horizon task with each object, then a pick from where the robot stands and a raise
SUITES["demo"] = ("walk_and_pick_red_cube", "walk_and_pick_blue_can", "pick_green_cube", "raise_left_hand")
FAMILIES = ("pick", "walk_to_table", "walk_and_pick", "raise_hand")  # one evaluation each (eval_suite_<family>.json)


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)} (suites: {', '.join(SUITES)})")
    return TASKS[name]


def suite(name: str) -> tuple[Task, ...]:
    """The tasks of a suite, or the one task of that name."""
    if name in SUITES:
        return tuple(get_task(n) for n in SUITES[name])
    return (get_task(name),)


def task_for(tasks: tuple[Task, ...], seed: int) -> Task:
    """The task of an episode: a suite alternates its tasks over consecutive seeds."""
    return tasks[seed % len(tasks)]


def wrong_instruction(task: Task, tasks: tuple[Task, ...]) -> str:
    """Another task's instruction (the evaluation's wrong-instruction control)."""
    others = [t for t in (*tasks, *TASKS.values()) if t.instruction != task.instruction]
    return others[0].instruction
