"""Bag throughput: record and replay of 640×480 rgb8 images at 30 Hz + joint_states at 500 Hz.

Record: the recorder's write path (serialized messages → rosbags Writer, MCAP) for a 10 s stream.
Replay: the player's path (read the bag, publish every message raw through rclpy) without pacing.
Real-time factor = stream duration / processing time (target ≥ 2×). Prints JSON.

    python benchmarks/bag_io.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    import rclpy
    from rclpy.node import Node
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer
    from sensor_msgs.msg import Image, JointState

    from psi0.bags.replay import Player
    from psi0_core.bag_types import typestore

    seconds = 10.0
    img = Image(height=480, width=640, encoding="rgb8", step=640 * 3)
    img.data = np.random.default_rng(0).integers(0, 255, 640 * 480 * 3, dtype=np.uint8).tobytes()
    js = JointState(name=[f"j{i}" for i in range(43)], position=[0.1] * 43, velocity=[0.0] * 43, effort=[0.0] * 43)
    raw_img, raw_js = bytes(serialize_message(img)), bytes(serialize_message(js))
    events = sorted([(int(i / 30 * 1e9), "img") for i in range(int(seconds * 30))] +
                    [(int(i / 500 * 1e9), "js") for i in range(int(seconds * 500))])
    tmp = Path(tempfile.mkdtemp())
    try:
        t = time.perf_counter()
        w = Writer(tmp / "bag", version=9, storage_plugin=StoragePlugin.MCAP)
        w.open()
        ci = w.add_connection("/camera/head/image_raw", "sensor_msgs/msg/Image", typestore=typestore())
        cj = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=typestore())
        for ts, kind in events:
            w.write(ci if kind == "img" else cj, ts, raw_img if kind == "img" else raw_js)
        w.close()
        record_s = time.perf_counter() - t
        size_mb = sum(f.stat().st_size for f in (tmp / "bag").iterdir()) / 1e6
        rclpy.init()
        node = Node("bag_io")
        t = time.perf_counter()
        player = Player(node, tmp / "bag", rate=1e6)  # no pacing: as fast as it goes
        n = player.play()
        replay_s = time.perf_counter() - t
        node.destroy_node()
        rclpy.try_shutdown()
    finally:
        shutil.rmtree(tmp)
    result = {"benchmark": "bag_io", "stream_s": seconds, "messages": len(events), "bag_mb": round(size_mb, 1),
              "record_s": round(record_s, 3), "record_realtime_factor": round(seconds / record_s, 2),
              "replay_s": round(replay_s, 3), "replay_realtime_factor": round(seconds / replay_s, 2),
              "replayed": n, "target_realtime_factor": 2.0}
    (REPO / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "benchmarks" / "results" / "bag_io.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
