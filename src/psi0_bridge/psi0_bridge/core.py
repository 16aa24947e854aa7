"""The bridge's control core: state machine, chunk execution, whole-body controller, safety (no rclpy).

Every call takes `now` (seconds on the bridge clock), so tests drive it deterministically. The node
calls `tick(now)` at the control rate and sends what it returns.

States (BridgeStatus):
  IDLE      no command authority yet: waits for fresh LowState with an allowed mode_machine, the
            e-stop heartbeat, and `enable()` (or auto_enable). Emits damping frames once the robot
            is known (kp 0, kd = damping_kd), so motors are never left holding a stale target.
  RAMPING   S7: interpolates from the measured pose to the default pose over `ramp_s`; after a
            reset the gains also rise from 0 over `restiffen_s` (S9).
  ACTIVE    executes the due step of the active chunk (arms, hands; torso/height/velocity to the
            whole-body controller); before the first chunk it holds the default pose.
  HOLDING   S3/S4: no due chunk step for `hold_after_s`, or a chunk was rejected: holds the last
            target. A valid, due chunk returns to ACTIVE.
  STOPPED   protective stop: damping on every body motor, hands relaxed (kp 0, kd 0). Latched
            until `reset()`. Causes: S2 stale LowState > state_stop_s (see OWN_STALL_S), S3 no due step for
            stop_after_s, S4 reject_stop_count rejections in a row, S1 a second writer, a
            mode_machine outside the allow-list, S12 a base tilt beyond tilt_stop_deg (a fall).
  ESTOP     S9: like STOPPED, from the e-stop service, a False heartbeat or a heartbeat older than
            heartbeat_timeout_s. Latched until `reset()`.

S2 and the bridge's own stalls: a bridge that did not tick for OWN_STALL_S or more (a stalled process, a
page fault, CPU steal) cannot tell whether LowState stopped or is waiting in its receive socket. If the
state is then stale, that tick sends nothing instead of stopping, once per silence; the next tick stops
unless a LowState arrived meanwhile. No target is ever sent with state older than state_stop_s, and a dead
robot is still stopped one tick after the bridge resumes.

S12 falls: the IMU's tilt is checked every tick in RAMPING, ACTIVE and HOLDING (warning counter above
tilt_warn_deg, damping stop above tilt_stop_deg). A pelvis-height collapse is not detected: the robot does not
measure its pelvis height (no state estimator here); a collapse that does not tilt the base goes unseen.

The whole-body controller steps at wbc_rate_hz of *robot* time: `time_scale` is the robot's seconds per second of the
bridge clock (1 on hardware; under use_sim_time the node sets it to the simulator's measured rate, psi0_bridge.
clock_rate). A learned controller was trained at its rate in the physics' time — its gait clock advances a fixed
step per call — so a simulator at 0.7× real time stepped at 50 Hz of wall time saw it 1.4× too often and too fast
(measured: holosoma_ppo stood still for 10 s under a vx 0.17 m/s, yaw rate −0.4 rad/s command at 0.7×).

Limits: every position target passes `TargetGuard` (S5 position clamp, S6 velocity clamp), and
the whole-body command passes `LocomotionBounds` (S10), whatever the input.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psi0_bridge.bridge_config import BridgeConfig
from psi0_bridge.safety import LocomotionBounds, TargetGuard
from psi0_bridge.wbc import RobotState, WholeBodyController
from psi0_core.chunks import Chunk, ChunkExecutor, ChunkRejected, validate_chunk
from psi0_core.g1_adapter import VELOCITY as VELOCITY_SLICE
from psi0_core.g1_adapter import WBC_FIELDS, G1Adapter
from psi0_core.lowlevel import MotorTargets
from psi0_core.robot import ARM_MOTORS, BODY_MOTORS, G1, LOWER_BODY

BODY = BODY_MOTORS
CONTROLLED, DAMPING = "controlled", "damping"  # the two stop kinds
# S4 bounds of the whole-body command's columns (WBC_FIELDS order): beyond them a chunk is malformed; within them S10
# clamps. Torso roll/pitch/yaw ±π/2 rad, base height 0.3..1.2 m, vx/vy ±3 m/s, yaw rate ±3 rad/s, target yaw ±2π.
WBC_VALUE_BOUNDS = np.array([[-math.pi / 2, math.pi / 2]] * 3 + [[0.3, 1.2], [-3.0, 3.0], [-3.0, 3.0], [-3.0, 3.0],
                                                                  [-2 * math.pi, 2 * math.pi]])
_VX, _VY = WBC_FIELDS.index("vx"), WBC_FIELDS.index("vy")


class State(enum.IntEnum):  # values match psi0_msgs/BridgeStatus
    IDLE = 0
    RAMPING = 1
    ACTIVE = 2
    HOLDING = 3
    STOPPED = 4
    ESTOP = 5


@dataclass
class HandTargets:
    q: np.ndarray  # (14,) left 7 then right 7, Dex3 motor order
    kp: np.ndarray
    kd: np.ndarray


@dataclass
class Output:
    """What one tick sends. `body` None: send nothing (robot not known yet, or waiting one tick for LowState after the
    bridge's own stall). `hands` None: no hand frame this tick."""

    body: MotorTargets | None
    hands: HandTargets | None
    damping: bool = False


@dataclass
class Counters:
    chunks_received: int = 0
    chunks_rejected: int = 0
    rejected_in_a_row: int = 0
    holds: int = 0
    stops: int = 0
    lowstate_crc_errors: int = 0
    lowstate_warnings: int = 0
    locomotion_clamps: int = 0
    mode_machine_rejections: int = 0
    own_stall_waits: int = 0
    falls: int = 0  # S12 stops
    tilt_warnings: int = 0  # ticks above the S12 warning tilt


@dataclass
class _Measured:
    stamp: float = -math.inf
    q: np.ndarray = field(default_factory=lambda: np.zeros(BODY))
    dq: np.ndarray = field(default_factory=lambda: np.zeros(BODY))
    quat: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0, 0]))
    gyro: np.ndarray = field(default_factory=lambda: np.zeros(3))
    hands_q: np.ndarray | None = None
    mode_machine: int | None = None


@dataclass(frozen=True)
class _Ramp:
    """S7/S9: a ramp from the measured pose to the default pose; after a reset the gains rise too."""

    t0: float
    body_from: np.ndarray  # (29,)
    hands_from: np.ndarray  # (14,)
    duration: float  # pose ramp (s)
    gain_duration: float  # gain ramp (s), 0: full gains at once

    def alpha(self, now: float) -> float:
        return min(max((now - self.t0) / self.duration, 0.0), 1.0)

    def gain(self, now: float) -> float:
        return 1.0 if self.gain_duration <= 0 else min(max((now - self.t0) / self.gain_duration, 0.0), 1.0)

    def done(self, now: float) -> bool:
        return now - self.t0 >= self.duration and self.gain(now) >= 1.0


def base_tilt_deg(quat_wxyz: np.ndarray) -> float:
    """Angle between the base z axis and the world's vertical (deg), from the IMU orientation."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    n = w * w + x * x + y * y + z * z
    if not math.isfinite(n) or n < 1e-9:
        return 180.0  # a broken orientation is not evidence of standing
    cos_tilt = 1.0 - 2.0 * (x * x + y * y) / n
    return math.degrees(math.acos(max(-1.0, min(1.0, cos_tilt))))


def quantise_velocity(cmd: np.ndarray) -> np.ndarray:
    """The official Ψ0 deploy client's rule (real/deploy/psi-inference_rtc.py): vx 0.35 m/s when > 0.25 else 0;
    vy ±0.5 m/s when |vy| ≥ 0.3 else 0. Yaw rate, torso and height pass unchanged."""
    out = np.array(cmd, dtype=np.float64, copy=True)
    vx, vy = out[_VX], out[_VY]
    out[_VX] = 0.35 if vx > 0.25 else 0.0
    out[_VY] = 0.0 if abs(vy) < 0.3 else math.copysign(0.5, vy)
    return out


OWN_STALL_S = 0.010  # a gap between two ticks this long (5 control periods) is the bridge's own stall


class BridgeCore:
    def __init__(self, cfg: BridgeConfig, robot: G1, wbc: WholeBodyController,
                 gravity: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> None:
        self.cfg = cfg
        self.robot = robot
        self.wbc = wbc
        self.adapter = G1Adapter(robot)
        self.names = list(self.adapter.action_names)
        self.state = State.IDLE
        self.last_error = ""
        self.stop_reason = ""
        self.stop_kind = ""  # CONTROLLED or DAMPING while STOPPED; DAMPING in ESTOP
        self.frozen_action: np.ndarray | None = None
        self.counters = Counters()
        self.executor = ChunkExecutor()
        self.last_valid_chunk: Chunk | None = None
        self.newest_chunk_id = 0  # the newest id ever accepted (BridgeStatus.last_chunk_id: where new sources continue)
        self.measured = _Measured()
        self._last_tick: float | None = None
        self._waited_after_stall = False  # one wait per LowState silence
        self.heartbeat_stamp = -math.inf
        self.heartbeat_ok = False
        self.enable_requested = cfg.auto_enable
        self.bounds = LocomotionBounds.from_config(cfg)

        body = robot.body
        vel = body.velocity_limit.copy()
        arm = np.array([g == "arms" for g in body.groups])
        vel[arm] = np.minimum(vel[arm], cfg.arm_velocity_limit)
        vel[~arm] *= cfg.leg_velocity_scale
        self.body_guard = TargetGuard(body.lower, body.upper, vel, cfg.position_margin)
        hands = robot.hands
        self.hand_guard = TargetGuard(hands.lower, hands.upper, np.full(len(hands), cfg.hand_velocity_limit),
                                      cfg.position_margin)
        self.kp_body = np.array([*cfg.kp_legs, *cfg.kp_legs, *[cfg.kp_waist] * 3, *cfg.kp_arms, *cfg.kp_arms])
        self.kd_body = np.array([*cfg.kd_legs, *cfg.kd_legs, *[cfg.kd_waist] * 3, *cfg.kd_arms, *cfg.kd_arms])
        if wbc.kp is not None and wbc.kd is not None:  # a learned controller runs with the gains it was trained with
            self.kp_body[:LOWER_BODY], self.kd_body[:LOWER_BODY] = wbc.kp, wbc.kd
        # the standing pose: the controller's for motors 0..14, the robot's default for the arms
        self.standing_pose = robot.body.default.copy()
        self.standing_pose[:LOWER_BODY] = wbc.default_pose
        self.kp_hand = np.full(len(hands), cfg.kp_hands)
        self.kd_hand = np.full(len(hands), cfg.kd_hands)

        # S4: a value this far outside its column's range is malformed, not a target to clamp (a joint's limits ± the
        # margin; the whole-body command's WBC_VALUE_BOUNDS)
        lo, hi = np.empty(len(self.names)), np.empty(len(self.names))
        split_lo, split_hi = self.adapter.split(lo), self.adapter.split(hi)
        m = cfg.chunk_value_margin
        split_lo.hands[:], split_hi.hands[:] = hands.lower - m, hands.upper + m
        split_lo.arms[:], split_hi.arms[:] = body.lower[ARM_MOTORS] - m, body.upper[ARM_MOTORS] + m
        split_lo.wbc[:], split_hi.wbc[:] = WBC_VALUE_BOUNDS[:, 0], WBC_VALUE_BOUNDS[:, 1]
        self.value_bounds = (lo, hi)

        self.default_action = self.adapter.default_action()
        self.action = self.default_action.copy()  # the last action executed (36,)
        self.wbc_cmd = self.bounds.clamp(self.adapter.split(self.action).wbc)[0]
        self.lower_targets = self.standing_pose[:LOWER_BODY].copy()
        self.tilt_deg = 0.0  # S12: base tilt from the IMU, this tick
        self.max_tilt_deg = 0.0  # since the last enable/reset
        self._ramp: _Ramp | None = None
        self._last_body_tick: float | None = None
        self._last_hand_tick: float | None = None
        self._next_wbc = -math.inf
        self.time_scale = 1.0  # robot (simulated) seconds per bridge-clock second: the controller's rate is in robot time
        self._starved_since: float | None = None
        self.wbc_unsupported = tuple(wbc.unsupported)
        # feed-forward torques (arms: gravity), bounded to a fraction of each motor's torque limit
        self.gravity = gravity
        self.ff_limit = cfg.ff_torque_fraction * robot.body.effort
        self.tau_ff = np.zeros(BODY)

    # ---- inputs ------------------------------------------------------------------------------
    def on_lowstate(self, now: float, q: np.ndarray, dq: np.ndarray, quat_wxyz: np.ndarray, gyro: np.ndarray,
                    mode_machine: int, crc_ok: bool = True) -> None:
        if not crc_ok:
            self.on_bad_lowstate()
            return
        if mode_machine not in self.cfg.mode_machine_allow:
            self.counters.mode_machine_rejections += 1
            self.last_error = f"mode_machine {mode_machine} not in allow-list {list(self.cfg.mode_machine_allow)}"
            if self.state not in (State.IDLE, State.ESTOP) and not self.damping_stopped:
                self._stop(now, self.last_error)
            return
        self._waited_after_stall = False
        m = self.measured
        m.stamp, m.q, m.dq, m.quat, m.gyro, m.mode_machine = now, np.asarray(q[:BODY], float), np.asarray(dq[:BODY], float), \
            np.asarray(quat_wxyz, float), np.asarray(gyro, float), int(mode_machine)

    def on_bad_lowstate(self) -> None:
        """A LowState whose CRC failed or that did not parse: dropped and counted; it refreshes nothing (S2)."""
        self.counters.lowstate_crc_errors += 1

    def on_hand_state(self, q14: np.ndarray) -> None:
        self.measured.hands_q = np.asarray(q14, float)

    def on_heartbeat(self, now: float, ok: bool) -> None:
        self.heartbeat_stamp = now
        self.heartbeat_ok = bool(ok)
        if not ok:
            self.estop(now, "e-stop heartbeat reported False")

    def on_chunk(self, now: float, *, chunk_id: int, t0: float, dt: float, horizon: int, dim: int,
                 names: Sequence[str], data: Sequence[float] | np.ndarray, prefix_len: int,
                 ahead_s: float | None = None) -> bool:
        """Validate and queue a chunk (S4). Returns whether it was accepted. `ahead_s`: how far step 0 lies ahead on
        the clock that stamped the chunk (default: t0 − now on the bridge clock) — what chunk_max_future_s bounds."""
        self.counters.chunks_received += 1
        try:
            chunk = validate_chunk(chunk_id=chunk_id, t0=t0, dt=dt, horizon=horizon, dim=dim, names=names, data=data,
                                   prefix_len=prefix_len, expected_names=self.names, previous=self.last_valid_chunk,
                                   max_dt=self.cfg.chunk_max_dt, now=now, max_future_s=self.cfg.chunk_max_future_s,
                                   bounds=self.value_bounds, ahead_s=ahead_s)
        except ChunkRejected as e:
            c = self.counters
            c.chunks_rejected += 1
            c.rejected_in_a_row += 1
            self.last_error = str(e)
            # S4: the rejected chunk is dropped; the chunk that is executing runs on untouched (S3 decides when it has
            # run out); reject_stop_count rejections in a row are a controlled stop
            if self.state in (State.ACTIVE, State.HOLDING) and c.rejected_in_a_row >= self.cfg.reject_stop_count:
                self._stop(now, f"{c.rejected_in_a_row} rejected chunks in a row: {e}", CONTROLLED)
            return False
        self.counters.rejected_in_a_row = 0
        self.last_valid_chunk = chunk
        self.newest_chunk_id = max(self.newest_chunk_id, chunk.chunk_id)
        self.executor.push(chunk)
        return True

    def other_writer_detected(self, now: float, who: str) -> None:
        """S1: another process publishes rt/lowcmd."""
        self._stop(now, f"another rt/lowcmd writer appeared: {who}")

    # ---- operator commands ----------------------------------------------------------------------
    def enable(self, now: float) -> tuple[bool, str]:
        if self.state in (State.STOPPED, State.ESTOP):
            return False, f"latched in {self.state.name} ({self.stop_reason}); call reset first"
        if self.state != State.IDLE:
            return True, f"already {self.state.name}"
        self.enable_requested = True
        ok, why = self._can_command(now)
        return (True, "enabling: ramp starts now") if ok else (True, f"enable requested; waiting: {why}")

    def estop(self, now: float, reason: str = "e-stop service") -> None:
        if self.state != State.ESTOP:
            self.counters.stops += 1
        self.state = State.ESTOP
        self.stop_reason = reason
        self.stop_kind = DAMPING
        self._ramp = None
        self.executor.clear()

    def reset(self, now: float) -> tuple[bool, str]:
        """Leave a latched stop. After a controlled stop (the robot still stiff and balanced) the bridge is ACTIVE at
        once, holding the frozen pose until a chunk comes; after a damping stop it re-stiffens (gain ramp ≥
        restiffen_s) from the measured pose — refused while the base is tilted beyond restiffen_max_tilt_deg."""
        if self.state not in (State.STOPPED, State.ESTOP):
            return False, f"nothing to reset in state {self.state.name}"
        ok, why = self._can_command(now)
        if not ok:
            return False, f"cannot reset: {why}"
        self.counters.rejected_in_a_row = 0
        self.last_valid_chunk = None
        if self.stop_kind == CONTROLLED and self.state == State.STOPPED:
            self.stop_reason = self.stop_kind = ""
            self.state = State.ACTIVE
            self._starved_since = None
            self.max_tilt_deg = self.tilt_deg
            return True, "active again: holding the frozen pose until a chunk arrives"
        tilt = base_tilt_deg(self.measured.quat)
        if tilt > self.cfg.restiffen_max_tilt_deg:
            return False, (f"cannot reset: the base is tilted {tilt:.0f}° (> {self.cfg.restiffen_max_tilt_deg:.0f}°); "
                           "stand the robot up (gantry) first")
        self.stop_reason = self.stop_kind = ""
        self._start_ramp(now, gain_ramp=True)
        return True, "re-stiffening from the measured pose"

    # ---- the control tick -------------------------------------------------------------------
    def tick(self, now: float) -> Output:
        gap = now - self._last_tick if self._last_tick is not None else 0.0
        self._last_tick = now
        if self._wait_after_own_stall(now, gap):
            return Output(body=None, hands=None)
        self._watchdogs(now)
        if self.measured.mode_machine is None:
            return Output(body=None, hands=None)
        hands_due = self._last_hand_tick is None or now - self._last_hand_tick >= 1.0 / self.cfg.hand_rate_hz - 1e-6

        if self.state == State.IDLE and self.enable_requested and self._can_command(now)[0]:
            self._start_ramp(now, gain_ramp=False)
        if self.state in (State.IDLE, State.ESTOP) or self.damping_stopped:
            return self._damping(now, hands_due)

        gain = 1.0
        if self.state == State.RAMPING:
            gain = self._ramp_step(now)
        elif self.state in (State.ACTIVE, State.HOLDING):
            self._execute(now)  # (a stop it decides takes effect this tick: damping now, or the frozen pose)
            if self.damping_stopped:
                return self._damping(now, hands_due)

        if now >= self._next_wbc - 1e-6:
            # on a fixed grid (next += period), not now + period: that lost up to a control tick per step (50 Hz ran at
            # 45 Hz on 500 Hz ticks); after a stall it resumes half a period on, never in a burst of catch-up steps
            period = 1.0 / (self.cfg.wbc_rate_hz * self.time_scale)
            self._next_wbc = max(self._next_wbc + period, now + 0.5 * period)
            self.wbc_cmd = self._wbc_command()
            if self.state != State.RAMPING:
                self.lower_targets = self.wbc.step(self.wbc_cmd, self._robot_state())
            if self.gravity is not None:
                g = self.gravity(self.measured.q, self.measured.quat)
                self.tau_ff[ARM_MOTORS] = np.clip(np.nan_to_num(g[ARM_MOTORS]), -self.ff_limit[ARM_MOTORS],
                                                  self.ff_limit[ARM_MOTORS])

        if self.state == State.RAMPING:
            q_body = self._ramp_pose(now)
        else:
            q_body = self.adapter.body_targets(self.action, self.lower_targets)
        dt_body = now - self._last_body_tick if self._last_body_tick is not None else 0.0
        q_body = self.body_guard.apply(q_body, dt_body)
        self._last_body_tick = now

        body = MotorTargets()
        body.q[:BODY] = q_body
        body.kp[:BODY] = self.kp_body * gain
        # During a re-stiffen ramp kd blends from the damping gain, so damping is never lost.
        body.kd[:BODY] = self.kd_body * gain + self.cfg.damping_kd * (1.0 - gain)
        body.tau[:BODY] = self.tau_ff * gain
        body.enabled[:BODY] = True

        hands = None
        if hands_due:
            dt_hand = now - self._last_hand_tick if self._last_hand_tick is not None else 0.0
            q_hand = self._ramp_hands(now) if self.state == State.RAMPING else self.adapter.split(self.action).hands
            hands = HandTargets(self.hand_guard.apply(q_hand, dt_hand), self.kp_hand * gain, self.kd_hand * gain)
            self._last_hand_tick = now
        return Output(body=body, hands=hands)

    # ---- internals --------------------------------------------------------------------------------
    def _can_command(self, now: float) -> tuple[bool, str]:
        if self.measured.mode_machine is None:
            return False, "no LowState received yet"
        if self._state_stale(now):
            return False, "LowState is stale"
        heartbeat_fresh = self.heartbeat_ok and now - self.heartbeat_stamp <= self.cfg.heartbeat_timeout_s
        if self.cfg.require_heartbeat and not heartbeat_fresh:
            return False, "no e-stop heartbeat"
        return True, ""

    def _state_stale(self, now: float) -> bool:
        """S2: no LowState for longer than state_stop_s."""
        return now - self.measured.stamp > self.cfg.state_stop_s

    @property
    def damping_stopped(self) -> bool:
        return self.state == State.STOPPED and self.stop_kind == DAMPING

    def _wait_after_own_stall(self, now: float, gap: float) -> bool:
        """After the bridge's own stall, stale state may be queued, not missing: send nothing for one tick (see the
        module docstring)."""
        if (gap < OWN_STALL_S or self._waited_after_stall or not self._state_stale(now)
                or self.state in (State.IDLE, State.ESTOP) or self.damping_stopped):
            return False
        self._waited_after_stall = True
        self.counters.own_stall_waits += 1
        return True

    def _watchdogs(self, now: float) -> None:
        if self.state in (State.ESTOP, State.IDLE) or self.damping_stopped:
            return  # (a controlled stop still commands the robot: its watchdogs run, and a damping cause escalates)
        if self._state_stale(now):
            self._stop(now, f"LowState stale for {(now - self.measured.stamp) * 1e3:.0f} ms (S2)")
            return
        if now - self.measured.stamp > self.cfg.state_warn_s:
            self.counters.lowstate_warnings += 1
        self._fall_check(now)
        if self.damping_stopped:
            return
        if self.cfg.require_heartbeat and now - self.heartbeat_stamp > self.cfg.heartbeat_timeout_s:
            self.estop(now, f"e-stop heartbeat older than {self.cfg.heartbeat_timeout_s} s (S9)")

    def _stop(self, now: float, reason: str, kind: str = "damping") -> None:
        """A latched protective stop. `controlled`: the arms and hands freeze where they were commanded and the
        whole-body controller keeps balancing with zero velocity; `damping`: damping frames on every motor. A damping
        cause during a controlled stop escalates it; nothing de-escalates."""
        if self.state == State.ESTOP or (self.state == State.STOPPED and (self.stop_kind == DAMPING or kind == CONTROLLED)):
            return
        if self.state != State.STOPPED:
            self.counters.stops += 1
            self.frozen_action = self.action.copy()
            self.frozen_action[VELOCITY_SLICE] = 0.0  # stand still
            self.action = self.frozen_action
        self.state = State.STOPPED
        self.stop_kind = kind
        self.stop_reason = reason
        self.last_error = reason
        self._ramp = None
        self.executor.clear()

    def _enter_holding(self) -> None:
        if self.state != State.HOLDING:
            self.counters.holds += 1
            self.state = State.HOLDING

    def _damping(self, now: float, hands_due: bool) -> Output:
        body = MotorTargets()
        body.q[:BODY] = np.clip(np.nan_to_num(self.measured.q), self.body_guard.lower, self.body_guard.upper)  # kp is 0
        body.kd[:BODY] = self.cfg.damping_kd
        body.enabled[:BODY] = True
        hands_q = self.measured.hands_q if self.measured.hands_q is not None else self.robot.hands.default
        hands = HandTargets(np.clip(np.nan_to_num(hands_q), self.hand_guard.lower, self.hand_guard.upper),
                            np.zeros(len(hands_q)), np.zeros(len(hands_q))) if hands_due else None
        if hands_due:
            self._last_hand_tick = now
        self._last_body_tick = None  # the next commanded frame starts from the measured pose
        return Output(body=body, hands=hands, damping=True)

    def _start_ramp(self, now: float, gain_ramp: bool) -> None:
        self.state = State.RAMPING
        q_from = self.measured.q.copy()
        h_from = self.measured.hands_q.copy() if self.measured.hands_q is not None else self.robot.hands.default.copy()
        self.body_guard.reset(q_from)
        self.hand_guard.reset(h_from)
        self._last_body_tick = self._last_hand_tick = None
        self.action = self.default_action.copy()
        self.lower_targets = self.standing_pose[:LOWER_BODY].copy()
        self.max_tilt_deg = 0.0
        self.executor.clear()
        self._starved_since = None
        self._ramp = _Ramp(now, self.body_guard.previous.copy(), self.hand_guard.previous.copy(), self.cfg.ramp_s,
                           self.cfg.restiffen_s if gain_ramp else 0.0)
        self.wbc.reset(self._robot_state())

    def _ramp_step(self, now: float) -> float:
        assert self._ramp is not None
        gain = self._ramp.gain(now)
        if self._ramp.done(now):
            self.state = State.ACTIVE
            self._ramp = None
            self._starved_since = None
        return gain

    def _ramp_pose(self, now: float) -> np.ndarray:
        assert self._ramp is not None
        a = self._ramp.alpha(now)
        return (1 - a) * self._ramp.body_from + a * self.standing_pose

    def _ramp_hands(self, now: float) -> np.ndarray:
        assert self._ramp is not None
        a = self._ramp.alpha(now)
        return (1 - a) * self._ramp.hands_from + a * self.robot.hands.default

    def _execute(self, now: float) -> None:
        a = self.executor.sample(now)
        if a is not None:
            self.action = a
            self._starved_since = None
            if self.state == State.HOLDING:
                self.state = State.ACTIVE
            return
        if self.last_valid_chunk is None and self.state == State.ACTIVE:
            return  # no chunk yet since activation: hold the default pose, not stale
        pending = self.executor.pending
        if pending is not None and pending.t0 > now:
            self._starved_since = None  # a chunk is scheduled (≤ chunk_max_future_s ahead): waiting, not stale
            return
        if self._starved_since is None:
            self._starved_since = now
        starved = now - self._starved_since
        if starved >= self.cfg.stop_after_s:
            self._stop(now, f"no due chunk step for {starved * 1e3:.0f} ms (S3)", CONTROLLED)
        elif starved >= self.cfg.hold_after_s:
            self._enter_holding()

    def _fall_check(self, now: float) -> None:
        """S12: the base tilt (angle of the pelvis z axis from vertical, from the IMU): a warning above tilt_warn_deg,
        a damping stop above tilt_stop_deg (latched: re-stiffening a fallen robot is an operator's decision)."""
        self.tilt_deg = base_tilt_deg(self.measured.quat)
        self.max_tilt_deg = max(self.max_tilt_deg, self.tilt_deg)
        if self.tilt_deg > self.cfg.tilt_stop_deg:
            self.counters.falls += 1
            self._stop(now, f"base tilted {self.tilt_deg:.0f}° (> {self.cfg.tilt_stop_deg:.0f}°): fall (S12)", DAMPING)
        elif self.tilt_deg > self.cfg.tilt_warn_deg:
            self.counters.tilt_warnings += 1

    def _wbc_command(self) -> np.ndarray:
        """S10 bounds, then (optionally) the official Ψ0 client's velocity quantisation, then S10 again."""
        cmd, n = self.bounds.clamp(self.adapter.split(self.action).wbc)
        self.counters.locomotion_clamps += n
        if self.cfg.velocity_quantisation == "psi0_official":
            cmd = self.bounds.clamp(quantise_velocity(cmd))[0]
        return cmd

    def _robot_state(self) -> RobotState:
        m = self.measured
        return RobotState(q=m.q, dq=m.dq, quat_wxyz=m.quat, gyro=m.gyro, arm_targets=self.adapter.split(self.action).arms)

    # ---- reporting ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        c = self.counters
        return {
            "state": int(self.state), "state_name": self.state.name, "last_error": self.last_error,
            "stop_reason": self.stop_reason, "mode_machine": self.measured.mode_machine or 0,
            "chunks_received": c.chunks_received, "chunks_rejected": c.chunks_rejected, "holds": c.holds,
            "stops": c.stops, "lowstate_crc_errors": c.lowstate_crc_errors,
            "position_clamps": self.body_guard.position_clamps + self.hand_guard.position_clamps,
            "velocity_clamps": self.body_guard.velocity_clamps + self.hand_guard.velocity_clamps,
            "falls": c.falls, "base_tilt_deg": float(self.tilt_deg), "max_tilt_deg": float(self.max_tilt_deg),
            "stop_kind": self.stop_kind, "last_chunk_id": self.newest_chunk_id,
        }

