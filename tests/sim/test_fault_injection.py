"""Fault injection on the closed loop (the bridge's control core + the default System-0 + MuJoCo, in one process on
simulated time, psi0.closed_loop): one bad chunk mid-motion, a policy that dies mid-motion, an e-stop. The robot
stands free (gantry released); uprightness is the simulator's ground truth."""

import numpy as np
import pytest

from psi0.closed_loop import InProcessG1
from psi0_bridge.core import State
from psi0_core.g1_adapter import action_names, default_action

pytestmark = [pytest.mark.sim, pytest.mark.timeout(120)]
R_SP = action_names().index("right_shoulder_pitch_joint")


def _raise(t0: float, seconds: float = 3.0):
    """The right arm raised to −1.4 rad over `seconds` from t0, then held."""
    def action(t: float) -> np.ndarray:
        a = default_action()
        s = min(max((t - t0) / seconds, 0.0), 1.0)
        a[R_SP] = -1.4 * (0.5 - 0.5 * np.cos(np.pi * s))
        return a
    return action


def _standing(seconds: float = 2.0) -> InProcessG1:
    r = InProcessG1("holosoma_ppo")
    r.wait_active()
    r.run(seconds, action=lambda t: default_action())  # released from the gantry, standing
    return r


def test_one_nan_chunk_mid_motion_and_the_robot_finishes_the_motion_standing():
    r = _standing()
    motion = _raise(r.t)
    r.run(1.0, action=motion)
    bad = np.stack([motion(r.t + i / 30) for i in range(40)])
    bad[7, R_SP] = np.nan
    assert not r.send(r.t, bad) and "non-finite" in r.core.last_error
    r.run(3.5, action=motion)
    tr = r.trace.arrays()
    q = r.physics.motor_state()[0][15 + 7]  # right shoulder pitch (motor 22)
    assert r.core.counters.chunks_rejected == 1 and r.core.counters.stops == 0 and r.core.state == State.ACTIVE
    assert abs(q - -1.4) < 0.2, q
    assert tr["tilt_deg"][tr["t"] > 3.5].max() < 10.0 and tr["pelvis"][tr["t"] > 3.5, 2].min() > 0.65


def test_a_policy_killed_mid_motion_ends_in_a_controlled_stop_with_the_robot_upright():
    r = _standing()
    r.run(1.2, action=_raise(r.t))
    t_dead = r.t
    r.run(5.0)  # no more chunks: the executing one runs out, S3 holds, then stops
    tr = r.trace.arrays()
    after = tr["t"] > t_dead
    assert r.core.state == State.STOPPED and r.core.stop_kind == "controlled" and "(S3)" in r.core.stop_reason
    assert not r.last_out.damping and np.all(r.last_out.body.kp[:29] > 0)
    max_tilt = tr["tilt_deg"][after].max()
    print(f"policy gone at t={t_dead:.2f}: controlled stop, max tilt {max_tilt:.1f}°, bridge max {r.core.max_tilt_deg:.1f}°")
    assert max_tilt < 10.0 and tr["pelvis"][after, 2].min() > 0.65 and r.core.counters.falls == 0
    ok, msg = r.core.reset(r.t)  # still stiff and balanced: active again at once, holding the frozen pose
    assert ok and r.core.state == State.ACTIVE and "frozen pose" in msg


def test_an_estop_damps_and_a_fallen_robot_is_not_restiffened():
    """The damping stop is what an e-stop must be; a free-standing humanoid then falls — and re-stiffening it where it
    lies is refused. (Why S3/S4 stops are controlled stops instead.)"""
    r = _standing()
    r.core.estop(r.t)
    r.run(4.0)
    assert r.world_tilt_deg() > 15.0 and r.last_out.damping
    ok, msg = r.core.reset(r.t)
    assert not ok and "tilted" in msg and r.core.state == State.ESTOP
