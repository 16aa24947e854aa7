"""The e-stop heartbeat node's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require


@dataclass(frozen=True)
class HeartbeatConfig(NodeConfig, node="estop_heartbeat"):
    rate_hz: float = param(20.0, "heartbeat rate", range=(2.0, 200.0))
    topic: str = param("estop", "heartbeat topic (relative: honours namespaces)")
    send_stop_on_exit: bool = param(True, "publish one False when shutting down")

    def check(self) -> None:
        require(bool(self.topic.strip()), "estop_heartbeat: topic is empty")
