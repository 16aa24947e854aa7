"""ROS messages → what the Foxglove live view sends. Pure functions (no rclpy, no server): the view node calls them.

Channels (Foxglove topic: message):
- /camera/head: foxglove CompressedImage (JPEG of the rgb8 image, its header's frame_id: `head_camera`)
- /joint_states: foxglove JointStates (name, position, velocity, effort per joint)
- /tf, /tf_static: foxglove FrameTransforms (the robot_state node's transforms)
- /action_chunk: JSON `{chunk_id, dt, horizon, prefix_len, inference_ms, first: {name: value}, chunk: {name: [H]}}`:
  plot `first.<name>` over time, or `chunk.<name>` as one curve per chunk
- /bridge/status, /policy/status: JSON, every field of BridgeStatus / PolicyStatus
- /robot_description: JSON `{data: <URDF>}` (schema name std_msgs/msg/String), also the `/robot_description`
  parameter the 3D panel looks for
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from foxglove.schemas import (
    CompressedImage,
    FrameTransform,
    FrameTransforms,
    JointState,
    JointStates,
    Quaternion,
    Timestamp,
    Vector3,
)
from PIL import Image as PILImage

from psi0_core.image_codec import image_to_numpy

STRING_SCHEMA = {"type": "object", "properties": {"data": {"type": "string"}}}


def stamp(header_stamp: Any) -> Timestamp:
    return Timestamp(int(header_stamp.sec), int(header_stamp.nanosec))


def to_ns(header_stamp: Any) -> int:
    return int(header_stamp.sec) * 1_000_000_000 + int(header_stamp.nanosec)


def jpeg_image(msg: Any, quality: int) -> CompressedImage:
    """sensor_msgs/Image (rgb8, bgr8 or mono8) → JPEG. ValueError for any other encoding or a short buffer."""
    if msg.encoding not in ("rgb8", "bgr8", "mono8"):
        raise ValueError(f"image encoding {msg.encoding!r} is not shown (rgb8, bgr8, mono8)")
    out = io.BytesIO()
    PILImage.fromarray(image_to_numpy(msg, "rgb8")).save(out, format="JPEG", quality=quality)
    return CompressedImage(timestamp=stamp(msg.header.stamp), frame_id=msg.header.frame_id, data=out.getvalue(),
                           format="jpeg")


def joint_states(msg: Any) -> JointStates:
    n = len(msg.name)

    def col(values: Any, i: int) -> float | None:
        return float(values[i]) if len(values) == n else None

    return JointStates(timestamp=stamp(msg.header.stamp), joints=[
        JointState(name=msg.name[i], position=col(msg.position, i), velocity=col(msg.velocity, i),
                   effort=col(msg.effort, i)) for i in range(n)])


def frame_transforms(msg: Any) -> FrameTransforms:
    """tf2_msgs/TFMessage → FrameTransforms."""
    out = []
    for t in msg.transforms:
        tr, r = t.transform.translation, t.transform.rotation
        out.append(FrameTransform(timestamp=stamp(t.header.stamp), parent_frame_id=t.header.frame_id,
                                  child_frame_id=t.child_frame_id, translation=Vector3(x=tr.x, y=tr.y, z=tr.z),
                                  rotation=Quaternion(x=r.x, y=r.y, z=r.z, w=r.w)))
    return FrameTransforms(transforms=out)


def action_chunk(msg: Any) -> dict[str, Any]:
    """psi0_msgs/ActionChunk → JSON for plots. ValueError when data is not horizon × dim."""
    h, d = int(msg.horizon), int(msg.dim)
    data = np.asarray(msg.data, dtype=float)
    if data.size != h * d or len(msg.names) != d:
        raise ValueError(f"action chunk {msg.chunk_id}: {data.size} values, {len(msg.names)} names for {h}x{d}")
    rows = data.reshape(h, d)
    return {"chunk_id": int(msg.chunk_id), "dt": float(msg.dt), "horizon": h, "prefix_len": int(msg.prefix_len),
            "inference_ms": _num(float(msg.inference_ms)),
            "first": {n: _num(float(rows[0, i])) for i, n in enumerate(msg.names)} if h else {},
            "chunk": {n: [_num(v) for v in rows[:, i].tolist()] for i, n in enumerate(msg.names)}}


def _num(v: float) -> float | None:
    """JSON has no NaN or infinity: those are sent as null."""
    return v if math.isfinite(v) else None


def message_dict(msg: Any) -> Any:
    """Any ROS message as plain JSON values (nested messages → dicts, arrays → lists, stamps → {sec, nanosec},
    NaN and infinities → null)."""
    if isinstance(msg, float):
        return _num(msg)
    if hasattr(msg, "get_fields_and_field_types"):
        return {f: message_dict(getattr(msg, f)) for f in msg.get_fields_and_field_types()}
    if isinstance(msg, bytes | bytearray):
        return list(msg)
    if isinstance(msg, list | tuple) or (hasattr(msg, "tolist") and not isinstance(msg, str)):
        values = msg.tolist() if hasattr(msg, "tolist") else msg
        return [message_dict(v) for v in values] if isinstance(values, list) else values
    return msg
