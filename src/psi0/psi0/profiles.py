"""Profiles: the one description of which nodes make up a deployment (pure Python, no rclpy).

A profile is `config/profiles/<name>.yaml`:

    description: one line
    arguments:               # launch arguments and their defaults
      namespace: ""
    nodes:
      - name: bridge         # node name (also the log file name)
        package: psi0_bridge
        executable: bridge_node
        params: [config/params/bridge.yaml]   # relative to the psi0 share folder (psi0_core.share)
        overrides: {network_interface: "${network_interface}"}
        required: true       # the launcher stops everything when a required node exits

Both `psi0 up <profile>` (launcher.py) and `launch/*.launch.py` call `load_profile`, so the two
cannot drift. `${arg}` substitutes a launch argument; values are then parsed as YAML scalars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from psi0_core.params import ConfigError, check_keys
from psi0_core.share import share_dir

_SUBST = re.compile(r"\$\{(\w+)\}")
_NODE_KEYS = {"name", "package", "executable", "params", "overrides", "required", "env"}


@dataclass(frozen=True)
class NodeSpec:
    name: str
    package: str
    executable: str
    namespace: str = ""
    params: tuple[str, ...] = ()  # absolute paths to parameter files
    overrides: dict[str, Any] = field(default_factory=dict)
    required: bool = True
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    arguments: dict[str, str]
    nodes: tuple[NodeSpec, ...]


def known_profiles() -> list[str]:
    """The installed profiles' names (config/profiles/*.yaml)."""
    return sorted(x.stem for x in (share_dir() / "config" / "profiles").glob("*.yaml"))


def profile_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p.resolve()
    candidate = share_dir() / "config" / "profiles" / f"{name_or_path}.yaml"
    if not candidate.exists():
        raise ConfigError(f"unknown profile {name_or_path!r}; known profiles: {', '.join(known_profiles())}")
    return candidate


def _substitute(value: Any, args: dict[str, str]) -> Any:
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in args:
                raise ConfigError(f"undefined launch argument ${{{m.group(1)}}}")
            return str(args[m.group(1)])

        replaced = _SUBST.sub(repl, value)
        return yaml.safe_load(replaced) if replaced != value and replaced != "" else replaced
    if isinstance(value, list):
        return [_substitute(v, args) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, args) for k, v in value.items()}
    return value


def load_profile(name_or_path: str, args: dict[str, str] | None = None) -> Profile:
    """Load a profile and resolve its arguments; unknown argument names fail loudly."""
    path = profile_path(name_or_path)
    data = yaml.safe_load(path.read_text()) or {}
    declared = {str(k): "" if v is None else str(v) for k, v in (data.get("arguments") or {}).items()}
    given = dict(args or {})
    unknown = set(given) - set(declared)
    if unknown:
        raise ConfigError(f"profile {path.stem}: unknown argument(s) {sorted(unknown)}; known: {sorted(declared)}")
    resolved = {**declared, **given}
    base = path.parent.parent.parent if path.parent.name == "profiles" else path.parent
    nodes = []
    for raw in data.get("nodes") or []:
        check_keys(raw, sorted(_NODE_KEYS), f"profile {path.stem}: node {raw.get('name')!r}")
        params = []
        for rel in raw.get("params") or []:
            f = Path(_substitute(rel, resolved))
            f = f if f.is_absolute() else base / f
            if not f.exists():
                raise ConfigError(f"profile {path.stem}: parameter file {f} does not exist")
            params.append(str(f))
        nodes.append(
            NodeSpec(
                name=raw["name"],
                package=raw["package"],
                executable=raw["executable"],
                namespace=resolved.get("namespace", ""),
                params=tuple(params),
                overrides={k: v for k, v in _substitute(raw.get("overrides") or {}, resolved).items() if v != ""},
                required=bool(raw.get("required", True)),
                env={k: str(v) for k, v in _substitute(raw.get("env") or {}, resolved).items()},
            )
        )
    return Profile(path.stem, str(data.get("description", "")), resolved, tuple(nodes))


def ros_args(spec: NodeSpec) -> list[str]:
    """The `--ros-args ...` part of a node's command line."""
    out = ["--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        out += ["-r", f"__ns:={spec.namespace if spec.namespace.startswith('/') else '/' + spec.namespace}"]
    for f in spec.params:
        out += ["--params-file", f]
    for k, v in spec.overrides.items():
        out += ["-p", f"{k}:={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"]
    return out
