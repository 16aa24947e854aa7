"""Rosbags recorded by this stack (`psi0 record`) → one Episode per bag: the operator's own demonstrations.

Topics (names configurable): camera image(s) (sensor_msgs/Image), `joint_states`, the executed
actions — psi0_msgs/ActionChunk (a policy or scripted expert) or sensor_msgs/JointState teleoperation
targets named like the 36 Ψ0 action columns — and optionally `instruction` (std_msgs/String).

One frame per image of the first camera, at its header stamp (the capture time). For each frame at t:
- action: what the bridge executed at t — the recorded chunks replayed through the chunk contract
  (psi0_core.chunks.replay: each chunk from the time the recorder received it, switching at the first due step
  ≥ its prefix, interpolated between rows, never extrapolated: where no step is due the last command holds).
  A recorder on another clock than the chunks' stamps (wall time beside a simulator's) cannot say when a chunk
  arrived on the stamps' clock; each chunk then counts as arrived at its step 0 (ARRIVAL_CLOCK_TOLERANCE_S);
  for JointState targets, the newest target ≤ t. Columns an action does not name keep the default pose.
- state: the G1 adapter's 36-D state from the newest joint_states ≤ t and the torso rpy and height commanded at
  the frame before (the official "previous command" in dims 28–31; the nominal pose before the first frame).
Frames before the first chunk step is due, or after the last one (+ one step), are left out: the episode is
the span in which the robot executed the demonstration. Other cameras give, per frame, their newest image ≤ t.
Images are read in a second pass while the writer encodes (constant memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from psi0_core.bag_types import typestore
from psi0_core.chunks import Chunk, Received, replay
from psi0_core.g1_adapter import G1Adapter
from psi0_core.image_codec import image_to_numpy
from psi0_policy.data.episode import Episode, EpisodeError

ARRIVAL_CLOCK_TOLERANCE_S = 10.0  # receive times this far from every chunk's step 0 are on another clock


def _abs(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def _stamp(msg) -> float:
    """A rosbags message's header stamp in seconds (rosbags' own Time objects: no ROS message import here)."""
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def camera_key(topic: str) -> str:
    parts = [p for p in topic.strip("/").split("/") if p not in ("camera", "image_raw", "image", "color")]
    return "_".join(parts) or "head"


def read_bag(path: str | Path, image_topics: tuple[str, ...] = ("camera/head/image_raw",),
             action_topic: str = "action_chunk", joint_topic: str = "joint_states",
             instruction_topic: str = "instruction", task: str | None = None, fps: float = 30.0,
             action_frame: str = "") -> Episode:
    """`action_frame`: only ActionChunks whose header.frame_id is this count (e.g. "expert": the scripted
    expert's chunks, not the harness's reset/hold chunks recorded around them); "" = all."""
    path = Path(path)
    adapter = G1Adapter()
    image_topics = tuple(_abs(t) for t in image_topics)
    want = {_abs(action_topic), _abs(joint_topic), _abs(instruction_topic)}
    joints: list[tuple[float, dict[str, float]]] = []
    chunks: list[Received] = []
    targets: list[tuple[float, np.ndarray]] = []
    stamps: dict[str, list[float]] = {t: [] for t in image_topics}
    texts: list[str] = []
    try:
        with AnyReader([path], default_typestore=typestore()) as r:
            have = {c.topic: c.msgtype for c in r.connections}
            for t in (*image_topics, _abs(joint_topic), _abs(action_topic)):
                if t not in have:
                    raise EpisodeError(f"{path}: no topic {t} (has {sorted(have)})")
            conns = [c for c in r.connections if c.topic in want or c.topic in image_topics]
            for c, received_ns, raw in r.messages(connections=conns):
                msg = r.deserialize(raw, c.msgtype)
                if c.topic in image_topics:
                    stamps[c.topic].append(_stamp(msg))
                elif c.topic == _abs(joint_topic):
                    joints.append((_stamp(msg), dict(zip(msg.name, np.asarray(msg.position, dtype=float), strict=False))))
                elif c.topic == _abs(instruction_topic):
                    texts.append(msg.data)
                elif c.msgtype == "psi0_msgs/msg/ActionChunk":
                    if action_frame and msg.header.frame_id != action_frame:
                        continue
                    try:
                        rows = adapter.chunk_rows(msg.names, msg.horizon, msg.dim, msg.data)
                    except ValueError as e:
                        raise EpisodeError(f"{path}: chunk {msg.chunk_id}: {e}") from e
                    chunk = Chunk(int(msg.chunk_id), _stamp(msg), float(msg.dt), rows, int(msg.prefix_len))
                    chunks.append(Received(received_ns * 1e-9, chunk))
                elif c.msgtype == "sensor_msgs/msg/JointState":
                    targets.append((_stamp(msg), adapter.action_from_targets(msg.name, msg.position)))
                else:
                    raise EpisodeError(f"{path}: action topic {c.topic} has type {c.msgtype} (ActionChunk or JointState)")
    except EpisodeError:
        raise
    except Exception as e:  # rosbags raises many kinds on a damaged bag
        raise EpisodeError(f"{path}: unreadable bag ({type(e).__name__}: {e})") from e
    if not joints or not (chunks or targets):
        raise EpisodeError(f"{path}: no joint_states or no actions recorded")
    t_img = np.asarray(stamps[image_topics[0]])
    if chunks and max(abs(r.arrival - r.chunk.t0) for r in chunks) > ARRIVAL_CLOCK_TOLERANCE_S:
        chunks = [Received(r.chunk.t0, r.chunk) for r in chunks]
    if chunks:
        done = replay(chunks, t_img, adapter.default_action())
        actions, due = done.commands, done.due
        last_end = max(r.chunk.t_end + r.chunk.dt for r in chunks)
        in_span = (t_img >= t_img[due][0]) & (t_img <= last_end) if due.any() else np.zeros(len(t_img), bool)
    else:
        t_tg = np.array([x[0] for x in targets])
        newest = np.searchsorted(t_tg, t_img, side="right") - 1
        actions = np.array([targets[max(k, 0)][1] for k in newest]).reshape(len(t_img), -1)
        in_span = (t_img >= t_tg[0]) & (t_img <= t_tg[-1] + 1 / fps)
    keep = np.flatnonzero(in_span & (t_img >= joints[0][0]))
    if len(keep) < 2:
        raise EpisodeError(f"{path}: fewer than 2 camera frames while actions were executed")
    t_j = np.array([j[0] for j in joints])
    action = actions[keep]
    newest_js = np.maximum(np.searchsorted(t_j, t_img[keep], side="right") - 1, 0)
    previous = np.vstack([adapter.default_action()[None], actions])[keep]  # the command of frame k − 1
    try:
        state = np.stack([adapter.state_from_joints(joints[k][1], adapter.commanded(a))
                          for k, a in zip(newest_js, previous, strict=True)])
    except KeyError as e:
        raise EpisodeError(f"{path}: {e.args[0]}") from e
    t_keep = t_img[keep]

    def frames(topic: str) -> Iterator[np.ndarray]:
        ts = np.asarray(stamps[topic])
        wanted = [int(np.searchsorted(ts, t, side="right")) - 1 for t in t_keep]  # newest image ≤ t per frame
        with AnyReader([path], default_typestore=typestore()) as r:
            conns = [c for c in r.connections if c.topic == topic]
            it = (r.deserialize(raw, c.msgtype) for c, _, raw in r.messages(connections=conns))
            k, img = -1, None
            for w in wanted:
                w = max(w, 0)
                while k < w:
                    img = next(it)
                    k += 1
                yield image_to_numpy(img, "rgb8")

    task = task or (texts[-1] if texts else "")
    if not task:
        raise EpisodeError(f"{path}: no instruction recorded and no task given")
    return Episode(name=str(path), task=task, capture_time=t_keep - t_keep[0], state=state, action=action,
                   cameras={camera_key(t): (lambda t=t: frames(t)) for t in image_topics}, fps=fps)


def find_bags(root: str | Path) -> list[Path]:
    """Bag folders (holding metadata.yaml) under root (itself included), in name order."""
    root = Path(root)
    if (root / "metadata.yaml").exists():
        return [root]
    return sorted(p.parent for p in root.rglob("metadata.yaml"))
