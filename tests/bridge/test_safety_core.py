"""Every row of the safety table (docs/ARCHITECTURE.md, "Safety") on the pure core, with a simulated clock.

The same behaviours are checked over real DDS in test_bridge_node.py.
"""

import numpy as np
import pytest

from psi0_bridge.bridge_config import BridgeConfig
from psi0_bridge.core import State
from psi0_bridge.safety import LocomotionBounds, LoopStats
from psi0_core.g1_adapter import action_names
from psi0_core.params import ConfigError
from psi0_core.robot import ARM_MOTORS, load_g1
from tests.bridge.helpers import TICK, Driver, hold_chunk, make_core

pytestmark = pytest.mark.unit
SCHEMA = BridgeConfig.schema()
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
                assert t - d.core.measured.stamp <= d.core.cfg.state_stop_s


def test_s2_bad_crc_lowstate_is_dropped_and_counted():
    d = Driver(make_core())
    d.core.on_lowstate(d.t, np.ones(29), np.zeros(29), np.array([1.0, 0, 0, 0]), np.zeros(3), 5, crc_ok=False)
    assert d.core.counters.lowstate_crc_errors == 1 and d.core.measured.mode_machine is None


# ---- S3 -------------------------------------------------------------------------------------------
def test_s3_chunk_stream_stops_hold_within_100ms_then_a_controlled_stop_within_500ms():
    d = active_driver()
    assert d.chunk(hold_chunk(h=3, right_elbow_joint=0.6))
    t_end = d.t + 2 / 30  # last step of the chunk
    d.run_for(0.8)
    stop = next((t for t, _ in d.outputs if t > t_end and d.core.state == State.STOPPED), None)
    stopped_at = min(t for t, o in d.outputs if t > t_end) if stop else None
    assert d.core.counters.holds == 1 and d.core.state == State.STOPPED and d.core.stop_kind == "controlled"
    assert stopped_at is not None and "(S3)" in d.core.stop_reason
    # S3 is a controlled stop: never damping, the arms frozen where they were commanded, still stiff (System-0 balances)
    after = [o for t, o in d.outputs if t > t_end]
    assert not any(o.damping for o in after) and np.all(after[-1].body.kp[:29] > 0)
    assert d.q[R_ELBOW] == pytest.approx(0.6) and not d.core.wbc_cmd[4:7].any()  # velocities zeroed
    starved = [t for t, o in d.outputs if t > t_end]
    assert d.core.counters.stops == 1 and starved[-1] - t_end > 0.5


def test_s3_state_is_holding_after_100ms_without_due_step():
    d = active_driver()
    d.chunk(hold_chunk(h=2))
    d.run_for(1 / 30 + 0.09)
    assert d.core.state == State.ACTIVE
    d.run_for(0.03)
    assert d.core.state == State.HOLDING


# ---- S4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["nan", "inf", "dim", "names", "absurd", "far"])
def test_s4_malformed_chunk_rejected_and_the_executing_chunk_runs_on(bad):
    d = active_driver()
    moving = hold_chunk(h=60)
    moving[:, action_names().index("right_elbow_joint")] = np.linspace(0.3, 0.9, 60)
    assert d.chunk(moving)
    d.run_for(0.3)
    a = hold_chunk()
    kw = {}
    if bad == "nan":
        a[5, 3] = np.nan
    elif bad == "inf":
        a[0, 0] = np.inf
    elif bad == "dim":
        a = a[:, :35]
        kw["names"] = action_names()[:35]
    elif bad == "names":
        kw["names"] = list(reversed(action_names()))
    elif bad == "absurd":  # finite but absurd: not "drive to the limit", malformed
        a[:, action_names().index("right_elbow_joint")] = 1e6
    else:  # beyond the joint's limit by more than chunk_value_margin
        a[:, action_names().index("right_elbow_joint")] = G1.body.upper[R_ELBOW] + 0.6
    assert not d.chunk(a, **kw)
    assert d.core.counters.chunks_rejected == 1 and d.core.state == State.ACTIVE
    if bad in ("absurd", "far"):
        assert "far outside its range" in d.core.last_error and "right_elbow_joint" in d.core.last_error
    d.run_for(1.75)  # the motion goes on to its end (2 s), untouched by the rejected chunk
    assert d.q[R_ELBOW] == pytest.approx(0.9, abs=1e-3) and d.core.counters.stops == 0


def test_s4_three_rejections_in_a_row_are_a_controlled_stop():
    d = active_driver()
    a = hold_chunk()
    a[0, 0] = np.nan
    for _ in range(2):
        d.chunk(a)
        d.step()
    assert d.core.state == State.ACTIVE  # the executing chunk runs on
    d.chunk(a)
    out = d.step()
    assert d.core.state == State.STOPPED and d.core.stop_kind == "controlled" and not out.damping
    assert "3 rejected chunks in a row" in d.core.stop_reason


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
    d.chunk(hold_chunk(right_elbow_joint=G1.body.upper[R_ELBOW] + 0.3))  # beyond the limit, within the S4 margin
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
    assert d.chunk(hold_chunk(torso_pitch=1.0, base_height=0.4, vx=2.0))  # beyond S10, within the S4 value bounds
    d.run_for(0.1)
    assert d.core.wbc_cmd[1] == pytest.approx(0.45) and d.core.wbc_cmd[3] == pytest.approx(0.55)
    assert d.core.wbc_cmd[4] == pytest.approx(0.5) and d.core.counters.locomotion_clamps > 0
    assert d.q[14] <= 0.45 + 1e-9  # waist pitch follows the bounded torso pitch
    for absurd in ({"torso_pitch": 2.0}, {"base_height": 0.1}, {"vx": 5.0}, {"target_yaw": 100.0}):
        assert not d.chunk(hold_chunk(**absurd)) and "far outside its range" in d.core.last_error


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


@pytest.mark.parametrize("mode", [5, 6])
def test_both_29dof_variants_are_commanded_by_default(mode):
    """29-DoF G1s report 5 (waist unlocked) or 6 (waist locked); both are accepted and the value is remembered for
    the LowCmd echo."""
    d = Driver(make_core(auto_enable=True), mode_machine=mode)
    out = d.run_for(0.5)
    assert out.body is not None and d.core.counters.mode_machine_rejections == 0 and d.core.measured.mode_machine == mode


def test_stand_controller_reports_what_it_cannot_honour():
    assert set(make_core().wbc_unsupported) == {"vx", "vy", "yaw_rate", "target_yaw"}


@pytest.mark.parametrize("axis", ["x", "y"])
def test_s12_a_fall_is_a_latched_damping_stop_at_its_threshold(axis):
    from tests.bridge.helpers import tilted

    d = Driver(make_core())
    d.activate()
    d.chunk(hold_chunk(60))
    stop = d.core.cfg.tilt_stop_deg
    d.quat = tilted(stop - 0.2, axis)  # just below: counted as a warning, still commanding
    d.run_for(0.1)
    assert d.core.state == State.ACTIVE and d.core.counters.tilt_warnings > 0 and d.core.counters.falls == 0
    assert abs(d.core.tilt_deg - (stop - 0.2)) < 1e-6
    d.quat = tilted(stop + 0.2, axis)  # just above: the next frame is damping
    out = d.step()
    assert d.core.state == State.STOPPED and out.damping and "(S12)" in d.core.stop_reason
    assert d.core.counters.falls == 1 and d.core.status()["falls"] == 1
    assert d.core.status()["max_tilt_deg"] >= stop
    d.quat = tilted(0.0)  # upright again: still latched until an operator resets
    d.run_for(0.2)
    assert d.core.state == State.STOPPED and all(o.damping for _, o in d.outputs[-50:])


def test_s12_warning_level_and_range_are_safety_values():
    from tests.bridge.helpers import tilted

    d = Driver(make_core())
    d.activate()
    d.chunk(hold_chunk(60))
    d.quat = tilted(d.core.cfg.tilt_warn_deg - 0.5)
    d.run_for(0.1)
    assert d.core.counters.tilt_warnings == 0
    d.quat = tilted(d.core.cfg.tilt_warn_deg + 0.5)
    d.run_for(0.1)
    assert d.core.counters.tilt_warnings > 0 and d.core.state == State.ACTIVE
    assert SCHEMA["tilt_stop_deg"].read_only and SCHEMA["tilt_warn_deg"].read_only
    with pytest.raises(ConfigError, match="outside the allowed range"):
        make_core(tilt_stop_deg=60.0)
    with pytest.raises(ConfigError, match=r"tilt_warn_deg .* must be below tilt_stop_deg"):
        make_core(tilt_warn_deg=30.0, tilt_stop_deg=25.0)


def test_s12_a_broken_orientation_counts_as_a_fall():
    d = Driver(make_core())
    d.activate()
    d.quat = np.array([np.nan, 0.0, 0.0, 0.0])
    d.step()
    assert d.core.state == State.STOPPED and "(S12)" in d.core.stop_reason


def test_s12_does_not_stop_a_robot_that_is_not_commanded():
    from tests.bridge.helpers import tilted

    d = Driver(make_core())
    d.quat = tilted(80.0)  # lying on the floor before enable: IDLE stays IDLE (damping), nothing latched
    d.run_for(0.1)
    assert d.core.state == State.IDLE and d.core.counters.falls == 0


def test_velocity_quantisation_follows_the_official_client_then_s10():
    from psi0_bridge.core import quantise_velocity

    cmd = np.array([0.0, 0.0, 0.0, 0.75, 0.3, 0.35, 0.2, 0.0])
    q = quantise_velocity(cmd)
    assert q[4] == 0.35 and q[5] == 0.5 and q[6] == 0.2 and np.array_equal(q[:4], cmd[:4])
    assert quantise_velocity(np.array([0, 0, 0, 0.75, 0.25, -0.29, 0, 0]))[4:6].tolist() == [0.0, 0.0]
    assert quantise_velocity(np.array([0, 0, 0, 0.75, -0.4, -0.3, 0, 0]))[4:6].tolist() == [0.0, -0.5]
    core = make_core(velocity_quantisation="psi0_official")
    d = Driver(core)
    d.activate()
    d.chunk(hold_chunk(60, vx=0.3, vy=0.3))
    d.run_for(0.1)
    assert core.wbc_cmd[4] == 0.35 and core.wbc_cmd[5] == core.cfg.vy_max  # ±0.5 bounded by S10 again


# ---- stop kinds ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cause", ["s1_writer", "s2_state", "s9_estop", "s12_fall", "mode_machine"])
def test_damping_stops(cause):
    from tests.bridge.helpers import tilted

    d = active_driver()
    if cause == "s1_writer":
        d.core.other_writer_detected(d.t, "someone")
    elif cause == "s2_state":
        d.state_alive = False
        d.run_for(0.15)
    elif cause == "s9_estop":
        d.core.estop(d.t)
    elif cause == "s12_fall":
        d.quat = tilted(50.0)
    else:
        d.mode_machine = 9
    out = d.step()
    assert out.damping and d.core.stop_kind == "damping" and np.all(out.body.kp == 0)


def test_a_damping_cause_escalates_a_controlled_stop_and_nothing_de_escalates():
    d = active_driver()
    d.core._stop(d.t, "test (S3)", "controlled")
    assert not d.step().damping
    d.state_alive = False
    d.run_for(0.15)
    assert d.core.stop_kind == "damping" and d.outputs[-1][1].damping and "(S2)" in d.core.stop_reason
    d.core._stop(d.t, "later (S3)", "controlled")
    assert d.core.stop_kind == "damping" and d.core.counters.stops == 1


def test_reset_after_a_controlled_stop_is_active_at_once_without_dropping_the_gains():
    d = active_driver()
    d.chunk(hold_chunk(h=3, right_elbow_joint=0.7))
    d.run_for(0.8)
    assert d.core.stop_kind == "controlled"
    ok, msg = d.core.reset(d.t)
    assert ok and d.core.state == State.ACTIVE and "frozen pose" in msg
    out = d.step()
    assert np.allclose(out.body.kp[:29], d.core.kp_body) and d.q[R_ELBOW] == pytest.approx(0.7)
    assert d.chunk(hold_chunk(right_elbow_joint=0.7)) and d.core.state == State.ACTIVE


def test_restiffening_after_a_damping_stop_starts_from_the_measured_pose_and_is_refused_when_tilted():
    from tests.bridge.helpers import tilted

    d = active_driver()
    d.core.estop(d.t)
    d.run_for(0.1)
    d.quat = tilted(d.core.cfg.restiffen_max_tilt_deg + 5)
    d.step()
    ok, msg = d.core.reset(d.t)
    assert not ok and "tilted" in msg and d.core.state == State.ESTOP
    d.quat = tilted(3.0)
    d.q = d.q.copy()
    d.q[R_ELBOW] = 1.2  # the arm drooped while damped: the ramp starts there, not at the last target
    d.step()
    ok, msg = d.core.reset(d.t)
    assert ok and d.core.state == State.RAMPING
    out = d.step()
    assert out.body.q[R_ELBOW] == pytest.approx(1.2, abs=0.01) and out.body.kp[R_ELBOW] < 1.0


def test_every_default_pose_lies_inside_the_clamped_range_so_position_clamps_mean_something():
    from psi0_bridge.learned_wbc import WAIST
    from psi0_bridge.wbc_layout import layout_file, load_layout

    m = SCHEMA["position_margin"].default
    for js in (G1.body, G1.hands):
        inside = (js.default >= js.lower + m) & (js.default <= js.upper - m)
        assert inside.all(), [n for n, ok in zip(js.names, inside, strict=True) if not ok]
    for name in ("holosoma_ppo", "holosoma_fastsac", "falcon_dec_loco", "unitree_rl_lab_velocity", "unitree_rl_gym_g1"):
        layout = load_layout(layout_file(name), G1)
        for joint, q in zip(layout.joints, layout.default_pose, strict=True):
            k = G1.body.index(joint)
            if k < 15:
                assert G1.body.lower[k] + m <= q <= G1.body.upper[k] - m, (name, joint, q)
    assert set(WAIST) == {12, 13, 14}
    d = Driver(make_core())
    d.activate()
    d.chunk(hold_chunk(60))
    d.run_for(1.0)  # at rest on the default pose: nothing to clamp
    assert d.core.body_guard.position_clamps == 0 and d.core.hand_guard.position_clamps == 0


def test_s4_future_bound_is_on_the_stamping_clock():
    """Under use_sim_time a simulator at 0.3× real time maps a chunk 0.3 s ahead of sim time to 1 s ahead of the
    bridge's wall clock: the 1 s bound applies to how far ahead it is on the clock that stamped it."""
    d = active_driver()
    assert d.chunk(hold_chunk(), t0=d.t + 1.1, ahead_s=0.33)
    assert not d.chunk(hold_chunk(), t0=d.t + 1.2, ahead_s=1.2) and "1.200 s in the future" in d.core.last_error
