"""`psi0 record`: write chosen topics of a live graph to a rosbag2 (MCAP by default, sqlite3 on request).

Messages are stored as they travel (serialized CDR, taken raw from rclpy), stamped with the receive
time on the node's clock. Connections carry full message definitions (from the typestore: ROS 2
Kilted + psi0_msgs from the package's own .msg files), so a bag reads back with a typestore built only
from the bag. Splitting (`split_size_mb`, `split_duration_s`) closes the current bag and opens
`<name>_<k>`: each split is a complete rosbag2 folder with its own metadata.yaml.
"""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node
from rosbags.interfaces import Qos
from rosbags.rosbag2 import StoragePlugin, Writer

from psi0.bags.qos import subscription_qos, to_bag_qos
from psi0_core.bag_types import message_class, typestore


class Recorder:
    def __init__(self, node: Node, path: str | Path, topics: list[str], storage: str = "mcap",
                 split_size_mb: float = 0.0, split_duration_s: float = 0.0) -> None:
        if storage not in ("mcap", "sqlite3"):
            raise ValueError(f"storage {storage!r}: use mcap or sqlite3")
        self.node, self.base, self.topics = node, Path(path), topics
        self.plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.split_bytes = int(split_size_mb * 1e6)
        self.split_ns = int(split_duration_s * 1e9)
        self.types: dict[str, str] = {}
        self.writer: Writer | None = None
        self.conns: dict = {}
        self.paths: list[Path] = []
        self.counts: dict[str, int] = {t: 0 for t in topics}  # messages written per topic
        self._bytes = 0
        self._t_open: int | None = None
        self._subs = []
        self.offered: dict[str, tuple[Qos, ...]] = {}  # topic -> its publishers' QoS when it was subscribed
        self._pending: dict[str, str] = {}  # topic -> type, no publisher seen yet
        self._timer = None

    @property
    def count(self) -> int:
        """Messages written, all topics."""
        return sum(self.counts.values())

    def discover(self, timeout_s: float = 10.0) -> dict[str, str]:
        """Wait until every topic has a publisher and a type; returns topic → type."""
        deadline = time.monotonic() + timeout_s
        wanted: dict[str, str | None] = {}
        while time.monotonic() < deadline:
            known = {t: ty[0] for t, ty in self.node.get_topic_names_and_types()}
            wanted = {t: known.get(self._resolve(t)) for t in self.topics}
            if all(wanted.values()):
                self.types = wanted  # type: ignore[assignment]
                return self.types
            time.sleep(0.05)
        missing = [t for t, ty in wanted.items() if not ty]
        raise TimeoutError(f"no publisher found for {missing} within {timeout_s} s")

    def _resolve(self, topic: str) -> str:
        return self.node.resolve_topic_name(topic)

    def start(self, types: dict[str, str] | None = None) -> None:
        if types:
            self.types = types
        self._open()
        self._pending = dict(self.types)
        self._subscribe_published()
        if self._pending:
            self._timer = self.node.create_timer(0.1, self._subscribe_published)

    def _subscribe_published(self) -> None:
        """Subscribe every pending topic that has a publisher now, with a QoS that matches all of them."""
        for topic, type_name in list(self._pending.items()):
            offered = [i.qos_profile for i in self.node.get_publishers_info_by_topic(self._resolve(topic))]
            if not offered:
                continue
            del self._pending[topic]
            self.offered[topic] = tuple(to_bag_qos(q) for q in offered)
            self._add_connection(topic)
            self._subs.append(self.node.create_subscription(
                message_class(type_name), topic, lambda data, t=topic: self._on(t, data), subscription_qos(offered),
                raw=True))
        if not self._pending and self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None

    def _add_connection(self, topic: str) -> None:
        self.conns[topic] = self.writer.add_connection(self._resolve(topic), self.types[topic], typestore=typestore(),
                                                       offered_qos_profiles=self.offered[topic])

    def _open(self) -> None:
        k = len(self.paths)
        path = self.base if k == 0 else self.base.with_name(f"{self.base.name}_{k}")
        if path.exists():
            raise FileExistsError(f"{path} exists; choose another bag name")
        self.writer = Writer(path, version=9, storage_plugin=self.plugin)
        self.writer.open()
        self.conns = {}
        for topic in self.offered:  # a split: the topics subscribed so far, with the QoS they were offered
            self._add_connection(topic)
        self.paths.append(path)
        self._bytes = 0
        self._t_open = None

    def _on(self, topic: str, data: bytes) -> None:
        t = self.node.get_clock().now().nanoseconds
        if self._t_open is None:
            self._t_open = t
        if (self.split_bytes and self._bytes >= self.split_bytes) or (self.split_ns and t - self._t_open >= self.split_ns):
            self.writer.close()
            self._open()
            self._t_open = t
        self.writer.write(self.conns[topic], t, bytes(data))
        self._bytes += len(data)
        self.counts[topic] += 1

    def stop(self) -> list[Path]:
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None
        for s in self._subs:
            self.node.destroy_subscription(s)
        self._subs.clear()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        return self.paths
