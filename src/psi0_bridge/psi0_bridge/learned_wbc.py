"""A learned lower-body controller (System-0): a published RL policy run at the whole-body-controller rate.

The policy file (ONNX, run with ONNX Runtime, or TorchScript, run with torch.jit; stateful modules such as
legged_gym's LSTM keep their memory between ticks and lose it on `reset`) maps a (1, obs_dim) float32
observation to a (1, action_dim) action. What the observation holds and what the action drives is the policy's
layout (wbc_layout.py), checked against the file's input/output sizes at start-up: a mismatch refuses to start.

Each tick (`step`): the observation terms are built from the measured state, the bounded whole-body command
and the arm targets the bridge commands; each term is scaled and stacked with its own history (oldest first,
padded with the first frame after a reset); the terms are concatenated in the layout's order. The raw action is
clipped (`action.clip`), a non-finite or wrongly shaped action is replaced by zeros (the default pose);
targets = default + scale × action for the outputs that are lower-body motors (0..14). Outputs for the arms
are ignored: Ψ0 drives the arms (reported in diagnostics). Lower-body motors the policy does not drive (the
waist of a 12-output leg policy) follow the torso command directly, as the stand controller does.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from psi0_bridge.wbc import RobotState
from psi0_bridge.wbc_layout import Layout, load_layout, resolve_policy_path
from psi0_core.g1_adapter import WBC_FIELDS
from psi0_core.params import ConfigError
from psi0_core.robot import G1, LOWER_BODY

_CMD = {f: i for i, f in enumerate(WBC_FIELDS)}
WAIST = {12: "torso_yaw", 13: "torso_roll", 14: "torso_pitch"}  # waist motors and the torso command they follow


def projected_gravity(quat_wxyz: np.ndarray) -> np.ndarray:
    """Gravity's direction (0, 0, −1) expressed in the base frame: (3,)."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return np.array([2 * (w * y - x * z), -2 * (w * x + y * z), -(w * w - x * x - y * y + z * z)])


def roll_pitch(quat_wxyz: np.ndarray) -> np.ndarray:
    w, x, y, z = quat_wxyz
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    return np.array([roll, pitch])


class Runner:
    """One policy file behind `run(obs) -> action` and `reset()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._buffers: list[Any] = []
        if path.suffix == ".onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # a 50 Hz MLP: threads only add wake-up latency next to the control loop
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
            self.input_name = inp.name
            self.in_dim: int | None = inp.shape[-1] if isinstance(inp.shape[-1], int) else None
            self.out_dim: int | None = out.shape[-1] if isinstance(out.shape[-1], int) else None
            self.run = lambda x: self.session.run(None, {self.input_name: x})[0]
        else:
            import torch

            module = torch.jit.load(str(path), map_location="cpu").eval()
            self.in_dim = self.out_dim = None
            # recurrent state kept as module buffers (legged_gym's exported LSTM: hidden_state, cell_state)
            self._buffers = [b for n, b in module.named_buffers() if n.endswith(("hidden_state", "cell_state"))]

            def run(x: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return module(torch.from_numpy(x)).numpy()

            self.run = run

    @property
    def stateful(self) -> bool:
        return bool(self._buffers)

    def reset(self) -> None:
        for b in self._buffers:
            b.zero_()


class GaitClock:
    """The gait phase of each foot, advanced by the controller's own ticks (deterministic)."""

    def __init__(self, period: float, offsets: tuple[float, ...], standing: str, stand_phase: float, dt: float) -> None:
        self.period, self.offsets, self.standing, self.stand_phase, self.dt = period, np.array(offsets), standing, \
            stand_phase, dt
        self.ticks = 0

    def reset(self) -> None:
        self.ticks = 0

    def phase(self, walking: bool) -> np.ndarray:
        """Phase angles (rad) for this tick, then advance."""
        if self.standing == "hold" and not walking:
            self.ticks = 0  # walking starts at phase `offsets`
            return np.full(len(self.offsets), self.stand_phase)
        p = 2 * math.pi * self.ticks * self.dt / self.period + self.offsets
        self.ticks += 1
        return np.mod(p + math.pi, 2 * math.pi) - math.pi


class LearnedController:
    def __init__(self, layout: Layout, runner: Runner, robot: G1, rate_hz: float) -> None:
        if abs(layout.rate_hz - rate_hz) > 1e-6:
            raise ConfigError(f"learned WBC {layout.name}: trained at {layout.rate_hz} Hz, the bridge runs its "
                              f"whole-body controller at {rate_hz} Hz (set wbc_rate_hz)")
        if runner.in_dim is not None and runner.in_dim != layout.obs_dim:
            raise ConfigError(f"learned WBC {layout.name}: layout gives {layout.obs_dim} observation values, "
                              f"policy expects {runner.in_dim}")
        if runner.out_dim is not None and runner.out_dim != layout.action_dim:
            raise ConfigError(f"learned WBC {layout.name}: policy outputs {runner.out_dim} values, layout declares "
                              f"{layout.action_dim}")
        self.layout, self.runner, self.name = layout, runner, layout.name
        body = robot.body.names
        self.joint_motor = np.array([body.index(n) for n in layout.joints])
        self.out_motor = np.array([body.index(n) for n in layout.outputs])
        self.lower_out = np.flatnonzero(self.out_motor < LOWER_BODY)  # output indices that drive motors 0..14
        pose = dict(zip(layout.joints, layout.default_pose, strict=True))
        self.joint_default = layout.default_pose
        self.out_default = np.array([pose.get(n, robot.body.default[body.index(n)]) for n in layout.outputs])
        # the standing pose of motors 0..14 the bridge ramps to: the policy's default where it has one
        self.default_pose = np.array([pose.get(body[m], robot.body.default[m]) for m in range(LOWER_BODY)])
        self.kp, self.kd = layout.kp.copy(), layout.kd.copy()
        self.open_loop_waist = [m for m in WAIST if m not in self.out_motor[self.lower_out]]
        followed = set(layout.followed_fields()) | {WAIST[m] for m in self.open_loop_waist}
        self.unsupported = tuple(f for f in WBC_FIELDS if f not in followed)
        self.ignored_outputs = tuple(n for n, m in zip(layout.outputs, self.out_motor, strict=True) if m >= LOWER_BODY)
        # upper_body_observation: policy_targets — joints the policy outputs for the arms are observed at the targets
        # it commands (held still), not where Ψ0 has moved them: (joint indices, output indices)
        self.own_arms: tuple[np.ndarray, np.ndarray] | None = None
        if layout.upper_body_observation == "policy_targets":
            pairs = [(i, layout.outputs.index(n)) for i, n in enumerate(layout.joints)
                     if n in layout.outputs and self.joint_motor[i] >= LOWER_BODY]
            self.own_arms = (np.array([p[0] for p in pairs], dtype=int), np.array([p[1] for p in pairs], dtype=int))
        g = layout.gait
        self.clock = GaitClock(g.period, g.offsets, g.standing, g.stand_phase, 1.0 / rate_hz) if g else None
        self.stand_speed = g.stand_speed if g else 0.01
        self.last_action = np.zeros(layout.action_dim)
        self.history: dict[str, deque[np.ndarray]] = {t.name: deque(maxlen=t.history) for t in layout.terms}
        self.obs_dim = layout.obs_dim
        self.steps = 0
        self.bad_actions = 0

    @classmethod
    def load(cls, layout_path: str | Path, robot: G1, rate_hz: float = 50.0, policy_path: str = "") -> LearnedController:
        layout = load_layout(layout_path, robot)
        try:
            path = Path(policy_path) if policy_path else resolve_policy_path(layout.policy, layout.path)
        except FileNotFoundError as e:
            raise ConfigError(f"learned WBC {layout.name}: {e}") from e
        if not path.exists():
            raise ConfigError(f"learned WBC policy {path} does not exist")
        return cls(layout, Runner(path), robot, rate_hz)

    # ---- observation ---------------------------------------------------------------------------
    def _walking(self, cmd: np.ndarray) -> bool:
        return math.hypot(cmd[_CMD["vx"]], cmd[_CMD["vy"]]) > self.stand_speed or abs(cmd[_CMD["yaw_rate"]]) > \
            self.stand_speed

    def _term(self, name: str, fields: tuple[str, ...], cmd: np.ndarray, s: RobotState, phase: np.ndarray | None,
              walking: bool) -> np.ndarray:
        c = lambda *f: np.array([cmd[_CMD[x]] for x in f])  # noqa: E731
        if name == "base_ang_vel":
            return s.gyro
        if name == "projected_gravity":
            return projected_gravity(s.quat_wxyz)
        if name == "roll_pitch":
            return roll_pitch(s.quat_wxyz)
        if name == "dof_pos":
            q = s.q[self.joint_motor].copy()
            if self.own_arms is not None:  # the arms as the policy itself commands them (see upper_body_observation)
                q[self.own_arms[0]] = (self.out_default + self.layout.action_scale * self.last_action)[self.own_arms[1]]
            return q - self.joint_default
        if name == "dof_vel":
            dq = s.dq[self.joint_motor].copy()
            if self.own_arms is not None:
                dq[self.own_arms[0]] = 0.0
            return dq
        if name == "actions":
            return self.last_action
        if name == "command_lin_vel":
            return c("vx", "vy")
        if name == "command_ang_vel":
            return c("yaw_rate")
        if name == "velocity_commands":
            return c("vx", "vy", "yaw_rate")
        if name == "command_stand":
            return np.array([1.0 if walking else 0.0])
        if name == "command_waist_dofs":
            return c("torso_yaw", "torso_roll", "torso_pitch")
        if name == "command_base_height":
            return c("base_height")
        if name == "ref_upper_dof_pos":
            return s.arm_targets if s.arm_targets is not None else s.q[LOWER_BODY:]
        if name == "sin_phase":
            return np.sin(phase)
        if name == "cos_phase":
            return np.cos(phase)
        return c(*fields)  # "command"

    def observation(self, cmd: np.ndarray, s: RobotState) -> np.ndarray:
        """(1, obs_dim) float32 for this tick (advances the gait clock and the term histories)."""
        walking = self._walking(cmd)
        phase = self.clock.phase(walking) if self.clock is not None else None
        parts = []
        for t in self.layout.terms:
            v = np.asarray(self._term(t.name, t.fields, cmd, s, phase, walking), dtype=np.float64) * t.scale
            h = self.history[t.name]
            while len(h) < t.history - 1:  # after a reset: pad with the first frame
                h.append(v)
            h.append(v)
            parts.extend(h)
        return np.concatenate(parts)[None].astype(np.float32)

    # ---- WholeBodyController -------------------------------------------------------------------
    def reset(self, state: RobotState) -> None:
        self.last_action = np.zeros(self.layout.action_dim)
        for h in self.history.values():
            h.clear()
        self.runner.reset()
        if self.clock is not None:
            self.clock.reset()

    def step(self, cmd: np.ndarray, state: RobotState) -> np.ndarray:
        raw = np.asarray(self.runner.run(self.observation(cmd, state)), dtype=np.float64).reshape(-1)
        self.steps += 1
        if raw.shape != (self.layout.action_dim,) or not np.all(np.isfinite(raw)):
            self.bad_actions += 1
            raw = np.zeros(self.layout.action_dim)  # a broken output holds the default pose; the guard clamps anyway
        raw = np.clip(raw, -self.layout.action_clip, self.layout.action_clip)
        self.last_action = raw
        target = self.out_default + self.layout.action_scale * raw
        q = self.default_pose.copy()
        q[self.out_motor[self.lower_out]] = target[self.lower_out]
        for m in self.open_loop_waist:
            q[m] = cmd[_CMD[WAIST[m]]]
        return q

    def diagnostics(self) -> dict[str, str]:
        return {"wbc_controller": self.name, "wbc_unsupported": ",".join(self.unsupported),
                "wbc_ignored_outputs": (f"{len(self.ignored_outputs)} arm joints (Ψ0 drives the arms)"
                                        if self.ignored_outputs else ""),
                "wbc_steps": str(self.steps), "wbc_bad_actions": str(self.bad_actions),
                "wbc_stateful": str(self.runner.stateful)}
