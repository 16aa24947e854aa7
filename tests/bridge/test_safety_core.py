"""Every row of the safety table (DESIGN.md §8) on the pure core, with a simulated clock.

The same behaviours are checked over real DDS in test_bridge_node.py.
"""

import numpy as np
import pytest

from psi0.params import ConfigError
from psi0.robot import ARM_MOTORS, action_names, load_g1
from psi0_bridge.config import SCHEMA
from psi0_bridge.core import State
from psi0_bridge.safety import LocomotionBounds, LoopStats
from tests.bridge.helpers import TICK, Driver, hold_chunk, make_core

pytestmark = pytest.mark.unit
G1 = load_g1()
R_ELBOW = G1.body.index("right_elbow_joint")


def active_driver(**cfg):
    d = Driver(make_core(**cfg), q0=G1.body.default)
    d.activate()
    return d


def first_time(d, pred, after):
    return next((t for t, o in d.outputs if t >= after and pred(o)), None)


# ---- S1 -------------------------------------------------------------------------------------------
def test_s1_second_writer_causes_protective_stop():
    d = active_driver()
    d.core.other_writer_detected(d.t, "guid-1")
    out = d.step()
    assert d.core.state == State.STOPPED and out.damping and "writer" in d.core.stop_reason


# ---- S2 -------------------------------------------------------------------------------------------
def test_s2_stale_lowstate_warns_then_stops_within_100ms():
    d = active_driver()
    d.state_alive = False
    t_lost = d.t - TICK
    d.run_for(0.05)
    assert d.core.counters.lowstate_warnings > 0 and d.core.state == State.ACTIVE
    d.run_for(0.1)
    t_stop = first_time(d, lambda o: o.damping, t_lost)
    assert t_stop is not None and t_stop - t_lost <= 0.100 + TICK
    assert d.core.state == State.STOPPED and "LowState" in d.core.stop_reason


def _stall(d, seconds):
    """The bridge itself does not tick for `seconds` (its process stalled); the robot's state is not delivered."""
    d.t += seconds


def test_s2_after_the_bridges_own_stall_it_waits_one_tick_for_queued_state():
    d = active_driver()
    _stall(d, 0.15)  # LowState kept coming, but sat in the receive socket while the bridge was stalled
    d.state_alive = False
    out = d.step()
    assert out.body is None and d.core.state == State.ACTIVE and d.core.counters.own_stall_waits == 1
    d.state_alive = True  # the receive thread delivers what was queued
    out = d.step(5)
    assert d.core.state == State.ACTIVE and out.body is not None and not out.damping


def test_s2_after_the_bridges_own_stall_a_dead_robot_is_stopped_on_the_next_tick():
    d = active_driver()
    d.state_alive = False
    t_lost = d.t - TICK
    _stall(d, 0.15)
    d.step(2)
    sent = [(t, o) for t, o in d.outputs if t > t_lost and o.body is not None]
    assert d.core.state == State.STOPPED and "LowState" in d.core.stop_reason
    assert sent and sent[0][1].damping and sent[0][0] - t_lost <= 0.15 + 2 * TICK  # the first frame sent: damping
    # one wait per silence: a second stall without state in between stops at once
    d2 = active_driver()
    d2.state_alive = False
    _stall(d2, 0.15)
    assert d2.step().body is None
    _stall(d2, 0.05)
    assert d2.step().damping and d2.core.state == State.STOPPED


def test_s2_never_sends_a_target_on_state_older_than_the_limit():
    """Whatever the pattern of bridge stalls and state arrivals, no non-damping frame goes out on stale state."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        d = active_driver()
        for _ in range(300):
            d.state_alive = rng.random() < 0.7
            if rng.random() < 0.05:
                _stall(d, rng.uniform(0.005, 0.2))
            t = d.t
            out = d.step()
            if out.body is not None and not out.damping:
                assert t - d.core.measured.stamp <= d.core.cfg["state_stop_s"]


def test_s2_bad_crc_lowstate_is_dropped_and_counted():
    d = Driver(make_core())
    d.core.on_lowstate(d.t, np.ones(29), np.zeros(29), np.array([1.0, 0, 0, 0]), np.zeros(3), 5, crc_ok=False)
    assert d.core.counters.lowstate_crc_errors == 1 and d.core.measured.mode_machine is None


# ---- S3 -------------------------------------------------------------------------------------------
def test_s3_chunk_stream_stops_hold_within_100ms_then_damping_within_500ms():
    d = active_driver()
    assert d.chunk(hold_chunk(h=3))
    t_end = d.t + 2 / 30  # last step of the chunk
    d.run_for(0.8)
    holds = [t for t, o in d.outputs if t > t_end and not o.damping]
    stop = first_time(d, lambda o: o.damping, t_end)
    assert d.core.counters.holds == 1
    assert stop is not None and stop - t_end <= 0.5 + 2 * TICK
    assert holds[-1] - t_end >= 0.1  # it held (did not stop) first
    assert d.core.state == State.STOPPED


def test_s3_state_is_holding_after_100ms_without_due_step():
    d = active_driver()
    d.chunk(hold_chunk(h=2))
    d.run_for(1 / 30 + 0.09)
    assert d.core.state == State.ACTIVE
    d.run_for(0.03)
    assert d.core.state == State.HOLDING


# ---- S4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["nan", "inf", "dim", "names"])
def test_s4_malformed_chunk_rejected_and_held(bad):
    d = active_driver()
    a = hold_chunk()
    kw = {}
    if bad == "nan":
        a[5, 3] = np.nan
    elif bad == "inf":
        a[0, 0] = np.inf
    elif bad == "dim":
        a = a[:, :35]
        kw["names"] = action_names()[:35]
    else:
        kw["names"] = list(reversed(action_names()))
    before = d.q.copy()
    assert not d.chunk(a, **kw)
    d.run_for(0.05)
    assert d.core.state == State.HOLDING and d.core.counters.chunks_rejected == 1
    np.testing.assert_allclose(d.q, before, atol=1e-9)


def test_s4_three_rejections_in_a_row_stop():
    d = active_driver()
    a = hold_chunk()
    a[0, 0] = np.nan
    for _ in range(2):
        d.chunk(a)
        d.step()
    assert d.core.state == State.HOLDING
    d.chunk(a)
    assert d.step().damping and d.core.state == State.STOPPED


def test_s4_valid_chunk_between_rejections_resets_the_count():
    d = active_driver()
    bad = hold_chunk()
    bad[0, 0] = np.nan
    for _ in range(3):
        d.chunk(bad)
        d.chunk(hold_chunk())
        d.step()
    assert d.core.state == State.ACTIVE


def test_s3_a_scheduled_future_chunk_is_waited_for_not_stale():
    d = active_driver()
    d.chunk(hold_chunk(h=2))
    d.run_for(0.1)
    assert d.chunk(hold_chunk(right_elbow_joint=0.5), t0=d.t + 0.8)  # stamped 0.8 s ahead
    d.run_for(0.7)
    assert d.core.state == State.ACTIVE and d.core.counters.stops == 0
    d.run_for(0.4)
    assert d.core.state == State.ACTIVE and d.q[R_ELBOW] == pytest.approx(0.5)


def test_s4_chunk_too_far_in_the_future_is_rejected():
    d = active_driver()
    assert not d.chunk(hold_chunk(), t0=d.t + 1.5)
    assert "in the future" in d.core.last_error


# ---- S5 -------------------------------------------------------------------------------------------
def test_s5_targets_clamped_to_limits_minus_margin_and_counted():
    d = active_driver()
    d.chunk(hold_chunk(right_elbow_joint=10.0))
    d.run_for(3.0)
    margin = SCHEMA["position_margin"].default
    assert d.q[R_ELBOW] == pytest.approx(G1.body.upper[R_ELBOW] - margin)
    assert d.core.body_guard.position_clamps > 0


# ---- S6 -------------------------------------------------------------------------------------------
def test_s6_velocity_clamp_per_tick():
    d = active_driver()
    start = d.q[R_ELBOW]
    d.chunk(hold_chunk(right_elbow_joint=1.5))
    d.step(10)
    qs = [o.body.q[R_ELBOW] for _, o in d.outputs[-10:]]
    steps = np.abs(np.diff([start, *qs]))
    assert np.all(steps <= 6.0 * TICK + 1e-9) and steps.max() == pytest.approx(6.0 * TICK)
    assert d.core.body_guard.velocity_clamps > 0


def test_s6_hands_clamped_at_50_rad_s():
    d = active_driver()
    name = "left_hand_thumb_2_joint"
    d.chunk(hold_chunk(**{name: 1.6}))
    d.run_for(0.05)
    k = G1.hands.index(name)
    hq = [o.hands.q[k] for _, o in d.outputs[-25:] if o.hands is not None]
    assert np.all(np.abs(np.diff(hq)) <= 50.0 * 0.01 + 1e-9)


# ---- S7 -------------------------------------------------------------------------------------------
def test_s7_startup_ramp_from_measured_pose_takes_at_least_2s():
    q0 = G1.body.default.copy()
    q0[ARM_MOTORS] = 0.4  # arms away from the default pose
    d = Driver(make_core(), q0=q0)
    d.step()
    d.core.enable(d.t)
    t_start = d.t
    first = d.step()
    np.testing.assert_allclose(first.body.q[:29], np.clip(q0, G1.body.lower + 0.05, G1.body.upper - 0.05), atol=0.02)
    d.run_for(1.9)
    assert d.core.state == State.RAMPING
    d.run_for(0.2)
    assert d.core.state == State.ACTIVE and d.t - t_start >= 2.0
    np.testing.assert_allclose(d.q[ARM_MOTORS], G1.body.default[ARM_MOTORS], atol=1e-6)


def test_s7_ramp_cannot_be_configured_below_2s():
    with pytest.raises(ConfigError):
        make_core(ramp_s=1.0)


# ---- S8 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("param, value", [("kp_legs", [165, 165, 165, 900, 160, 40]), ("kd_waist", 50.0),
                                          ("kp_hands", -1.0), ("kp_arms", [50.0] * 6)])
def test_s8_out_of_range_gains_refuse_to_activate(param, value):
    with pytest.raises(ConfigError):
        make_core(**{param: value})


def test_s8_gains_are_read_only():
    assert all(SCHEMA[p].read_only for p in SCHEMA.names() if p.startswith(("kp_", "kd_")))


def test_s8_frames_carry_the_configured_gains():
    d = active_driver()
    out = d.step()
    assert out.body.kp[3] == 330.0 and out.body.kd[12] == 15.0 and out.body.kp[15] == 50.0 and out.body.kp[28] == 30.0


# ---- S9 -------------------------------------------------------------------------------------------
def test_s9_estop_damps_on_the_next_frame_and_latches():
    d = active_driver()
    d.core.estop(d.t)
    out = d.step()
    assert out.damping and np.all(out.body.kp == 0) and np.all(out.body.kd[:29] == 5.0)
    assert out.hands is None or np.all(out.hands.kp == 0)
    ok, _ = d.core.enable(d.t)
    assert not ok
    d.chunk(hold_chunk())
    assert d.step(100).damping and d.core.state == State.ESTOP


@pytest.mark.parametrize("how", ["false", "timeout"])
def test_s9_heartbeat_false_or_missing_triggers_estop(how):
    d = active_driver()
    if how == "false":
        d.core.on_heartbeat(d.t, False)
        d.heartbeat_alive = False
        assert d.step().damping
    else:
        d.heartbeat_alive = False
        t_lost = d.t - TICK
        d.run_for(0.6)
        t_stop = first_time(d, lambda o: o.damping, t_lost)
        assert t_stop - t_lost <= 0.5 + 2 * TICK
    assert d.core.state == State.ESTOP


def test_s9_reset_restiffens_over_at_least_1s():
    d = active_driver()
    d.core.estop(d.t)
    d.step(5)
    ok, msg = d.core.reset(d.t)
    assert ok, msg
    out = d.step()
    assert out.body.kp[3] < 330.0 * 0.01 and out.body.kd[3] > 4.0  # damping kept while gains rise
    d.run_for(0.9)
    assert d.outputs[-1][1].body.kp[3] < 330.0
    d.run_for(1.2)
    assert d.core.state == State.ACTIVE and d.outputs[-1][1].body.kp[3] == 330.0


def test_s9_no_heartbeat_no_enable():
    d = Driver(make_core())
    d.heartbeat_alive = False
    d.step()
    d.core.enable(d.t)
    d.run_for(0.1)
    assert d.core.state == State.IDLE and d.outputs[-1][1].damping


# ---- S10 ------------------------------------------------------------------------------------------
def test_s10_locomotion_command_bounded_before_the_wbc():
    b = LocomotionBounds(0.5, 0.3, 0.5, 0.55, 0.8, 0.3, 0.45, 0.8)
    out, n = b.clamp(np.array([1.0, -1.0, 0.1, 2.0, 3.0, -3.0, np.nan, 0.0]))
    np.testing.assert_allclose(out, [0.3, -0.45, 0.1, 0.8, 0.5, -0.3, 0.0, 0.0])
    assert n == 6


def test_s10_bridge_applies_bounds_to_chunk_commands():
    d = active_driver()
    d.chunk(hold_chunk(torso_pitch=2.0, base_height=0.1, vx=5.0))
    d.run_for(0.1)
    assert d.core.wbc_cmd[1] == pytest.approx(0.45) and d.core.wbc_cmd[3] == pytest.approx(0.55)
    assert d.core.wbc_cmd[4] == pytest.approx(0.5) and d.core.counters.locomotion_clamps > 0
    assert d.q[14] <= 0.45 + 1e-9  # waist pitch follows the bounded torso pitch


# ---- S11 ------------------------------------------------------------------------------------------
def test_s11_loop_stats_levels():
    s = LoopStats(0.002, warn_ms=1.0, error_ms=2.0)
    for _ in range(1000):
        s.record(0.002)
    assert s.level() == 0
    for _ in range(20):
        s.record(0.0035)
    assert s.level() == 1
    for _ in range(30):
        s.record(0.0050)
    assert s.level() == 2 and s.overruns == 30


def test_s11_loop_stats_window_is_the_newest_samples():
    rng = np.random.default_rng(0)
    periods = 0.002 + rng.exponential(0.0002, 12_345)
    s = LoopStats(0.002, warn_ms=1.0, error_ms=2.0, window=5000)
    s.history = []
    for p in periods:
        s.record(p)
    errors = np.abs(periods - 0.002) * 1e3
    assert s.percentiles((50.0, 99.0)) == pytest.approx(tuple(np.percentile(errors[-5000:], [50, 99])))
    assert s.history == pytest.approx(errors.tolist()) and s.ticks == 12_345
    assert s.worst_ms == pytest.approx(errors.max())
    s.reset()
    assert s.percentiles() == (0.0, 0.0) and s.ticks == 0 and s.overruns == 0


# ---- state machine details ------------------------------------------------------------------------
def test_wrong_mode_machine_is_never_commanded():
    d = Driver(make_core(auto_enable=True), mode_machine=9)
    out = d.run_for(0.1)
    assert out.body is None and d.core.counters.mode_machine_rejections > 0


def test_stand_controller_reports_what_it_cannot_honour():
    assert set(make_core().wbc_unsupported) == {"vx", "vy", "yaw_rate", "target_yaw"}
