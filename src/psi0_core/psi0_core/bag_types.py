"""A rosbags typestore for the psi0 graph: ROS 2 Kilted's standard types + psi0_msgs from its .msg files."""

from __future__ import annotations

import importlib
from functools import cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from psi0_core.share import msg_dir


@cache
def typestore() -> Typestore:
    ts = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for f in sorted(msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(f.read_text(), f"psi0_msgs/msg/{f.stem}"))
    ts.register(types)
    return ts


def message_class(type_name: str) -> type:
    """'sensor_msgs/msg/Image' → the rclpy message class."""
    pkg, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)
