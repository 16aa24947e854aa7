"""camera_node: a generated video file published at the requested rate with monotonic capture stamps;
folders, crops/resizes, calibration YAML; a lost source is reported and retried, not a crash."""

import time
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from psi0_camera.camera_node import CameraNode
from psi0_camera.camera_sources import FolderSource, VideoFileSource, crop_resize
from psi0_core.image_codec import image_to_numpy
from psi0_core.params import ConfigError
from tests.conftest import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]


def make_video(path: Path, frames: int = 20, size=(64, 48)) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=30)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[..., 0] = i * 10  # red ramp: tells frames apart
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.unit
def test_video_source_loops_and_folder_source_reads(tmp_path):
    v = VideoFileSource(str(make_video(tmp_path / "v.mp4", frames=5)), loop=True)
    frames = [v.read() for _ in range(7)]
    assert frames[0].shape == (48, 64, 3) and all(f is not None for f in frames)
    v.close()
    once = VideoFileSource(str(tmp_path / "v.mp4"), loop=False)
    assert [once.read() is None for _ in range(6)][-1]
    from PIL import Image as PILImage

    for i in range(3):
        PILImage.fromarray(np.full((10, 12, 3), i * 50, np.uint8)).save(tmp_path / f"f{i}.png")
    f = FolderSource(str(tmp_path), loop=False)
    assert [int(f.read()[0, 0, 0]) for _ in range(3)] == [0, 50, 100] and f.read() is None
    assert crop_resize(np.zeros((48, 64, 3), np.uint8), [8, 4, 32, 24], 16, 12).shape == (12, 16, 3)


def _collect(ctx, node, seconds):
    sub = Node("cam_sub", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(sub)
    imgs, infos = [], []
    sub.create_subscription(Image, "camera/head/image_raw", imgs.append, qos_profile_sensor_data)
    sub.create_subscription(CameraInfo, "camera/head/camera_info", infos.append, qos_profile_sensor_data)
    spin_until(ex, lambda: len(imgs) > 0, 10)
    imgs.clear()
    t0 = time.monotonic()
    spin_until(ex, lambda: False, seconds)
    elapsed = time.monotonic() - t0
    ex.shutdown()
    sub.destroy_node()
    return imgs, infos, elapsed


def test_video_file_published_at_the_requested_rate(rclpy_context, tmp_path):
    video = make_video(tmp_path / "v.mp4")
    node = CameraNode(context=rclpy_context, parameter_overrides=[
        Parameter("uri", value=str(video)), Parameter("rate_hz", value=20.0),
        Parameter("width", value=32), Parameter("height", value=24)])
    imgs, infos, elapsed = _collect(rclpy_context, node, 3.0)
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in imgs])
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    print(f"{len(imgs)} frames in {elapsed:.2f} s, stamp rate {rate:.2f} Hz")
    assert abs(rate - 20.0) / 20.0 < 0.1 and abs(len(imgs) / elapsed - 20.0) / 20.0 < 0.1
    assert np.all(np.diff(stamps) > 0)
    assert image_to_numpy(imgs[-1]).shape == (24, 32, 3) and infos[-1].width == 32 and infos[-1].k[0] > 0
    node.destroy_node()


def test_calibration_yaml_and_bad_crop(rclpy_context, tmp_path):
    cal = tmp_path / "cam.yaml"
    cal.write_text(yaml.safe_dump({
        "image_width": 64, "image_height": 48, "distortion_model": "plumb_bob",
        "camera_matrix": {"rows": 3, "cols": 3, "data": [50, 0, 32, 0, 50, 24, 0, 0, 1]},
        "distortion_coefficients": {"rows": 1, "cols": 5, "data": [0.1, 0, 0, 0, 0]},
        "projection_matrix": {"rows": 3, "cols": 4, "data": [50, 0, 32, 0, 0, 50, 24, 0, 0, 0, 1, 0]}}))
    node = CameraNode(context=rclpy_context, parameter_overrides=[
        Parameter("uri", value=str(make_video(tmp_path / "v.mp4"))), Parameter("calibration", value=str(cal))])
    _, infos, _ = _collect(rclpy_context, node, 0.5)
    assert infos[-1].k[0] == 50.0 and infos[-1].d[0] == pytest.approx(0.1)
    node.destroy_node()
    with pytest.raises(ConfigError, match="crop"):
        CameraNode(context=rclpy_context, parameter_overrides=[Parameter("uri", value="x"), Parameter("crop", value=[1, 2])])


def test_lost_source_is_reported_and_retried(rclpy_context, tmp_path):
    missing = tmp_path / "later.mp4"
    node = CameraNode(context=rclpy_context, parameter_overrides=[
        Parameter("uri", value=str(missing)), Parameter("retry_s", value=0.2)])
    assert node.source is None and node.stats["lost"] == 1 and "does not exist" in node.last_error
    make_video(missing)  # the "device" comes back
    imgs, _, _ = _collect(rclpy_context, node, 1.0)
    assert imgs and node.source is not None
    node.destroy_node()


def test_managed_lifecycle_through_the_lifecycle_services(rclpy_context, tmp_path):
    """autostart false: the node waits unconfigured; configure opens the source, activate publishes, deactivate
    stops the frames with the source still open, cleanup closes it."""
    from tests.support.lifecycle import LifecycleClient

    node = CameraNode(context=rclpy_context, parameter_overrides=[
        Parameter("uri", value=str(make_video(tmp_path / "v.mp4"))), Parameter("autostart", value=False)])
    sub = Node("lifecycle_test", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    ex.add_node(sub)
    imgs: list[Image] = []
    sub.create_subscription(Image, "camera/head/image_raw", imgs.append, qos_profile_sensor_data)
    lc = LifecycleClient(sub, ex, "camera")
    try:
        assert lc.state() == "unconfigured" and node.source is None
        spin_until(ex, lambda: False, 0.5)
        assert not imgs
        assert lc.set("configure") and lc.state() == "inactive" and node.source is not None
        spin_until(ex, lambda: False, 0.5)
        assert not imgs
        assert lc.set("activate") and spin_until(ex, lambda: len(imgs) >= 5, 10)
        assert lc.set("deactivate") and lc.state() == "inactive" and node.source is not None
        spin_until(ex, lambda: False, 0.2)
        n = len(imgs)
        spin_until(ex, lambda: False, 0.6)
        assert len(imgs) == n
        assert lc.set("cleanup") and lc.state() == "unconfigured" and node.source is None
    finally:
        ex.shutdown()
        node.destroy_node()
        sub.destroy_node()
