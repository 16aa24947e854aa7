"""A second process for graph tests: relays ActionChunk and JointState messages unchanged."""

import sys

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from psi0_msgs.msg import ActionChunk


def main() -> int:
    rclpy.init()
    node = Node("echo_peer")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub_c = node.create_publisher(ActionChunk, "chunk_out", qos)
    pub_j = node.create_publisher(JointState, "js_out", qos)
    node.create_subscription(ActionChunk, "chunk_in", pub_c.publish, qos)
    node.create_subscription(JointState, "js_in", pub_j.publish, qos)
    print("echo_peer ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
