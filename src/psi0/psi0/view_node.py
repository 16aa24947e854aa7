"""view: a live view of the robot an operator opens in Foxglove (`psi0 view`, then ws://<host>:8765).

A Foxglove WebSocket server (foxglove-sdk) fed from ROS topics; what each channel carries is in psi0.view_convert.
Start the robot_state node too (the sim and deploy profiles do) for the robot model and its transforms.

Behaviour: the camera, joint_states, /tf and action_chunk are subscribed on ROS only while a viewer subscribes to
their channel (checked every 0.1 s), so an idle view costs next to nothing and never copies camera frames. Camera
frames are sent at most `image_rate_hz`, joint_states at most `state_rate_hz`; /tf is passed on as it comes. The
camera is subscribed best-effort (a viewer never slows the camera for the policy); the status topics and
robot_description transient-local, and what is latched in ROS (robot_description, /tf_static, the two status topics)
is sent again to every new viewer. An image in an encoding the view does not show (not rgb8, bgr8, mono8) or a
malformed chunk is skipped and counted in a warning every 5 s. The server binds 127.0.0.1 by default; a port in use
is a ConfigError (exit 2). The view only reads: it publishes nothing on ROS and cannot move the robot.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import foxglove
from foxglove.channels import CompressedImageChannel, FrameTransformsChannel, JointStatesChannel
from foxglove.websocket import Capability, ChannelView, Client, Parameter
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from psi0 import view_convert as convert
from psi0.view_config import ViewConfig
from psi0_core.node_runner import run_node
from psi0_core.params import ConfigError
from psi0_core.qos import latched_qos
from psi0_core.ros_params import declare_config
from psi0_msgs.msg import ActionChunk, BridgeStatus, PolicyStatus

LATCHED = latched_qos()
STATIC_TF = latched_qos(depth=100)
BEST_EFFORT = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


class _Listener:
    """Server callbacks (foxglove-sdk threads): note who subscribed; the node's timer re-sends the latched."""

    def __init__(self, view: ViewNode) -> None:
        self.view = view

    def on_subscribe(self, client: Client, channel: ChannelView) -> None:
        with self.view.lock:
            self.view.resend.add(channel.topic)

    def on_get_parameters(self, client: Client, param_names: list[str], request_id: str | None = None) -> list[Parameter]:
        urdf = self.view.robot_description
        if urdf is None or (param_names and "/robot_description" not in param_names):
            return []
        return [Parameter("/robot_description", value=urdf)]


class ViewNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("view", **kwargs)
        self.config = cfg = declare_config(self, ViewConfig)
        self.lock = threading.Lock()
        self.resend: set[str] = set()
        self.robot_description: str | None = None
        self.latched: dict[str, Callable[[], None]] = {}  # foxglove topic → log its newest latched message again
        self.skipped: dict[str, int] = {}
        self._last_sent: dict[str, float] = {}
        self.ctx = foxglove.Context()
        try:
            self.server = foxglove.start_server(name="psi0", host=cfg.host, port=cfg.port, context=self.ctx,
                                                capabilities=[Capability.Parameters], server_listener=_Listener(self))
        except Exception as e:  # the SDK raises RuntimeError or OSError kinds for a bad address
            raise ConfigError(f"view: cannot serve on {cfg.host}:{cfg.port}: {e}") from e
        self.port = self.server.port
        self.get_logger().info(f"Foxglove live view on ws://{cfg.host}:{self.port} (open it in Foxglove)")

        self.ch_image = CompressedImageChannel("/camera/head", context=self.ctx)
        self.ch_joints = JointStatesChannel("/joint_states", context=self.ctx)
        self.ch_tf = FrameTransformsChannel("/tf", context=self.ctx)
        self.ch_static = FrameTransformsChannel("/tf_static", context=self.ctx)
        self.ch_chunk = foxglove.Channel("/action_chunk", message_encoding="json", context=self.ctx)
        self.ch_bridge = foxglove.Channel("/bridge/status", message_encoding="json", context=self.ctx)
        self.ch_policy = foxglove.Channel("/policy/status", message_encoding="json", context=self.ctx)
        self.ch_description = foxglove.Channel(
            "/robot_description", schema=foxglove.Schema(name="std_msgs/msg/String", encoding="jsonschema",
                                                         data=json.dumps(convert.STRING_SCHEMA).encode()),
            message_encoding="json", context=self.ctx)
        self._static: dict[str, Any] = {}  # child frame → its newest static transform (several publishers merge)

        # streams: subscribed on ROS only while a viewer subscribes to their channel (idle view: no image copies)
        # (camera and joint_states arrive faster than they are sent: kept serialized, decoded only when sent)
        self._streams: list[tuple[Any, type, str, Callable[[Any], None], QoSProfile | int, bool]] = [
            (self.ch_image, Image, cfg.image_topic, self._on_image, BEST_EFFORT, True),
            (self.ch_joints, JointState, "joint_states", self._on_joints, 10, True),
            (self.ch_tf, TFMessage, "/tf", self._on_tf, 10, False),
            (self.ch_chunk, ActionChunk, "action_chunk", self._on_chunk, 10, False)]
        self._stream_subs: dict[str, Any] = {}
        self.create_subscription(TFMessage, "/tf_static", self._on_static, STATIC_TF)
        self.create_subscription(BridgeStatus, "bridge/status", self._status(self.ch_bridge), LATCHED)
        self.create_subscription(PolicyStatus, "policy/status", self._status(self.ch_policy), LATCHED)
        self.create_subscription(String, "robot_description", self._on_description, LATCHED)
        self.create_timer(0.1, self._sync)
        self.create_timer(5.0, self._report)

    # ---- ROS → Foxglove --------------------------------------------------------------------------------
    def _due(self, key: str, rate_hz: float) -> bool:
        now = time.monotonic()
        if now - self._last_sent.get(key, -1e9) < 1.0 / rate_hz:
            return False
        self._last_sent[key] = now
        return True

    def _skip(self, what: str) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + 1

    def _on_image(self, data: bytes) -> None:
        if not self._due("image", self.config.image_rate_hz):
            return
        msg = deserialize_message(data, Image)
        try:
            self.ch_image.log(convert.jpeg_image(msg, self.config.jpeg_quality), log_time=convert.to_ns(msg.header.stamp))
        except ValueError as e:
            self._skip(f"image ({e})")

    def _on_joints(self, data: bytes) -> None:
        if self._due("joints", self.config.state_rate_hz):
            msg = deserialize_message(data, JointState)
            self.ch_joints.log(convert.joint_states(msg), log_time=convert.to_ns(msg.header.stamp))

    def _on_tf(self, msg: TFMessage) -> None:
        self.ch_tf.log(convert.frame_transforms(msg))

    def _on_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            self._static[t.child_frame_id] = t
        merged = TFMessage(transforms=list(self._static.values()))
        self.latched["/tf_static"] = lambda: self.ch_static.log(convert.frame_transforms(merged))
        self.latched["/tf_static"]()

    def _on_chunk(self, msg: ActionChunk) -> None:
        try:
            self.ch_chunk.log(convert.action_chunk(msg), log_time=convert.to_ns(msg.header.stamp))
        except ValueError as e:
            self._skip(f"action chunk ({e})")

    def _status(self, channel: foxglove.Channel) -> Callable[[Any], None]:
        def on_status(msg: Any) -> None:
            data = convert.message_dict(msg)
            self.latched[channel.topic()] = lambda: channel.log(data)
            channel.log(data)
        return on_status

    def _on_description(self, msg: String) -> None:
        self.robot_description = msg.data
        self.latched["/robot_description"] = lambda: self.ch_description.log({"data": msg.data})
        self.latched["/robot_description"]()
        self.server.publish_parameter_values([Parameter("/robot_description", value=msg.data)])

    def _sync(self) -> None:
        """Every 0.1 s: subscribe the streams viewers watch, unsubscribe the others; re-send the latched."""
        for channel, msg_type, topic, callback, qos, raw in self._streams:
            watched, sub = channel.has_sinks(), self._stream_subs.get(topic)
            if watched and sub is None:
                self._stream_subs[topic] = self.create_subscription(msg_type, topic, callback, qos, raw=raw)
            elif not watched and sub is not None:
                self.destroy_subscription(self._stream_subs.pop(topic))
        with self.lock:
            topics, self.resend = self.resend, set()
        for topic in topics:
            if topic in self.latched:
                self.latched[topic]()

    def _report(self) -> None:
        if self.skipped:
            self.get_logger().warning("view skipped: " + "; ".join(f"{n}× {w}" for w, n in self.skipped.items()))
            self.skipped = {}

    def destroy_node(self) -> None:
        self.server.stop()
        super().destroy_node()


def main() -> int:
    return run_node(ViewNode)


if __name__ == "__main__":
    sys.exit(main())
