"""Simulated time-line of policy + bridge for real-time vs synchronous chunking (pure, no rclpy).

The policy side is a ChunkScheduler and a `policy_fn`; inference takes an injected delay (sim
seconds); the bridge side is the chunk contract's ChunkExecutor (psi0_core.chunks) sampled at the control rate. Used by the
scheduler tests and benchmarks/rtc_smoothness.

Modes:
- "rtc": the next inference starts after s_min steps, with the committed prefix (docs/ARCHITECTURE.md);
- "sync": the next inference starts when the current chunk has run out; no prefix (the classic
  synchronous chunking baseline: the robot holds while the model thinks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from psi0_core.chunks import Chunk, ChunkExecutor
from psi0_policy.rtc import ChunkScheduler, SchedulerConfig

PolicyFn = Callable[[np.ndarray | None, int], np.ndarray]  # (prefix (d, D) | None, d) → actions (H, D)


@dataclass
class SimResult:
    mode: str
    delay_s: float
    # discontinuity at each switch: max over joints of |new chunk − old chunk| at the switch time (or vs the
    # held command when the old chunk had run out)
    boundary_jumps: list[float] = field(default_factory=list)
    # step-to-step change inside chunks: max over joints of |a[i+1] − a[i]| for every step of every chunk
    within_steps: list[float] = field(default_factory=list)
    starved_ticks: int = 0  # ticks with no due step after the first chunk (the bridge holds)
    ticks: int = 0
    chunks: int = 0
    degraded_events: int = 0

    def summary(self) -> dict[str, float]:
        within = np.asarray(self.within_steps) if self.within_steps else np.zeros(1)
        jumps = np.asarray(self.boundary_jumps) if self.boundary_jumps else np.zeros(1)
        return {
            "mode": self.mode, "delay_ms": round(self.delay_s * 1e3), "chunks": self.chunks,
            "boundary_jump_p99": float(np.percentile(jumps, 99)), "boundary_jump_max": float(jumps.max()),
            "within_step_p99": float(np.percentile(within, 99)), "starved_ticks": self.starved_ticks,
            "idle_fraction": self.starved_ticks / max(self.ticks, 1), "degraded_events": self.degraded_events,
        }


def simulate(policy_fn: PolicyFn, delay_s: float, duration_s: float = 6.0, mode: str = "rtc",
             cfg: SchedulerConfig | None = None, control_dt: float = 0.002) -> SimResult:
    cfg = cfg or SchedulerConfig()
    sched = ChunkScheduler(cfg)
    sched.latencies.append(delay_s)  # a warm estimate, as after the first few chunks on a robot
    ex = ChunkExecutor()
    res = SimResult(mode, delay_s)
    pending: tuple[float, np.ndarray] | None = None  # (delivery time, actions)
    last_cmd: np.ndarray | None = None
    now = 0.0
    steps = round(duration_s / control_dt)
    for _ in range(steps):
        # deliveries first (the bridge sees a chunk the moment it arrives)
        if pending is not None and now >= pending[0] - 1e-12:
            sc = sched.complete(now, pending[1])
            actions = np.asarray(sc.actions, dtype=np.float64)
            ex.push(Chunk(sc.chunk_id, sc.t0, sc.dt, actions, sc.prefix_len))
            res.within_steps.extend(np.abs(np.diff(actions, axis=0)).max(axis=1).tolist())
            pending = None
            res.chunks += 1
        start = sched.should_start(now) if mode == "rtc" else (
            sched.in_flight is None and (sched.current is None or now > sched.current.t0 + (cfg.horizon - 1) * cfg.dt))
        if start:
            req = sched.begin(now)
            if mode == "sync":  # no prefix; the new chunk starts when it arrives
                sched.in_flight = req = type(req)(req.started, now + delay_s, None, 0, req.base_chunk_id)
            actions = policy_fn(req.prefix, req.prefix_len)
            pending = (now + delay_s, actions)
        switches, before = ex.switches, ex.active
        cmd = ex.sample(now)
        res.ticks += 1
        if cmd is None:
            if last_cmd is not None:
                res.starved_ticks += 1
        else:
            if ex.switches != switches and last_cmd is not None:
                old = before.at(now) if before is not None else None
                res.boundary_jumps.append(float(np.max(np.abs(cmd - (old if old is not None else last_cmd)))))
            last_cmd = cmd
        now += control_dt
    res.degraded_events = sched.degraded_events
    return res
