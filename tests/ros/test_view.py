"""The live view (`view` node, a Foxglove WebSocket server) in its own process beside the real robot_state node, read
by a WebSocket client that speaks the Foxglove protocol (foxglove.sdk.v1): it subscribes to every channel and
decodes each message (protobuf ones through the schema the server sends, JSON ones as JSON), and checks the content
against what was published on ROS. A second client that connects later still gets the latched channels."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import struct
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from PIL import Image as PILImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from websockets.sync.client import connect

from psi0.launcher import find_executable
from psi0_core.g1_adapter import G1Adapter
from psi0_core.g1_kinematics import load_kinematics
from psi0_core.robot import load_g1
from psi0_msgs.msg import ActionChunk, BridgeStatus, PolicyStatus
from tests.conftest import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
CHANNELS = {"/camera/head", "/joint_states", "/tf", "/tf_static", "/action_chunk", "/bridge/status", "/policy/status",
            "/robot_description"}
LATCHED_CHANNELS = {"/tf_static", "/bridge/status", "/policy/status", "/robot_description"}


class FoxgloveClient:
    """A minimal Foxglove WebSocket protocol client: advertise → subscribe → decoded messages by topic."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.channels: dict[int, dict[str, Any]] = {}
        self.decoders: dict[int, Any] = {}
        self.messages: dict[str, list[Any]] = {}
        self.parameters: dict[str, Any] = {}
        self.subscribed: dict[int, int] = {}  # subscription id → channel id

    def _decoder(self, ch: dict[str, Any]) -> Any:
        if ch["encoding"] == "json":
            return lambda b: json.loads(b)
        assert ch["encoding"] == "protobuf" and ch["schemaEncoding"] == "protobuf", ch
        fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(ch["schema"]))
        pool = descriptor_pool.DescriptorPool()
        for f in fds.file:
            pool.Add(f)
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(ch["schemaName"]))
        return cls.FromString

    def pump(self, until: float) -> None:
        """Read until `until` (monotonic), subscribing to every channel as it is advertised."""
        while time.monotonic() < until:
            try:
                frame = self.ws.recv(timeout=max(0.01, until - time.monotonic()))
            except TimeoutError:
                return
            if isinstance(frame, str):
                msg = json.loads(frame)
                if msg["op"] == "advertise":
                    subs = []
                    for ch in msg["channels"]:
                        self.channels[ch["id"]] = ch
                        self.decoders[ch["id"]] = self._decoder(ch)
                        sub_id = len(self.subscribed) + 1
                        self.subscribed[sub_id] = ch["id"]
                        subs.append({"id": sub_id, "channelId": ch["id"]})
                    self.ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))
                elif msg["op"] == "parameterValues":
                    self.parameters.update({p["name"]: p.get("value") for p in msg["parameters"]})
            elif frame[0] == 0x01:  # MessageData: opcode, u32 subscription id, u64 log time, payload
                sub_id, _ = struct.unpack_from("<IQ", frame, 1)
                ch = self.channels[self.subscribed[sub_id]]
                self.messages.setdefault(ch["topic"], []).append(self.decoders[ch["id"]](frame[13:]))


def _connect(stack: contextlib.ExitStack, url: str) -> FoxgloveClient:
    return FoxgloveClient(stack.enter_context(connect(url, subprotocols=["foxglove.sdk.v1"], max_size=None,
                                                      open_timeout=10)))


def _publisher_thread(node: Node, ex: SingleThreadedExecutor, stop: threading.Event) -> threading.Thread:
    g1, adapter = load_g1(), G1Adapter()
    names = g1.joint_state_names()
    pub_img = node.create_publisher(Image, "camera/head/image_raw", 2)
    pub_js = node.create_publisher(JointState, "joint_states", 10)
    pub_chunk = node.create_publisher(ActionChunk, "action_chunk", 10)
    img = Image(height=48, width=64, encoding="rgb8", step=64 * 3)
    px = np.zeros((48, 64, 3), np.uint8)
    px[:, :32, 0] = 255  # left half red, right half blue
    px[:, 32:, 2] = 255
    img.data = px.tobytes()
    img.header.frame_id = "head_camera"
    js = JointState(name=names, position=[0.01 * i for i in range(len(names))], velocity=[0.0] * len(names),
                    effort=[0.0] * len(names))
    chunk = ActionChunk(chunk_id=7, dt=1 / 30, horizon=3, dim=36, names=list(adapter.action_names),
                        data=[float(i) for i in range(3 * 36)], inference_ms=42.0)

    def run() -> None:
        while not stop.is_set():
            stamp = node.get_clock().now().to_msg()
            img.header.stamp = js.header.stamp = chunk.header.stamp = stamp
            pub_img.publish(img)
            pub_js.publish(js)
            pub_chunk.publish(chunk)
            ex.spin_once(timeout_sec=0.05)

    return threading.Thread(target=run, daemon=True)


def test_the_view_streams_every_channel_decodably(rclpy_context, spawn):
    spawn([str(find_executable("psi0", "robot_state"))], name="robot_state")
    view = spawn([str(find_executable("psi0", "view")), "--ros-args", "-p", "port:=0", "-p", "image_rate_hz:=30.0"],
                 name="view")
    node = Node("view_feeder", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    status = BridgeStatus(state=BridgeStatus.STATE_ACTIVE, state_name="ACTIVE", chunks_received=5)
    node.create_publisher(BridgeStatus, "bridge/status", LATCHED).publish(status)
    node.create_publisher(PolicyStatus, "policy/status", LATCHED).publish(PolicyStatus(state_name="RUNNING",
                                                                                        instruction="pick up"))
    stop = threading.Event()
    feeder = _publisher_thread(node, ex, stop)
    stack = contextlib.ExitStack()
    try:
        deadline = time.monotonic() + 40
        while not (m := re.search(r"ws://127\.0\.0\.1:(\d+)", view.output())) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert m, view.output()[-3000:]
        url = f"ws://127.0.0.1:{m.group(1)}"
        assert spin_until(ex, lambda: node.count_subscribers("robot_description") > 0, 20)  # the view is up on ROS
        assert node.count_subscribers("camera/head/image_raw") == 0  # no viewer: no camera subscription
        feeder.start()
        first = _connect(stack, url)
        deadline = time.monotonic() + 40
        while not set(first.messages) >= CHANNELS and time.monotonic() < deadline:
            first.pump(time.monotonic() + 0.5)
        assert set(first.messages) >= CHANNELS, (sorted(first.messages), view.output()[-3000:])

        jpeg = first.messages["/camera/head"][-1]
        assert jpeg.format == "jpeg" and jpeg.frame_id == "head_camera"
        rgb = np.asarray(PILImage.open(io.BytesIO(jpeg.data)).convert("RGB"), int)
        assert rgb.shape == (48, 64, 3)
        assert rgb[:, :28, 0].mean() > 200 and rgb[:, :28, 2].mean() < 60  # red stays red, blue blue
        assert rgb[:, 36:, 2].mean() > 200 and rgb[:, 36:, 0].mean() < 60

        joints = first.messages["/joint_states"][-1]
        names = load_g1().joint_state_names()
        assert [j.name for j in joints.joints] == names
        assert joints.joints[5].position == pytest.approx(0.05)

        tf = {t.child_frame_id: t for msg in first.messages["/tf"] for t in msg.transforms}
        assert {j.child for j in load_kinematics().movable} <= set(tf), sorted(tf)  # every joint of joint_states
        static = {t.child_frame_id: t.parent_frame_id for msg in first.messages["/tf_static"] for t in msg.transforms}
        assert static["head_camera"] == "d435"

        urdf = ET.fromstring(first.messages["/robot_description"][-1]["data"].split("\n", 1)[1])
        assert len([j for j in urdf.findall("joint") if j.get("type") == "revolute"]) == len(names)

        chunk = first.messages["/action_chunk"][-1]
        assert chunk["chunk_id"] == 7 and chunk["horizon"] == 3 and chunk["inference_ms"] == pytest.approx(42.0)
        action_names = G1Adapter().action_names
        assert chunk["first"][action_names[1]] == pytest.approx(1.0)
        assert chunk["chunk"][action_names[0]] == pytest.approx([0.0, 36.0, 72.0])

        assert first.messages["/bridge/status"][-1]["state_name"] == "ACTIVE"
        assert first.messages["/bridge/status"][-1]["chunks_received"] == 5
        assert first.messages["/policy/status"][-1]["instruction"] == "pick up"

        first.ws.send(json.dumps({"op": "getParameters", "parameterNames": ["/robot_description"], "id": "1"}))
        first.pump(time.monotonic() + 2)
        assert "<robot" in first.parameters.get("/robot_description", ""), first.parameters

        late = _connect(stack, url)  # latched channels reach a viewer that connects after they were published
        deadline = time.monotonic() + 20
        while not set(late.messages) >= LATCHED_CHANNELS and time.monotonic() < deadline:
            late.pump(time.monotonic() + 0.5)
        assert set(late.messages) >= LATCHED_CHANNELS, sorted(late.messages)
        assert node.count_subscribers("camera/head/image_raw") == 1
        stack.close()  # the viewers leave: the view lets go of the camera
        deadline = time.monotonic() + 10
        while node.count_subscribers("camera/head/image_raw") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert node.count_subscribers("camera/head/image_raw") == 0
    finally:
        stop.set()
        if feeder.is_alive():
            feeder.join(timeout=5)
        stack.close()
        ex.shutdown()
        node.destroy_node()


@pytest.mark.parametrize("args", [["bogus:=1"], ["--port", "70000"], ["image_rate_hz:=0"]])
def test_psi0_view_rejects_bad_parameters_in_one_line(args, capsys):
    from psi0.cli import main

    assert main(["view", *args]) == 2  # before any server starts
    err = capsys.readouterr().err
    assert err.startswith("psi0: error: view") and len(err.strip().splitlines()) == 1, err


def test_a_port_in_use_is_a_configuration_error(spawn, ros_domain):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        view = spawn([str(find_executable("psi0", "view")), "--ros-args", "-p", f"port:={port}"], name="view")
        assert view.wait(timeout=60) == 2, view.output()[-2000:]
    assert f"cannot serve on 127.0.0.1:{port}" in view.output()
