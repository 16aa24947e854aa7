"""Training throughput: samples/s of each stage through the real Trainer.

CPU (default): the `tiny` configs (pretrain on a synthetic EgoDex-format set, posttrain and finetune on a synthetic
teleop set, 48×64 frames), after 5 warm-up steps. GPU (`--gpu`): one full-size Ψ0 fine-tuning configuration
(Qwen3-VL-2B shape + 0.5 B expert, random weights, bf16 autocast, batch 16, expert only, 480×640 frames resized
to 256×320) — seconds per optimiser step and samples/s, plus peak GPU memory. Prints JSON and writes
benchmarks/results/train_throughput_{cpu,gpu}.json.

    python benchmarks/train_throughput.py            # this machine
    python benchmarks/train_throughput.py --gpu      # on the GPU machine (device tool)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _run(cfg, warmup: int) -> dict:
    from psi0_policy.train.trainer import Trainer

    tr = Trainer(cfg, progress=False)
    times = []
    orig = tr.train_step

    def timed(mb):
        t = time.perf_counter()
        out = orig(mb)
        if tr.dist.device.type == "cuda":
            import torch

            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        return out

    tr.train_step = timed
    s = tr.run()
    steady = times[warmup:] or times
    per_step = sum(steady) / len(steady)
    return {"steps": len(times), "global_batch": cfg.global_batch, "seconds_per_step": round(per_step, 4),
            "samples_per_second": round(cfg.global_batch / per_step, 1), "first_loss": round(s["losses"][0], 4),
            "last_loss": round(s["losses"][-1], 4)}


def cpu(tmp: Path) -> dict:
    import numpy as np

    from psi0_policy.data.cli import action_chunks
    from psi0_policy.data.fast import FastTokenizer
    from psi0_policy.data.stats import policy_stats
    from psi0_policy.model.normalize import Normalizer
    from psi0_policy.train.config import load_train_config
    from tests.train.helpers import CONFIGS, egodex_dataset, teleop_dataset

    ds = teleop_dataset(tmp, episodes=4, frames=60)
    ego = egodex_dataset(tmp, episodes=4, frames=60)
    stats = policy_stats(json.loads((ego / "meta" / "stats.json").read_text()))
    norm = Normalizer.from_stats(stats["action"], "quantile")
    FastTokenizer.fit([norm.normalize(c.astype(np.float64)) for c in action_chunks(ego, 4)], scale=10,
                      vocab_size=256).save(tmp / "fast")
    common = ["steps=25", "eval_every=1000", "save_every=1000"]
    out = {}
    out["pretrain_tiny"] = _run(load_train_config(CONFIGS / "pretrain_tiny.yaml", [
        f"datasets=[{ego}]", f"fast_tokenizer={tmp / 'fast'}", "horizon=4", f"out={tmp / 'p'}", *common]), 5)
    out["posttrain_tiny"] = _run(load_train_config(CONFIGS / "posttrain_tiny.yaml", [
        f"datasets=[{ds}]", f"out={tmp / 'q'}", *common]), 5)
    out["finetune_tiny"] = _run(load_train_config(CONFIGS / "finetune_tiny.yaml", [
        f"datasets=[{ds}]", f"out={tmp / 'f'}", *common]), 5)
    return out


def gpu(tmp: Path, dry_run: bool = False) -> dict:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers

    from psi0_policy.data.convert import convert
    from psi0_policy.train.config import load_train_config
    from tests.data.fixtures import make_teleop
    from tests.train.helpers import CONFIGS

    for k in range(2):
        make_teleop(tmp / "raw" / f"episode_{k}", n=40, seed=k, size=(480, 640), task="touch the red cube")
    convert("teleop", [tmp / "raw"], tmp / "ds", progress=False)
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "touch": 5, "the": 6, "red": 7, "cube": 8}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    (tmp / "qwen").mkdir()
    tok.save(str(tmp / "qwen" / "tokenizer.json"))
    cfg = load_train_config(CONFIGS / "finetune.yaml", [
        f"datasets=[{tmp / 'ds'}]", "init=", "model=psi0", f"text_tokenizer={tmp / 'qwen'}", "steps=6", "global_batch=16",
        "micro_batch=16", "device=cuda", "eval_every=1000", "save_every=1000", "heldout_episodes=0", f"out={tmp / 'g'}",
        *(["model=tiny", "device=cpu", "steps=3"] if dry_run else [])])
    if dry_run:  # the same path at tiny scale on the CPU, to check the script before spending GPU time
        return {"dry_run_tiny_cpu": _run(cfg, 1)}
    torch.cuda.reset_peak_memory_stats()
    r = _run(cfg, 2)
    r["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    r["device"] = torch.cuda.get_device_name(0)
    return {"finetune_psi0_bf16_batch16": r}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="with --gpu: run that path with `tiny` on the CPU")
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="psi0_train_bench_") as d:
        os.chdir(d)
        result = {"machine_cpus": os.cpu_count(), **(gpu(Path(d), ns.dry_run) if ns.gpu else cpu(Path(d)))}
    text = json.dumps(result, indent=2)
    print(text)
    if ns.dry_run:
        return 0
    (REPO / "benchmarks" / "results" / f"train_throughput_{'gpu' if ns.gpu else 'cpu'}.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
