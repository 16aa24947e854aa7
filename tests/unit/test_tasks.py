"""Simulated task definitions: seeded starts, the scripted expert's path, the success test; and the replay of
what the bridge executed from received chunks (chunk-boundary metrics)."""

import numpy as np
import pytest

from psi0.chunk_metrics import Received, boundary_jumps, executed
from psi0.robot import default_action
from psi0.tasks import DT, get_task, start_action
from psi0_bridge.chunks import Chunk

pytestmark = pytest.mark.unit
TASK = get_task("raise_right_hand")


def test_seeded_start_poses():
    a, b = TASK.start_pose(3), TASK.start_pose(3)
    assert np.array_equal(a, b) and not np.array_equal(a, TASK.start_pose(4))
    starts = np.array([TASK.start_pose(s) for s in range(200)])
    assert np.all(starts >= TASK.start_low) and np.all(starts <= TASK.start_high)
    full = start_action(TASK, 3)
    assert np.array_equal(full[TASK.columns], a) and np.count_nonzero(full - default_action()) <= 3
    with pytest.raises(ValueError, match="unknown task"):
        get_task("juggle")


def test_expert_path_is_smooth_and_reaches_the_target():
    start = start_action(TASK, 7)
    traj = TASK.expert(start, hold_s=1.0)
    assert np.allclose(traj[0], start) and np.allclose(traj[-1][TASK.columns], TASK.target)
    steps = np.abs(np.diff(traj, axis=0))
    assert steps.max() <= TASK.max_speed * DT + 1e-9  # never faster than the speed limit
    others = np.delete(np.arange(36), TASK.columns)
    assert np.all(traj[:, others] == start[others])  # only the task's joints move
    assert np.all(traj[-30:] == traj[-1])  # held at the end


def test_success_needs_a_sustained_raise_within_the_limit():
    t = np.arange(0, 10, 0.01)
    pitch = np.where(t > 2.0, -1.5, 0.0)
    ok, when = TASK.success(t, pitch)
    assert ok and when == pytest.approx(2.01, abs=0.011)
    blip = np.where((t > 2.0) & (t < 2.3), -1.5, 0.0)  # raised for 0.3 s only
    assert TASK.success(t, blip) == (False, None)
    late = np.where(t > 7.8, -1.5, 0.0)  # success would complete after the 8 s limit
    assert not TASK.success(t, late)[0]


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
