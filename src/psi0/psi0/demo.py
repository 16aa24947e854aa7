"""`make demo`: the main job on its embedded default, the simulated G1.

Brings up the `demo` profile — MuJoCo G1 on the robot's own DDS interface (head camera + a third-person view),
the bridge with its stand controller and safety layer, the policy node with the committed `tiny` Ψ0 bundle
(config/bundles/raise_right_hand: fine-tuned on the scripted expert's recorded demonstrations, see
tools/make_demo_bundle.sh) executing with real-time chunking, the e-stop heartbeat — gives the instruction
"raise your right hand" and runs 5 seeded episodes (each from a random arm pose). Prints the success rate and
latency figures; writes out/demo/summary.json, out/demo/demo.mp4 (head camera | third-person view) and
out/demo/joint_trajectories.png (commanded vs measured, chunk switches marked). Stops every process it
started. Exit status 0 when the episodes ran (whatever the success rate), 1 when something failed.

    python -m psi0.demo [--episodes 5] [--viewer]      (--viewer: MuJoCo's viewer, needs a display)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="psi0.demo")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--bundle", default=None)
    ap.add_argument("--viewer", action="store_true", help="open the MuJoCo viewer (needs a display)")
    ns = ap.parse_args(argv)
    os.environ.setdefault("ROS_DOMAIN_ID", "42")
    from psi0.evaluate import default_bundle, session, summarize

    out = Path(os.environ.get("PSI0_DEMO_OUT", "out/demo")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    bundle = Path(ns.bundle) if ns.bundle else default_bundle()
    print(f"psi0 demo: simulated G1 + bridge + policy ({bundle.name}, tiny Ψ0, real-time chunking) — "
          f"\"raise your right hand\", {ns.episodes} seeded episodes")
    t0 = time.monotonic()
    try:
        results = session(bundle, [ns.seed + k for k in range(ns.episodes)], "policy", "rtc", 0.0, out / "logs",
                          video=out / "demo.mp4", plot=out / "joint_trajectories.png", viewer=ns.viewer)
    except Exception as e:
        print(f"psi0 demo: failed: {e} (logs in {out / 'logs'})", file=sys.stderr)
        return 1
    s = summarize(results)
    s["episodes_detail"] = [r.to_dict() for r in results]
    s["seconds"] = round(time.monotonic() - t0, 1)
    (out / "summary.json").write_text(json.dumps(s, indent=2))
    print(f"psi0 demo: success rate {s['successes']}/{s['episodes']} ({100 * s['success_rate']:.0f} %), "
          f"median time to success {s['time_to_success_s_median'] or float('nan'):.2f} s, safety stops {s['safety_stops']}")
    nan = float("nan")
    print(f"psi0 demo: inference latency p50 {s['inference_ms_p50'] or nan:.1f} ms, p99 {s['inference_ms_p99'] or nan:.1f} ms; "
          f"chunk-boundary jump p99 {s['boundary_jump_p99_rad'] or nan:.4f} rad "
          f"(within chunks {s['within_chunk_step_p99_rad'] or nan:.4f})")
    print(f"psi0 demo: wrote {out / 'summary.json'}, {out / 'demo.mp4'}, {out / 'joint_trajectories.png'}; "
          f"logs in {out / 'logs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
