"""`make demo`: the main job on its embedded default, the simulated G1.

Brings up the `demo` profile — MuJoCo G1 on the robot's own DDS interface (head camera + a third-person view),
the bridge with its learned whole-body controller (System-0: holosoma_ppo, config/wbc/) and safety layer, the
policy node with the committed `small` Ψ0 bundle (config/bundles/suite: one policy fine-tuned on the scripted
experts' recorded demonstrations of every task of the suite, see tools/make_demo_bundle.sh) executing with real-time
chunking, the e-stop heartbeat — and runs 4 seeded episodes of the `demo` suite: "walk to the table and pick up the
red cube" and "… the blue can" (the table 0.6–1.2 m away and off the heading: the policy walks the robot there
through System-0's velocity dims, then reaches, grasps and lifts with a Dex3 hand), "pick up the green cube" (the
table in front of the standing robot) and "raise your left hand" (from random poses of both arms). Success is judged
on the simulator's ground truth, and an episode in which the robot fell counts as a failure. Prints the success per
task, falls, the largest base tilt and latency figures, and the committed evaluation of every task (the scripted
expert, the policy, and its controls: black camera frames, another task's instruction —
benchmarks/results/eval_suite_<task>.json); writes out/demo/summary.json, out/demo/demo.mp4 (head camera |
third-person view, the instruction written on the frame), out/demo/joint_trajectories.png (commanded vs measured,
chunk switches marked) and out/demo/base_paths.png (top view: where the robot walked, relative to the table).
`--expert-episodes N` adds N walk_and_pick episodes of the scripted expert on a second graph
(out/demo/walk_and_pick_expert.mp4). Stops every process it started. Exit status 0 when the episodes ran (whatever
the success rate), 1 when something failed.

    python -m psi0.demo [--episodes 4] [--task demo] [--expert-episodes 0] [--viewer]   (--viewer needs a display)
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
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--task", default="demo", help="a task or suite (psi0 eval --task); default: the demo suite")
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--expert-episodes", type=int, default=0, help="walk_and_pick episodes of the scripted expert (0: none)")
    ap.add_argument("--bundle", default=None)
    ap.add_argument("--viewer", action="store_true", help="open the MuJoCo viewer (needs a display)")
    ns = ap.parse_args(argv)
    os.environ.setdefault("ROS_DOMAIN_ID", "42")
    from psi0.evaluate import default_bundle, session, summarize
    from psi0.tasks import suite

    out = Path(os.environ.get("PSI0_DEMO_OUT", "out/demo")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    bundle = Path(ns.bundle) if ns.bundle else default_bundle()
    instructions = " / ".join(f'"{t.instruction}"' for t in suite(ns.task))
    print(f"psi0 demo: simulated G1 + bridge + System-0 + policy ({bundle.name}, real-time chunking) — {instructions}, "
          f"{ns.episodes} seeded episodes")
    t0 = time.monotonic()
    try:
        results = session(bundle, [ns.seed + k for k in range(ns.episodes)], "policy", "rtc", 0.0, out / "logs",
                          video=out / "demo.mp4", plot=out / "joint_trajectories.png", viewer=ns.viewer, task=ns.task)
    except Exception as e:
        print(f"psi0 demo: failed: {e} (logs in {out / 'logs'})", file=sys.stderr)
        return 1
    s = summarize(results)
    s["episodes_detail"] = [r.to_dict() for r in results]
    s["seconds"] = round(time.monotonic() - t0, 1)
    (out / "summary.json").write_text(json.dumps(s, indent=2))
    print(f"psi0 demo: success rate {s['successes']}/{s['episodes']} ({100 * s['success_rate']:.0f} %: {per_task(s)}), "
          f"median time to success {s['time_to_success_s_median'] or float('nan'):.2f} s, "
          f"safety stops {s['safety_stops']}")
    print(f"psi0 demo: falls {s['falls']} (S12 stops {s['s12_stops']}), max base tilt "
          f"{s['max_tilt_deg'] if s['max_tilt_deg'] is not None else float('nan'):.1f}°, lowest pelvis "
          f"{s['min_pelvis_m'] if s['min_pelvis_m'] is not None else float('nan'):.3f} m")
    nan = float("nan")
    print(f"psi0 demo: inference latency p50 {s['inference_ms_p50'] or nan:.1f} ms, p99 {s['inference_ms_p99'] or nan:.1f} ms; "
          f"chunk-boundary jump p99 {s['boundary_jump_p99_rad'] or nan:.4f} rad "
          f"(within chunks {s['within_chunk_step_p99_rad'] or nan:.4f})")
    if ns.expert_episodes > 0:
        print(f"psi0 demo: walk_and_pick by the scripted expert (the demonstrations' source), {ns.expert_episodes} episodes")
        try:
            walk = session(None, [ns.seed + k for k in range(ns.expert_episodes)], "expert", log_dir=out / "logs_expert",
                           video=out / "walk_and_pick_expert.mp4", task="walk_and_pick", viewer=ns.viewer)
        except Exception as e:
            print(f"psi0 demo: failed: {e} (logs in {out / 'logs_expert'})", file=sys.stderr)
            return 1
        w = summarize(walk)
        w["episodes_detail"] = [r.to_dict() for r in walk]
        s["walk_and_pick_expert"] = w
        s["seconds"] = round(time.monotonic() - t0, 1)
        (out / "summary.json").write_text(json.dumps(s, indent=2))
        print(f"psi0 demo: walk_and_pick expert {w['successes']}/{w['episodes']} ({per_task(w)}), "
              f"falls {w['falls']}, max tilt {w['max_tilt_deg'] or float('nan'):.1f}°; wrote "
              f"{out / 'walk_and_pick_expert.mp4'}")
    for line in committed_evaluation():
        print(f"psi0 demo: committed evaluation: {line}")
    print(f"psi0 demo: wrote {out / 'summary.json'}, {out / 'demo.mp4'}, {out / 'joint_trajectories.png'}, "
          f"{out / 'base_paths.png'}; logs in {out / 'logs'}")
    return 0


def per_task(summary: dict) -> str:
    """"task k/n, …" from a summary's per-task success counts."""
    return ", ".join(f"{t} {v['successes']}/{v['episodes']}" for t, v in summary["per_task"].items())


LABELS = {"expert": "expert", "policy_rtc": "policy", "policy_sync": "policy (sync)",
          "policy_rtc_blind": "blind (black camera)", "policy_rtc_wrong_instruction": "wrong instruction"}


def committed_evaluation() -> list[str]:
    """One line per task family from the committed evaluation (benchmarks/results/eval_suite_<family>.json): the
    expert, the policy as deployed and its controls, so the demo says whether the policy follows the words and uses
    the image."""
    from psi0.tasks import FAMILIES
    from psi0_core.share import REPO

    lines = []
    for family in FAMILIES:
        f = REPO / "benchmarks" / "results" / f"eval_suite_{family}.json"  # a checkout's (benchmarks are not installed)
        if not f.exists():
            continue
        r = json.loads(f.read_text())
        parts = [f"{label} {r[k]['successes']}/{r[k]['episodes']}" for k, label in LABELS.items() if k in r]
        lines.append(f"{family}: " + ", ".join(parts))
    return lines


if __name__ == "__main__":
    sys.exit(main())
