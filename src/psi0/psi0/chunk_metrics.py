"""Chunk-boundary smoothness of what the bridge executed (replayed with psi0_core.chunks.replay).

`boundary_jumps(...)`: on a 30 Hz grid, the change of the commanded arm joints across each chunk switch ("jump")
against the changes between grid points without a switch ("within"): real-time chunking keeps the jumps at the
scale of ordinary steps; synchronous chunking jumps after each hold.
"""

from __future__ import annotations

import numpy as np


def boundary_jumps(commands: np.ndarray, switched: np.ndarray, columns: list[int]) -> dict[str, float]:
    """p99 / max of |Δ command| (max over `columns`) across switches and within chunks, in rad per grid step."""
    d = np.abs(np.diff(commands[:, columns], axis=0)).max(axis=1)
    at_switch = switched[1:]
    jumps, within = d[at_switch], d[~at_switch]
    q = lambda x, p: float(np.percentile(x, p)) if len(x) else 0.0  # noqa: E731
    return {"switches": int(at_switch.sum()), "jump_p99": q(jumps, 99), "jump_max": float(jumps.max()) if len(jumps) else 0.0,
            "within_p99": q(within, 99)}
