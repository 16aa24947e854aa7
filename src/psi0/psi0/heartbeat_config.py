"""The e-stop heartbeat node's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require


@dataclass(frozen=True)
class HeartbeatConfig(NodeConfig, node="estop_heartbeat"):
    rate_hz: float = param(20.0, "heartbeat rate", range=(2.0, 200.0))
    topic: str = param("estop", "heartbeat topic (relative: honours namespaces)")
    send_stop_on_exit: bool = param(True, "publish one False when shutting down")
    realtime_priority: int = param(
        0, "SCHED_FIFO priority of every thread of this node (0: normal scheduling). Set it where the node shares a "
        "machine with the bridge, whose loop and executor run real-time: a normal-priority heartbeat can then be "
        "starved past the bridge's timeout (measured: 0.5 s gaps on 2 cores)", range=(0, 99))

    def check(self) -> None:
        require(bool(self.topic.strip()), "estop_heartbeat: topic is empty")
