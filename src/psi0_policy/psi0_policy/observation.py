"""Observation assembly for the policy node (pure: no rclpy).

State: the G1 adapter's 36-D state (psi0_core.g1_adapter) from the newest joint_states (by name) and the torso
roll/pitch/yaw and base height commanded at the control step before the observation — the row of the last
published chunk one step before the one in force at the observation's time (the official server's A[s − 2] for an
observation at step s, the datasets' "previous command"); nominal before the first chunk. Images: the newest frame
per camera with its capture stamp (kept by the node).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from psi0_core.g1_adapter import G1Adapter


class StateBuilder:
    def __init__(self, adapter: G1Adapter) -> None:
        self.adapter = adapter
        self.commanded = adapter.default_commanded()  # torso roll, pitch, yaw, base height before any chunk
        self._chunks: list[tuple[float, float, np.ndarray]] = []
        self.joints: dict[str, float] = {}
        self.stamp: float | None = None

    def update_joints(self, names: Sequence[str], positions: Sequence[float], stamp: float) -> None:
        for n, q in zip(names, positions, strict=False):
            self.joints[n] = float(q)
        self.stamp = stamp

    def update_chunk(self, t0: float, dt: float, actions: np.ndarray) -> None:
        """Remember a published chunk: step k of `actions` (H, 36) is in force from t0 + k·dt (the last two are kept:
        a new chunk's first step lies ahead of an observation taken just after it was published)."""
        self._chunks = [*self._chunks[-1:], (float(t0), float(dt), np.asarray(actions, dtype=np.float64))]

    def commanded_at(self, t: float) -> np.ndarray:
        """The torso rpy + height (4,) commanded one control step before the step in force at time t."""
        for t0, dt, actions in reversed(self._chunks):  # the newest chunk that had a step before t
            k = int(np.floor((t - t0) / dt + 1e-9)) - 1
            if k >= 0:
                return self.adapter.commanded(actions[min(k, len(actions) - 1)])
        return self.commanded

    def missing(self) -> list[str]:
        return self.adapter.missing_joints(self.joints)

    def state(self, at: float = math.inf) -> np.ndarray:
        """(36,) for an observation at time `at` (default: after every known step); call once `missing()` is empty
        (KeyError names the joints that are not known yet)."""
        return self.adapter.state_from_joints(self.joints, self.commanded_at(at))
