"""Simulator speed: real-time factor of MuJoCo physics + robot DDS I/O (LowState at 500 Hz, Dex3 states
at 100 Hz, /clock every step), without and with head-camera rendering + ROS image publishing at 30 Hz.

Runs the real sim node in this process, free-running (realtime=false), for --seconds of wall time
per configuration. Prints JSON. Target: ≥ 1.0× real time with the camera on.

    python benchmarks/sim_rate.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
REPO = Path(__file__).resolve().parents[1]


def measure(camera: bool, seconds: float, domain: int) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from psi0_sim.sim_node import SimNode

    rclpy.init()
    node = SimNode(parameter_overrides=[Parameter("realtime", value=False), Parameter("camera", value=camera),
                                        Parameter("robot_domain", value=domain)])
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        ex.spin_once(timeout_sec=0.1)
    s = node.loop.stats
    out = {"camera": camera, "sim_s": round(s.sim_s, 3), "wall_s": round(s.wall_s, 3),
           "realtime_factor": round(s.realtime_factor, 3), "steps_per_s": round(s.steps / s.wall_s, 1),
           "frames": s.frames, "frames_per_wall_s": round(s.frames / s.wall_s, 2)}
    node.destroy_node()
    rclpy.try_shutdown()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "sim_rate.json"))
    args = ap.parse_args()
    runs = [measure(False, args.seconds, 211), measure(True, args.seconds, 212)]
    result = {"benchmark": "sim_rate", "physics_dt_s": 0.002, "camera": "640x480 rgb8 @ 30 Hz sim time",
              "runs": runs, "target": {"realtime_factor_with_camera": 1.0}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
