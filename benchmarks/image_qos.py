"""Image QoS on this machine (REP-2003): does the simulator's 30 Hz head camera still arrive, and does the robot
interface (rt/lowstate at 500 Hz) keep its rhythm, when the image publisher is reliable?

For each publisher reliability (best_effort, reliable) × subscriber reliability (best_effort, reliable; a reliable
subscriber only matches a reliable publisher) the real sim node runs as its own process (real time, camera
640×480 rgb8 at 30 Hz); this process subscribes to camera/head/image_raw and reads rt/lowstate through Cyclone DDS.
Per row: frames received per second (wall), inter-frame gap p99, LowState inter-arrival p99 and max. With --hog a
one-core busy loop runs beside it (what CI's 2 cores see when the rest of the stack runs). Prints JSON.

    python benchmarks/image_qos.py [--seconds 12] [--hog]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from results_io import write_result  # noqa: E402

ROWS = (("best_effort", "best_effort"), ("reliable", "best_effort"), ("reliable", "reliable"))


def measure(pub: str, sub: str, seconds: float, ros_domain: int, robot_domain: int) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowState_

    from psi0_core.robot_dds import Endpoint

    env = {**os.environ, "ROS_DOMAIN_ID": str(ros_domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    sim = subprocess.Popen([sys.executable, "-m", "psi0_sim.sim_node", "--ros-args", "-p", f"robot_domain:={robot_domain}",
                            "-p", f"image_reliability:={pub}", "-p", "clock_rate_hz:=100.0"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["ROS_DOMAIN_ID"] = str(ros_domain)
    rclpy.init()
    node = Node("image_qos_probe")
    frames: list[float] = []
    rel = ReliabilityPolicy.RELIABLE if sub == "reliable" else ReliabilityPolicy.BEST_EFFORT
    node.create_subscription(Image, "camera/head/image_raw", lambda _m: frames.append(time.monotonic()),
                             QoSProfile(depth=2, reliability=rel))
    lowstate: list[float] = []
    robot = Endpoint(robot_domain, "lo")
    robot.reader("rt/lowstate", LowState_, lambda _m: lowstate.append(time.monotonic()))
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    try:
        deadline = time.monotonic() + 60
        while not frames and time.monotonic() < deadline:  # start-up: model load, first render
            ex.spin_once(timeout_sec=0.1)
        time.sleep(1.0)
        frames.clear()
        lowstate.clear()
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            ex.spin_once(timeout_sec=0.05)
        wall = time.monotonic() - t0
    finally:
        sim.terminate()
        sim.wait(10)
        robot.close()
        node.destroy_node()
        rclpy.try_shutdown()
    fgap = np.diff(frames) * 1e3 if len(frames) > 1 else np.array([np.inf])
    lgap = np.diff(lowstate) * 1e3 if len(lowstate) > 1 else np.array([np.inf])
    return {"publisher": pub, "subscriber": sub, "frames_per_s": round(len(frames) / wall, 2),
            "frame_gap_p99_ms": round(float(np.percentile(fgap, 99)), 1),
            "lowstate_per_s": round(len(lowstate) / wall, 1),
            "lowstate_gap_p99_ms": round(float(np.percentile(lgap, 99)), 2),
            "lowstate_gap_max_ms": round(float(lgap.max()), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--hog", action="store_true", help="a one-core busy loop beside the measurement")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.hog else None
    try:
        rows = [measure(p, s, args.seconds, 95 + k, 20 + k) for k, (p, s) in enumerate(ROWS)]
    finally:
        if hog is not None:
            hog.kill()
    out = args.out or REPO / "benchmarks" / "results" / ("image_qos_hog" if args.hog else "image_qos")
    write_result(out, {"benchmark": "image_qos", "cpus": os.cpu_count(), "hog": args.hog, "seconds": args.seconds,
                       "camera": "sim head camera 640x480 rgb8 @ 30 Hz", "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
