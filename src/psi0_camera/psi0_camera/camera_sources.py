"""Frame sources for the camera node (no rclpy): video file, image folder, V4L2 device, RealSense.

Every source returns RGB uint8 frames (H, W, 3) from `read()`, or None at the end of a non-looping
file/folder; a device that fails raises `SourceLost` (the node reports it and reopens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class SourceLost(RuntimeError):
    """The device or file stopped delivering frames."""


class FrameSource(Protocol):
    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class VideoFileSource:
    """Decodes a video file with PyAV (FFmpeg); `loop` restarts at the end."""

    def __init__(self, path: str, loop: bool = True) -> None:
        import av

        if not Path(path).exists():
            raise SourceLost(f"video file {path} does not exist")
        self.path, self.loop, self._av = path, loop, av
        self._open()

    def _open(self) -> None:
        self.container = self._av.open(self.path)
        self.frames = self.container.decode(video=0)

    def read(self) -> np.ndarray | None:
        try:
            return next(self.frames).to_ndarray(format="rgb24")
        except StopIteration:
            if not self.loop:
                return None
            self.container.close()
            self._open()
            return next(self.frames).to_ndarray(format="rgb24")
        except self._av.error.FFmpegError as e:
            raise SourceLost(f"{self.path}: {e}") from e

    def close(self) -> None:
        self.container.close()


class FolderSource:
    """Images of a folder (png/jpg/jpeg, sorted by name)."""

    def __init__(self, path: str, loop: bool = True) -> None:
        self.files = sorted(p for p in Path(path).glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not self.files:
            raise SourceLost(f"no images in {path}")
        self.loop, self.i = loop, 0

    def read(self) -> np.ndarray | None:
        from PIL import Image

        if self.i >= len(self.files):
            if not self.loop:
                return None
            self.i = 0
        f = self.files[self.i]
        self.i += 1
        try:
            return np.asarray(Image.open(f).convert("RGB"))
        except OSError as e:
            raise SourceLost(f"{f}: {e}") from e

    def close(self) -> None:
        pass


class V4L2Source:
    """A V4L2/UVC device through OpenCV (index like "0" or a path like /dev/video2)."""

    def __init__(self, device: str, width: int = 0, height: int = 0) -> None:
        try:
            import cv2
        except ImportError as e:
            raise SourceLost("the v4l2 source needs OpenCV (pip install opencv-python-headless)") from e
        self.cv2 = cv2
        self.cap = cv2.VideoCapture(int(device) if device.isdigit() else device)
        if width and height:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if not self.cap.isOpened():
            raise SourceLost(f"cannot open video device {device}")

    def read(self) -> np.ndarray | None:
        ok, bgr = self.cap.read()
        if not ok:
            raise SourceLost("video device delivered no frame")
        return bgr[..., ::-1].copy()

    def close(self) -> None:
        self.cap.release()


class RealSenseSource:
    """An Intel RealSense colour stream (pyrealsense2, when installed)."""

    def __init__(self, serial: str = "", width: int = 640, height: int = 480, fps: int = 30) -> None:
        try:
            import pyrealsense2 as rs
        except ImportError as e:
            raise SourceLost("the realsense source needs pyrealsense2") from e
        self.pipe = rs.pipeline()
        cfg = rs.config()
        if serial:
            cfg.enable_device(serial)
        cfg.enable_stream(rs.stream.color, width or 640, height or 480, rs.format.rgb8, fps)
        try:
            self.pipe.start(cfg)
        except RuntimeError as e:
            raise SourceLost(f"RealSense: {e}") from e

    def read(self) -> np.ndarray | None:
        try:
            frames = self.pipe.wait_for_frames(timeout_ms=1000)
        except RuntimeError as e:
            raise SourceLost(f"RealSense: {e}") from e
        return np.asanyarray(frames.get_color_frame().get_data()).copy()

    def close(self) -> None:
        self.pipe.stop()


def open_source(kind: str, uri: str, loop: bool, width: int = 0, height: int = 0) -> FrameSource:
    if kind == "video":
        return VideoFileSource(uri, loop)
    if kind == "folder":
        return FolderSource(uri, loop)
    if kind == "v4l2":
        return V4L2Source(uri or "0", width, height)
    if kind == "realsense":
        return RealSenseSource(uri, width, height)
    raise ValueError(f"unknown camera source {kind!r}")


def crop_resize(rgb: np.ndarray, crop: list[int], width: int, height: int) -> np.ndarray:
    """Crop [x, y, w, h] (empty: none), then resize to width × height (0: keep)."""
    if crop:
        x, y, w, h = crop
        rgb = rgb[y: y + h, x: x + w]
    if width and height and (rgb.shape[1], rgb.shape[0]) != (width, height):
        from PIL import Image

        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))
    return np.ascontiguousarray(rgb)
