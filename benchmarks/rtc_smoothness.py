"""Real-time vs synchronous chunking at injected inference delays of 0/100/200/300 ms.

Policy: a tiny Ψ0 trained with prefix conditioning on smooth motions (tests/policy/toy_policy.py,
~40 s of CPU training); bridge: psi0_bridge's ChunkExecutor at 500 Hz on a simulated clock
(psi0_policy.rtc_sim). Metrics per mode and delay: boundary-jump p99 (discontinuity at chunk
switches), within-chunk step p99, starvation (ticks without a due step), idle fraction. Prints JSON
and draws benchmarks/results/rtc_smoothness.png.

    python benchmarks/rtc_smoothness.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from psi0_policy.rtc_sim import simulate  # noqa: E402
from tests.policy.toy_policy import train_continuing_policy  # noqa: E402


def main() -> int:
    policy = train_continuing_policy()
    rows = [simulate(policy, d / 1000, duration_s=8.0, mode=mode).summary()
            for mode in ("rtc", "sync") for d in (0, 100, 200, 300)]
    result = {"benchmark": "rtc_smoothness", "horizon": 30, "dt_s": 1 / 30, "control_hz": 500, "runs": rows}
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "rtc_smoothness.json").write_text(json.dumps(result, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for mode, marker in (("rtc", "o-"), ("sync", "s--")):
        r = [x for x in rows if x["mode"] == mode]
        d = [x["delay_ms"] for x in r]
        axes[0].plot(d, [x["boundary_jump_p99"] for x in r], marker, label=f"{mode} boundary jump p99")
        axes[0].plot(d, [x["within_step_p99"] for x in r], marker, alpha=0.4, label=f"{mode} within-chunk step p99")
        axes[1].plot(d, [100 * x["idle_fraction"] for x in r], marker, label=mode)
    axes[0].set_xlabel("inference delay (ms)")
    axes[0].set_ylabel("max |Δ action| (normalised units)")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("inference delay (ms)")
    axes[1].set_ylabel("time without a due step (%)")
    axes[1].legend()
    fig.suptitle("real-time vs synchronous chunking")
    fig.tight_layout()
    fig.savefig(out / "rtc_smoothness.png", dpi=100)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
