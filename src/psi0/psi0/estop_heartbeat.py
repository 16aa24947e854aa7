"""estop_heartbeat: publishes the fail-safe e-stop heartbeat the bridge requires.

Publishes std_msgs/Bool on `estop` (reliable, keep-last 1) at `rate_hz`: True = operator allows
motion. If this node dies, its heartbeat stops and the bridge e-stops after its timeout (0.5 s by
default). Pressing Ctrl-C sends one False (explicit stop) before exiting. On real hardware, wire a
dead-man switch to a node like this one. With `realtime_priority` every thread of the node runs SCHED_FIFO (the
sim and demo profiles do so: there it shares the machine with the bridge's real-time threads).
"""

from __future__ import annotations

import sys

from rclpy.duration import Duration
from rclpy.node import Node
from std_msgs.msg import Bool

from psi0.heartbeat_config import HeartbeatConfig
from psi0_bridge.realtime import set_fifo_threads
from psi0_core.node_runner import run_node
from psi0_core.ros_params import declare_config


class EstopHeartbeat(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("estop_heartbeat", **kwargs)
        self.config = declare_config(self, HeartbeatConfig)
        self.pub = self.create_publisher(Bool, self.config.topic, 1)
        self.count = 0
        self.timer = self.create_timer(1.0 / self.config.rate_hz, self._tick)
        error = None
        if self.config.realtime_priority > 0:  # after the node: its DDS threads exist now
            _, error = set_fifo_threads(None, self.config.realtime_priority)
        if error:
            self.get_logger().warning(f"heartbeat runs without real-time priority ({error})")

    def _tick(self) -> None:
        self.pub.publish(Bool(data=True))
        self.count += 1

    def send_stop(self, ack_timeout_s: float = 0.5) -> None:
        """Publish the explicit stop and wait (≤ ack_timeout_s) until every reliable subscriber has acknowledged it:
        a process that exits right after publishing can take the unsent sample with it (the bridge would then stop
        only on its heartbeat timeout)."""
        self.pub.publish(Bool(data=False))
        self.pub.wait_for_all_acked(Duration(seconds=ack_timeout_s))


def main() -> int:
    return run_node(EstopHeartbeat, on_exit=lambda n: n.config.send_stop_on_exit and n.send_stop())


if __name__ == "__main__":
    sys.exit(main())
