"""The camera node's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require
from psi0_core.qos import IMAGE_RELIABILITY


@dataclass(frozen=True)
class CameraConfig(NodeConfig, node="camera"):
    source: str = param("video", "frame source", choices=("video", "folder", "v4l2", "realsense"))
    uri: str = param("", "file, folder, device index/path, or RealSense serial")
    loop: bool = param(True, "restart a file/folder at its end")
    rate_hz: float = param(30.0, "publish rate", range=(1.0, 120.0))
    width: int = param(0, "output width (0: as captured)", range=(0, 4096))
    height: int = param(0, "output height (0: as captured)", range=(0, 4096))
    crop: tuple[int, ...] = param([], "crop [x, y, w, h] before resizing (empty: none)")
    frame_id: str = param("head_camera", "header.frame_id")
    calibration: str = param("", "camera_info YAML (empty: D435 default pinhole)")
    topic: str = param("camera/head", "topic prefix: <topic>/image_raw, <topic>/camera_info")
    autostart: bool = param(True, "configure and activate at start-up (false: wait for lifecycle transitions)")
    image_reliability: str = param("reliable", "QoS reliability of image_raw and camera_info (REP-2003: reliable; "
                                   "each subscriber chooses; psi0_core.qos)",
                                   choices=IMAGE_RELIABILITY)
    retry_s: float = param(1.0, "reopen a lost source after this long", range=(0.1, 60.0))

    def check(self) -> None:
        require(len(self.crop) in (0, 4), "camera.crop must be [x, y, w, h]")
        require(len(self.crop) == 0 or (self.crop[2] > 0 and self.crop[3] > 0 and min(self.crop[:2]) >= 0),
                "camera.crop: x, y must be ≥ 0 and w, h > 0")
        require((self.width == 0) == (self.height == 0), "camera: set both width and height, or neither (0: as captured)")
