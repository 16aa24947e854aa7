"""Rosbags recorded by this stack (`psi0 record`) → one Episode per bag: the operator's own demonstrations.

Topics (names configurable): camera image(s) (sensor_msgs/Image), `joint_states`, the executed
actions — psi0_msgs/ActionChunk (a policy or scripted expert) or sensor_msgs/JointState teleoperation
targets named like the 36 Ψ0 action columns — and optionally `instruction` (std_msgs/String).

One frame per image of the first camera, at its header stamp (the capture time). For each frame at t:
- action: what the bridge executes at t under the chunk contract (DESIGN.md §7): the newest chunk
  whose first due step ≥ its prefix has come (stamp + prefix_len·dt ≤ t), linearly interpolated between
  its rows, the last row held after its end; for JointState targets, the newest target ≤ t (columns it
  does not name keep the default pose).
- state: hands 14 and arms 14 from the newest joint_states ≤ t, the torso rpy and height of the action
  in force (the "last commanded" part of DESIGN.md §6), zeros 4.
Frames before the first action is in force, or after the last chunk ended (+ one step), are left out:
the episode is the span in which the robot executed the demonstration. Other cameras give, per
frame, their newest image ≤ t. Images are read in a second pass while the writer encodes (constant memory).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from psi0.bags.types import typestore
from psi0.image_codec import image_to_numpy
from psi0.robot import ARM_MOTORS, BASE_HEIGHT, TORSO_RPY, action_names, default_action, load_g1
from psi0_policy.data.episode import Episode, EpisodeError


def _abs(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def camera_key(topic: str) -> str:
    parts = [p for p in topic.strip("/").split("/") if p not in ("camera", "image_raw", "image", "color")]
    return "_".join(parts) or "head"


class _Chunks:
    """The executed action at time t from a sequence of ActionChunks (times on the shared clock)."""

    def __init__(self, chunks: list[tuple[float, float, int, np.ndarray]]) -> None:
        self.chunks = sorted(chunks, key=lambda c: c[0] + c[2] * c[1])  # by the time each takes over
        self.takeover = [s + p * dt for s, dt, p, _ in self.chunks]

    def start(self) -> float:
        s, dt, p, _ = self.chunks[0]
        return s + p * dt

    def end(self) -> float:
        return max(s + (len(a) - 1) * dt for s, dt, _, a in self.chunks) + self.chunks[-1][1]

    def at(self, t: float) -> np.ndarray | None:
        k = bisect.bisect_right(self.takeover, t + 1e-9) - 1
        if k < 0:
            return None
        s, dt, _, a = self.chunks[k]
        x = np.clip((t - s) / dt, 0, len(a) - 1)
        i = int(np.floor(x))
        j = min(i + 1, len(a) - 1)
        return a[i] + (x - i) * (a[j] - a[i])


def read_bag(path: str | Path, image_topics: tuple[str, ...] = ("camera/head/image_raw",),
             action_topic: str = "action_chunk", joint_topic: str = "joint_states",
             instruction_topic: str = "instruction", task: str | None = None, fps: float = 30.0,
             action_frame: str = "") -> Episode:
    """`action_frame`: only ActionChunks whose header.frame_id is this count (e.g. "expert": the scripted
    expert's chunks, not the harness's reset/hold chunks recorded around them); "" = all."""
    path = Path(path)
    names36 = action_names()
    g1 = load_g1()
    hand_names = list(g1.hands.names)
    arm_names = [g1.body.names[m] for m in ARM_MOTORS]
    image_topics = tuple(_abs(t) for t in image_topics)
    want = {_abs(action_topic), _abs(joint_topic), _abs(instruction_topic)}
    joints: list[tuple[float, dict[str, float]]] = []
    chunks: list[tuple[float, float, int, np.ndarray]] = []
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
            for c, _, raw in r.messages(connections=conns):
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
                    cols = [names36.index(n) if n in names36 else -1 for n in msg.names]
                    if -1 in cols or msg.dim != len(cols):
                        raise EpisodeError(f"{path}: chunk {msg.chunk_id} has columns outside the Ψ0 layout: {list(msg.names)}")
                    data = np.asarray(msg.data, dtype=np.float64).reshape(msg.horizon, msg.dim)
                    a = np.tile(default_action(), (msg.horizon, 1))
                    a[:, cols] = data
                    chunks.append((_stamp(msg), float(msg.dt), int(msg.prefix_len), a))
                elif c.msgtype == "sensor_msgs/msg/JointState":
                    a = default_action()
                    for n, q in zip(msg.name, msg.position, strict=False):
                        if n in names36:
                            a[names36.index(n)] = q
                    targets.append((_stamp(msg), a))
                else:
                    raise EpisodeError(f"{path}: action topic {c.topic} has type {c.msgtype} (ActionChunk or JointState)")
    except EpisodeError:
        raise
    except Exception as e:  # rosbags raises many kinds on a damaged bag
        raise EpisodeError(f"{path}: unreadable bag ({type(e).__name__}: {e})") from e
    if not joints or not (chunks or targets):
        raise EpisodeError(f"{path}: no joint_states or no actions recorded")
    first = image_topics[0]
    t_img = np.asarray(stamps[first])
    src = _Chunks(chunks) if chunks else None
    if src is not None:
        lo, hi = src.start(), src.end()
    else:
        lo, hi = targets[0][0], targets[-1][0] + 1 / fps
    keep = np.flatnonzero((t_img >= lo) & (t_img <= hi) & (t_img >= joints[0][0]))
    if len(keep) < 2:
        raise EpisodeError(f"{path}: fewer than 2 camera frames while actions were executed")
    t_j = np.array([j[0] for j in joints])
    t_tg = np.array([x[0] for x in targets])
    state = np.zeros((len(keep), 36))
    action = np.zeros((len(keep), 36))
    for row, k in enumerate(keep):
        t = t_img[k]
        a = src.at(t) if src is not None else targets[int(np.searchsorted(t_tg, t, side="right")) - 1][1]
        js = joints[max(0, int(np.searchsorted(t_j, t, side="right")) - 1)][1]
        miss = [n for n in hand_names + arm_names if n not in js]
        if miss:
            raise EpisodeError(f"{path}: joint_states lacks {miss[:3]}")
        action[row] = a
        state[row, :14] = [js[n] for n in hand_names]
        state[row, 14:28] = [js[n] for n in arm_names]
        state[row, 28:31] = a[TORSO_RPY]
        state[row, 31] = a[BASE_HEIGHT]
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
