"""Data conversion throughput: frames per second converting (a) a synthetic G1 teleoperation dataset
(data.json + 480×640 JPEGs) and (b) a psi0 rosbag (480×640 rgb8 images at 30 Hz, joint_states at
100 Hz, ActionChunks at 1 Hz) into a LeRobot v3.0 dataset (H.264 video, parquet, statistics).
Target: ≥ 10× real time, i.e. ≥ 300 frames/s for 30 Hz data with one 480×640 camera. Prints JSON and
writes benchmarks/results/data_convert.json.

    python benchmarks/data_convert.py [--episodes 8] [--frames 150] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_teleop_set(root: Path, episodes: int, frames: int) -> None:
    from tests.data.fixtures import make_teleop

    for k in range(episodes):
        make_teleop(root / f"episode_{k}", n=frames, seed=k, size=(480, 640), task="wave")


def make_bag(path: Path, frames: int) -> None:
    """A bag like `psi0 record` writes, serialized with the project's typestore (no live graph needed)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from psi0_core.bag_types import typestore
    from psi0_core.g1_adapter import action_names, default_action
    from psi0_core.robot import load_g1
    from tests.data.fixtures import frames_rgb

    ts = typestore()
    img_t, js_t = ts.types["sensor_msgs/msg/Image"], ts.types["sensor_msgs/msg/JointState"]
    ch_t, str_t = ts.types["psi0_msgs/msg/ActionChunk"], ts.types["std_msgs/msg/String"]
    hdr_t, time_t = ts.types["std_msgs/msg/Header"], ts.types["builtin_interfaces/msg/Time"]

    def header(t: float):
        return hdr_t(stamp=time_t(sec=int(t), nanosec=round((t % 1) * 1e9)), frame_id="")

    imgs = frames_rgb(30, 480, 640)
    names = load_g1().joint_state_names()
    w = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    w.open()
    c_img = w.add_connection("/camera/head/image_raw", "sensor_msgs/msg/Image", typestore=ts)
    c_js = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=ts)
    c_ch = w.add_connection("/action_chunk", "psi0_msgs/msg/ActionChunk", typestore=ts)
    c_tx = w.add_connection("/instruction", "std_msgs/msg/String", typestore=ts)
    t0 = 1000.0
    w.write(c_tx, int(t0 * 1e9), ts.serialize_cdr(str_t(data="wave"), "std_msgs/msg/String"))
    events = [(t0 + k / 30, "img", k) for k in range(frames)] + [(t0 + k / 100, "js", k) for k in range(int(frames / 30 * 100))]
    events += [(t0 + s, "chunk", s) for s in range(int(frames / 30) + 1)]
    for t, kind, k in sorted(events):
        if kind == "img":
            m = img_t(header=header(t), height=480, width=640, encoding="rgb8", is_bigendian=0, step=640 * 3,
                      data=imgs[k % 30].ravel())
            w.write(c_img, int(t * 1e9), ts.serialize_cdr(m, "sensor_msgs/msg/Image"))
        elif kind == "js":
            m = js_t(header=header(t), name=names, position=np.full(len(names), 0.01 * k), velocity=np.zeros(len(names)),
                     effort=np.zeros(len(names)))
            w.write(c_js, int(t * 1e9), ts.serialize_cdr(m, "sensor_msgs/msg/JointState"))
        else:
            a = np.tile(default_action(), (40, 1)).astype(np.float32)
            m = ch_t(header=header(t), chunk_id=k + 1, obs_stamp=header(t).stamp, dt=np.float32(1 / 30), horizon=40, dim=36,
                     names=action_names(), data=a.ravel(), prefix_len=0, inference_ms=np.float32(0))
            w.write(c_ch, int(t * 1e9), ts.serialize_cdr(m, "psi0_msgs/msg/ActionChunk"))
    w.close()


def run(fmt: str, src: Path, out: Path, workers: int) -> dict:
    from psi0_policy.data.convert import convert

    r = convert(fmt, [src], out, workers=workers, progress=False)
    assert not r.failed, r.failed
    return {"episodes": r.converted, "frames": r.frames, "seconds": round(r.seconds, 2),
            "frames_per_second": round(r.frames_per_second, 1), "real_time_factor_at_30hz": round(r.frames_per_second / 30, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ns = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="psi0_convert_"))
    try:
        make_teleop_set(tmp / "teleop", ns.episodes, ns.frames)
        for k in range(ns.episodes):
            make_bag(tmp / "bags" / f"demo_{k}", ns.frames)
        result = {"machine_cpus": os.cpu_count(), "workers": ns.workers, "camera": "480x640 rgb", "target_frames_per_second": 300,
                  "teleop": run("teleop", tmp / "teleop", tmp / "out_teleop", ns.workers),
                  "bag": run("bag", tmp / "bags", tmp / "out_bag", ns.workers)}
        result["teleop_workers_1"] = run("teleop", tmp / "teleop", tmp / "out_teleop1", 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    (REPO / "benchmarks" / "results" / "data_convert.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
