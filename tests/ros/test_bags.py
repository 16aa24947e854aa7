"""rosbag2 record and replay (MCAP and sqlite3): a bag recorded from a running graph replays into a fresh
graph with the same contents and inter-message timing; it reads back with a typestore built only from the
definitions stored in the bag."""

import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import JointState

from psi0.bags.record import Recorder
from psi0.bags.replay import Player
from psi0_msgs.msg import ActionChunk
from tests.conftest import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(90)]
Q = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def _chunk(k: int) -> ActionChunk:
    m = ActionChunk(chunk_id=k, dt=float(np.float32(1 / 30)), horizon=2, dim=3, names=["a", "b", "c"],
                    data=[float(np.float32(x)) for x in np.arange(6) * 0.5 + k], prefix_len=1)
    m.header.stamp.sec = 100 + k
    return m


def _record(ctx, path: Path, storage: str) -> list[tuple[str, float, object]]:
    node = Node("talker", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    pj, pc = node.create_publisher(JointState, "joint_states", Q), node.create_publisher(ActionChunk, "action_chunk", Q)
    rec_node = Node("recorder", context=ctx)
    ex.add_node(rec_node)
    rec = Recorder(rec_node, path, ["joint_states", "action_chunk"], storage=storage)
    rec.start({"joint_states": "sensor_msgs/msg/JointState", "action_chunk": "psi0_msgs/msg/ActionChunk"})
    spin_until(ex, lambda: pj.get_subscription_count() > 0 and pc.get_subscription_count() > 0, 10)
    sent = []
    t_end = time.monotonic() + 1.5
    k = 0
    while time.monotonic() < t_end:
        js = JointState(name=["j1", "j2"], position=[0.1 * k, -0.1 * k])
        pj.publish(js)
        sent.append(("/joint_states", time.monotonic(), js))
        if k % 10 == 0:
            c = _chunk(k // 10)
            pc.publish(c)
            sent.append(("/action_chunk", time.monotonic(), c))
        k += 1
        spin_until(ex, lambda: False, 0.01)
    spin_until(ex, lambda: rec.count >= len(sent), 5)
    rec.stop()
    ex.shutdown()
    return sent


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_record_then_replay_into_a_fresh_graph(rclpy_context, tmp_path, storage, ros_domain):
    bag = tmp_path / f"bag_{storage}"
    sent = _record(rclpy_context, bag, storage)
    assert (bag / "metadata.yaml").exists()

    # a fresh typestore from the bag's own definitions decodes everything
    with AnyReader([bag], default_typestore=get_typestore(Stores.EMPTY)) as r:
        decoded = [(c.topic, r.deserialize(raw, c.msgtype)) for c, _, raw in r.messages()]
    assert len(decoded) == len(sent)
    chunks = [m for t, m in decoded if t == "/action_chunk"]
    assert [c.chunk_id for c in chunks] == [m.chunk_id for t, _, m in sent if t == "/action_chunk"]
    assert list(chunks[1].data) == list(_chunk(1).data) and chunks[1].header.stamp.sec == 101

    # replay into a fresh graph: another context on another domain
    ctx = Context()
    rclpy.init(context=ctx, domain_id=ros_domain + 1)
    try:
        node = Node("replayer", context=ctx)
        sub = Node("listener", context=ctx)
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)
        ex.add_node(sub)
        got = []
        sub.create_subscription(JointState, "/joint_states", lambda m: got.append(("/joint_states", time.monotonic(), m)), Q)
        sub.create_subscription(ActionChunk, "/action_chunk", lambda m: got.append(("/action_chunk", time.monotonic(), m)), Q)
        player = Player(node, bag)
        spin_until(ex, lambda: all(p.get_subscription_count() > 0 for p in player.pubs.values()), 10)
        player.play(spin=lambda s: ex.spin_once(timeout_sec=s))
        spin_until(ex, lambda: len(got) >= len(sent), 5)
    finally:
        rclpy.try_shutdown(context=ctx)
    assert [(t, type(m)) for t, _, m in got] == [(t, type(m)) for t, _, m in sent]
    assert [list(m.position) for t, _, m in got if t == "/joint_states"] == \
        [list(m.position) for t, _, m in sent if t == "/joint_states"]
    gaps_sent = np.diff([x[1] for x in sent])
    gaps_got = np.diff([x[1] for x in got])
    err = np.abs(gaps_got - gaps_sent)
    print(f"{storage}: {len(got)} messages, inter-message timing error p50 {np.median(err) * 1e3:.2f} ms, "
          f"max {err.max() * 1e3:.2f} ms")
    assert np.percentile(err, 95) < 0.005


def test_split_by_duration(rclpy_context, tmp_path):
    node = Node("talker", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    pub = node.create_publisher(JointState, "joint_states", Q)
    rec = Recorder(node, tmp_path / "split", ["joint_states"], split_duration_s=0.5)
    rec.start({"joint_states": "sensor_msgs/msg/JointState"})
    spin_until(ex, lambda: pub.get_subscription_count() > 0, 10)
    t_end = time.monotonic() + 1.3
    while time.monotonic() < t_end:
        pub.publish(JointState(name=["j"], position=[1.0]))
        spin_until(ex, lambda: False, 0.02)
    paths = rec.stop()
    ex.shutdown()
    assert len(paths) == 3 and all((p / "metadata.yaml").exists() for p in paths)


def test_psi0_record_and_replay_commands(spawn, tmp_path, ros_domain):
    """The CLI end to end: record a live heartbeat topic for 1.5 s, then replay the bag."""
    from psi0.launcher import find_executable

    spawn([str(find_executable("psi0", "estop_heartbeat")), "--ros-args", "-p", "rate_hz:=20.0"], name="heartbeat")
    rec = spawn(["psi0", "record", str(tmp_path / "hb"), "estop", "--duration", "1.5"], name="record")
    assert rec.wait(timeout=40) == 0, rec.output()
    with AnyReader([tmp_path / "hb"], default_typestore=get_typestore(Stores.EMPTY)) as r:
        n = sum(1 for _ in r.messages())
        assert r.connections[0].msgtype == "std_msgs/msg/Bool"
    assert 20 <= n <= 40, n  # 20 Hz for 1.5 s
    rep = spawn(["psi0", "replay", str(tmp_path / "hb"), "--rate", "2.0", "--remap", "/estop:=/estop_replayed"],
                name="replay")
    assert rep.wait(timeout=30) == 0, rep.output()
    assert f"published {n} messages" in rep.output()


def _offered(bag: Path) -> dict[str, list[dict]]:
    """topic -> offered_qos_profiles, read from metadata.yaml itself (what `ros2 bag play` reads)."""
    import yaml

    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    out = {}
    for entry in info["topics_with_message_count"]:
        meta = entry["topic_metadata"]
        profiles = meta["offered_qos_profiles"]
        out[meta["name"]] = yaml.safe_load(profiles) if isinstance(profiles, str) else profiles
    return out


def test_offered_qos_is_recorded_and_a_latched_topic_replays_latched(rclpy_context, tmp_path, ros_domain):
    """A transient-local topic (its one sample published before recording starts) and a best-effort one: the recorder
    matches both publishers (a reliable subscription gets nothing from a best-effort publisher), writes what they
    offered into metadata.yaml, and the replay latches the latched topic again for a subscriber that comes late."""
    from std_msgs.msg import String

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    fast = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    node = Node("talker", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    node.create_publisher(String, "task_goal", latched).publish(String(data="pick up the red cube"))
    pf = node.create_publisher(JointState, "fast_state", fast)
    rec = Recorder(node, tmp_path / "qos", ["task_goal", "fast_state"])
    rec.start({"task_goal": "std_msgs/msg/String", "fast_state": "sensor_msgs/msg/JointState"})
    t_end = time.monotonic() + 5
    while time.monotonic() < t_end and not (rec.counts["task_goal"] == 1 and rec.counts["fast_state"] >= 10):
        pf.publish(JointState(name=["j"], position=[1.0]))
        spin_until(ex, lambda: False, 0.02)
    (bag,) = rec.stop()
    ex.shutdown()
    assert rec.counts["task_goal"] == 1 and rec.counts["fast_state"] >= 10, rec.counts

    offered = _offered(bag)
    (goal,), (state,) = offered["/task_goal"], offered["/fast_state"]
    assert (goal["durability"], goal["reliability"]) == ("transient_local", "reliable")
    assert (state["durability"], state["reliability"]) == ("volatile", "best_effort")

    ctx = Context()
    rclpy.init(context=ctx, domain_id=ros_domain + 1)
    try:
        player_node = Node("replayer", context=ctx)
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(player_node)
        player = Player(player_node, bag)
        assert player.pubs["/task_goal"].qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
        player.play(spin=lambda s: ex.spin_once(timeout_sec=s))
        got = []
        late = Node("late_listener", context=ctx)  # subscribes after the replay has ended
        ex.add_node(late)
        late.create_subscription(String, "/task_goal", lambda m: got.append(m.data), latched)
        assert spin_until(ex, lambda: got, 10), "the latched sample was not kept for a late subscriber"
        assert got == ["pick up the red cube"]
    finally:
        rclpy.try_shutdown(context=ctx)
