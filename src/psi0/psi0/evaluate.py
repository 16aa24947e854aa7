"""`psi0 eval`: closed-loop evaluation in the simulator — N seeded episodes per configuration.

    psi0 eval --episodes 20 --chunking rtc sync --extra-latency-ms 200 --expert
    psi0 eval --expert --episodes 20 --record demos/raw      # the scripted expert's demonstrations as rosbags

Each configuration brings the `demo` profile up (sim + bridge + policy with the bundle + e-stop heartbeat,
all on the simulator's clock), runs the episodes through the harness (psi0.episodes) and brings it down.
Reported per configuration: success rate, time to success, safety events (bridge stops, rejected chunks),
chunk-boundary jumps (p99 of the commanded arm-joint change across chunk switches, against the same
within chunks), inference latency p50/p99. `--extra-latency-ms` injects a delay into every inference
(a slower model), which is where real-time chunking and synchronous chunking part ways.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from psi0.episodes import EpisodeResult, Harness
from psi0.tasks import get_task


def default_bundle() -> Path:
    from psi0.profiles import share_dir

    return share_dir() / "config" / "bundles" / "raise_right_hand"


def session(bundle: Path | None, seeds: list[int], actor: str = "policy", chunking: str = "rtc",
            extra_latency_ms: float = 0.0, log_dir: Path = Path("out/eval/logs"), video: Path | None = None,
            record: Path | None = None,
            task: str = "raise_right_hand", robot_domain: int = 7, plot: Path | None = None,
            viewer: bool = False) -> list[EpisodeResult]:
    """Bring the graph up, run one episode per seed, bring it down (always, even on errors)."""
    import rclpy

    from psi0.launcher import Launcher
    from psi0.profiles import load_profile

    profile = load_profile("demo", {"bundle": str(bundle or ""), "chunking": chunking,
                                    "extra_latency_ms": str(extra_latency_ms),
                                    "third_person_rate_hz": "10.0" if video else "0.0", "robot_domain": str(robot_domain),
                                    "instruction": get_task(task).instruction, "viewer": str(viewer).lower()})
    if actor == "expert":  # the scripted expert needs no policy (and there may be no bundle yet)
        profile = dataclasses.replace(profile, nodes=tuple(n for n in profile.nodes if n.name != "policy"))
    elif bundle is None or not (Path(bundle) / "model.safetensors").exists():
        raise FileNotFoundError(f"no policy bundle at {bundle} (psi0 export … or tools/make_demo_bundle.sh)")
    launcher = Launcher(profile, log_dir.resolve(), grace_s=5.0)
    launcher.start()
    harness = None
    results: list[EpisodeResult] = []
    try:
        rclpy.init()
        harness = Harness(get_task(task), video=video)
        harness.wait_ready()
        t0 = harness.now()
        for k, seed in enumerate(seeds):
            if any(r.proc.poll() is not None for r in launcher.running if r.spec.required):
                raise RuntimeError(f"a node died; see {log_dir}")
            bag = record / f"episode_{seed:04d}" if record is not None else None
            results.append(harness.run(seed, actor, record=bag))
            r = results[-1]
            print(f"  [{actor}{'' if actor == 'expert' else ' ' + chunking}] episode {k + 1}/{len(seeds)} seed {seed}: "
                  f"{'success' if r.success else 'FAIL'}"
                  + (f" in {r.time_to_success_s:.2f} s" if r.success else "") + (f", stops {r.stops}" if r.stops else ""),
                  flush=True)
        if plot is not None:
            plot_trajectories(plot, harness.trajectories(t0, harness.now()), get_task(task).joints)
        rtf = harness.realtime_factor()
        for r in results:
            r.realtime_factor = rtf
    finally:
        if harness is not None:
            harness.close()
        rclpy.try_shutdown()
        launcher.stop_all()
    return results


def summarize(results: list[EpisodeResult]) -> dict[str, Any]:
    ok = [r for r in results if r.success]
    ms = np.array([m for r in results for m in r.inference_ms]) if any(r.inference_ms for r in results) else np.zeros(0)
    jp = [r.jumps["jump_p99"] for r in results if r.jumps]
    wp = [r.jumps["within_p99"] for r in results if r.jumps]
    return {
        "episodes": len(results), "successes": len(ok), "success_rate": len(ok) / len(results) if results else 0.0,
        "time_to_success_s_median": float(np.median([r.time_to_success_s for r in ok])) if ok else None,
        "safety_stops": sum(r.stops for r in results), "chunks_rejected": sum(r.chunks_rejected for r in results),
        "boundary_jump_p99_rad": float(np.mean(jp)) if jp else None,
        "within_chunk_step_p99_rad": float(np.mean(wp)) if wp else None,
        "boundary_jump_max_rad": float(max(r.jumps["jump_max"] for r in results if r.jumps)) if jp else None,
        "inference_ms_p50": float(np.percentile(ms, 50)) if ms.size else None,
        "inference_ms_p99": float(np.percentile(ms, 99)) if ms.size else None,
        "sim_realtime_factor": results[0].realtime_factor if results else None,
        "bridge_recoveries": sum(1 for r in results if r.stops),
    }


def plot_trajectories(path: Path, data: dict[str, np.ndarray], joints: tuple[str, ...]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = data["t_cmd"][0]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, name in enumerate(joints):
        line = ax.plot(data["t_cmd"] - t0, data["cmd"][:, k], "--", lw=1.3, label=f"{name} commanded")[0]
        if len(data["meas"]):
            ax.plot(data["t_meas"] - t0, data["meas"][:, k], color=line.get_color(), lw=1, label=f"{name} measured")
    for s in data["switches"]:
        ax.axvline(s - t0, color="gray", lw=0.4, ls=":")
    ax.set_xlabel("sim time (s); dotted: chunk switches")
    ax.set_ylabel("rad")
    ax.set_title("psi0: commanded (executed chunks) vs measured joint positions")
    ax.legend(fontsize=7, ncol=3, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="psi0 eval", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--bundle", default=None, help="policy bundle (default: the committed raise_right_hand bundle)")
    ap.add_argument("--task", default="raise_right_hand")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1000, help="first episode seed (episode k uses seed + k)")
    ap.add_argument("--chunking", nargs="*", default=["rtc"], choices=["rtc", "sync"], help="policy configurations to run")
    ap.add_argument("--extra-latency-ms", type=float, default=0.0, help="delay injected into every inference")
    ap.add_argument("--expert", action="store_true", help="also run the scripted expert (the reference success rate)")
    ap.add_argument("--record", default=None, help="with --expert: record each expert episode as a rosbag in this folder")
    ap.add_argument("--out", default="out/eval")
    ap.add_argument("--robot-domain", type=int, default=7)


def run(ns: argparse.Namespace) -> int:
    os.environ.setdefault("ROS_DOMAIN_ID", "42")
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [ns.seed + k for k in range(ns.episodes)]
    bundle = Path(ns.bundle) if ns.bundle else default_bundle()
    report: dict[str, Any] = {"task": ns.task, "seeds": seeds, "extra_latency_ms": ns.extra_latency_ms, "bundle": str(bundle)}
    configs = ([("expert", "rtc")] if ns.expert else []) + [("policy", c) for c in ns.chunking]
    t_start = time.monotonic()
    for actor, chunking in configs:
        key = "expert" if actor == "expert" else f"policy_{chunking}"
        print(f"psi0 eval: {key}: {len(seeds)} episodes", flush=True)
        rec = Path(ns.record) if (ns.record and actor == "expert") else None
        results = session(bundle if actor == "policy" else None, seeds, actor, chunking,
                          ns.extra_latency_ms if actor == "policy" else 0.0, out / "logs" / key, record=rec,
                          task=ns.task, robot_domain=ns.robot_domain)
        report[key] = summarize(results)
        report[key + "_episodes"] = [r.to_dict() for r in results]
    report["seconds"] = round(time.monotonic() - t_start, 1)
    (out / "eval.json").write_text(json.dumps(report, indent=2))
    print(f"{'configuration':16s} {'success':>9s} {'t_success':>9s} {'stops':>5s} {'jump p99':>9s} {'within p99':>10s} "
          f"{'lat p50':>8s} {'lat p99':>8s}")
    for actor, chunking in configs:
        key = "expert" if actor == "expert" else f"policy_{chunking}"
        s = report[key]
        f = lambda v, fmt: (fmt % v) if v is not None else "-"  # noqa: E731
        print(f"{key:16s} {s['successes']:>3d}/{s['episodes']:<5d} {f(s['time_to_success_s_median'], '%.2f s'):>9s} "
              f"{s['safety_stops']:>5d} {f(s['boundary_jump_p99_rad'], '%.4f'):>9s} "
              f"{f(s['within_chunk_step_p99_rad'], '%.4f'):>10s} "
              f"{f(s['inference_ms_p50'], '%.0f ms'):>8s} {f(s['inference_ms_p99'], '%.0f ms'):>8s}")
    print(f"psi0 eval: wrote {out / 'eval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
