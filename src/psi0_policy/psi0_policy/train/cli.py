"""`psi0 train` and `psi0 export`.

    psi0 train {pretrain,posttrain,finetune} --config FILE [--set key=value ...] [--resume]
    psi0 export RUN_OR_CHECKPOINT -o BUNDLE [--no-onnx] [--text-tokenizer DIR]
    psi0 convert (--run OFFICIAL_RUN [--step N] | --vlm DIR --expert FILE) --stats stats_psi0.json -o BUNDLE

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
    c = sub.add_parser("convert", help="an official Ψ0 run or release → a deployable bundle")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="official training run folder (run_config.json, checkpoints/ckpt_<step>/)")
    src.add_argument("--vlm", help="released Qwen3-VL folder (save_pretrained; with --expert)")
    c.add_argument("--expert", help="released action_header.safetensors (with --vlm)")
    c.add_argument("--step", type=int, default=None, help="checkpoint step of --run (default: the newest)")
    c.add_argument("--stats", default=None, help="the dataset's meta/stats_psi0.json (default: <run>/stats_psi0.json)")
    c.add_argument("--base", default="psi0", help="backbone shape: psi0 (Qwen3-VL-2B) or tiny (tests)")
    c.add_argument("-o", "--out", required=True)
    c.add_argument("--no-onnx", action="store_true", help="skip the ONNX graphs")
    c.add_argument("--text-tokenizer", default=None, help="folder with tokenizer.json (default: the VLM folder)")
    c.set_defaults(func=cmd_convert)


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


def cmd_convert(ns: argparse.Namespace) -> int:
    from psi0_policy.model import official
    from psi0_policy.train.export import write_bundle

    if ns.vlm and not (ns.expert and ns.stats):
        raise SystemExit("psi0 convert: --vlm needs --expert and --stats")
    if ns.run and ns.expert:
        raise SystemExit("psi0 convert: --expert goes with --vlm, not with --run")
    if ns.run:
        model, stats, facts = official.load_run(ns.run, ns.step, ns.base, ns.stats)
    else:
        model, stats, facts = official.load_release(ns.vlm, ns.expert, ns.stats, ns.base)
    tok = ns.text_tokenizer or facts.get("tokenizer_dir")
    m = write_bundle(model, stats, ns.out, facts, onnx=not ns.no_onnx, text_tokenizer=tok)
    print(f"psi0 convert: bundle {ns.out} from {m['source']} ({len(m['files'])} files)")
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
