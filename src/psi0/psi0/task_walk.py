"""`walk_to_table` ("walk to the table") and `walk_and_pick_<object>` ("walk to the table and pick up the red cube" …):
the tasks that need System-0 to walk, through action dims 32–34 (vx, vy, yaw rate) — pure NumPy.

Each episode the simulator puts the table 0.6–1.2 m ahead of the standing robot, off to one side by up to ±0.6 rad
of its heading and turned up to ±0.3 rad from squarely facing it (seeded); the objects stand on it at the seed's
places (psi0_sim.model.object_layout). The arms start lowered and back, hands open (the pick task's start).

Success of `walk_to_table`, on the simulator's ground truth: the pelvis 0.20–0.40 m in front of the table's front
edge (along the table's normal: within reach of its near half), at most 0.25 m to either side of the edge's middle,
facing the table (heading within 15° of the edge's normal), upright (torso within 15° of vertical) and standing
(pelvis slower than 0.15 m/s) — all of that for 1 s within the time limit (15 s). `walk_and_pick_<object>`: the pick
task's success (psi0.task_pick: the named object ≥ 5 cm up in a Dex3 hand for 1 s, the others where they stood)
within 30 s. An episode in which the robot fell is never a success (the harness).

The scripted expert (privileged: the pelvis's and the table's ground-truth poses, re-read at every chunk) is a
proportional controller on the goal pose — the pelvis 0.30 m in front of the edge's middle, facing the table: far from
it the robot turns toward the goal while it walks forward; near it (within 0.3 m) it turns to face the table and
closes the last centimetres with vx and vy. It steers on the pelvis position averaged over the last second
(World.smoothed: a stepping pelvis sways ±5–10 cm, more than the stopping tolerance) and the newest heading, with
gains low enough for the ≈ 1 s a command takes to act on a loaded machine. Commands stay well inside the bridge's
S10 limits and are ramped (≤ 0.6 m/s², ≤ 1.5 rad/s²); within 8 cm and 6° of the goal it commands zero (System-0
then stands in place) and walks again only if the robot drifts 15 cm or 10° off it. The walk-and-pick expert
walks, stands for 1 s, then runs the pick expert from where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from psi0.task_base import DT, World, held_for, joint_move, torso_up
from psi0.task_pick import LEGS, PHRASE, Pick, PickServo
from psi0.task_pick import TABLE_DISTANCE_M as STAND_M
from psi0_core.g1_adapter import VELOCITY
from psi0_sim.model import Scene

START_M = (0.6, 1.2)  # the table's front edge this far from the pelvis when an episode starts …
BEARING_RAD = 0.6  # … up to this far off the robot's heading …
FACING_RAD = 0.3  # … turned up to this from squarely facing the robot
REACH_M = (0.20, 0.40)  # success: the pelvis this far in front of the edge …
SIDE_M = 0.25  # … this near the edge's middle sideways …
FACING_TOL_RAD = math.radians(15.0)  # … heading this near the edge's normal …
UPRIGHT_TOL_RAD = math.radians(15.0)  # … the torso this near vertical …
STANDING_MPS = 0.15  # … and the pelvis slower than this
# the expert's controller (bounded well inside the bridge's S10 limits: vx 0.5, vy 0.3, yaw rate 0.5)
VX_MAX, VX_BACK, VY_MAX, YAW_RATE_MAX = 0.25, 0.15, 0.15, 0.3
K_POS, K_YAW = 0.6, 0.5  # (m/s)/m, (rad/s)/rad: low enough for the ≈ 1 s a command takes to act under load
ACCEL, YAW_ACCEL = 0.6, 1.5  # m/s², rad/s² between rows
NEAR_M = 0.3  # nearer than this the robot turns to face the table, not the goal
ARRIVED_M, ARRIVED_RAD = 0.08, math.radians(6.0)  # stop here (System-0 does not step for the last few cm: it treads
# in place under a 5 cm/s command) …
RESUME_M, RESUME_RAD = 0.15, math.radians(10.0)  # … and walk again only if it drifted this far (hysteresis)


def wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def yaw_of(q: np.ndarray) -> float:
    """Heading (rad) of an orientation (w, x, y, z): its x axis in the ground plane."""
    return float(yaws(np.asarray(q, float)[None])[0])


def yaws(q: np.ndarray) -> np.ndarray:
    """(T,) headings of (T, 4) orientations (w, x, y, z)."""
    w, x, y, z = (np.asarray(q, float)[:, i] for i in range(4))
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def goal_pose(table_pos: np.ndarray, table_yaw: float) -> tuple[np.ndarray, float]:
    """((2,) position, yaw) where the pelvis stands to work at the table: STAND_M in front of its front edge's
    middle, facing it."""
    normal = np.array([math.cos(table_yaw), math.sin(table_yaw)])  # into the table, away from the robot
    edge = np.asarray(table_pos, float)[:2] - Scene.table_size[0] * normal
    return edge - STAND_M * normal, table_yaw


def table_frame(pelvis: np.ndarray, table_pos: np.ndarray, table_yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """(T,) distance of the pelvis in front of the table's front edge and (T,) its offset sideways from the edge's
    middle, for pelvis positions (T, ≥2)."""
    d = np.asarray(pelvis, float)[:, :2] - np.asarray(table_pos, float)[:2]
    c, s = math.cos(table_yaw), math.sin(table_yaw)
    along = d[:, 0] * c + d[:, 1] * s  # into the table
    side = -d[:, 0] * s + d[:, 1] * c
    return -Scene.table_size[0] - along, side


def relative_to_table(poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T,) each: the pelvis's distance in front of the table's edge, its sideways offset from the edge's middle and
    its heading's angle from the edge's normal (rad, ≥ 0), from ground-truth poses (the table's newest pose)."""
    pelvis, pq = (np.asarray(a, float) for a in poses["pelvis"])
    tp, tq = (np.asarray(a, float)[-1] for a in poses["table"])
    table_yaw = yaw_of(tq)
    ahead, side = table_frame(pelvis, tp, table_yaw)
    return ahead, side, np.abs((yaws(pq) - table_yaw + math.pi) % (2 * math.pi) - math.pi)


class WalkServo:
    """The walking expert's closed loop: `rows(t, n, from_action, world)` gives n rows whose vx, vy, yaw rate steer the
    pelvis to the goal pose in front of the table (everything else held as from_action has it)."""

    def __init__(self, budget_s: float = 12.0) -> None:
        self.budget_s = budget_s
        self.arrived_at: float | None = None  # episode time (s) the goal was reached: stopped while it stays there

    @property
    def duration(self) -> float:
        return self.budget_s

    def command(self, t: float, world: World) -> np.ndarray:
        """(3,) vx, vy, yaw rate (pelvis frame) toward the goal, from the ground truth now."""
        _, q = world.poses["pelvis"]
        tp, tq = world.poses["table"]
        goal, goal_yaw = goal_pose(np.asarray(tp), yaw_of(tq))
        yaw, xy = yaw_of(q), world.mean_position("pelvis")[:2]  # the position over the last step: without the sway
        c, s = math.cos(yaw), math.sin(yaw)
        dx, dy = goal - xy
        ex, ey = c * dx + s * dy, -s * dx + c * dy  # the goal in the pelvis frame
        dist = math.hypot(ex, ey)
        face_table = wrap(goal_yaw - yaw)
        if self.arrived_at is None and dist < ARRIVED_M and abs(face_table) < ARRIVED_RAD:
            self.arrived_at = t
        elif self.arrived_at is not None and (dist > RESUME_M or abs(face_table) > RESUME_RAD):
            self.arrived_at = None  # drifted off while standing (System-0 settles a step or a turn after a stop)
        if self.arrived_at is not None:
            return np.zeros(3)
        w = min(max((dist - 0.1) / (NEAR_M - 0.1), 0.0), 1.0)  # 1 far (face the goal) … 0 near (face the table)
        toward = math.atan2(ey, ex) if dist > 0.05 else 0.0
        e_yaw = w * toward + (1 - w) * face_table
        yaw_rate = float(np.clip(K_YAW * e_yaw, -YAW_RATE_MAX, YAW_RATE_MAX))
        vx = float(np.clip(K_POS * ex, -VX_BACK, VX_MAX)) * max(0.0, 1.0 - abs(e_yaw) / 0.8)
        vy = float(np.clip(K_POS * ey, -VY_MAX, VY_MAX)) * (1.0 - w)
        return np.array([vx, vy, yaw_rate])

    def rows(self, t: float, n: int, from_action: np.ndarray, world: World) -> np.ndarray:
        """(n, 36) at DT from t: from_action with vx, vy, yaw rate ramped (bounded acceleration) to the command."""
        out = np.repeat(np.asarray(from_action, float)[None], n, axis=0)
        want = self.command(t, world)
        v = out[0, VELOCITY].copy()
        step = DT * np.array([ACCEL, ACCEL, YAW_ACCEL])
        for i in range(n):
            v = v + np.clip(want - v, -step, step)
            out[i, VELOCITY] = v
        return out


class WalkPickServo:
    """Walk (WalkServo) until arrived and 1 s stood, or the walking budget is spent; then the pick expert from there."""

    def __init__(self, task: WalkAndPick, from_action: np.ndarray, world: World) -> None:
        self.task, self.walk = task, WalkServo(task.walk_budget_s)
        self.pick: PickServo | None = None
        self.pick_from = 0.0

    @property
    def duration(self) -> float:
        return self.walk.duration + float(sum(leg.seconds for leg in LEGS)) + 1.0

    def rows(self, t: float, n: int, from_action: np.ndarray, world: World) -> np.ndarray:
        if self.pick is None:
            stood = self.walk.arrived_at is not None and t - self.walk.arrived_at >= 1.0
            if not (stood or t >= self.walk.duration):
                return self.walk.rows(t, n, from_action, world)
            stopped = np.asarray(from_action, float).copy()
            stopped[VELOCITY] = 0.0
            self.pick, self.pick_from = PickServo(self.task.pick, stopped, world), t
        out = self.pick.rows(t - self.pick_from, n, from_action, world)
        out[:, VELOCITY] = 0.0
        return out


def _scene(seed: int) -> tuple[int, float, float, float]:
    rng = np.random.default_rng([20261204, seed])
    distance = float(rng.uniform(*START_M))
    bearing, facing = (float(x) for x in rng.uniform((-BEARING_RAD, -FACING_RAD), (BEARING_RAD, FACING_RAD)))
    return seed, distance, bearing, facing


@dataclass(frozen=True)
class WalkToTable:
    success_hold_s: float = 1.0
    time_limit_s: float = 15.0
    max_speed: float = 1.25  # rad/s, the start-pose move

    @property
    def name(self) -> str:
        return "walk_to_table"

    @property
    def instruction(self) -> str:
        return "walk to the table"

    @property
    def joints(self) -> tuple[str, ...]:
        return Pick().joints  # the arms and hands held at the pick task's start: the walk ends ready to pick

    @property
    def bodies(self) -> tuple[str, ...]:
        return ("pelvis", "torso_link", "table")

    @property
    def columns(self) -> list[int]:
        return Pick().columns

    def scene(self, seed: int) -> tuple[int, float, float, float]:
        """(seed, distance, bearing, facing): the table 0.6–1.2 m away, off the heading and turned (seeded)."""
        return _scene(seed)

    def start_pose(self, seed: int) -> np.ndarray:
        return Pick().start_pose(seed)

    def move(self, from_action: np.ndarray, to_joints: np.ndarray, hold_s: float) -> np.ndarray:
        return joint_move(self.columns[: len(to_joints)], from_action, to_joints, self.max_speed, hold_s)

    def servo(self, from_action: np.ndarray, world: World) -> WalkServo:
        return WalkServo(budget_s=self.time_limit_s - 3.0)

    def expert(self, from_action: np.ndarray, world: World | None = None, hold_s: float = 2.0) -> np.ndarray:
        raise ValueError("walk_to_table's expert is closed-loop only (servo): an open-loop walk cannot aim")

    def at_table(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(T,) bool: the pelvis within reach of the table's edge, facing it, upright and standing."""
        pelvis = np.asarray(poses["pelvis"][0], float)
        _, torso_q = poses["torso_link"]
        ahead, side, heading = relative_to_table(poses)
        upright = torso_up(np.asarray(torso_q, float))[:, 2] >= math.cos(UPRIGHT_TOL_RAD)
        t = np.asarray(times, float)
        speed = np.zeros(len(t))
        if len(t) > 1:  # over ≥ 0.2 s windows (single ground-truth samples are noisy)
            lag = np.searchsorted(t, t - 0.2, side="right") - 1
            ok = lag >= 0
            span = np.where(ok, t - t[np.maximum(lag, 0)], 1.0)
            speed = np.where(ok, np.linalg.norm(pelvis[:, :2] - pelvis[np.maximum(lag, 0), :2], axis=1) / span, 0.0)
        return ((REACH_M[0] <= ahead) & (ahead <= REACH_M[1]) & (np.abs(side) <= SIDE_M) & (heading <= FACING_TOL_RAD)
                & upright & (speed < STANDING_MPS))

    def metrics(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        """Where the walk started and ended: distance in front of the edge, sideways offset, heading error (deg); path
        length."""
        pelvis = np.asarray(poses["pelvis"][0], float)
        ahead, side, heading = relative_to_table(poses)
        return {"start_ahead_m": float(ahead[0]), "end_ahead_m": float(ahead[-1]), "end_side_m": float(side[-1]),
                "end_heading_deg": math.degrees(float(heading[-1])),
                "walked_m": float(np.linalg.norm(np.diff(pelvis[:, :2], axis=0), axis=1).sum())}

    def evaluate(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[bool, float | None]:
        return held_for(np.asarray(times), self.at_table(times, poses), self.success_hold_s, self.time_limit_s)


@dataclass(frozen=True)
class WalkAndPick:
    target: str = "red_cube"
    time_limit_s: float = 30.0
    walk_budget_s: float = 12.0

    def __post_init__(self) -> None:
        if self.target not in PHRASE:
            raise ValueError(f"target: one of {', '.join(PHRASE)}, not {self.target!r}")

    @property
    def pick(self) -> Pick:
        return Pick(self.target, time_limit_s=self.time_limit_s)

    @property
    def name(self) -> str:
        return f"walk_and_pick_{self.target}"

    @property
    def instruction(self) -> str:
        return f"walk to the table and pick up {PHRASE[self.target]}"

    @property
    def joints(self) -> tuple[str, ...]:
        return self.pick.joints

    @property
    def bodies(self) -> tuple[str, ...]:
        return (*self.pick.bodies, "table")

    @property
    def columns(self) -> list[int]:
        return self.pick.columns

    def scene(self, seed: int) -> tuple[int, float, float, float]:
        return _scene(seed)

    def start_pose(self, seed: int) -> np.ndarray:
        return self.pick.start_pose(seed)

    def move(self, from_action: np.ndarray, to_joints: np.ndarray, hold_s: float) -> np.ndarray:
        return self.pick.move(from_action, to_joints, hold_s)

    def servo(self, from_action: np.ndarray, world: World) -> WalkPickServo:
        return WalkPickServo(self, from_action, world)

    def expert(self, from_action: np.ndarray, world: World | None = None, hold_s: float = 2.0) -> np.ndarray:
        raise ValueError("walk_and_pick's expert is closed-loop only (servo)")

    def metrics(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        return {**self.pick.metrics(times, poses), **WalkToTable().metrics(times, poses)}

    def evaluate(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[bool, float | None]:
        return self.pick.evaluate(times, poses)
