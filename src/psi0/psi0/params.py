"""Typed, validated node configuration (pure Python, no rclpy).

Every node declares one `Schema`: a list of `Param` entries with type, default, allowed range or
choices, a description and a read-only flag (safety values). `Schema.validate` turns a mapping of
user values into a complete, checked configuration:

- unknown keys fail loudly, with the closest known name suggested;
- wrong types and out-of-range values fail with the parameter's allowed range;
- missing keys take their defaults.

Named profiles are YAML files in the ROS 2 parameter-file layout
(``<node_name>: {ros__parameters: {...}}``), so the same file feeds ``--params-file`` on a ROS 2
install and this validator.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration value or key is invalid. The message names the node and parameter."""


_TYPES: dict[str, tuple[type, ...]] = {
    "float": (float, int),
    "int": (int,),
    "bool": (bool,),
    "str": (str,),
    "float_list": (list, tuple),
    "int_list": (list, tuple),
    "str_list": (list, tuple),
}


@dataclass(frozen=True)
class Param:
    """One parameter of a node's schema.

    kind: one of float, int, bool, str, float_list, int_list, str_list.
    range: inclusive (low, high) for numbers, applied per element for lists.
    read_only: safety values; a ROS node refuses to change them after start-up.
    """

    name: str
    kind: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    choices: tuple[Any, ...] | None = None
    read_only: bool = False
    length: int | None = None  # exact length for list kinds

    def __post_init__(self) -> None:
        if self.kind not in _TYPES:
            raise ConfigError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        # The default must pass its own checks: a schema cannot ship an invalid default.
        self.check(self.default, node="<schema>")

    def check(self, value: Any, node: str) -> Any:
        """Return `value` converted to the parameter's type, or raise ConfigError."""
        where = f"{node}.{self.name}"
        if isinstance(value, bool) and self.kind in ("float", "int", "float_list", "int_list"):
            raise ConfigError(f"{where}: expected {self.kind}, got bool {value!r}")
        if not isinstance(value, _TYPES[self.kind]):
            raise ConfigError(f"{where}: expected {self.kind}, got {type(value).__name__} {value!r}")
        if self.kind.endswith("_list"):
            elem = {"float_list": (float, int), "int_list": (int,), "str_list": (str,)}[self.kind]
            items = list(value)
            bad = [v for v in items if not isinstance(v, elem) or isinstance(v, bool)]
            if bad:
                raise ConfigError(f"{where}: list elements must be {self.kind[:-5]}, got {bad[0]!r}")
            if self.length is not None and len(items) != self.length:
                raise ConfigError(f"{where}: expected {self.length} elements, got {len(items)}")
            if self.kind == "float_list":
                items = [float(v) for v in items]
            for v in items:
                self._check_scalar(v, where)
            return items
        if self.kind == "float":
            value = float(value)
        self._check_scalar(value, where)
        return value

    def _check_scalar(self, value: Any, where: str) -> None:
        if self.range is not None and not (self.range[0] <= value <= self.range[1]):
            raise ConfigError(f"{where}={value!r} outside the allowed range [{self.range[0]}, {self.range[1]}]")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}={value!r}: must be one of {list(self.choices)}")


@dataclass(frozen=True)
class Schema:
    """The parameters of one node."""

    node: str
    params: tuple[Param, ...]
    _by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Param] = {}
        for p in self.params:
            if p.name in by_name:
                raise ConfigError(f"{self.node}: parameter {p.name!r} declared twice")
            by_name[p.name] = p
        object.__setattr__(self, "_by_name", by_name)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, values: Mapping[str, Any], ignore: Iterable[str] = ("use_sim_time",)) -> dict[str, Any]:
        """Complete and check `values`; raise ConfigError on unknown keys or bad values."""
        ignored = set(ignore)
        out = self.defaults()
        for key, value in values.items():
            if key in ignored:
                continue
            param = self._by_name.get(key)
            if param is None:
                close = difflib.get_close_matches(key, self.names(), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{self.node}: unknown parameter {key!r}{hint}")
            out[key] = param.check(value, self.node)
        return out

    def markdown(self) -> str:
        """A Markdown table of the schema, for docs/architecture.md."""
        rows = ["| parameter | type | default | range | read-only | description |", "|---|---|---|---|---|---|"]
        for p in self.params:
            allowed = f"{p.range[0]}..{p.range[1]}" if p.range else (", ".join(map(str, p.choices)) if p.choices else "")
            rows.append(
                f"| `{p.name}` | {p.kind} | `{p.default}` | {allowed} | {'yes' if p.read_only else ''} | {p.description} |"
            )
        return "\n".join(rows)


def load_param_file(path: str | Path, node_name: str) -> dict[str, Any]:
    """Read `node_name`'s parameters from a ROS 2 parameter YAML file (or `/**` wildcard section)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    merged: dict[str, Any] = {}
    for key in ("/**", node_name, "/" + node_name):
        section = data.get(key)
        if section is None:
            continue
        params = section.get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(params, dict):
            raise ConfigError(f"{path}: section {key!r} has no ros__parameters mapping")
        merged.update(params)
    return merged
