"""camera_node: frames from a device or a file → sensor_msgs/Image (rgb8) + CameraInfo, stamped at capture.

Topics (relative): `camera/head/image_raw` and `camera/head/camera_info` (reliable, keep-last 2, after REP-2003:
each subscriber chooses its reliability; `image_reliability` best_effort for the old behaviour), `/diagnostics`
(actual rate, late and dropped frames, lost-device count). Sources: `video` (file, optional loop),
`folder` (images), `v4l2` (OpenCV device index or path), `realsense` (pyrealsense2 colour stream).
A lost device or unreadable file is reported and reopened every `retry_s`; the node does not exit.
A managed (lifecycle) node: configure opens the source, activate starts publishing, deactivate stops
publishing (the source stays open), cleanup closes it; with `autostart` (the default) it configures and
activates itself at start-up, otherwise `ros2 lifecycle set /camera configure` / `activate` or a lifecycle
manager drives it.
CameraInfo comes from `calibration` (a ROS camera_info YAML) or, when empty, a pinhole model with the
G1 head camera's (RealSense D435) horizontal field of view of 69.4°.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image

from psi0_camera.camera_config import CameraConfig
from psi0_camera.camera_sources import SourceLost, crop_resize, open_source
from psi0_core.image_codec import numpy_to_image, pinhole_info
from psi0_core.node_runner import run_node
from psi0_core.params import ConfigError
from psi0_core.qos import image_publisher_qos
from psi0_core.ros_lifecycle import ReleasingLifecycleNode
from psi0_core.ros_params import declare_config


def default_info(width: int, height: int, hfov_deg: float = 69.4) -> CameraInfo:
    return pinhole_info(width, height, 0.5 * width / math.tan(math.radians(hfov_deg) / 2))


def info_from_yaml(path: str) -> CameraInfo:
    """ROS camera_info YAML (camera_calibration_parsers layout)."""
    d = yaml.safe_load(Path(path).read_text())
    try:
        info = CameraInfo(width=int(d["image_width"]), height=int(d["image_height"]),
                          distortion_model=d.get("distortion_model", "plumb_bob"))
        info.k = [float(v) for v in d["camera_matrix"]["data"]]
        info.d = [float(v) for v in d["distortion_coefficients"]["data"]]
        info.r = [float(v) for v in d.get("rectification_matrix", {"data": [1, 0, 0, 0, 1, 0, 0, 0, 1]})["data"]]
        info.p = [float(v) for v in d["projection_matrix"]["data"]]
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"calibration {path}: {e!r}") from e
    return info


class CameraNode(ReleasingLifecycleNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera", **kwargs)
        self.source = None  # before anything can fail: destroy_node closes it
        cfg = self.cfg = declare_config(self, CameraConfig)
        self.info = info_from_yaml(cfg.calibration) if cfg.calibration else None
        qos = image_publisher_qos(cfg.image_reliability)  # REP-2003: reliable publisher, consumers choose
        self.pub_img = self.create_publisher(Image, f"{cfg.topic}/image_raw", qos)
        self.pub_info = self.create_publisher(CameraInfo, f"{cfg.topic}/camera_info", qos)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.next_retry = 0.0
        self.stats = {"published": 0, "late": 0, "lost": 0, "ended": False}
        self.last_error = ""
        self.stamps: list[float] = []
        self.period = 1.0 / cfg.rate_hz
        self.last_tick: float | None = None
        self.create_timer(self.period, self._tick)
        self.create_timer(1.0, self._diagnostics)
        if cfg.autostart:
            self.trigger_configure()
            self.trigger_activate()

    # ---- lifecycle ------------------------------------------------------------------------------
    @property
    def lifecycle_state(self) -> str:
        return self._state_machine.current_state[1]

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._open()  # a source that is not there yet is retried every retry_s (reported, not a failure)
        return super().on_configure(state)

    def _release(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            except Exception as e:
                self.get_logger().warning(f"closing the camera source: {e!r}")
        self.source = None

    def _open(self) -> None:
        c = self.cfg
        try:
            self.source = open_source(c.source, c.uri, c.loop, c.width, c.height)
            self.last_error = ""
        except SourceLost as e:
            self._lost(str(e))

    def _lost(self, why: str) -> None:
        self.stats["lost"] += 1
        self.last_error = why
        self.get_logger().error(f"camera source lost: {why}; retrying every {self.cfg.retry_s} s",
                                throttle_duration_sec=5.0)
        self._release()
        self.next_retry = time.monotonic() + self.cfg.retry_s

    def _tick(self) -> None:
        if self.lifecycle_state != "active":
            self.last_tick = None
            return
        t = time.monotonic()
        if self.last_tick is not None and t - self.last_tick > 1.5 * self.period:
            self.stats["late"] += 1
        self.last_tick = t
        if self.source is None:
            if t >= self.next_retry:
                self._open()
            return
        try:
            rgb = self.source.read()
        except SourceLost as e:
            self._lost(str(e))
            return
        stamp = self.get_clock().now()  # stamped at capture
        if rgb is None:
            self.stats["ended"] = True
            return
        rgb = crop_resize(rgb, self.cfg.crop, self.cfg.width, self.cfg.height)
        h, w = rgb.shape[:2]
        img = numpy_to_image(rgb, "rgb8")
        img.header.stamp, img.header.frame_id = stamp.to_msg(), self.cfg.frame_id
        self.pub_img.publish(img)
        info = self.info if self.info is not None else default_info(w, h)
        info.header = img.header
        self.pub_info.publish(info)
        self.stats["published"] += 1
        self.stamps = [*self.stamps[-99:], stamp.nanoseconds * 1e-9]

    def actual_rate(self) -> float:
        s = self.stamps
        return (len(s) - 1) / (s[-1] - s[0]) if len(s) > 2 and s[-1] > s[0] else 0.0

    def _diagnostics(self) -> None:
        d = DiagnosticStatus(name="psi0 camera", hardware_id=self.cfg.uri or self.cfg.source)
        if self.lifecycle_state != "active":
            d.level, d.message = bytes([0]), self.lifecycle_state
            self._send(d)
            return
        lost = self.source is None
        d.level = bytes([2 if lost else 1 if self.stats["late"] else 0])
        d.message = self.last_error if lost else f"{self.actual_rate():.1f} Hz"
        d.values = [KeyValue(key=k, value=str(v)) for k, v in {**self.stats, "rate_hz": round(self.actual_rate(), 2),
                                                               "requested_hz": self.cfg.rate_hz}.items()]
        self._send(d)

    def _send(self, d: DiagnosticStatus) -> None:
        arr = DiagnosticArray(status=[d])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

    def destroy_node(self) -> None:
        self._release()
        super().destroy_node()


def main() -> int:
    return run_node(CameraNode)


if __name__ == "__main__":
    sys.exit(main())
