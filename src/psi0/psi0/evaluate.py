"""`psi0 eval`: closed-loop evaluation in the simulator — N seeded episodes per configuration.

    psi0 eval --episodes 20 --chunking rtc sync --extra-latency-ms 200 --expert
    psi0 eval --episodes 20 --controls blind wrong_instruction   # does the policy use the image and the words?
    psi0 eval --expert --episodes 20 --record demos/raw      # the scripted expert's demonstrations as rosbags
                                                             # (a failed episode's bag goes to demos/raw.failed/)

Each configuration brings the `demo` profile up (sim + bridge + policy with the bundle + e-stop heartbeat,
all on the simulator's clock), runs the episodes through the harness (psi0.episodes) and brings it down.
Reported per configuration: success rate (an episode in which the robot fell is a failure), falls, max base
tilt, lowest pelvis, time to success, safety events (bridge stops, rejected chunks),
chunk-boundary jumps (p99 of the commanded arm-joint change across chunk switches, against the same
within chunks), inference latency p50/p99, and the success per task of a suite (`--task raise_hand` alternates
raise_right_hand and raise_left_hand over the seeds). `--extra-latency-ms` injects a delay into every inference
(a slower model), which is where real-time chunking and synchronous chunking part ways. Controls (policy with
real-time chunking): `blind` — the simulator publishes black head-camera frames; `wrong_instruction` — the policy
is told another task's instruction while success is judged on the episode's own task. A policy that succeeds blind
does not need the image for the task; one that succeeds with the wrong instruction does not follow the words.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from psi0.episodes import EpisodeResult, Harness
from psi0.tasks import suite, task_for, wrong_instruction


def default_bundle() -> Path:
    from psi0_core.share import share_dir

    return share_dir() / "config" / "bundles" / "suite"


def set_aside(bag: Path) -> Path:
    """Move a failed episode's bag out of the demonstrations folder (to `<folder>.failed/`, beside it): a dataset
    made from the folder then holds successes only, and nothing recorded is lost."""
    dest = bag.parent.with_name(bag.parent.name + ".failed") / bag.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    if bag.exists():
        shutil.move(str(bag), str(dest))
    return dest


def session(bundle: Path | None, seeds: list[int], actor: str = "policy", chunking: str = "rtc",
            extra_latency_ms: float = 0.0, log_dir: Path = Path("out/eval/logs"), video: Path | None = None,
            record: Path | None = None,
            task: str = "raise_hand", robot_domain: int = 7, plot: Path | None = None,
            viewer: bool = False, control: str = "") -> list[EpisodeResult]:
    """Bring the graph up, run one episode per seed, bring it down (always, even on errors). control: "" (none),
    "blind" (black head-camera frames) or "wrong_instruction" (another task's instruction)."""
    import rclpy

    from psi0.launcher import Launcher
    from psi0.profiles import load_profile

    if control not in CONTROLS:
        raise ValueError(f"control {control!r}: one of {CONTROLS}")
    tasks = suite(task)
    profile = load_profile("demo", {"bundle": str(bundle or ""), "chunking": chunking,
                                    "extra_latency_ms": str(extra_latency_ms),
                                    "third_person_rate_hz": "10.0" if video else "0.0", "robot_domain": str(robot_domain),
                                    "instruction": tasks[0].instruction, "viewer": str(viewer).lower(),
                                    "blank_head_camera": str(control == "blind").lower()})
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
        harness = Harness(tasks, video=video)
        harness.wait_ready(policy=actor == "policy")
        t0 = harness.now()
        for k, seed in enumerate(seeds):
            if any(r.proc.poll() is not None for r in launcher.running if r.spec.required):
                raise RuntimeError(f"a node died; see {log_dir}")
            bag = record / f"episode_{seed:04d}" if record is not None else None
            told = wrong_instruction(task_for(tasks, seed), tasks) if control == "wrong_instruction" else None
            results.append(harness.run(seed, actor, record=bag, instruction=told))
            r = results[-1]
            if bag is not None and not r.success:
                r.bag = str(set_aside(bag))
                print(f"  [{actor}] episode {k + 1}: not a demonstration (failed); its bag moved to {r.bag}", flush=True)
            tag = actor if actor == "expert" else f"{actor} {chunking}{' ' + control if control else ''}"
            print(f"  [{tag}] episode {k + 1}/{len(seeds)} seed {seed} {r.task}"
                  + (f" (told {r.instruction!r})" if r.instruction != task_for(tasks, seed).instruction else "")
                  + f": {'success' if r.success else 'FAIL'}"
                  + (f" in {r.time_to_success_s:.2f} s" if r.success else "") + (f", stops {r.stops}" if r.stops else ""),
                  flush=True)
        if plot is not None:
            plot_trajectories(plot, harness.trajectories(t0, harness.now()))
            if harness.paths:
                plot_paths(plot.with_name("base_paths.png"), harness.paths)
        rtf = harness.realtime_factor()
        for r in results:
            r.realtime_factor = rtf
    finally:
        if harness is not None:
            harness.close()
        rclpy.try_shutdown()
        launcher.stop_all()
    return results


CONTROLS = ("", "blind", "wrong_instruction")


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
        "falls": sum(1 for r in results if r.fell), "s12_stops": sum(r.falls for r in results),
        "max_tilt_deg": max((r.max_tilt_deg for r in results if r.max_tilt_deg is not None), default=None),
        "min_pelvis_m": min((r.min_pelvis_m for r in results if r.min_pelvis_m is not None), default=None),
        "task_successes_while_fallen": sum(1 for r in results if r.task_success and r.fell),
        "per_task": {name: {"episodes": sum(r.task == name for r in results),
                            "successes": sum(r.task == name and r.success for r in results)}
                     for name in sorted({r.task for r in results})},
    }


def plot_trajectories(path: Path, data: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = data["t_cmd"][0]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, name in enumerate(data["joints"]):
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


def plot_paths(path: Path, paths: list[dict[str, Any]]) -> None:
    """Top view of each episode's pelvis path in the table's frame (x: sideways from the edge's middle, y: ahead of
    the edge), with the table and the region a walk must end in (psi0.task_walk: 0.20–0.40 m ahead, ≤ 0.25 m aside)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psi0.task_walk import REACH_M, SIDE_M
    from psi0_sim.model import Scene

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    w = Scene.table_size[1]
    ax.add_patch(plt.Rectangle((-w, -2 * Scene.table_size[0]), 2 * w, 2 * Scene.table_size[0], color="tan", label="table"))
    ax.add_patch(plt.Rectangle((-SIDE_M, REACH_M[0]), 2 * SIDE_M, REACH_M[1] - REACH_M[0], fill=False, ls="--",
                               color="gray", label="where a walk must end"))
    for k, p in enumerate(paths):
        line = ax.plot(p["side"], p["ahead"], lw=1.2, label=f"{k + 1} {p['task']}" + ("" if p["success"] else " (failed)"))[0]
        ax.plot(p["side"][0], p["ahead"][0], "o", color=line.get_color(), ms=4)
        ax.plot(p["side"][-1], p["ahead"][-1], "x" if not p["success"] else "s", color=line.get_color(), ms=6)
    ax.set_xlabel("pelvis sideways from the edge's middle (m)")
    ax.set_ylabel("pelvis ahead of the table's edge (m)")
    ax.set_title("psi0: where the robot walked (o start, ■ success, × failure)", fontsize=9)
    ax.set_aspect("equal")
    ax.legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def config_key(actor: str, chunking: str, control: str = "") -> str:
    return "expert" if actor == "expert" else f"policy_{chunking}" + (f"_{control}" if control else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="psi0 eval", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--bundle", default=None, help="policy bundle (default: the committed suite bundle)")
    ap.add_argument("--task", default="raise_hand", help="a task or a suite: raise_hand (left and right alternating), "
                    "pick (red cube, green cube, blue can), walk_to_table, walk_and_pick (walk, then pick the red cube, "
                    "green cube, blue can), all (every task)")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1000, help="first episode seed (episode k uses seed + k)")
    ap.add_argument("--chunking", nargs="*", default=["rtc"], choices=["rtc", "sync"], help="policy configurations to run")
    ap.add_argument("--extra-latency-ms", type=float, default=0.0, help="delay injected into every inference")
    ap.add_argument("--expert", action="store_true", help="also run the scripted expert (the reference success rate)")
    ap.add_argument("--controls", nargs="*", default=[], choices=["blind", "wrong_instruction"],
                    help="also run the policy (real-time chunking) with black camera frames / another task's instruction")
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
    configs = ([("expert", "rtc", "")] if ns.expert else []) + [("policy", c, "") for c in ns.chunking] \
        + [("policy", "rtc", c) for c in ns.controls]
    t_start = time.monotonic()
    for actor, chunking, control in configs:
        key = config_key(actor, chunking, control)
        print(f"psi0 eval: {key}: {len(seeds)} episodes", flush=True)
        rec = Path(ns.record) if (ns.record and actor == "expert") else None
        results = session(bundle if actor == "policy" else None, seeds, actor, chunking,
                          ns.extra_latency_ms if actor == "policy" else 0.0, out / "logs" / key, record=rec,
                          task=ns.task, robot_domain=ns.robot_domain, control=control)
        report[key] = summarize(results)
        report[key + "_episodes"] = [r.to_dict() for r in results]
        # written after every configuration: a run stopped part-way keeps what it measured ("complete": false)
        report["seconds"] = round(time.monotonic() - t_start, 1)
        report["complete"] = key == config_key(*configs[-1])
        (out / "eval.json").write_text(json.dumps(report, indent=2))
    print(f"{'configuration':27s} {'success':>9s} {'falls':>5s} {'max tilt':>8s} {'t_success':>9s} {'stops':>5s} "
          f"{'jump p99':>9s} {'within p99':>10s} {'lat p50':>8s} {'lat p99':>8s}")
    for actor, chunking, control in configs:
        key = config_key(actor, chunking, control)
        s = report[key]
        f = lambda v, fmt: (fmt % v) if v is not None else "-"  # noqa: E731
        print(f"{key:27s} {s['successes']:>3d}/{s['episodes']:<5d} {s['falls']:>5d} {f(s['max_tilt_deg'], '%.1f°'):>8s} "
              f"{f(s['time_to_success_s_median'], '%.2f s'):>9s} "
              f"{s['safety_stops']:>5d} {f(s['boundary_jump_p99_rad'], '%.4f'):>9s} "
              f"{f(s['within_chunk_step_p99_rad'], '%.4f'):>10s} "
              f"{f(s['inference_ms_p50'], '%.0f ms'):>8s} {f(s['inference_ms_p99'], '%.0f ms'):>8s}")
    tasks = sorted({t for actor, chunking, control in configs for t in report[config_key(actor, chunking, control)]["per_task"]})
    if len(tasks) > 1:
        print("per task: " + "; ".join(f"{config_key(*c)} " + ", ".join(
            f"{t} {report[config_key(*c)]['per_task'][t]['successes']}/{report[config_key(*c)]['per_task'][t]['episodes']}"
            for t in tasks if t in report[config_key(*c)]["per_task"]) for c in configs))
    print(f"psi0 eval: wrote {out / 'eval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
