"""A learned lower-body controller (AMO-style RL policy) loaded from a file, run at the WBC rate.

The operator supplies two files:
- the policy: ONNX (`.onnx`, run with ONNX Runtime) or TorchScript (`.pt`/`.ts`, run with
  torch.jit), mapping a (1, obs_dim) float32 observation to a (1, action_dim) action;
- a layout YAML declaring the observation terms in order, the history length and the action
  scaling, e.g.

      observation:
        - {term: ang_vel, scale: 0.25}          # 3: IMU angular velocity
        - {term: roll_pitch}                    # 2: from the IMU quaternion
        - {term: joint_pos, scale: 1.0}         # 15: lower-body q - default pose
        - {term: joint_vel, scale: 0.05}        # 15: lower-body dq
        - {term: last_action}                   # action_dim: previous raw action
        - {term: command, fields: [vx, vy, yaw_rate, base_height, torso_roll, torso_pitch, torso_yaw]}
      history: 5                                # frames stacked, oldest first (0: current only)
      action: {dim: 15, scale: 0.25, clip: 10.0}

Targets = default pose + scale × clip(action) for motors 0..14 (legs, waist). The layout is checked
against the policy's input/output shapes at load time: a mismatch refuses to start. Command
fields not listed under `command` are reported as unsupported in BridgeStatus diagnostics.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from psi0.params import ConfigError
from psi0_bridge.wbc import CMD_FIELDS, LOWER_BODY, RobotState

_TERM_SIZES = {"ang_vel": 3, "roll_pitch": 2, "joint_pos": LOWER_BODY, "joint_vel": LOWER_BODY}


def roll_pitch(quat_wxyz: np.ndarray) -> np.ndarray:
    w, x, y, z = quat_wxyz
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    return np.array([roll, pitch])


class _Runner:
    def __init__(self, path: Path) -> None:
        if path.suffix == ".onnx":
            import onnxruntime as ort

            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
            self.input_name = inp.name
            self.in_dim, self.out_dim = inp.shape[-1], out.shape[-1]
            self.run = lambda x: self.session.run(None, {self.input_name: x})[0]
        else:
            import torch

            module = torch.jit.load(str(path), map_location="cpu").eval()
            self.in_dim = self.out_dim = None

            def run(x: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return module(torch.from_numpy(x)).numpy()

            self.run = run


class LearnedController:
    name = "learned"

    def __init__(self, runner: _Runner, layout: dict[str, Any], default_pose: np.ndarray) -> None:
        self.runner = runner
        self.default = np.asarray(default_pose[:LOWER_BODY], dtype=np.float64)
        self.terms = layout["observation"]
        act = layout["action"]
        self.action_dim = int(act["dim"])
        if self.action_dim != LOWER_BODY:
            raise ConfigError(f"learned WBC: action dim {self.action_dim} != {LOWER_BODY} lower-body motors")
        self.action_scale = float(act.get("scale", 1.0))
        self.action_clip = float(act.get("clip", math.inf))
        self.history = int(layout.get("history", 0))
        used = set()
        for t in self.terms:
            if t["term"] == "command":
                bad = set(t["fields"]) - set(CMD_FIELDS)
                if bad:
                    raise ConfigError(f"learned WBC: unknown command fields {sorted(bad)}; known {CMD_FIELDS}")
                used |= set(t["fields"])
            elif t["term"] not in (*_TERM_SIZES, "last_action"):
                raise ConfigError(f"learned WBC: unknown observation term {t['term']!r}")
        self.unsupported = tuple(f for f in CMD_FIELDS if f not in used)
        self.frame_dim = sum(self._term_size(t) for t in self.terms)
        self.obs_dim = self.frame_dim * (self.history + 1)
        if runner.in_dim is not None and runner.in_dim != self.obs_dim:
            raise ConfigError(f"learned WBC: layout gives {self.obs_dim} observation values, policy expects {runner.in_dim}")
        if runner.out_dim is not None and runner.out_dim != self.action_dim:
            raise ConfigError(f"learned WBC: policy outputs {runner.out_dim} values, layout declares {self.action_dim}")
        self.last_action = np.zeros(self.action_dim)
        self.frames: deque[np.ndarray] = deque(maxlen=self.history + 1)

    @classmethod
    def load(cls, policy_path: str, layout_path: str, default_pose: np.ndarray) -> LearnedController:
        p = Path(policy_path)
        if not p.exists():
            raise ConfigError(f"learned WBC policy {p} does not exist")
        if not layout_path or not Path(layout_path).exists():
            raise ConfigError(f"learned WBC layout {layout_path!r} does not exist")
        return cls(_Runner(p), yaml.safe_load(Path(layout_path).read_text()), default_pose)

    def _term_size(self, t: dict[str, Any]) -> int:
        if t["term"] == "command":
            return len(t["fields"])
        if t["term"] == "last_action":
            return self.action_dim
        return _TERM_SIZES[t["term"]]

    def _frame(self, cmd: np.ndarray, s: RobotState) -> np.ndarray:
        parts = []
        for t in self.terms:
            k = t["term"]
            if k == "ang_vel":
                v = s.gyro
            elif k == "roll_pitch":
                v = roll_pitch(s.quat_wxyz)
            elif k == "joint_pos":
                v = s.q[:LOWER_BODY] - self.default
            elif k == "joint_vel":
                v = s.dq[:LOWER_BODY]
            elif k == "last_action":
                v = self.last_action
            else:
                v = np.array([cmd[CMD_FIELDS.index(f)] for f in t["fields"]])
            parts.append(np.asarray(v, dtype=np.float64) * float(t.get("scale", 1.0)))
        return np.concatenate(parts)

    def observation(self, cmd: np.ndarray, s: RobotState) -> np.ndarray:
        """(1, obs_dim) float32: history frames, oldest first (padded with the first frame)."""
        frame = self._frame(cmd, s)
        while len(self.frames) < self.frames.maxlen:
            self.frames.append(frame)
        self.frames.append(frame)
        return np.concatenate(list(self.frames))[None].astype(np.float32)

    def reset(self, state: RobotState) -> None:
        self.last_action = np.zeros(self.action_dim)
        self.frames.clear()

    def step(self, cmd: np.ndarray, state: RobotState) -> np.ndarray:
        raw = np.asarray(self.runner.run(self.observation(cmd, state)), dtype=np.float64).reshape(-1)
        if raw.shape != (self.action_dim,) or not np.all(np.isfinite(raw)):
            raw = np.zeros(self.action_dim)  # a broken output holds the default pose; the guard clamps anyway
        self.last_action = raw
        return self.default + self.action_scale * np.clip(raw, -self.action_clip, self.action_clip)
