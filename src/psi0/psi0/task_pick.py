"""`pick_<object>`: "pick up the red cube" / "… the green cube" / "… the blue can" (pure NumPy).

Each episode the simulator moves the table in front of the standing robot, its front edge 0.30 m ahead of the pelvis,
and puts the three objects at the seed's places on it (psi0_sim.model.object_layout: 4–10 cm behind the edge, up to
25 cm left or right, 10 cm apart); the instruction names the one to pick. The arms start lowered (hands below the
table top and behind its edge) with the hands open, the feet freshly planted (`replant`: the harness's reset treads in
place first — a robot that reached through many episodes slid into a crouched stance, 5/21 instead of 21/21).

Success, on the simulator's ground truth: the named object ≥ 5 cm above where it stood, within 10 cm of a Dex3 hand's
grasp point (the open hand's centre between thumb and fingers: held by the hand, not balanced on something), while
the other objects stay within 3 cm of where they stood — all of that for 1 s, within the time limit (16 s); an
episode in which the robot fell is never a success (the harness).

The scripted expert (privileged: it reads the object's ground-truth pose in the pelvis frame once, when it starts)
uses the hand on the object's side: it raises that hand behind the table edge, turning it palm-down, moves it over
the object, lowers it until the palm is just above the object (the grasp point 4 cm above the object's centre), closes
thumb, index and middle finger, and lifts the object 10 cm; each waypoint is the arm's inverse kinematics
(psi0_core.g1_reach) at the measured waist angles. The other arm and hand hold still.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np

from psi0.task_base import DT, World, held_for, joint_move
from psi0_core.g1_adapter import action_names
from psi0_core.g1_kinematics import axis_angles, quat_to_matrix
from psi0_core.g1_reach import ArmIK, arm_joint_names
from psi0_core.robot import load_g1
from psi0_sim.model import OBJECTS, Scene

TABLE_DISTANCE_M = 0.30  # the table's front edge ahead of the pelvis in a pick episode
LIFTED_M = 0.05  # the named object this far above where it stood …
HELD_M = 0.10  # … its centre this near a hand's grasp point …
UNDISTURBED_M = 0.03  # … and every other object within this of where it stood
GRASP_ABOVE_TOP_M = 0.015  # the grasp point above the object's top when the hand closes: the palm just clear of it
GRASP_AHEAD_M = 0.01  # … and this far beyond the object's centre (pelvis x): more room for the thumb behind it
CLEAR_M = 0.12  # the hand travels with its grasp point this far above the tallest object's top: the thumb, 8.4 cm
# below the grasp point of a palm-down hand, passes ≥ 3 cm over every object
FINGER_REACH_M = 0.12  # the fingertips of a palm-down hand reach this far ahead of its grasp point
WAIST = ("waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint")
CLOSED = {"thumb_0": 0.0, "thumb_1": -0.6, "thumb_2": -1.2, "index_0": 1.0, "index_1": 1.2, "middle_0": 1.0,
          "middle_1": 1.2}  # the right hand's grasp; the left hand's is the mirror (every angle negated)
PREGRASP = {"thumb_1": 0.3}  # while the hand goes down around the object the thumb swings back, out of its way
# arms lowered and back: hands clear of a 0.72 m table whose edge is 0.30 m ahead of the pelvis
LOWERED = {"shoulder_pitch": 0.6, "shoulder_roll": 0.1, "shoulder_yaw": 0.0, "elbow": 0.3, "wrist_roll": 0.0,
           "wrist_pitch": 0.0, "wrist_yaw": 0.0}
HALF_HEIGHT = {name: (size[2] if shape == "box" else size[1]) for name, shape, size, _ in OBJECTS}
PHRASE = {"red_cube": "the red cube", "green_cube": "the green cube", "blue_can": "the blue can"}


def _mirror(side: str) -> float:
    return 1.0 if side == "right" else -1.0


@cache
def _ik(side: str) -> ArmIK:
    return ArmIK(side)


def hand_joint_names(side: str) -> tuple[str, ...]:
    hand = load_g1().left_hand if side == "left" else load_g1().right_hand
    return hand.names


def closed_hand(side: str) -> dict[str, float]:
    return {f"{side}_hand_{k}_joint": _mirror(side) * v for k, v in CLOSED.items()}


def lowered_arm(side: str) -> dict[str, float]:
    """The arms-lowered start of one arm: roll and yaw mirrored (roll away from the body)."""
    sign = {"shoulder_roll": -_mirror(side), "shoulder_yaw": -_mirror(side), "wrist_roll": -_mirror(side),
            "wrist_yaw": -_mirror(side)}
    return {f"{side}_{k}_joint": v * sign.get(k, 1.0) for k, v in LOWERED.items()}


def palm_down(side: str) -> np.ndarray:
    """(3, 3) the wrist's orientation in the pelvis frame for a grasp from above: the default arm's hand rolled a
    quarter turn about its own forward axis, palm to the table."""
    g1 = load_g1()
    q = [g1.body.default[g1.body.index(n)] for n in arm_joint_names(side)]
    _, r = _ik(side).wrist(q)
    return r @ axis_angles(np.array([[1.0, 0.0, 0.0]]), np.array([-_mirror(side) * math.pi / 2]))[0]


def _slerp(a: np.ndarray, b: np.ndarray, s: float) -> np.ndarray:
    rel = a.T @ b
    angle = float(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1.0, 1.0)))
    if angle < 1e-6:
        return b
    axis = np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]]) / (2 * math.sin(angle))
    return a @ axis_angles(axis[None], np.array([s * angle]))[0]


def in_pelvis(world: World, name: str) -> np.ndarray:
    """(3,) a ground-truth body's position in the pelvis frame."""
    p, q = world.poses["pelvis"]
    return quat_to_matrix(q).T @ (np.asarray(world.poses[name][0]) - np.asarray(p))


@dataclass(frozen=True)
class Leg:
    """One leg of the expert's grasp-point path: to `end` in `seconds`, the hand at `closing` at its end."""

    end: str  # raised (behind the table edge, palm-down) | above (over the object) | grasp | lift (back above it)
    seconds: float
    closing: float  # −1 the pre-grasp shape, 0 open, 1 closed


LEGS = (Leg("raised", 1.6, 0.0), Leg("above", 1.4, -1.0), Leg("grasp", 1.4, -1.0), Leg("grasp", 0.8, 1.0),
        Leg("lift", 1.2, 1.0))  # closing −1: the pre-grasp shape (thumb swung back)
IK_EVERY = 8  # rows between IK solutions (joints in between interpolated: the harness must keep up with the bridge)


class PickServo:
    """The expert's closed loop: `rows(t, n, from_action, world)` gives n rows from t s after the start, aimed at where
    the object is now in the pelvis frame (the standing robot sways, steps and turns a little while it reaches). Once
    the hand starts closing, the object's place is frozen: the lift goes up from where the grasp was."""

    def __init__(self, task: Pick, from_action: np.ndarray, world: World) -> None:
        self.task = task
        obj = in_pelvis(world, task.target)
        self.side = "right" if obj[1] < 0 else "left"  # the hand on the object's side
        self.ik = _ik(self.side)
        names = action_names()
        self.arm_cols = [names.index(n) for n in self.ik.names]
        self.hand_cols = [names.index(n) for n in hand_joint_names(self.side)]
        base = np.asarray(from_action, float)
        self.hand_open = base[self.hand_cols]
        wide = {f"{self.side}_hand_{k}_joint": _mirror(self.side) * v for k, v in PREGRASP.items()}
        self.hand_wide = np.array([wide.get(n, v) for n, v in zip(hand_joint_names(self.side), self.hand_open, strict=True)])
        closed = closed_hand(self.side)
        self.hand_closed = np.array([closed[n] for n in hand_joint_names(self.side)])
        waist = _waist(world)
        self.start, self.r_start = self.ik.wrist(base[self.arm_cols], waist)
        self.r_grasp = palm_down(self.side)
        above = self._points(obj, self._tallest(world))["above"]
        edge = in_pelvis(world, "table")[0] - Scene.table_size[0] if "table" in world.poses else obj[0] - 0.04
        self.raised = np.array([min(self.start[0], edge - FINGER_REACH_M), self.start[1], above[2]])
        self.ends = np.cumsum([leg.seconds for leg in LEGS])
        self.frozen: tuple[np.ndarray, float] | None = None
        self._gravity = None

    @property
    def duration(self) -> float:
        return float(self.ends[-1])

    def _points(self, obj: np.ndarray, tallest: float) -> dict[str, np.ndarray]:
        """Grasp-point waypoints (pelvis frame) for the object at `obj`, the objects' highest top at z `tallest`."""
        grasp = obj + np.array([GRASP_AHEAD_M, 0.0, HALF_HEIGHT[self.task.target] + GRASP_ABOVE_TOP_M])
        above = np.array([grasp[0], grasp[1], max(grasp[2], tallest) + CLEAR_M])
        return {"grasp": grasp, "above": above, "lift": above}

    def _tallest(self, world: World) -> float:
        """The highest object top in the pelvis frame (z)."""
        return max(float(in_pelvis(world, o)[2]) + HALF_HEIGHT[o] for o in PHRASE if o in world.poses)

    def _target(self, t: float, points: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
        """Grasp point, wrist rotation and hand closure at t s (cosine profile within each leg)."""
        t = min(max(t, 0.0), self.duration)
        k = min(int(np.searchsorted(self.ends, t, side="right")), len(LEGS) - 1)
        t0 = self.ends[k - 1] if k else 0.0
        s = 0.5 - 0.5 * math.cos(math.pi * (t - t0) / LEGS[k].seconds)
        frm = self.start if k == 0 else (self.raised if k == 1 else points[LEGS[k - 1].end])
        to = self.raised if k == 0 else points[LEGS[k].end]
        c0 = LEGS[k - 1].closing if k else 0.0
        rot = _slerp(self.r_start, self.r_grasp, s) if k == 0 else self.r_grasp
        return frm + s * (to - frm), rot, c0 + s * (LEGS[k].closing - c0)

    def rows(self, t: float, n: int, from_action: np.ndarray, world: World) -> np.ndarray:
        """(n, 36) at DT from t: from_action with this arm and hand set (the rest held as from_action has it)."""
        obj = in_pelvis(world, self.task.target)
        closing_starts = self.ends[2]
        if self.frozen is None and t >= closing_starts:
            self.frozen = (obj, self._tallest(world))
        points = self._points(*(self.frozen if self.frozen is not None else (obj, self._tallest(world))))
        waist = _waist(world)
        times = t + DT * np.arange(n)
        solve_at = sorted({*range(0, n, IK_EVERY), n - 1})
        qs, cs = [], []
        q = np.asarray(from_action, float)[self.arm_cols]
        for i in solve_at:
            point, rot, c = self._target(float(times[i]), points)
            sol = self.ik.solve(point, rot, q, waist=waist, iters=60, tol=2e-4)
            q = sol.q
            qs.append(q)
            cs.append(c)
        out = np.repeat(np.asarray(from_action, float)[None], n, axis=0)
        idx = np.arange(n)
        qs = [q + self._sag(q, from_action) for q in qs]
        out[:, self.arm_cols] = np.stack([np.interp(idx, solve_at, np.array(qs)[:, j]) for j in range(7)], axis=1)
        c = np.interp(idx, solve_at, cs)[:, None]  # −1 pre-grasp … 0 open … 1 closed
        out[:, self.hand_cols] = np.where(c < 0, self.hand_open - c * (self.hand_wide - self.hand_open),
                                          self.hand_open + c * (self.hand_closed - self.hand_open))
        return out


    def _sag(self, q: np.ndarray, action: np.ndarray) -> np.ndarray:
        """(7,) how far the arm's position-controlled joints sag under gravity at q (τ_gravity / kp): the bridge
        streams arm targets without feed-forward on a free-standing robot, so the expert aims that much higher."""
        if self._gravity is None:
            from psi0_bridge.gravity import GravityModel

            self._gravity = GravityModel()
        g1 = load_g1()
        body = g1.body.default.copy()
        names = action_names()
        for name in (*arm_joint_names("left"), *arm_joint_names("right")):
            body[g1.body.index(name)] = action[names.index(name)]
        idx = [g1.body.index(n) for n in self.ik.names]
        body[idx] = q
        tau = self._gravity.torques(body, np.array([1.0, 0.0, 0.0, 0.0]))[idx]
        return tau / g1.body.kp[idx]


def _waist(world: World) -> dict[str, float]:
    return {j: float(world.joints.get(j, 0.0)) for j in WAIST}


@dataclass(frozen=True)
class Pick:
    replant: ClassVar[bool] = True  # the harness's reset treads in place first: each episode from planted feet
    target: str = "red_cube"
    success_hold_s: float = 1.0
    time_limit_s: float = 16.0
    max_speed: float = 1.25  # rad/s, the start-pose move (tasks.joint_move)

    def __post_init__(self) -> None:
        if self.target not in PHRASE:
            raise ValueError(f"target: one of {', '.join(PHRASE)}, not {self.target!r}")

    @property
    def name(self) -> str:
        return f"pick_{self.target}"

    @property
    def instruction(self) -> str:
        return f"pick up {PHRASE[self.target]}"

    @property
    def joints(self) -> tuple[str, ...]:
        """Both arms, then both hands (the start pose and what the expert moves)."""
        return (*arm_joint_names("right"), *arm_joint_names("left"), *hand_joint_names("right"), *hand_joint_names("left"))

    @property
    def bodies(self) -> tuple[str, ...]:
        return ("pelvis", "torso_link", *PHRASE, "left_wrist_yaw_link", "right_wrist_yaw_link")

    @property
    def columns(self) -> list[int]:
        names = action_names()
        return [names.index(j) for j in self.joints]

    def scene(self, seed: int) -> tuple[int, float, float, float]:
        """What the simulator's place_scene is asked for: (seed, distance, bearing, facing)."""
        return seed, TABLE_DISTANCE_M, 0.0, 0.0

    def start_pose(self, seed: int) -> np.ndarray:
        """Arms lowered, hands open (the same every seed: the objects' places are what the seed varies)."""
        g1 = load_g1()
        start = {**lowered_arm("right"), **lowered_arm("left")}
        for side in ("right", "left"):
            hand = g1.right_hand if side == "right" else g1.left_hand
            start.update(zip(hand.names, hand.default, strict=True))
        return np.array([start[j] for j in self.joints])

    def move(self, from_action: np.ndarray, to_joints: np.ndarray, hold_s: float) -> np.ndarray:
        return joint_move(self.columns[: len(to_joints)], from_action, to_joints, self.max_speed, hold_s)

    # ---- the expert ---------------------------------------------------------------------------
    def servo(self, from_action: np.ndarray, world: World) -> PickServo:
        """The closed-loop expert (the harness asks it for rows as it publishes chunks)."""
        return PickServo(self, from_action, world)

    def expert(self, from_action: np.ndarray, world: World | None = None, hold_s: float = 2.0) -> np.ndarray:
        """(N, 36) at DT: the servo's whole path against one snapshot of the world, then held `hold_s`."""
        if world is None:
            raise ValueError("the pick expert needs the world (ground-truth poses) to find its object")
        servo = self.servo(from_action, world)
        return servo.rows(0.0, round((servo.duration + hold_s) / DT) + 1, from_action, world)

    # ---- success ------------------------------------------------------------------------------
    def metrics(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        """What an episode did, for the evaluation: the target's highest lift, how near a hand's grasp point came to
        the target's grasp height above its centre (0: exactly there), and how far the other objects were moved (m)."""
        pos = {n: np.asarray(p, float) for n, (p, _) in poses.items()}
        target = pos[self.target]
        want = target + np.array([0.0, 0.0, HALF_HEIGHT[self.target] + GRASP_ABOVE_TOP_M])
        miss = min(float(np.linalg.norm(self._grasp_points(poses, side) - want, axis=1).min()) for side in ("left", "right"))
        moved = max(float(np.linalg.norm(pos[o] - pos[o][0], axis=1).max()) for o in PHRASE if o != self.target)
        return {"lift_max_m": float((target[:, 2] - target[0, 2]).max()), "grasp_miss_m": miss, "others_moved_m": moved}

    @staticmethod
    def _grasp_points(poses: Mapping[str, tuple[np.ndarray, np.ndarray]], side: str) -> np.ndarray:
        """(T, 3) a hand's grasp point in the world from its wrist's ground-truth pose."""
        wp, wq = poses[f"{side}_wrist_yaw_link"]
        rot = np.array([quat_to_matrix(q) for q in np.asarray(wq, float)])  # (T, 3, 3)
        return np.asarray(wp, float) + rot @ _ik(side).grasp_point

    def holding(self, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(T,) bool from ground-truth poses name → (positions (T, 3), orientations (T, 4) w x y z), the first sample
        being where the objects stood: the target lifted and held by a hand, the others where they stood."""
        pos = {n: np.asarray(p, float) for n, (p, _) in poses.items()}
        target = pos[self.target]
        lifted = target[:, 2] - target[0, 2] >= LIFTED_M
        near = np.zeros(len(target), dtype=bool)
        for side in ("left", "right"):
            near |= np.linalg.norm(target - self._grasp_points(poses, side), axis=1) <= HELD_M
        still = np.ones(len(target), dtype=bool)
        for other in PHRASE:
            if other != self.target:
                still &= np.linalg.norm(pos[other] - pos[other][0], axis=1) <= UNDISTURBED_M
        return lifted & near & still

    def evaluate(self, times: np.ndarray, poses: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[bool, float | None]:
        """(success, time the successful hold began, relative to times[0])."""
        return held_for(np.asarray(times), self.holding(poses), self.success_hold_s, self.time_limit_s)
