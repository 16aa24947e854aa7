"""Typed, validated configuration (pure Python, no rclpy).

A node's configuration is one frozen dataclass derived from `NodeConfig`; each field is declared with
`param(...)` (default, description, allowed range or choices, exact list length, read-only flag for
safety values), and its type annotation gives the parameter's kind:

    @dataclass(frozen=True)
    class HeartbeatConfig(NodeConfig, node="estop_heartbeat"):
        rate_hz: float = param(20.0, "heartbeat rate", range=(2.0, 200.0))
        topic: str = param("estop", "heartbeat topic")

        def check(self) -> None:            # cross-field rules, run on every construction
            require(self.rate_hz < 100 or self.topic != "", "...")

Construction validates every field (type, range, choices, length; lists become tuples) and then runs
`check()`: an instance that exists is valid. `Config.from_values(mapping)` is the entry point for user
input: unknown keys fail loudly with the closest known name (`check_keys`, the one unknown-key validator of
the project), missing keys take their defaults. `Config.schema()` is the same declaration as a `Schema` of
`Param`s, which drives the ROS parameter descriptors (ros_params.py), `psi0 params` and docs/parameters.md.

Parameter files are YAML in the ROS 2 layout (``<node_name>: {ros__parameters: {...}}``), so the same file
feeds ``--params-file`` on a ROS 2 install and this validator.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml


class ConfigError(ValueError):
    """A configuration value or key is invalid. The message names the node (or file) and the key."""


def check_keys(given: Iterable[str], known: Iterable[str], where: str, error: type[ConfigError] = ConfigError,
               what: str = "key") -> None:
    """Raise `error` naming the first unknown key of `given` (and the closest known one)."""
    known = list(known)
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise error(f"{where}: unknown {what} {key!r}{hint}")


def require(ok: bool, message: str, error: type[ConfigError] = ConfigError) -> None:
    """A cross-field rule: raise `error(message)` unless `ok`."""
    if not ok:
        raise error(message)


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
        """Return `value` converted to the parameter's type (lists as lists), or raise ConfigError."""
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
        given = {k: v for k, v in values.items() if k not in ignored}
        check_keys(given, self.names(), self.node, what="parameter")
        out = self.defaults()
        for key, value in given.items():
            out[key] = self._by_name[key].check(value, self.node)
        return out

    def markdown(self) -> str:
        """A Markdown table of the schema, for docs/parameters.md and `psi0 params`."""
        rows = ["| parameter | type | default | range | read-only | description |", "|---|---|---|---|---|---|"]
        for p in self.params:
            allowed = f"{p.range[0]}..{p.range[1]}" if p.range else (", ".join(map(str, p.choices)) if p.choices else "")
            default = list(p.default) if isinstance(p.default, tuple) else p.default
            rows.append(
                f"| `{p.name}` | {p.kind} | `{default}` | {allowed} | {'yes' if p.read_only else ''} | {p.description} |"
            )
        return "\n".join(rows)


# ---- typed node configurations ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    description: str
    range: tuple[float, float] | None
    choices: tuple[Any, ...] | None
    read_only: bool
    length: int | None


def param(default: Any, description: str, *, range: tuple[float, float] | None = None,
          choices: tuple[Any, ...] | None = None, read_only: bool = False, length: int | None = None) -> Any:
    """A field of a `NodeConfig` dataclass (list defaults are stored as tuples: configs are immutable)."""
    if isinstance(default, list):
        default = tuple(default)
    return field(default=default, metadata={"psi0": _Spec(description, range, choices, read_only, length)})


_KINDS: dict[Any, str] = {
    float: "float", int: "int", bool: "bool", str: "str",
    tuple[float, ...]: "float_list", tuple[int, ...]: "int_list", tuple[str, ...]: "str_list",
}


@cache
def _schema_of(cls: type) -> Schema:
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("psi0")
        if spec is None:
            raise ConfigError(f"{cls.__name__}.{f.name}: declare config fields with param(...)")
        kind = _KINDS.get(hints[f.name])
        if kind is None:
            raise ConfigError(f"{cls.__name__}.{f.name}: unsupported type {hints[f.name]!r} (one of {list(_KINDS.values())})")
        params.append(Param(f.name, kind, f.default, spec.description, range=spec.range, choices=spec.choices,
                            read_only=spec.read_only, length=spec.length))
    return Schema(cls.NODE, tuple(params))


class NodeConfig:
    """Base of the nodes' frozen configuration dataclasses (see the module docstring)."""

    NODE: ClassVar[str] = ""

    def __init_subclass__(cls, node: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if node:
            cls.NODE = node

    def __post_init__(self) -> None:
        schema = self.schema()
        for p in schema.params:
            value = p.check(getattr(self, p.name), self.NODE)
            object.__setattr__(self, p.name, tuple(value) if isinstance(value, list) else value)
        self.check()

    def check(self) -> None:
        """Cross-field rules; raise ConfigError (use `require`). Runs on every construction."""

    @classmethod
    def schema(cls) -> Schema:
        return _schema_of(cls)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], ignore: Iterable[str] = ("use_sim_time",)) -> Self:
        """The configuration for user-given values (unknown keys fail, missing keys take their defaults)."""
        ignored = set(ignore)
        given = {k: v for k, v in values.items() if k not in ignored}
        check_keys(given, cls.schema().names(), cls.NODE, what="parameter")
        return cls(**given)

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` applied, validated like a new configuration."""
        check_keys(changes, self.schema().names(), self.NODE, what="parameter")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in self.schema().params}


def load_param_file(path: str | Path, node_name: str) -> dict[str, Any]:
    """Read `node_name`'s parameters from a ROS 2 parameter YAML file (`/**`, `/**/node`, `node` and `/node` sections
    merged, in that order)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    merged: dict[str, Any] = {}
    for key in ("/**", "/**/" + node_name, node_name, "/" + node_name):
        section = data.get(key)
        if section is None:
            continue
        params = section.get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(params, dict):
            raise ConfigError(f"{path}: section {key!r} has no ros__parameters mapping")
        merged.update(params)
    return merged
