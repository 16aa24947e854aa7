"""The action-chunk contract: validation (S4), execution on the executor's clock, and offline replay (no rclpy).

One implementation serves everyone who needs to know what a stream of chunks commands: the bridge executes it,
the episode harness and the boundary-jump metrics replay what the bridge received, the bag reader turns a
recorded demonstration into per-frame actions, and the RTC simulation plays scheduler and bridge against each other.

Timing contract (docs/ARCHITECTURE.md, "Timing and real-time chunking"): row i of a chunk is due at t0 + i·dt.
The executor samples the active chunk at the current time, interpolating linearly between the two neighbouring
rows, and never extrapolates: before step 0 or after the last step it returns None (the caller holds).

Switching: a newer chunk waits as `pending` and becomes active at the first due step at or after
its committed prefix, i.e. when now ≥ t0 + prefix_len·dt. If the active chunk has run out (or
there is none) the pending chunk takes over as soon as its step 0 is due. Because the prefix equals
what the previous chunk was going to do, the switch is continuous.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    chunk_id: int
    t0: float  # s, when step 0 is due (bridge clock)
    dt: float  # s, step period
    actions: np.ndarray  # (H, D) float64, absolute
    prefix_len: int = 0

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])

    @property
    def t_end(self) -> float:
        """Time the last step is due."""
        return self.t0 + (self.horizon - 1) * self.dt

    def at(self, t: float) -> np.ndarray | None:
        """The action due at `t`, linearly interpolated between neighbouring rows; None outside [t0, t_end]."""
        u = (t - self.t0) / self.dt
        if u < 0.0 or u > self.horizon - 1:
            return None
        if self.horizon == 1:
            return self.actions[0].copy()
        i = min(int(u), self.horizon - 2)
        frac = u - i
        return (1.0 - frac) * self.actions[i] + frac * self.actions[i + 1]


class ChunkRejected(ValueError):
    """A chunk failed validation; the message says why (reported in BridgeStatus.last_error)."""


def validate_chunk(
    *,
    chunk_id: int,
    t0: float,
    dt: float,
    horizon: int,
    dim: int,
    names: Sequence[str],
    data: Sequence[float] | np.ndarray,
    prefix_len: int,
    expected_names: Sequence[str],
    previous: Chunk | None,
    max_dt: float = 0.5,
    now: float | None = None,
    max_future_s: float = 1.0,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ahead_s: float | None = None,
) -> Chunk:
    """Check every field of an incoming chunk; return it as a Chunk or raise ChunkRejected.

    `bounds`: per-column (lo, hi) (D,) arrays; a value outside is malformed (the bridge passes each joint's limits ± a
    margin, so a target of 1e6 rad is refused rather than clamped into "drive to the limit"). `ahead_s`: how far step 0
    lies in the future on the clock that stamped it (default t0 − now): what max_future_s bounds."""
    d = len(expected_names)
    if dim != d:
        raise ChunkRejected(f"chunk {chunk_id}: dim {dim} != {d}")
    if list(names) != list(expected_names):
        bad = next((i for i, (a, b) in enumerate(zip(names, expected_names, strict=False)) if a != b), min(len(names), d))
        raise ChunkRejected(f"chunk {chunk_id}: column names differ from the robot layout at column {bad}")
    if horizon < 1:
        raise ChunkRejected(f"chunk {chunk_id}: horizon {horizon} < 1")
    arr = np.asarray(data, dtype=np.float64)
    if arr.shape != (horizon * dim,):
        raise ChunkRejected(f"chunk {chunk_id}: {arr.size} values, expected horizon*dim = {horizon * dim}")
    if not (math.isfinite(dt) and 0.0 < dt <= max_dt):
        raise ChunkRejected(f"chunk {chunk_id}: step period dt={dt} outside (0, {max_dt}]")
    if not math.isfinite(t0):
        raise ChunkRejected(f"chunk {chunk_id}: non-finite stamp")
    ahead = ahead_s if ahead_s is not None else (t0 - now if now is not None else None)
    if ahead is not None and ahead > max_future_s:
        raise ChunkRejected(f"chunk {chunk_id}: step 0 is {ahead:.3f} s in the future (> {max_future_s} s)")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ChunkRejected(f"chunk {chunk_id}: non-finite value at step {bad // dim}, column {expected_names[bad % dim]}")
    if bounds is not None:
        rows = arr.reshape(horizon, dim)
        out = (rows < bounds[0]) | (rows > bounds[1])
        if out.any():
            step, col = (int(v[0]) for v in np.nonzero(out))
            raise ChunkRejected(f"chunk {chunk_id}: {expected_names[col]} = {rows[step, col]:.4g} at step {step} is far "
                                f"outside its range [{bounds[0][col]:.3g}, {bounds[1][col]:.3g}]")
    if not 0 <= prefix_len <= horizon:
        raise ChunkRejected(f"chunk {chunk_id}: prefix_len {prefix_len} outside [0, {horizon}]")
    if previous is not None:
        if chunk_id <= previous.chunk_id:
            raise ChunkRejected(f"chunk {chunk_id}: id not newer than {previous.chunk_id}")
        if t0 < previous.t0:
            raise ChunkRejected(f"chunk {chunk_id}: step 0 at {t0:.4f} s is before the previous chunk's ({previous.t0:.4f} s)")
    return Chunk(chunk_id=chunk_id, t0=t0, dt=dt, actions=arr.reshape(horizon, dim), prefix_len=prefix_len)


class ChunkExecutor:
    """Keeps the active and pending chunk and gives the action due now."""

    def __init__(self) -> None:
        self.active: Chunk | None = None
        self.pending: Chunk | None = None
        self.switches = 0

    def push(self, chunk: Chunk) -> None:
        """Queue a validated chunk (a newer pending chunk replaces an older one)."""
        self.pending = chunk

    def clear(self) -> None:
        self.active = self.pending = None

    def _maybe_switch(self, now: float) -> None:
        p = self.pending
        if p is None or now < p.t0:
            return
        active_done = self.active is None or now > self.active.t_end
        if active_done or now >= p.t0 + p.prefix_len * p.dt:
            self.active, self.pending = p, None
            self.switches += 1

    def sample(self, now: float) -> np.ndarray | None:
        """The interpolated action due at `now`, or None when no chunk covers `now` (never extrapolates)."""
        self._maybe_switch(now)
        return None if self.active is None else self.active.at(now)


# ---- what the bridge executed, replayed offline -------------------------------------------------------
@dataclass(frozen=True)
class Received:
    """A chunk and the time it arrived (on the clock its stamps use)."""

    arrival: float
    chunk: Chunk


@dataclass(frozen=True)
class Replay:
    commands: np.ndarray  # (T, D) the command at each time; where no step is due, the last one (held), else `initial`
    switched: np.ndarray  # (T,) bool: a chunk switch happened in (times[k−1], times[k]]
    due: np.ndarray  # (T,) bool: a chunk step was due at times[k] (False: the bridge holds)


def replay(chunks: Sequence[Received], times: np.ndarray, initial: np.ndarray) -> Replay:
    """Feed `chunks` at their arrival times into a ChunkExecutor and sample it at `times` (ascending), exactly as
    the bridge executes them: the harness's metrics, the bag reader and the RTC simulation all use this."""
    ex = ChunkExecutor()
    order = sorted(chunks, key=lambda r: r.arrival)
    k = 0
    last = np.asarray(initial, dtype=np.float64)
    out = np.zeros((len(times), len(last)))
    switched = np.zeros(len(times), dtype=bool)
    due = np.zeros(len(times), dtype=bool)
    for i, t in enumerate(times):
        while k < len(order) and order[k].arrival <= t:
            ex.push(order[k].chunk)
            k += 1
        before = ex.switches
        a = ex.sample(float(t))
        switched[i] = ex.switches != before
        if a is not None:
            last = a
            due[i] = True
        out[i] = last
    return Replay(out, switched, due)
