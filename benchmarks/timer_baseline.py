"""The machine's own timing floor: a bare 500 Hz Python loop, timed exactly as the bridge's control loop
(SCHED_FIFO, `realtime.sleep_until`: sleep then spin to the deadline), with nothing else in the process — no DDS, no ROS, no GIL
contention — while the same CPU hog as benchmarks/bridge_loop.py runs beside it.

Whatever overruns this loop shows come from the kernel / hypervisor, not from the bridge; compare its
max with bridge_loop's on the same machine.

    python benchmarks/timer_baseline.py --duration 60 [--pin] [--no-hog] [--out benchmarks/results/timer_baseline]
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

from bridge_loop import HOG, period_summary, split_cpus  # noqa: E402  (the same load, the same figures)
from results_io import write_result  # noqa: E402

from psi0_bridge.realtime import set_fifo, sleep_until  # noqa: E402
from psi0_bridge.safety import LoopStats  # noqa: E402


def steal_ticks() -> int:
    """Jiffies the hypervisor ran something else while this VM wanted the CPU (/proc/stat 'steal')."""
    return int(Path("/proc/stat").read_text().split("\n")[0].split()[8])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--pin", action="store_true", help="loop on the last CPU, hog on the others")
    ap.add_argument("--no-hog", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "timer_baseline"))
    args = ap.parse_args()
    loop_cpus, other_cpus = split_cpus(args.pin)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    hog = None if args.no_hog else subprocess.Popen(
        [sys.executable, "-c", HOG], env=env, preexec_fn=lambda: os.sched_setaffinity(0, other_cpus))
    os.sched_setaffinity(0, loop_cpus)
    fifo = set_fifo(80) is None  # the bridge's control-thread priority
    period = 1.0 / args.rate
    stats = LoopStats(period, warn_ms=1.0, error_ms=2.0)  # the bridge's own accounting, every sample kept
    stats.history = []
    last = None
    steal0 = steal_ticks()
    time.sleep(1.0)
    next_t = time.monotonic()
    end = next_t + args.duration
    try:
        while next_t < end:
            next_t += period
            sleep_until(next_t)  # the bridge's own wait
            start = time.monotonic()
            if last is not None:
                stats.record(start - last)
            last = start
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    result = {
        "benchmark": "timer_baseline", "rate_hz": args.rate, "duration_s": args.duration, "cpu_hog": not args.no_hog,
        "pinned": {"loop_cpus": loop_cpus, "other_cpus": other_cpus} if args.pin else None, "sched_fifo": fifo,
        **period_summary(np.asarray(stats.history)), "steal_jiffies": steal_ticks() - steal0,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
