"""Node layer: the policy node in-process with a tiny bundle; images, joint states and instruction from
a test node; chunks come out stamped, seeded and with the committed prefix; stale images are refused."""

import dataclasses

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from psi0_core.g1_adapter import action_names, default_action
from psi0_core.image_codec import numpy_to_image
from psi0_core.qos import image_publisher_qos
from psi0_core.robot import load_g1
from psi0_core.rostime import to_sec, to_time_msg
from psi0_msgs.msg import ActionChunk, PolicyStatus
from psi0_policy.policy_node import PolicyNode
from tests.conftest import spin_until
from tests.policy.bundle import tiny_bundle

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]


class Feeder:
    def __init__(self, ctx, node: PolicyNode) -> None:
        self.node = Node("feeder", context=ctx)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(node)
        self.ex.add_node(self.node)
        self.img = self.node.create_publisher(Image, "camera/head/image_raw", image_publisher_qos())
        self.js = self.node.create_publisher(JointState, "joint_states", 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.instr = self.node.create_publisher(String, "instruction", latched)
        self.chunks: list[ActionChunk] = []
        self.status: list[PolicyStatus] = []
        self.node.create_subscription(ActionChunk, "action_chunk", self.chunks.append,
                                      QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(PolicyStatus, "policy/status", self.status.append, latched)
        self.image_age = 0.0
        self.node.create_timer(1 / 30, self._feed)
        g1 = load_g1()
        self.names = g1.joint_state_names()
        self.q = np.concatenate([g1.body.default, g1.hands.default])

    def _feed(self) -> None:
        now = self.node.get_clock().now()
        img = numpy_to_image(np.full((480, 640, 3), 90, np.uint8), "rgb8")
        t = now.nanoseconds * 1e-9 - self.image_age
        img.header.stamp = to_time_msg(t)
        self.img.publish(img)
        js = JointState(name=self.names, position=self.q.tolist())
        js.header.stamp = now.to_msg()
        self.js.publish(js)


@pytest.fixture
def running(rclpy_context, tmp_path):
    bundle = tiny_bundle(tmp_path / "bundle")
    node = PolicyNode(context=rclpy_context, parameter_overrides=[Parameter("bundle", value=str(bundle)),
                                                                   Parameter("seed", value=7)])
    f = Feeder(rclpy_context, node)
    yield node, f
    f.ex.shutdown()
    node.destroy_node()
    f.node.destroy_node()


def test_publishes_real_time_chunks_with_committed_prefix(running):
    node, f = running
    f.instr.publish(String(data="touch the red cube"))
    assert spin_until(f.ex, lambda: len(f.chunks) >= 4, 30), (node.last_reject, node.last_error)
    c0, c1 = f.chunks[0], f.chunks[1]
    names = action_names()
    assert (c0.horizon, c0.dim, list(c0.names)) == (30, 36, names) and len(c0.data) == 30 * 36
    assert c0.prefix_len == 0 and c1.prefix_len > 0 and c1.chunk_id == c0.chunk_id + 1
    a0 = np.asarray(c0.data, np.float32).reshape(30, 36)
    a1 = np.asarray(c1.data, np.float32).reshape(30, 36)
    t0, t1 = to_sec(c0.header.stamp), to_sec(c1.header.stamp)
    j = round((t1 - t0) / c0.dt)
    assert j >= 15  # started after s_min steps
    np.testing.assert_allclose(a1[: c1.prefix_len], a0[j: j + c1.prefix_len], atol=1e-6)  # committed prefix
    assert np.all(np.abs(a0 - default_action()) <= 0.05 + 1e-5)  # stats keep it near the pose
    assert c0.inference_ms > 0
    assert spin_until(f.ex, lambda: f.status and f.status[-1].chunks_published >= 4, 5)


def test_stale_images_are_refused(running):
    node, f = running
    f.image_age = 0.5
    f.instr.publish(String(data="wave"))
    spin_until(f.ex, lambda: False, 2.0)
    assert not f.chunks and node.counters["rejected"] > 0 and "old" in node.last_reject
    f.image_age = 0.0
    assert spin_until(f.ex, lambda: len(f.chunks) >= 1, 20)


def test_same_seed_and_inputs_give_identical_chunks(rclpy_context, tmp_path):
    bundle = tiny_bundle(tmp_path / "b")
    from psi0_policy.policy import Policy

    p = Policy.load(bundle)
    img = np.full((480, 640, 3), 90, np.uint8)
    s = np.zeros(36)
    a = p.infer([img], "wave", s, seed=3)
    b = p.infer([img], "wave", s, seed=3)
    c = p.infer([img], "wave", s, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_chunk_ids_continue_after_the_newest_on_the_topic(running):
    """Another source (a scripted expert, a restarted policy node) published id 500: the bridge rejects ids that are
    not newer (S4), so ours continue after it — and stay increasing across policy/reset."""
    node, f = running
    f.instr.publish(String(data="wave"))
    other = f.node.create_publisher(ActionChunk, "action_chunk", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    assert spin_until(f.ex, lambda: other.get_subscription_count() >= 2, 10)
    other.publish(ActionChunk(chunk_id=500, dt=float(np.float32(1 / 30)), horizon=1, dim=36, names=action_names(),
                              data=default_action().astype(np.float32).tolist()))
    assert spin_until(f.ex, lambda: any(c.chunk_id > 500 for c in f.chunks), 30), [c.chunk_id for c in f.chunks]
    mine = [c.chunk_id for c in f.chunks if c.chunk_id != 500]
    assert mine == sorted(mine) and len(set(mine)) == len(mine)
    node._srv_reset(None, type("R", (), {"success": False, "message": ""})())
    before = max(mine)
    assert spin_until(f.ex, lambda: any(c.chunk_id > before for c in f.chunks), 30)


def test_chunk_ids_continue_after_the_newest_the_bridge_accepted(running):
    """Chunks another source published before this node's action_chunk subscription matched are never seen; the
    bridge's latched status says which id it accepted last, and the first chunk continues after it."""
    from psi0_msgs.msg import BridgeStatus

    _node, f = running
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    status = f.node.create_publisher(BridgeStatus, "bridge/status", latched)
    status.publish(BridgeStatus(state=2, state_name="ACTIVE", last_chunk_id=900))
    f.instr.publish(String(data="wave"))
    assert spin_until(f.ex, lambda: bool(f.chunks), 30)
    assert f.chunks[0].chunk_id > 900, [c.chunk_id for c in f.chunks]


def test_managed_lifecycle_through_the_lifecycle_services(rclpy_context, tmp_path):
    """Started unconfigured (configure_at_start false, as a lifecycle manager expects), the node is driven by the
    standard lifecycle services: nothing is published until active; deactivate stops the chunks; cleanup unloads the
    model; a configure with a missing bundle fails and leaves it unconfigured with the reason reported."""
    from tests.support.lifecycle import LifecycleClient

    bundle = tiny_bundle(tmp_path / "bundle")
    node = PolicyNode(context=rclpy_context, parameter_overrides=[Parameter("bundle", value=str(bundle)),
                                                                   Parameter("configure_at_start", value=False)])
    f = Feeder(rclpy_context, node)
    lc = LifecycleClient(f.node, f.ex, "policy")
    try:
        f.instr.publish(String(data="wave"))
        assert lc.state() == "unconfigured" and node.policy is None
        spin_until(f.ex, lambda: False, 1.0)
        assert not f.chunks and f.status[-1].state_name == "UNCONFIGURED"
        assert lc.set("configure") and lc.state() == "inactive" and node.policy is not None
        spin_until(f.ex, lambda: False, 1.0)
        assert not f.chunks  # configured, not active: silent
        assert lc.set("activate") and lc.state() == "active"
        assert spin_until(f.ex, lambda: len(f.chunks) >= 2, 30), (node.last_reject, node.last_error)
        assert spin_until(f.ex, lambda: f.status[-1].state_name == "ACTIVE", 5)
        assert lc.set("deactivate") and lc.state() == "inactive"
        spin_until(f.ex, lambda: False, 0.3)  # a chunk in flight at the deactivate is dropped
        n = len(f.chunks)
        spin_until(f.ex, lambda: False, 1.5)
        assert len(f.chunks) == n
        assert not lc.set("deactivate")  # not a transition from inactive
        assert lc.set("cleanup") and lc.state() == "unconfigured" and node.policy is None
        # the Trigger shortcut configures and activates; chunk ids keep increasing across the unload
        last = f.chunks[-1].chunk_id
        res = node._srv_activate(None, type("R", (), {"success": False, "message": ""})())
        assert res.success and lc.state() == "active"
        assert spin_until(f.ex, lambda: f.chunks[-1].chunk_id > last, 30)
        assert lc.set("deactivate") and lc.set("cleanup")
        node.cfg = dataclasses.replace(node.cfg, bundle=str(tmp_path / "missing"))
        assert not lc.set("configure") and lc.state() == "unconfigured"
        assert "missing" in node.last_error
        assert spin_until(f.ex, lambda: f.status[-1].state_name == "ERROR", 5)
    finally:
        f.ex.shutdown()
        node.destroy_node()
        f.node.destroy_node()


def test_a_best_effort_camera_is_reported_not_silently_ignored(rclpy_context, tmp_path):
    """A camera driver that publishes best-effort cannot match the reliable subscription: the node says so as its
    rejection reason; with image_reliability best_effort the same camera's frames are used."""
    bundle = tiny_bundle(tmp_path / "bundle")
    for reliability in ("reliable", "best_effort"):
        node = PolicyNode(context=rclpy_context, parameter_overrides=[Parameter("bundle", value=str(bundle)),
                                                                       Parameter("image_reliability", value=reliability)])
        f = Feeder(rclpy_context, node)
        f.node.destroy_publisher(f.img)
        f.img = f.node.create_publisher(Image, "camera/head/image_raw", qos_profile_sensor_data)
        f.instr.publish(String(data="wave"))
        try:
            if reliability == "reliable":
                assert spin_until(f.ex, lambda n=node: "incompatible QoS (RELIABILITY)" in n.last_reject, 10), node.last_reject
                spin_until(f.ex, lambda: False, 1.0)
                assert not f.chunks and "image_reliability" in node.last_reject  # still the reason, tick after tick
            else:
                assert spin_until(f.ex, lambda f=f: len(f.chunks) >= 1, 30), node.last_reject
        finally:
            f.ex.shutdown()
            node.destroy_node()
            f.node.destroy_node()
