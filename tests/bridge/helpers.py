"""Deterministic drivers for BridgeCore: a fake clock, LowState feeding, chunk building."""

from __future__ import annotations

from typing import Any

import numpy as np

from psi0_bridge.bridge_config import BridgeConfig
from psi0_bridge.core import BridgeCore, Output
from psi0_bridge.wbc import StandController
from psi0_core.g1_adapter import action_names, default_action
from psi0_core.robot import load_g1

TICK = 0.002  # 500 Hz


def make_core(**overrides: Any) -> BridgeCore:
    cfg = BridgeConfig.from_values(overrides)
    robot = load_g1()
    return BridgeCore(cfg, robot, StandController(robot.body.default))


class Driver:
    """Runs a core tick by tick on simulated time with a robot that tracks its targets perfectly."""

    def __init__(self, core: BridgeCore, q0: np.ndarray | None = None, mode_machine: int = 5) -> None:
        self.core = core
        self.t = 100.0
        self.q = np.zeros(29) if q0 is None else q0.astype(float).copy()
        self.mode_machine = mode_machine
        self.state_alive = True
        self.quat = np.array([1.0, 0, 0, 0])  # the IMU's orientation (w, x, y, z)
        self.heartbeat_alive = True
        self.outputs: list[tuple[float, Output]] = []

    def feed(self) -> None:
        if self.state_alive:
            self.core.on_lowstate(self.t, self.q, np.zeros(29), self.quat, np.zeros(3), self.mode_machine)
        if self.heartbeat_alive:
            self.core.on_heartbeat(self.t, True)

    def step(self, n: int = 1) -> Output:
        out = None
        for _ in range(n):
            self.feed()
            out = self.core.tick(self.t)
            self.outputs.append((self.t, out))
            if out.body is not None and not out.damping:
                self.q = out.body.q[:29].copy()
            self.t += TICK
        assert out is not None
        return out

    def run_for(self, seconds: float) -> Output:
        return self.step(round(seconds / TICK))

    def activate(self) -> None:
        """Enable and finish the start-up ramp."""
        self.step()
        ok, msg = self.core.enable(self.t)
        assert ok, msg
        self.run_for(self.core.cfg.ramp_s + 0.01)
        assert self.core.state.name == "ACTIVE", self.core.state

    def chunk(self, actions: np.ndarray, t0: float | None = None, dt: float = 1 / 30, prefix_len: int = 0,
              chunk_id: int | None = None, **kw: Any) -> bool:
        self._id = getattr(self, "_id", 0) + 1
        h, d = actions.shape
        args = dict(chunk_id=self._id if chunk_id is None else chunk_id, t0=self.t if t0 is None else t0, dt=dt,
                    horizon=h, dim=d, names=action_names(), data=actions.ravel(), prefix_len=prefix_len)
        args.update(kw)
        return self.core.on_chunk(self.t, **args)


def tilted(deg: float, axis: str = "x") -> np.ndarray:
    """An IMU quaternion (w, x, y, z) tilted by `deg` about the base's x (roll) or y (pitch) axis."""
    h = np.radians(deg) / 2
    q = np.array([np.cos(h), 0.0, 0.0, 0.0])
    q[{"x": 1, "y": 2}[axis]] = np.sin(h)
    return q


def hold_chunk(h: int = 30, **changes: float) -> np.ndarray:
    """A chunk that repeats the default action, with some columns changed (by name)."""
    a = np.tile(default_action(), (h, 1))
    names = action_names()
    for name, v in changes.items():
        a[:, names.index(name)] = v
    return a
