"""`psi0 replay`: publish a bag's topics back into a graph with the original timing.

Like `ros2 bag play`: `rate` scales time, `start_offset_s` skips the beginning, `loop` repeats,
`remap` renames topics ({"/old": "/new"}). Messages are published as stored (serialized, through
rclpy's raw publish), each at its recorded offset from the first message, on the monotonic clock, with the
QoS their publishers offered when recorded (bags/qos.py: a latched topic is latched again).
"""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos

from psi0.bags.qos import publisher_qos
from psi0_core.bag_types import message_class, typestore


def read_all(path: str | Path) -> tuple[list[tuple[str, str, int, bytes]], dict[str, str], dict[str, list[Qos]]]:
    """All messages (topic, type, t_ns, raw) in time order, topic → type, and topic → its publishers' recorded QoS
    (empty for a bag without QoS metadata)."""
    with AnyReader([Path(path)], default_typestore=typestore()) as r:
        types = {c.topic: c.msgtype for c in r.connections}
        offered = {c.topic: list(getattr(c.ext, "offered_qos_profiles", None) or []) for c in r.connections}
        msgs = [(c.topic, c.msgtype, t, bytes(raw)) for c, t, raw in r.messages()]
    return msgs, types, offered


class Player:
    def __init__(self, node: Node, path: str | Path, rate: float = 1.0, start_offset_s: float = 0.0,
                 loop: bool = False, remap: dict[str, str] | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.node, self.rate, self.loop = node, rate, loop
        self.msgs, types, offered = read_all(path)
        if not self.msgs:
            raise ValueError(f"{path} holds no messages")
        t_first = self.msgs[0][2] + int(start_offset_s * 1e9)
        self.msgs = [m for m in self.msgs if m[2] >= t_first]
        self.t0 = t_first
        remap = remap or {}
        self.pubs = {}
        for topic, type_name in types.items():  # with the QoS its publishers offered when it was recorded
            self.pubs[topic] = node.create_publisher(message_class(type_name), remap.get(topic, topic),
                                                     publisher_qos(offered[topic]))
        self.published = 0

    def play(self, spin=None) -> int:
        """Publish everything (once, or forever with loop); returns the number of messages published."""
        while True:
            start = time.monotonic()
            for topic, _, t, raw in self.msgs:
                due = start + (t - self.t0) * 1e-9 / self.rate
                while (wait := due - time.monotonic()) > 0:
                    if spin is not None and wait > 0.002:
                        spin(min(wait - 0.001, 0.01))
                    else:
                        time.sleep(max(wait, 0))
                self.pubs[topic].publish(raw)
                self.published += 1
            if not self.loop:
                return self.published
