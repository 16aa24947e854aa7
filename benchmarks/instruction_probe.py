"""Does a policy bundle read its instruction's words, or only how long it is? Does its first pick motion depend on the
object it is told?

Open loop, no graph: the simulator's head-camera frame of a pick scene (the table's edge 0.30 m ahead of the standing
robot, the objects at the seed's places), the pick task's start pose as the state, and the bundle's first chunk for

- each instruction of the suite (the words),
- a nonsense prompt of exactly as many characters ("qqq…", same length),
- nonsense one character longer and one shorter (other length),
- the same words under other flow-noise seeds (noise),

scored as the mean |Δ| of the 14 arm joints over the chunk (rad) against the words' chunk with the same noise.
A policy that reads the words has `same length` about as far from the words as `other length`; one that reads only
the length has `same length` ≈ 0. Told apart by the words alone are also the pairs of instructions of equal length
("pick up the red cube", "pick up the blue can" and "raise your left hand" have 20 characters each).

Pick side: per seed and named object, the arm that moves more in the first chunk (right or left) against the hand the
scripted expert uses (the object's side), over the scenes where the other two objects are not on the named one's side
(there the side tells which object the policy is going for). A policy that ignores the name scores ~50 %.

    python benchmarks/instruction_probe.py [--bundle config/bundles/suite] [--seeds 12] [--noise 4] [--out FILE]

Prints JSON and writes benchmarks/results/instruction_probe_<bundle>.json (or --out).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.results_io import write_result  # noqa: E402

INSTRUCTIONS = ("pick up the red cube", "pick up the green cube", "pick up the blue can", "walk to the table",
                "raise your right hand", "raise your left hand")
OBJECT_OF = {"pick up the red cube": "red_cube", "pick up the green cube": "green_cube", "pick up the blue can": "blue_can"}


def nonsense(n: int) -> str:
    return "q" * n


def moving_arm(chunk_arms: np.ndarray) -> str:
    """(H, 14) arm joints (right 7, left 7) → the arm whose joints travel further over the chunk."""
    travel = np.abs(np.diff(chunk_arms, axis=0)).sum(axis=0)
    return "right" if travel[:7].sum() > travel[7:].sum() else "left"


def main(argv: list[str] | None = None) -> int:
    import torch

    from psi0.tasks import get_task
    from psi0_core.g1_adapter import default_action
    from psi0_policy.policy import Policy
    from psi0_sim.camera import Camera
    from psi0_sim.model import Scene, table_in_front
    from psi0_sim.physics import G1Physics

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=str(REPO / "config" / "bundles" / "suite"))
    ap.add_argument("--seeds", type=int, default=12, help="pick scenes (seeds 1000…)")
    ap.add_argument("--noise", type=int, default=4, help="flow-noise seeds per prompt")
    ap.add_argument("--out", default=None)
    ns = ap.parse_args(argv)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    t0 = time.monotonic()
    policy = Policy.load(ns.bundle)
    pick = get_task("pick_red_cube")
    start = default_action().astype(np.float64)
    start[pick.columns[: len(pick.start_pose(0))]] = pick.start_pose(0)
    arms = pick.columns[:14]  # right arm 7, left arm 7
    x, y, yaw = table_in_front((0.0, 0.0), 0.0, 0.30)

    def chunks(img: np.ndarray, text: str) -> np.ndarray:  # (noise, H, 14)
        return np.array([policy.infer([img], text, start, seed=k)[:, arms] for k in range(ns.noise)])

    dist: dict[str, list[float]] = {}
    pairs: dict[str, list[float]] = {}
    side_hits, side_trials = 0, 0
    for seed in range(1000, 1000 + ns.seeds):
        scene = Scene(table_pos=(x, y), table_yaw=yaw).with_objects(seed)
        physics = G1Physics(scene=scene)
        camera = Camera(physics.model)
        img = camera.render(physics.data)
        camera.close()
        words = {t: chunks(img, t) for t in INSTRUCTIONS}
        for t, c in words.items():
            n = len(t)
            for key, other in (("same_length", nonsense(n)), ("longer", nonsense(n + 1)), ("shorter", nonsense(n - 1))):
                dist.setdefault(key, []).append(float(np.abs(c - chunks(img, other)).mean()))
            dist.setdefault("noise", []).append(float(np.mean([np.abs(c[k] - c[k + 1]).mean()
                                                               for k in range(ns.noise - 1)])))
        for a, b in itertools.combinations(INSTRUCTIONS, 2):
            pairs.setdefault(f"{a} | {b}", []).append(float(np.abs(words[a] - words[b]).mean()))
        ys = {o.name: o.pos[1] for o in scene.objects}  # left of the robot is +y
        for text, name in OBJECT_OF.items():
            side = "right" if ys[name] < 0 else "left"
            others = [v for o, v in ys.items() if o != name]
            if all((v < 0) == (side == "right") for v in others):
                continue  # every object on the same side: the side says nothing about which one
            for c in words[text]:
                side_trials += 1
                side_hits += moving_arm(c) == side
        print(f"seed {seed}: done ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    mean = {k: round(float(np.mean(v)), 4) for k, v in dist.items()}
    result = {
        "benchmark": "instruction_probe", "bundle": str(ns.bundle), "scenes": ns.seeds, "noise_seeds": ns.noise,
        "arm_change_rad": {**mean, "other_length": round((mean["longer"] + mean["shorter"]) / 2, 4)},
        "reads_words": bool(mean["same_length"] > 0.5 * (mean["longer"] + mean["shorter"]) / 2),
        "instruction_pairs_rad": {k: round(float(np.mean(v)), 4) for k, v in pairs.items()},
        "pick_side": {"trials": side_trials, "correct": side_hits,
                      "rate": round(side_hits / side_trials, 3) if side_trials else None},
        "seconds": round(time.monotonic() - t0, 1),
    }
    name = Path(ns.bundle).name
    write_result(ns.out or REPO / "benchmarks" / "results" / f"instruction_probe_{name}", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
