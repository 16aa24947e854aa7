"""Wire a `params.Schema` into an rclpy node (the only rclpy-aware part of configuration).

Nodes are created with ``automatically_declare_parameters_from_overrides=True`` so that every key
given on the command line or in a parameter file becomes visible; `declare_schema` then checks
them all against the schema (unknown keys raise `ConfigError` before the node does anything),
declares the rest with their defaults and descriptors, and rejects run-time changes to read-only
(safety) parameters.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter

from psi0.params import ConfigError, Schema

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


def _descriptor(schema: Schema, name: str) -> ParameterDescriptor:
    p = schema[name]
    d = ParameterDescriptor(name=name, description=p.description, read_only=p.read_only, type=_ROS_TYPES[p.kind].value)
    if p.range is not None and p.kind == "float":
        d.floating_point_range = [FloatingPointRange(from_value=float(p.range[0]), to_value=float(p.range[1]))]
    elif p.range is not None and p.kind == "int":
        d.integer_range = [IntegerRange(from_value=int(p.range[0]), to_value=int(p.range[1]), step=1)]
    return d


def declare_schema(node: Node, schema: Schema) -> dict[str, Any]:
    """Validate the node's parameter overrides against `schema` and declare every parameter.

    Returns the complete validated configuration. Raises ConfigError on an unknown key or bad value.
    """
    given = {
        name: node.get_parameter(name).value
        for name in node._parameters
        if name not in ROS_BUILTIN_PARAMETERS
    }
    config = schema.validate(given, ignore=ROS_BUILTIN_PARAMETERS)
    for name, value in config.items():
        if node.has_parameter(name):
            continue
        node.declare_parameter(name, value, _descriptor(schema, name))

    def _on_set(params: list[Parameter]) -> SetParametersResult:
        for p in params:
            if p.name in schema.names():
                if schema[p.name].read_only:
                    return SetParametersResult(successful=False, reason=f"{p.name} is read-only (safety)")
                try:
                    schema[p.name].check(p.value, schema.node)
                except ConfigError as e:
                    return SetParametersResult(successful=False, reason=str(e))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(_on_set)
    return config


def run_node(factory: Callable[[], Node], on_exit: Callable[[Node], None] | None = None) -> int:
    """The `main()` of every psi0 node: init, build, spin until Ctrl-C/SIGTERM, clean shutdown.

    A ConfigError (bad parameter) prints one clear line and exits with code 2, no traceback.
    """
    rclpy.init(args=sys.argv)
    node: Node | None = None
    try:
        node = factory()
        rclpy.spin(node)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr, flush=True)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if on_exit is not None and rclpy.ok():
                on_exit(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
