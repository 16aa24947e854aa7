"""What the bridge executed, replayed from the ActionChunks it received, and chunk-boundary smoothness.

`executed(...)` feeds chunks, at their arrival times, into the bridge's own ChunkExecutor and samples it on a
grid; where no chunk covers a time the bridge holds its last command, and so does the replay.
`boundary_jumps(...)`: on a 30 Hz grid, the change of the commanded arm joints across each chunk switch
("jump") against the changes between grid points without a switch ("within"): real-time chunking keeps the
jumps at the scale of ordinary steps; synchronous chunking jumps after each hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psi0_bridge.chunks import Chunk, ChunkExecutor


@dataclass(frozen=True)
class Received:
    arrival: float  # s, shared clock
    chunk: Chunk


def executed(chunks: list[Received], times: np.ndarray, initial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(commands (T, D), switch flags (T,): a switch happened in (times[k−1], times[k]])."""
    ex = ChunkExecutor()
    order = sorted(chunks, key=lambda r: r.arrival)
    k = 0
    last = np.asarray(initial, dtype=np.float64)
    out = np.zeros((len(times), len(last)))
    switched = np.zeros(len(times), dtype=bool)
    for i, t in enumerate(times):
        while k < len(order) and order[k].arrival <= t:
            ex.push(order[k].chunk)
            k += 1
        before = ex.switches
        a = ex.sample(float(t))
        switched[i] = ex.switches != before
        if a is not None:
            last = a
        out[i] = last
    return out, switched


def boundary_jumps(commands: np.ndarray, switched: np.ndarray, columns: list[int]) -> dict[str, float]:
    """p99 / max of |Δ command| (max over `columns`) across switches and within chunks, in rad per grid step."""
    d = np.abs(np.diff(commands[:, columns], axis=0)).max(axis=1)
    at_switch = switched[1:]
    jumps, within = d[at_switch], d[~at_switch]
    q = lambda x, p: float(np.percentile(x, p)) if len(x) else 0.0  # noqa: E731
    return {"switches": int(at_switch.sum()), "jump_p99": q(jumps, 99), "jump_max": float(jumps.max()) if len(jumps) else 0.0,
            "within_p99": q(within, 99)}
