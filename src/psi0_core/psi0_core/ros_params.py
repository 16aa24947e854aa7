"""Wire a node's typed configuration (`params.NodeConfig`) into an rclpy node: the only rclpy-aware part of
configuration.

`declare_config` reads the keys given on the command line, in parameter files or to the constructor, builds the
typed configuration from them (unknown keys, bad values and broken cross-field rules raise `ConfigError` before the
node does anything), then declares every schema parameter with its validated value and its descriptor, so
`ros2 param describe` shows the description, the range and read-only for each, overridden or not. Run-time changes
to read-only (safety) parameters and changes that would break a rule are refused.

Nodes are *not* created with ``automatically_declare_parameters_from_overrides``: that declares each given key with
an empty descriptor (no description, no range, not read-only) before the schema sees it.
"""

from __future__ import annotations

import weakref
from typing import TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from psi0_core.params import ConfigError, NodeConfig, Param

# Parameters every rclpy node declares itself.
ROS_BUILTIN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})

_ROS_TYPES = {
    "float": Parameter.Type.DOUBLE,
    "int": Parameter.Type.INTEGER,
    "bool": Parameter.Type.BOOL,
    "str": Parameter.Type.STRING,
    "float_list": Parameter.Type.DOUBLE_ARRAY,
    "int_list": Parameter.Type.INTEGER_ARRAY,
    "str_list": Parameter.Type.STRING_ARRAY,
}

C = TypeVar("C", bound=NodeConfig)


def descriptor(p: Param) -> ParameterDescriptor:
    d = ParameterDescriptor(name=p.name, description=p.description, read_only=p.read_only, type=_ROS_TYPES[p.kind].value)
    if p.range is not None and p.kind == "float":
        d.floating_point_range = [FloatingPointRange(from_value=float(p.range[0]), to_value=float(p.range[1]))]
    elif p.range is not None and p.kind == "int":
        d.integer_range = [IntegerRange(from_value=int(p.range[0]), to_value=int(p.range[1]), step=1)]
    return d


def _ros_value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def parameter_overrides(node: Node) -> dict[str, object]:
    """The values given to `node` (command line, parameter files matching its name, constructor), ROS built-ins left out.

    rclpy keeps them in `Node._parameter_overrides` and has no public accessor for them (Humble to Rolling).
    """
    return {name: p.value for name, p in node._parameter_overrides.items() if name not in ROS_BUILTIN_PARAMETERS}


def declare_config(node: Node, config_type: type[C]) -> C:
    """Build `config_type` from the node's parameter overrides and declare every parameter with its descriptor.

    Returns the validated configuration. Raises ConfigError on an unknown key, a bad value or a broken rule.
    """
    config = config_type.from_values(parameter_overrides(node), ignore=ROS_BUILTIN_PARAMETERS)
    schema = config_type.schema()
    for p in schema.params:  # the validated value (an int given for a float is a float now), not the raw override
        node.declare_parameter(p.name, _ros_value(getattr(config, p.name)), descriptor(p), ignore_override=True)

    node_ref = weakref.ref(node)  # the callback lives on the node: no reference cycle keeps a failed node alive

    def _on_set(params: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in params if p.name in schema.names()}
        for name in changes:
            if schema[name].read_only:
                return SetParametersResult(successful=False, reason=f"{name} is read-only (safety)")
        n = node_ref()
        current = {} if n is None else {k: n.get_parameter(k).value for k in schema.names() if n.has_parameter(k)}
        try:
            config_type.from_values({**current, **changes})
        except ConfigError as e:
            return SetParametersResult(successful=False, reason=str(e))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(_on_set)
    return config
