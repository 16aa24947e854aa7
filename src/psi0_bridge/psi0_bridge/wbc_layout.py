"""What a learned lower-body policy expects and produces: one YAML layout per policy file (pure Python, no rclpy).

A layout (config/wbc/<name>.yaml) declares, as read from the policy authors' deploy code:

    name: holosoma_ppo
    policy: pkg:holosoma_inference/models/loco/g1_29dof/ppo_g1_29dof.onnx   # see resolve_policy_path
    licence: Apache-2.0 (amazon-far/holosoma)
    rate_hz: 50
    joints: [left_hip_pitch_joint, ...]      # the policy's joint order: dof_pos / dof_vel terms, default pose
    outputs: [left_hip_pitch_joint, ...]     # the joints its action drives, in its output order (default: joints)
    default_pose: [-0.312, 0.0, ...]         # per `joints` entry (rad): observation offset and action offset
    kp: [...]                                # gains of the lower-body motors 0..14 (G1 motor order) it was
    kd: [...]                                #   trained with; read-only, within the bridge's S8 ranges
    action: {scale: 0.25, clip: 100.0}       # target = default + scale × clip(action)  (scale: number or list)
    observation:
      order: alphabetical                    # or `listed`: concatenation order of the terms
      terms:
        - {term: base_ang_vel, scale: 0.25}  # history: frames stacked per term, oldest first (default 1)
        - ...
    gait: {period: 1.0, offsets: [0.0, 3.14159], standing: hold, stand_phase: 3.14159}

Terms (sizes): base_ang_vel 3 (IMU gyro), projected_gravity 3, roll_pitch 2, dof_pos / dof_vel len(joints)
(q − default, dq), actions len(outputs) (the previous raw action), command_lin_vel 2 (vx, vy), command_ang_vel 1
(yaw rate), velocity_commands 3 (vx, vy, yaw rate), command_stand 1 (1 while walking, 0 standing),
command_waist_dofs 3 (torso yaw, roll, pitch), command_base_height 1, ref_upper_dof_pos 14 (the arm targets the
bridge commands, motors 15..28), sin_phase / cos_phase len(gait offsets), command (the listed `fields` of the
whole-body command). A term's `scale` is a number or one value per element.

Gait clock: phase_k = 2π·t/period + offset_k, t counted in controller ticks (deterministic, no wall clock).
`standing: hold` holds every phase at `stand_phase` while the velocity command is below `stand_speed` and
restarts t at 0 when walking starts; `standing: run` keeps the clock running.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from psi0_core.g1_adapter import WBC_FIELDS
from psi0_core.params import ConfigError, check_keys
from psi0_core.robot import ARM_MOTORS, G1, LOWER_BODY

TERM_SIZES_FIXED = {
    "base_ang_vel": 3, "projected_gravity": 3, "roll_pitch": 2, "command_lin_vel": 2, "command_ang_vel": 1,
    "velocity_commands": 3, "command_stand": 1, "command_waist_dofs": 3, "command_base_height": 1,
    "ref_upper_dof_pos": len(ARM_MOTORS),
}
TERMS = (*TERM_SIZES_FIXED, "dof_pos", "dof_vel", "actions", "sin_phase", "cos_phase", "command")
# the whole-body command fields each term reads (what a controller with that term can follow)
TERM_FIELDS = {
    "command_lin_vel": ("vx", "vy"), "command_ang_vel": ("yaw_rate",), "velocity_commands": ("vx", "vy", "yaw_rate"),
    "command_waist_dofs": ("torso_yaw", "torso_roll", "torso_pitch"), "command_base_height": ("base_height",),
}
_KEYS = ("name", "policy", "licence", "source", "rate_hz", "joints", "outputs", "default_pose", "kp", "kd", "action",
         "observation", "gait", "upper_body_observation", "notes")
# S8 ranges of the bridge's lower-body gains, per motor 0..14 (legs 6 + 6, waist 3)
KP_MAX = np.array([400.0] * 12 + [500.0] * 3)
KD_MAX = np.array([10.0] * 12 + [20.0] * 3)


@dataclass(frozen=True)
class Term:
    name: str
    size: int
    scale: np.ndarray  # (size,)
    history: int = 1
    fields: tuple[str, ...] = ()  # `command` term only


@dataclass(frozen=True)
class Gait:
    period: float
    offsets: tuple[float, ...]
    standing: str = "hold"  # hold | run
    stand_phase: float = 0.0
    stand_speed: float = 0.01  # |(vx, vy)| and |yaw rate| below this: standing


@dataclass(frozen=True)
class Layout:
    name: str
    policy: str
    rate_hz: float
    joints: tuple[str, ...]
    outputs: tuple[str, ...]
    default_pose: np.ndarray  # (len(joints),)
    kp: np.ndarray  # (15,) motors 0..14
    kd: np.ndarray
    action_scale: np.ndarray  # (len(outputs),)
    action_clip: float
    terms: tuple[Term, ...]  # in concatenation order
    gait: Gait | None
    licence: str = ""
    source: str = ""
    upper_body_observation: str = "measured"  # measured | policy_targets
    path: Path | None = None

    @property
    def obs_dim(self) -> int:
        return sum(t.size * t.history for t in self.terms)

    @property
    def action_dim(self) -> int:
        return len(self.outputs)

    def followed_fields(self) -> tuple[str, ...]:
        """The whole-body command fields some observation term reads."""
        used = {f for t in self.terms for f in (*TERM_FIELDS.get(t.name, ()), *t.fields)}
        return tuple(f for f in WBC_FIELDS if f in used)


def _vector(value: Any, n: int, where: str) -> np.ndarray:
    arr = np.asarray(value if isinstance(value, list | tuple) else [value] * n, dtype=np.float64)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ConfigError(f"{where}: expected one number or {n} finite numbers, got {value!r}")
    return arr


def load_layout(path: str | Path, robot: G1) -> Layout:
    """Read and check a layout file against the robot's joint names; ConfigError names what is wrong."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"learned WBC layout {path} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    where = f"learned WBC layout {path.name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    check_keys(raw, _KEYS, where)
    for key in ("policy", "joints", "default_pose", "kp", "kd", "action", "observation"):
        if key not in raw:
            raise ConfigError(f"{where}: `{key}` is missing")
    body = robot.body.names
    joints = tuple(raw["joints"])
    outputs = tuple(raw.get("outputs") or joints)
    for kind, names in (("joints", joints), ("outputs", outputs)):
        bad = [n for n in names if n not in body]
        if bad:
            raise ConfigError(f"{where}: {kind} {bad[:3]} are not G1 body joints")
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: {kind} lists a joint twice")
    default = _vector(raw["default_pose"], len(joints), f"{where}: default_pose")
    kp, kd = _vector(raw["kp"], LOWER_BODY, f"{where}: kp"), _vector(raw["kd"], LOWER_BODY, f"{where}: kd")
    if np.any(kp < 0) or np.any(kp > KP_MAX) or np.any(kd < 0) or np.any(kd > KD_MAX):
        raise ConfigError(f"{where}: kp/kd outside the bridge's S8 ranges (kp legs ≤ 400, waist ≤ 500; kd legs ≤ 10, "
                          "waist ≤ 20)")
    act = raw["action"]
    check_keys(act, ("scale", "clip"), f"{where}: action")
    gait = None
    if raw.get("gait") is not None:
        g = raw["gait"]
        check_keys(g, ("period", "offsets", "standing", "stand_phase", "stand_speed"), f"{where}: gait")
        gait = Gait(float(g["period"]), tuple(float(x) for x in g.get("offsets", [0.0])), str(g.get("standing", "hold")),
                    float(g.get("stand_phase", 0.0)), float(g.get("stand_speed", 0.01)))
        if gait.period <= 0 or gait.standing not in ("hold", "run"):
            raise ConfigError(f"{where}: gait period must be > 0 and standing one of hold, run")
    obs = raw["observation"]
    check_keys(obs, ("order", "terms"), f"{where}: observation")
    order = obs.get("order", "listed")
    if order not in ("alphabetical", "listed"):
        raise ConfigError(f"{where}: observation.order must be alphabetical or listed")
    terms = []
    for t in obs["terms"]:
        check_keys(t, ("term", "scale", "history", "fields"), f"{where}: term {t.get('term')!r}")
        name = t["term"]
        if name not in TERMS:
            raise ConfigError(f"{where}: unknown observation term {name!r}; known {list(TERMS)}")
        fields = tuple(t.get("fields", ()))
        bad = set(fields) - set(WBC_FIELDS)
        if bad:
            raise ConfigError(f"{where}: unknown command fields {sorted(bad)}; known {list(WBC_FIELDS)}")
        if name in ("sin_phase", "cos_phase") and gait is None:
            raise ConfigError(f"{where}: {name} needs a `gait`")
        size = (TERM_SIZES_FIXED.get(name) or {"dof_pos": len(joints), "dof_vel": len(joints), "actions": len(outputs),
                                                 "command": len(fields)}.get(name)
                or len(gait.offsets if gait else ()))
        history = int(t.get("history", 1))
        if history < 1:
            raise ConfigError(f"{where}: term {name}: history must be ≥ 1")
        terms.append(Term(name, size, _vector(t.get("scale", 1.0), size, f"{where}: term {name} scale"), history, fields))
    if order == "alphabetical":
        terms.sort(key=lambda x: x.name)
    return Layout(name=str(raw.get("name", path.stem)), policy=str(raw["policy"]), rate_hz=float(raw.get("rate_hz", 50.0)),
                  joints=joints, outputs=outputs, default_pose=default, kp=kp, kd=kd,
                  action_scale=_vector(act.get("scale", 1.0), len(outputs), f"{where}: action.scale"),
                  action_clip=float(act.get("clip", math.inf)), terms=tuple(terms), gait=gait,
                  licence=str(raw.get("licence", "")), source=str(raw.get("source", "")),
                  upper_body_observation=_choice(raw, "upper_body_observation", ("measured", "policy_targets"), where),
                  path=path)


def _choice(raw: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = str(raw.get(key, choices[0]))
    if value not in choices:
        raise ConfigError(f"{where}: {key} must be one of {list(choices)}, got {value!r}")
    return value


def layout_file(name_or_path: str) -> Path:
    """A layout by name (config/wbc/<name>.yaml, installed by psi0_bridge) or by path; ConfigError lists the known."""
    from psi0_core.share import share_dir

    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    folder = share_dir("psi0_bridge") / "config" / "wbc"
    candidate = folder / f"{name_or_path}.yaml"
    if not candidate.exists():
        known = sorted(f.stem for f in folder.glob("*.yaml"))
        raise ConfigError(f"learned WBC layout {name_or_path!r} not found (known: {', '.join(known)}; or give a path)")
    return candidate


def resolve_policy_path(spec: str, layout_path: Path | None = None) -> Path:
    """Where a layout's policy file is:
    - `pkg:<python package>/<path>`: inside an installed Python package (e.g. holosoma_inference);
    - `shared:<path>`: under the reference data folder ../shared/reference (never committed);
    - otherwise a path, relative to the layout file's folder when not absolute.
    FileNotFoundError says what is missing and how to get it."""
    if spec.startswith("pkg:"):
        package, _, rel = spec[4:].partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise FileNotFoundError(f"policy {spec}: Python package {package!r} is not installed "
                                    "(tools/setup.sh installs holosoma-inference with --no-deps)")
        p = Path(next(iter(found.submodule_search_locations))) / rel
    elif spec.startswith("shared:"):
        from psi0_core.share import REPO

        p = REPO.parent / "shared" / "reference" / spec[7:]
    else:
        p = Path(spec)
        if not p.is_absolute() and layout_path is not None:
            p = layout_path.parent / p
    if not p.exists():
        raise FileNotFoundError(f"policy file {p} (from {spec!r}) does not exist")
    return p
