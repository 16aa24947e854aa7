"""Real-time chunking scheduler (pure Python, no rclpy): when to infer, with which committed prefix,
and how to stamp the result (docs/ARCHITECTURE.md, "Timing and real-time chunking").

Timeline: chunk k has step i due at t0_k + i·dt. Once s_min steps of chunk k are due, the next
inference starts. The steps that will execute while it runs are already committed: with an
expected delay of d steps (estimated online from measured latencies, quantile + margin, clamped to
d_max) the request carries prefix = chunk k's steps [j, j+d) where j is the first step due at or
after the start, and the new chunk is stamped t0_{k+1} = t0_k + j·dt so that its step i lines up
with chunk k's step j+i. The bridge switches at the first due step ≥ d: continuous by construction.

Synchronous baseline (`synchronous=True`): the next inference starts only when the current chunk is used
up, carries no prefix, and the new chunk starts when it arrives — the bridge holds in between.

Degradation: if the current chunk has fewer steps left than the expected delay (inference slower
than the remaining budget), the request is still made (prefix padded by holding the last action)
and the event is counted; the bridge executes the tail, then holds. A failed or late inference
never raises here: `fail()` counts it and the next `should_start` retries.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SchedulerConfig:
    horizon: int = 30
    dt: float = 1.0 / 30.0
    s_min: int = 15  # start the next inference after this many steps of the current chunk (H/2)
    d_max: int = 10  # largest committed prefix (steps)
    margin_steps: int = 1  # safety margin added to the latency estimate
    latency_window: int = 20
    initial_latency_s: float = 0.1
    synchronous: bool = False  # baseline: infer only once the chunk is used up, no prefix, start on arrival

    def __post_init__(self) -> None:
        if not 0 < self.s_min <= self.horizon or not 0 <= self.d_max < self.horizon:
            raise ValueError("need 0 < s_min <= horizon and 0 <= d_max < horizon")


@dataclass(frozen=True)
class Request:
    started: float
    t0: float  # stamp of the new chunk's step 0
    prefix: np.ndarray | None  # (d, D) committed actions, or None
    prefix_len: int
    base_chunk_id: int | None


@dataclass(frozen=True)
class ScheduledChunk:
    chunk_id: int
    t0: float
    dt: float
    actions: np.ndarray  # (H, D)
    prefix_len: int
    latency_s: float


class ChunkScheduler:
    def __init__(self, cfg: SchedulerConfig | None = None) -> None:
        self.cfg = cfg or SchedulerConfig()
        self.current: ScheduledChunk | None = None
        self.in_flight: Request | None = None
        self.latencies: deque[float] = deque(maxlen=self.cfg.latency_window)
        self.next_id = 1
        self.degraded_events = 0
        self.failures = 0

    # ---- estimates ---------------------------------------------------------------------------
    def latency_estimate(self) -> float:
        if not self.latencies:
            return self.cfg.initial_latency_s
        return float(np.quantile(np.fromiter(self.latencies, float), 0.9))

    def delay_steps(self) -> int:
        """Expected delay d in steps: ⌈latency / dt⌉ + margin, clamped to d_max."""
        d = math.ceil(self.latency_estimate() / self.cfg.dt - 1e-9) + self.cfg.margin_steps
        return int(min(max(d, 0), self.cfg.d_max))

    # ---- protocol ------------------------------------------------------------------------------
    def should_start(self, now: float) -> bool:
        if self.in_flight is not None:
            return False
        c = self.current
        if c is None:
            return True
        steps = c.actions.shape[0] if self.cfg.synchronous else self.cfg.s_min
        return now >= c.t0 + steps * c.dt - 1e-9

    def begin(self, now: float) -> Request:
        """Start an inference at `now`: the committed prefix and the new chunk's stamp."""
        c = self.current
        if c is None or self.cfg.synchronous:  # nothing committed; step 0 due once inference is expected done
            req = Request(now, now + self.latency_estimate(), None, 0, None)
        else:
            j = max(0, math.ceil((now - c.t0) / c.dt - 1e-9))  # first step due at or after now
            d = self.delay_steps()
            h = c.actions.shape[0]
            if j + d > h:
                self.degraded_events += 1
            idx = np.minimum(np.arange(j, j + d), h - 1)  # beyond the end: hold the last action
            req = Request(now, c.t0 + j * c.dt, c.actions[idx].copy() if d else None, d, c.chunk_id)
        self.in_flight = req
        return req

    def complete(self, now: float, actions: np.ndarray) -> ScheduledChunk:
        """Inference for the in-flight request finished at `now` with actions (H, D)."""
        req = self.in_flight
        if req is None:
            raise RuntimeError("complete() without begin()")
        self.in_flight = None
        latency = now - req.started
        self.latencies.append(latency)
        if self.cfg.synchronous:  # the robot waited (held): the chunk starts where it arrives
            req = Request(req.started, max(req.t0, now), None, 0, None)
        if req.base_chunk_id is not None and req.prefix_len and now > req.t0 + req.prefix_len * self.cfg.dt:
            self.degraded_events += 1  # arrived after its prefix ran out: the bridge held meanwhile
        chunk = ScheduledChunk(self.next_id, req.t0, self.cfg.dt, np.asarray(actions), req.prefix_len, latency)
        self.next_id += 1
        self.current = chunk
        return chunk

    def fail(self, now: float) -> None:
        """The in-flight inference failed (exception, timeout): count it; the next tick retries."""
        if self.in_flight is not None:
            self.latencies.append(now - self.in_flight.started)
        self.in_flight = None
        self.failures += 1
