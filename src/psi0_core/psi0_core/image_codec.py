"""numpy ⇄ sensor_msgs/Image without cv_bridge (none works here). rgb8, bgr8, mono8, 16UC1.

Encoding rules (REP/sensor_msgs): `step` = bytes per row (≥ width × bytes per pixel; rows may be
padded); multi-byte pixels follow `is_bigendian`. Reading honours both; writing produces tightly
packed rows in the machine's byte order.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the message classes are imported where messages are built: decoding also serves rosbags' objects
    from sensor_msgs.msg import CameraInfo, Image

_FORMATS = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "mono8": (np.uint8, 1), "16UC1": (np.uint16, 1)}


def image_to_numpy(msg: Any, want: str | None = None) -> np.ndarray:
    """Decode a sensor_msgs/Image (rclpy's or rosbags' object) to (H, W, C) (or (H, W) for mono/16UC1).
    `want` = "rgb8" converts bgr8 → rgb8 and mono8 → gray RGB."""
    if msg.encoding not in _FORMATS:
        raise ValueError(f"unsupported encoding {msg.encoding!r} (supported: {sorted(_FORMATS)})")
    dtype, ch = _FORMATS[msg.encoding]
    item = np.dtype(dtype).itemsize
    row = msg.width * ch * item
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ValueError(f"image {msg.width}x{msg.height} {msg.encoding}: step {msg.step} / {len(msg.data)} bytes too small")
    buf = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :row]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<") if item > 1 else np.dtype(dtype)
    arr = buf.copy().view(dt).reshape(msg.height, msg.width, ch).astype(dtype)
    if ch == 1:
        arr = arr[..., 0]
    if want == "rgb8":
        if msg.encoding == "bgr8":
            arr = arr[..., ::-1]
        elif msg.encoding == "mono8":
            arr = np.repeat(arr[..., None], 3, axis=2)
        elif msg.encoding == "16UC1":
            raise ValueError("16UC1 (depth) cannot be used as an RGB image")
    return np.ascontiguousarray(arr)


def numpy_to_image(arr: np.ndarray, encoding: str) -> Image:
    from sensor_msgs.msg import Image

    if encoding not in _FORMATS:
        raise ValueError(f"unsupported encoding {encoding!r}")
    dtype, ch = _FORMATS[encoding]
    a = np.ascontiguousarray(arr, dtype=dtype)
    if (ch == 1 and a.ndim != 2) or (ch == 3 and (a.ndim != 3 or a.shape[2] != 3)):
        raise ValueError(f"array of shape {a.shape} does not fit {encoding}")
    h, w = a.shape[:2]
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=int(sys.byteorder == "big"),
                step=w * ch * a.itemsize)
    msg.data = a.tobytes()
    return msg


def pinhole_info(width: int, height: int, fx: float, fy: float | None = None) -> CameraInfo:
    """sensor_msgs/CameraInfo of an undistorted pinhole camera with the principal point at the centre."""
    from sensor_msgs.msg import CameraInfo

    fy = fx if fy is None else fy
    cx, cy = (width - 1) / 2, (height - 1) / 2
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info
