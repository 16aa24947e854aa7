"""Simulated task definitions: seeded starts, the scripted expert's path, the success test; and the replay of
what the bridge executed from received chunks (chunk-boundary metrics)."""

import numpy as np
import pytest

from psi0.chunk_metrics import boundary_jumps
from psi0.tasks import DT, get_task, suite, task_for, wrong_instruction
from psi0_core.chunks import Chunk, Received, replay
from psi0_core.g1_adapter import default_action

pytestmark = pytest.mark.unit
TASK = get_task("raise_right_hand")


def start_action(task, seed: int) -> np.ndarray:
    """The full 36-D action of the episode's start pose (default pose elsewhere)."""
    return task.with_joints(default_action(), task.start_pose(seed))


def executed(chunks, times, initial):
    done = replay(chunks, times, initial)
    return done.commands, done.switched


def test_seeded_start_poses_of_both_arms():
    a, b = TASK.start_pose(3), TASK.start_pose(3)
    assert np.array_equal(a, b) and not np.array_equal(a, TASK.start_pose(4))
    starts = np.array([TASK.start_pose(s) for s in range(200)])
    assert np.all(starts[:, [0, 3]] >= -0.5) and np.all(starts[:, [0, 3]] <= 0.4)  # pitches
    assert np.all(starts[:, 1] < 0) and np.all(starts[:, 4] > 0)  # right arm rolls out to the right, left to the left
    left = get_task("raise_left_hand")
    assert left.joints[:3] == ("left_shoulder_pitch_joint", "left_shoulder_roll_joint", "left_elbow_joint")
    assert left.target == (-1.6, 0.3, 0.6) and TASK.target == (-1.6, -0.3, 0.6)
    full = start_action(TASK, 3)
    assert np.array_equal(full[TASK.columns], a) and np.count_nonzero(full - default_action()) <= 6
    with pytest.raises(ValueError, match="unknown task"):
        get_task("juggle")


def test_a_suite_alternates_its_tasks_and_names_the_other_instruction():
    tasks = suite("raise_hand")
    assert [task_for(tasks, s).name for s in range(4)] == ["raise_right_hand", "raise_left_hand"] * 2
    assert wrong_instruction(tasks[0], tasks) == "raise your left hand"
    assert wrong_instruction(tasks[1], tasks) == "raise your right hand"
    assert suite("raise_left_hand") == (get_task("raise_left_hand"),)


def test_expert_path_is_smooth_and_moves_only_the_named_arm():
    start = start_action(TASK, 7)
    traj = TASK.expert(start, hold_s=1.0)
    assert np.allclose(traj[0], start) and np.allclose(traj[-1][TASK.columns[:3]], TASK.target)
    steps = np.abs(np.diff(traj, axis=0))
    assert steps.max() <= TASK.max_speed * DT + 1e-9  # never faster than the speed limit
    others = np.delete(np.arange(36), TASK.columns[:3])
    assert np.all(traj[:, others] == start[others])  # the other arm (and everything else) holds its start
    assert np.all(traj[-30:] == traj[-1])  # held at the end


def _bodies(t, right_rise, left_rise, lean: float = 0.0):
    """Ground truth with wrists `rise` metres above the shoulders along the torso's up axis, the torso leaning
    `lean` rad about y: (positions name → (T, 3), torso orientation (T, 4))."""
    up = np.array([np.sin(lean), 0.0, np.cos(lean)])
    shoulder = np.tile([0.0, 0.0, 1.2], (len(t), 1))
    quat = np.tile([np.cos(lean / 2), 0.0, np.sin(lean / 2), 0.0], (len(t), 1))
    pos = {"right_shoulder_pitch_link": shoulder, "left_shoulder_pitch_link": shoulder,
           "right_wrist_yaw_link": shoulder + np.asarray(right_rise)[:, None] * up,
           "left_wrist_yaw_link": shoulder + np.asarray(left_rise)[:, None] * up}
    return pos, quat


def test_success_is_the_named_hand_raised_and_the_other_down_on_ground_truth():
    t = np.arange(0, 10, 0.01)
    up = np.where(t > 2.0, 0.15, -0.2)
    ok, when = TASK.success(t, *_bodies(t, up, np.full_like(t, -0.2)))
    assert ok and when == pytest.approx(2.01, abs=0.011)
    assert not get_task("raise_left_hand").success(t, *_bodies(t, up, np.full_like(t, -0.2)))[0]  # the wrong arm
    both = _bodies(t, up, up)  # both hands up is not "raise your right hand"
    assert not TASK.success(t, *both)[0]
    leaning = _bodies(t, up, np.full_like(t, -0.2), lean=0.3)  # measured along the torso, a lean changes nothing
    assert TASK.success(t, *leaning)[0]
    from psi0.tasks import torso_up

    assert np.allclose(torso_up(leaning[1][:1]), [[np.sin(0.3), 0, np.cos(0.3)]])
    blip = np.where((t > 2.0) & (t < 2.3), 0.15, -0.2)  # raised for 0.3 s only
    assert TASK.success(t, *_bodies(t, blip, np.full_like(t, -0.2))) == (False, None)
    late = np.where(t > 7.8, 0.15, -0.2)  # success would complete after the 8 s limit
    assert not TASK.success(t, *_bodies(t, late, np.full_like(t, -0.2)))[0]
    low = np.where(t > 2.0, 0.05, -0.2)  # 5 cm above the shoulder: not raised (8 cm needed)
    assert not TASK.success(t, *_bodies(t, low, np.full_like(t, -0.2)))[0]


def _chunk(cid, t0, values, prefix=0):
    a = np.tile(default_action(), (len(values), 1))
    a[:, 14] = values
    return Chunk(cid, t0, DT, a, prefix)


def test_executed_replay_follows_the_bridge_switching_rule():
    c1 = _chunk(1, 0.0, np.arange(30) * 0.01)
    c2 = _chunk(2, 0.5, 0.15 + np.arange(30) * 0.01, prefix=3)  # its step 3 is due at 0.6
    times = np.arange(0, 2.0, DT)
    cmd, sw = executed([Received(0.0, c1), Received(0.3, c2)], times, default_action())
    k_switch = int(np.flatnonzero(sw)[1])  # switches: c1 at t=0, then c2
    assert times[k_switch] >= 0.6 - 1e-9 and times[k_switch - 1] < 0.6
    assert cmd[5, 14] == pytest.approx(0.05)
    assert np.all(cmd[times > 0.5 + 29 * DT + 1e-6, 14] == pytest.approx(0.15 + 0.29))  # held after the last step
    jumps = boundary_jumps(cmd, sw, [14])
    # the first switch, at t = 0, has no step before it; the second is continuous: c2 continues c1
    assert jumps["switches"] == 1 and jumps["jump_max"] < 0.02


def test_a_discontinuous_switch_is_measured_as_a_jump():
    c1 = _chunk(1, 0.0, np.zeros(30))
    c2 = _chunk(2, 1.5, np.full(30, 0.3))  # after a hold, starts 0.3 rad away
    times = np.arange(0, 2.5, DT)
    cmd, sw = executed([Received(0.0, c1), Received(1.4, c2)], times, default_action())
    j = boundary_jumps(cmd, sw, [14])
    assert j["jump_max"] == pytest.approx(0.3) and j["within_p99"] == 0.0


def test_a_failed_demonstration_is_set_aside_not_lost(tmp_path):
    from psi0.evaluate import set_aside
    from psi0_policy.data.rosbag_reader import find_bags

    demos = tmp_path / "bags"
    for k in (0, 1):
        (demos / f"episode_{k:04d}").mkdir(parents=True)
        (demos / f"episode_{k:04d}" / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    moved = set_aside(demos / "episode_0001")
    assert moved == tmp_path / "bags.failed" / "episode_0001" and (moved / "metadata.yaml").exists()
    assert find_bags(demos) == [demos / "episode_0000"]  # the dataset is made from successes only
