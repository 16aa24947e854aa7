"""`psi0 train` and `psi0 export`.

    psi0 train {pretrain,posttrain,finetune} --config FILE [--set key=value ...] [--resume]
    psi0 export RUN_OR_CHECKPOINT -o BUNDLE [--no-onnx] [--text-tokenizer DIR]

Multi-process (DDP or FSDP, per the config's `distributed`):
    torchrun --nproc_per_node N -m psi0_policy.train.cli finetune --config FILE
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parsers(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a stage (pretrain, posttrain, finetune)")
    _train_args(t)
    e = sub.add_parser("export", help="a run or checkpoint → a deployable bundle")
    e.add_argument("source", help="training run folder (newest checkpoint) or a checkpoint folder")
    e.add_argument("-o", "--out", required=True)
    e.add_argument("--no-onnx", action="store_true", help="skip the ONNX expert")
    e.add_argument("--text-tokenizer", default=None, help="folder with the Qwen tokenizer.json (qwen-tokenizer models)")
    e.set_defaults(func=cmd_export)


def _train_args(t: argparse.ArgumentParser) -> None:
    t.add_argument("stage", choices=["pretrain", "posttrain", "finetune"])
    t.add_argument("--config", required=True, help="YAML file (config/train/*.yaml)")
    t.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE", help="override a config value")
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in `out`")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--dump-grads", default=None, help=argparse.SUPPRESS)  # tests: the first step's averaged gradients
    t.set_defaults(func=cmd_train)


def cmd_train(ns: argparse.Namespace) -> int:
    from psi0_policy.train import distributed as D
    from psi0_policy.train.config import load_train_config
    from psi0_policy.train.trainer import Trainer

    cfg = load_train_config(ns.config, ns.overrides, stage=ns.stage)
    trainer = Trainer(cfg, resume=ns.resume, progress=not ns.no_progress, dump_grads=ns.dump_grads)
    try:
        summary = trainer.run()
    finally:
        D.shutdown(trainer.dist)
    if trainer.dist.main:
        losses = summary["losses"] or [float("nan")]
        first, last = losses[0], losses[-1]
        print(f"psi0 train {cfg.stage}: {summary['steps']} steps, loss {first:.4f} → {last:.4f}, "
              f"{summary['samples_per_second']} samples/s; checkpoint {summary['checkpoint']}")
    return 0


def cmd_export(ns: argparse.Namespace) -> int:
    from psi0_policy.train.export import export

    m = export(ns.source, ns.out, onnx=not ns.no_onnx, text_tokenizer=ns.text_tokenizer)
    print(f"psi0 export: bundle {ns.out} from {m['source']} ({len(m['files'])} files)")
    print(json.dumps({k: m[k] for k in ("stage", "step", "horizon", "action_dim")}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry for torchrun (`-m psi0_policy.train.cli <stage> --config …`)."""
    p = argparse.ArgumentParser(prog="psi0_policy.train.cli")
    _train_args(p)
    ns = p.parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
