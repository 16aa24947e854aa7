"""The live view's (`psi0 view`) configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require


@dataclass(frozen=True)
class ViewConfig(NodeConfig, node="view"):
    host: str = param("127.0.0.1", "address the Foxglove WebSocket server binds to (0.0.0.0: every interface — "
                      "anyone on the network then sees the camera)")
    port: int = param(8765, "its TCP port (0: any free port, logged at start)", range=(0, 65535))
    image_topic: str = param("camera/head/image_raw", "sensor_msgs/Image shown as /camera/head (JPEG)")
    image_rate_hz: float = param(10.0, "most camera frames per second sent to viewers", range=(0.5, 30.0))
    jpeg_quality: int = param(80, "JPEG quality of the streamed frames", range=(10, 95))
    state_rate_hz: float = param(30.0, "most joint_states and /tf messages per second sent to viewers",
                                 range=(1.0, 100.0))

    def check(self) -> None:
        require(bool(self.host.strip()), "view: host is empty")
        require(bool(self.image_topic.strip()), "view: image_topic is empty")
