"""The G1's DDS interface over Cyclone DDS, with unitree_sdk2py's unitree_hg message types.

Topic names, types and QoS are those the robot and unitree_sdk2py's ChannelFactory use
(`rt/lowcmd`, `rt/lowstate`, `rt/dex3/{left,right}/{cmd,state}`; default DDS QoS), so this
endpoint interoperates with the real robot, with the SDK's own programs and with psi0_sim.

Why not the SDK's ChannelFactory itself: it is a process-wide singleton (one domain per process)
and writes a trace file to a fixed /tmp path. This module creates its own Domain + participant
per instance (same XML configuration, without tracing), so a bridge and a simulator, or several
test endpoints, can live in one process on different domains.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
from cyclonedds.core import DDSException, InstanceState, Listener, SampleState, ViewState
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.internal import InvalidSample
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

_CONFIG = """<?xml version="1.0" encoding="UTF-8" ?>
<CycloneDDS><Domain Id="any"><General><Interfaces>
  <NetworkInterface name="{iface}" priority="default" multicast="default"/>
</Interfaces></General></Domain></CycloneDDS>"""

_domains: dict[int, tuple[Domain, str]] = {}
_domains_lock = threading.Lock()


def participant(domain_id: int, interface: str) -> DomainParticipant:
    """A participant on `domain_id` bound to `interface` (e.g. lo, eth0)."""
    with _domains_lock:
        existing = _domains.get(domain_id)
        if existing is None:
            _domains[domain_id] = (Domain(domain_id, _CONFIG.format(iface=interface)), interface)
        elif existing[1] != interface:
            raise ValueError(f"DDS domain {domain_id} already bound to {existing[1]}, not {interface}")
    return DomainParticipant(domain_id)


def write_serialized(writer: DataWriter, data: bytes) -> None:
    """Write an already serialized sample (CDR with its encapsulation header) — the fast path for LowCmd_.

    Uses the same C call as DataWriter.write after its Python serialisation step; falls back to nothing
    else: callers keep the IdlStruct path for other types.
    """
    ret = ddspy_write(writer._ref, data)
    if ret < 0:
        raise RuntimeError(f"DDS write failed ({ret})")


_ANY = SampleState.Any | ViewState.Any | InstanceState.Any


def take_serialized(reader: DataReader, n: int = 16) -> list[bytes]:
    """Take up to `n` samples as their serialized bytes (CDR with encapsulation header), oldest first, without
    Python deserialisation (that costs ~0.4–0.7 ms per unitree_hg frame; callers parse with NumPy instead).
    Non-blocking; samples that only report a state change (no data) are skipped."""
    ret = ddspy_take(reader._ref, _ANY, n)
    if isinstance(ret, int):
        raise DDSException(ret, f"taking from {reader.topic.name}")
    return [data for data, info in ret if info.valid_data]


def take(reader: DataReader, n: int = 16) -> list[Any]:
    """Take up to `n` deserialized samples, oldest first, non-blocking; state-only samples (no data) skipped."""
    return [s for s in reader.take(n) if not isinstance(s, InvalidSample)]


class Endpoint:
    """Writers and readers on one participant. Listener handlers run on Cyclone's receive thread; processes that
    must exit cleanly (the bridge, the simulator) poll instead."""

    def __init__(self, domain_id: int, interface: str) -> None:
        self.participant = participant(domain_id, interface)
        self._topics: dict[str, Topic] = {}
        self._keep: list[Any] = []
        self.handler_errors = 0
        self._publications: BuiltinDataReader | None = None
        self._known_writers: dict[str, str] = {}

    def topic(self, name: str, msg_type: type) -> Topic:
        if name not in self._topics:
            self._topics[name] = Topic(self.participant, name, msg_type)
        return self._topics[name]

    def writer(self, name: str, msg_type: type) -> DataWriter:
        w = DataWriter(self.participant, self.topic(name, msg_type))
        self._keep.append(w)
        return w

    def reader(self, name: str, msg_type: type, handler: Callable[[Any], None], serialized: bool = False) -> DataReader:
        """A reader whose `handler` runs on Cyclone's listener thread for every sample: the deserialized message,
        or with `serialized` its bytes (see take_serialized). A handler that raises is counted and reported."""
        take_some = (lambda r: take_serialized(r, 16)) if serialized else (lambda r: take(r, 16))

        def on_data(reader: DataReader | None) -> None:
            if reader is None:  # the reader is being deleted (shutdown)
                return
            for sample in take_some(reader):
                try:
                    handler(sample)
                except Exception as e:
                    self.handler_errors += 1
                    if self.handler_errors == 1 or self.handler_errors % 1000 == 0:
                        print(f"[robot_dds] {name}: handler failed ({self.handler_errors}x): {e!r}", file=sys.stderr)

        r = DataReader(self.participant, self.topic(name, msg_type), listener=Listener(on_data_available=on_data))
        self._keep.append(r)
        return r

    def polled_reader(self, name: str, msg_type: type, depth: int = 1) -> DataReader:
        """A reader without a listener: Cyclone's receive thread (C, no GIL) stores samples in its history (the
        newest `depth`; 1 is the default QoS) and the owner takes them when it wants them (take_serialized,
        DataReader.take). No Python runs on Cyclone's threads: no GIL contention from them, and nothing calls
        into an interpreter that is shutting down (a listener can: a SIGSEGV at exit)."""
        r = DataReader(self.participant, self.topic(name, msg_type), qos=Qos(Policy.History.KeepLast(depth)))
        self._keep.append(r)
        return r

    def other_writers(self, topic_name: str, own: DataWriter | None = None) -> list[str]:
        """GUIDs of live writers on `topic_name` other than `own` known to this participant (S1).

        Uses one persistent reader of the DCPSPublication built-in topic and takes only what changed
        since the last call (creating such a reader per call costs milliseconds of GIL time).
        """
        if self._publications is None:
            self._publications = BuiltinDataReader(self.participant, BuiltinTopicDcpsPublication)
        for s in self._publications.take(256):
            if isinstance(s, InvalidSample):
                continue
            if s.sample_info.instance_state == InstanceState.Alive:
                self._known_writers[str(s.key)] = s.topic_name
            else:
                self._known_writers.pop(str(s.key), None)
        own_guid = str(own.guid) if own is not None else None
        return [k for k, topic in self._known_writers.items() if topic == topic_name and k != own_guid]

    def close(self) -> None:
        self._publications = None
        self._keep.clear()
        self._topics.clear()
