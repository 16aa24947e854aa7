"""System-0 by measurement: every available lower-body controller, through the bridge's control core, in the
simulator — and, where ../shared/reference/g1 exists, in Unitree's reference MJCF under the same PD law.

Scenarios (each from a fresh robot: gantry, start-up ramp, release, 2 s standing):
- stand_arms: 60 s standing while both arms sweep through Ψ0-like poses (psi0.closed_loop.arm_sweep):
  max tilt, pelvis height (min, mean), foot slip (largest horizontal travel of a foot), base drift, falls;
- walk_*: commanded vx 0.2, vx 0.4, vy 0.2, yaw rate 0.3 for 10 s: the measured base velocity (heading frame)
  over the last 6 s against the command (error of the mean, RMS), falls;
- push: standing, a lateral push on the pelvis (200 N for 0.2 s = 40 N·s), then 5 s: max tilt, falls.
A fall: an S12 stop (tilt > 35°) or a pelvis below 0.5 m. The in-process loop (psi0.closed_loop) runs the bridge's
own core — state machine, controller, S5/S6/S10 limits — on simulated time; the DDS path is what the graph tests
cover. Prints JSON, writes benchmarks/results/wbc_eval.json and wbc_eval.png.

    python benchmarks/wbc_eval.py [--controllers stand holosoma_ppo ...] [--stand-s 60] [--no-reference]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from results_io import write_result  # noqa: E402

CONTROLLERS = ("stand", "holosoma_ppo", "holosoma_fastsac", "falcon_dec_loco", "unitree_rl_lab_velocity",
               "unitree_rl_gym_g1")
WALKS = {"walk_vx0.2": (0.2, 0.0, 0.0), "walk_vx0.4": (0.4, 0.0, 0.0), "walk_vy0.2": (0.0, 0.2, 0.0),
         "walk_yaw0.3": (0.0, 0.0, 0.3)}
REFERENCE = REPO.parent / "shared" / "reference" / "g1" / "g1_body29_hand14.xml"


def _robot(controller: str, model: str | None):
    from psi0.closed_loop import InProcessG1
    from psi0_core.g1_adapter import default_action

    r = InProcessG1(controller, model_path=model)
    r.wait_active()
    r.run(2.0, action=lambda t: default_action())
    return r


def _fell(r, since: float) -> bool:
    tr = r.trace.arrays()
    k = tr["t"] >= since
    return r.core.counters.falls > 0 or bool(np.any(tr["pelvis"][k, 2] < 0.5))


def stand_arms(controller: str, model: str | None, seconds: float) -> dict:
    from psi0.closed_loop import arm_sweep
    from psi0_core.g1_adapter import default_action

    r = _robot(controller, model)
    t0 = r.t
    r.run(seconds, action=arm_sweep(default_action(), t0))
    tr = r.trace.arrays()
    k = tr["t"] >= t0
    feet = tr["feet"][k][:, :, :2]
    slip = float(np.max(np.linalg.norm(feet - feet[0], axis=2)))
    return {"seconds": seconds, "fell": _fell(r, t0), "state": r.core.state.name,
            "max_tilt_deg": round(float(tr["tilt_deg"][k].max()), 2),
            "pelvis_min_m": round(float(tr["pelvis"][k, 2].min()), 3),
            "pelvis_mean_m": round(float(tr["pelvis"][k, 2].mean()), 3),
            "foot_slip_m": round(slip, 3),
            "base_drift_m": round(float(np.linalg.norm(tr["pelvis"][k][-1, :2] - tr["pelvis"][k][0, :2])), 3),
            "arm_error_p95_rad": round(float(np.percentile(tr["arm_error"][k], 95)), 3),
            "trace": {"t": (tr["t"][k] - t0)[::5].round(2).tolist(), "tilt": tr["tilt_deg"][k][::5].round(2).tolist(),
                      "pelvis_z": tr["pelvis"][k, 2][::5].round(3).tolist()}}


def walk(controller: str, model: str | None, cmd: tuple[float, float, float], seconds: float = 10.0) -> dict:
    from psi0.closed_loop import velocity_command
    from psi0_core.g1_adapter import default_action

    r = _robot(controller, model)
    t0 = r.t
    r.run(seconds, action=velocity_command(default_action(), *cmd))
    tr = r.trace.arrays()
    k = tr["t"] >= t0 + seconds - 6.0
    v = tr["velocity"][k]
    c = np.asarray(cmd)
    return {"command": list(cmd), "fell": _fell(r, t0), "state": r.core.state.name,
            "measured_mean": v.mean(0).round(3).tolist(), "error_of_mean": np.abs(v.mean(0) - c).round(3).tolist(),
            "rms_error": np.sqrt(((v - c) ** 2).mean(0)).round(3).tolist(),
            "max_tilt_deg": round(float(tr["tilt_deg"][tr["t"] >= t0].max()), 2),
            "distance_m": round(float(np.linalg.norm(tr["pelvis"][-1, :2] - tr["pelvis"][tr["t"] >= t0][0, :2])), 3)}


def push(controller: str, model: str | None, force_n: float = 200.0, duration_s: float = 0.2) -> dict:
    from psi0_core.g1_adapter import default_action

    r = _robot(controller, model)
    t0 = r.t
    hold = default_action()
    pelvis = r.physics.pelvis
    r.physics.data.xfrc_applied[pelvis, 1] = force_n
    r.run(duration_s, action=lambda t: hold)
    r.physics.data.xfrc_applied[pelvis, 1] = 0.0
    r.run(5.0, action=lambda t: hold)
    tr = r.trace.arrays()
    k = tr["t"] >= t0
    return {"impulse_Ns": force_n * duration_s, "direction": "+y (left)", "fell": _fell(r, t0), "state": r.core.state.name,
            "max_tilt_deg": round(float(tr["tilt_deg"][k].max()), 2),
            "displacement_m": round(float(np.linalg.norm(tr["pelvis"][-1, :2] - tr["pelvis"][k][0, :2])), 3)}


def evaluate(controller: str, model: str | None, stand_s: float) -> dict:
    from psi0.closed_loop import make_controller
    from psi0_core.robot import load_g1

    try:
        wbc = make_controller(controller, load_g1())
    except Exception as e:  # a policy that is not on this machine (../shared absent): said, not hidden
        return {"available": False, "reason": str(e)}
    t = time.monotonic()
    out = {"available": True, "unsupported": list(wbc.unsupported),
           "stand_arms": stand_arms(controller, model, stand_s)}
    for name, cmd in WALKS.items():
        out[name] = walk(controller, model, cmd)
    out["push"] = push(controller, model)
    scenarios = [v for v in out.values() if isinstance(v, dict) and "fell" in v]
    out["falls"] = sum(bool(s["fell"]) for s in scenarios)
    out["wall_s"] = round(time.monotonic() - t, 1)
    return out


def score(r: dict) -> float:
    """Lower is better: falls dominate, then standing tilt and drift, then walking error."""
    if not r.get("available"):
        return math.inf
    walk_err = np.mean([np.max(r[w]["error_of_mean"]) for w in WALKS])
    s = r["stand_arms"]
    return 100.0 * r["falls"] + s["max_tilt_deg"] + 10.0 * s["base_drift_m"] + 10.0 * walk_err


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for name, r in result["simulator"].items():
        if not r.get("available"):
            continue
        tr = r["stand_arms"]["trace"]
        axes[0].plot(tr["t"], tr["tilt"], label=name)
        axes[1].plot(tr["t"], tr["pelvis_z"], label=name)
    axes[0].set(title="stand 60 s with arm sweeps: base tilt", xlabel="s", ylabel="deg", ylim=(0, 40))
    axes[0].axhline(10, color="k", lw=0.5, ls="--")
    axes[1].set(title="pelvis height", xlabel="s", ylabel="m", ylim=(0.0, 0.9))
    names = [n for n, r in result["simulator"].items() if r.get("available")]
    width = 0.8 / max(len(names), 1)
    for i, n in enumerate(names):
        r = result["simulator"][n]
        errs = [float(np.max(r[w]["error_of_mean"])) if not r[w]["fell"] else np.nan for w in WALKS]
        axes[2].bar(np.arange(len(WALKS)) + i * width, errs, width, label=n)
    axes[2].set(title="walking: |mean measured − command| (fall: no bar)", xticks=np.arange(len(WALKS)) + 0.4,
                xticklabels=list(WALKS), ylabel="m/s or rad/s")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--controllers", nargs="*", default=list(CONTROLLERS))
    ap.add_argument("--stand-s", type=float, default=60.0)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "wbc_eval.json"))
    args = ap.parse_args()
    result: dict = {"benchmark": "wbc_eval", "physics_dt_s": 0.002, "wbc_rate_hz": 50, "simulator": {}, "reference_mjcf": {}}
    for c in args.controllers:
        result["simulator"][c] = evaluate(c, None, args.stand_s)
        print(f"[wbc_eval] {c}: {result['simulator'][c].get('falls', 'n/a')} falls", file=sys.stderr, flush=True)
    if REFERENCE.exists() and not args.no_reference:
        for c in args.controllers:
            result["reference_mjcf"][c] = evaluate(c, str(REFERENCE), args.stand_s)
            print(f"[wbc_eval] {c} (reference MJCF): {result['reference_mjcf'][c].get('falls', 'n/a')} falls",
                  file=sys.stderr, flush=True)
    else:
        result["reference_mjcf"] = {"skipped": f"{REFERENCE} not present" if not REFERENCE.exists() else "--no-reference"}
    ranked = sorted((score(r), n) for n, r in result["simulator"].items())
    result["ranking"] = [{"controller": n, "score": None if math.isinf(s) else round(s, 2)} for s, n in ranked]
    plot(result, Path(args.out).with_suffix(".png"))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
