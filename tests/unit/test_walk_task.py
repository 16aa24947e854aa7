"""The walking tasks without the graph: the success test on ground-truth poses (reach, side, heading, upright,
standing, held 1 s), the seeded scenes, and the walking expert's controller closing the loop on a kinematic base
(each row's vx, vy, yaw rate integrated exactly, with a 0.3 s lag like System-0's) from every start the task draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from psi0.task_base import DT, World
from psi0.task_walk import (
    BEARING_RAD,
    FACING_RAD,
    REACH_M,
    START_M,
    VX_MAX,
    VY_MAX,
    YAW_RATE_MAX,
    WalkAndPick,
    WalkServo,
    WalkToTable,
    goal_pose,
    table_frame,
)
from psi0.tasks import get_task, suite
from psi0_core.g1_adapter import VELOCITY, default_action
from psi0_sim.model import Scene, table_in_front


def _quat(yaw: float, pitch: float = 0.0) -> np.ndarray:
    cy, sy, cp, sp = math.cos(yaw / 2), math.sin(yaw / 2), math.cos(pitch / 2), math.sin(pitch / 2)
    return np.array([cy * cp, -sy * sp, cy * sp, sy * cp])  # yaw then pitch (z·y)


def _table(x: float = 1.0, y: float = 0.0, yaw: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    return np.array([x, y, Scene.table_size[2]]), _quat(yaw)


def _poses(pelvis_xy: np.ndarray, yaw: np.ndarray, table: tuple[np.ndarray, np.ndarray], pitch: float = 0.0):
    n = len(pelvis_xy)
    p = np.c_[pelvis_xy, np.full(n, 0.77)]
    q = np.array([_quat(a, pitch) for a in yaw])
    return {"pelvis": (p, q), "torso_link": (p + np.array([0, 0, 0.1]), q),
            "table": (np.repeat(table[0][None], n, 0), np.repeat(table[1][None], n, 0))}


def _standing(x: float, y: float = 0.0, yaw: float = 0.0, seconds: float = 2.0):
    t = np.arange(0.0, seconds, 0.02)
    return t, np.tile([x, y], (len(t), 1)), np.full(len(t), yaw)


def test_success_needs_reach_side_heading_upright_and_standing():
    task, table = WalkToTable(), _table()  # the front edge at x = 0.8
    t, xy, yaw = _standing(0.5)  # 0.30 m in front of the edge, facing it
    assert task.evaluate(t, _poses(xy, yaw, table)) == (True, 0.0)
    for x in (0.8 - REACH_M[1] - 0.03, 0.8 - REACH_M[0] + 0.03):  # too far, too near
        times, at, heading = _standing(x)
        assert not task.evaluate(times, _poses(at, heading, table))[0]
    assert not task.evaluate(t, _poses(xy + np.array([0, 0.3]), yaw, table))[0]  # beside the table's middle
    assert not task.evaluate(t, _poses(xy, yaw + math.radians(20), table))[0]  # not facing it
    assert not task.evaluate(t, _poses(xy, yaw, table, pitch=math.radians(20)))[0]  # leaning over
    moving = xy + np.c_[0.2 * (t - t[-1]), np.zeros(len(t))]  # still walking at 0.2 m/s (ending in the band)
    assert not task.evaluate(t, _poses(moving, yaw, table))[0]
    late = np.arange(0.0, 16.5, 0.02)  # arrived only after the 15 s limit
    far = np.where(late < 15.2, 0.0, 0.5)
    assert not task.evaluate(late, _poses(np.c_[far, np.zeros(len(late))], np.zeros(len(late)), table))[0]


def test_a_turned_table_is_judged_in_its_own_frame():
    yaw = 0.3
    table = _table(1.0, 0.2, yaw)
    goal, goal_yaw = goal_pose(table[0], yaw)
    ahead, side = table_frame(goal[None], table[0], yaw)
    assert ahead[0] == pytest.approx(0.30) and side[0] == pytest.approx(0.0) and goal_yaw == yaw
    t, xy, heading = _standing(goal[0], goal[1], yaw)
    assert WalkToTable().evaluate(t, _poses(xy, heading, table))[0]
    assert not WalkToTable().evaluate(t, _poses(xy, heading - yaw, table))[0]  # facing the world's x, not the table


def test_scenes_are_seeded_and_within_the_drawn_ranges():
    task = WalkToTable()
    scenes = [task.scene(s) for s in range(200)]
    assert scenes[3] == task.scene(3) and scenes[3] != scenes[4]
    d, b, f = (np.array([s[i] for s in scenes]) for i in (1, 2, 3))
    assert START_M[0] <= d.min() and d.max() <= START_M[1] and np.abs(b).max() <= BEARING_RAD and np.abs(f).max() <= FACING_RAD
    assert np.ptp(d) > 0.4 and np.ptp(b) > 0.8  # the randomisation covers its ranges
    assert get_task("walk_and_pick_blue_can").scene(3) == scenes[3]
    assert [t.instruction for t in suite("walk_and_pick")] == [
        "walk to the table and pick up the red cube", "walk to the table and pick up the green cube",
        "walk to the table and pick up the blue can"]
    with pytest.raises(ValueError, match="one of"):
        WalkAndPick("duck")
    with pytest.raises(ValueError, match="closed-loop"):
        task.expert(default_action())


def _walk(seed: int, lag_s: float = 0.3, seconds: float = 12.0):
    """The servo's rows integrated on a kinematic base that follows the commanded velocity lag_s late."""
    _, dist, bearing, facing = WalkToTable().scene(seed)
    tx, ty, tyaw = table_in_front((0.0, 0.0), 0.0, dist, bearing, facing)
    table = _table(tx, ty, tyaw)
    servo, action = WalkServo(), default_action()
    x = np.zeros(3)  # x, y, yaw
    lag = round(lag_s / DT)
    sent = [np.zeros(3)] * lag
    xs, cmds = [], []
    for k in range(0, round(seconds / DT), 10):  # re-aimed every 10 rows, as the harness does
        world = World({"pelvis": (np.r_[x[:2], 0.77], _quat(x[2])), "table": table})
        rows = servo.rows(k * DT, 30, action, world)[:10]
        for r in rows:
            sent.append(r[VELOCITY])
            vx, vy, wz = sent.pop(0)
            c, s = math.cos(x[2]), math.sin(x[2])
            x = x + DT * np.array([c * vx - s * vy, s * vx + c * vy, wz])
            xs.append(x.copy())
            cmds.append(r[VELOCITY])
        action = rows[-1]
    return np.array(xs), np.array(cmds), table, servo


@pytest.mark.parametrize("seed", range(8))
def test_the_walking_expert_arrives_facing_the_table_and_stops(seed):
    xs, cmds, table, servo = _walk(seed)
    t = DT * np.arange(len(xs))
    poses = _poses(xs[:, :2], xs[:, 2], table)
    ok, t_ok = WalkToTable().evaluate(t, poses)
    assert ok and t_ok < 10.0, (seed, xs[-1], t_ok)
    assert servo.arrived_at is not None and np.all(cmds[-30:] == 0.0)  # stopped, then commands zero (System-0 stands)
    assert np.abs(cmds[:, 0]).max() <= VX_MAX and np.abs(cmds[:, 1]).max() <= VY_MAX
    assert np.abs(cmds[:, 2]).max() <= YAW_RATE_MAX
    assert np.abs(np.diff(cmds[:, :2], axis=0)).max() <= 0.6 * DT + 1e-9  # ramped


def test_walk_and_pick_hands_over_to_the_pick_expert_once_stood():
    task = get_task("walk_and_pick_red_cube")
    table = _table(0.5 + Scene.table_size[0] + 0.3)  # already at the goal: the walk arrives at once
    names = ("red_cube", "green_cube", "blue_can")
    objects = {n: (np.array([0.85, 0.1 * (k - 1), 0.75]), _quat(0.0)) for k, n in enumerate(names)}
    wrists = {f"{s}_wrist_yaw_link": (np.array([0.6, 0.2 if s == "left" else -0.2, 0.6]), _quat(0.0)) for s in ("left", "right")}
    world = World({"pelvis": (np.array([0.5, 0.0, 0.77]), _quat(0.0)), "table": table, **objects, **wrists,
                   "torso_link": (np.array([0.5, 0.0, 0.87]), _quat(0.0))})
    from psi0.task_pick import Pick

    action = default_action()
    action[Pick().columns] = Pick().start_pose(0)
    servo = task.servo(action, world)
    first = servo.rows(0.0, 30, action, world)
    assert servo.pick is None and np.all(first[:, VELOCITY] == 0.0)
    standing = servo.rows(0.5, 30, action, world)
    assert servo.pick is None and np.all(standing[:, VELOCITY] == 0.0)  # standing still for 1 s first
    np.testing.assert_array_equal(standing[:, Pick().columns], np.repeat(action[None, Pick().columns], 30, axis=0))
    later = servo.rows(1.2, 30, action, world)
    assert servo.pick is not None and np.all(later[:, VELOCITY] == 0.0)
    arm = Pick().columns[:7]
    assert np.abs(later[-1, arm] - action[arm]).max() > 0.01  # the pick expert moves an arm
