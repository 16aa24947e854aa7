"""`psi0 data ...`: convert, stats, check, tokenizer.

    psi0 data convert {egodex,teleop,bag} SRC [SRC ...] -o OUT [--workers N] [--task T] [--stride K] [--fps F]
                      [--image-topic T ...] [--action-topic T]
    psi0 data stats DATASET [--bins N]      recompute meta/stats.json in one streaming pass; print a summary
    psi0 data check DATASET                 schema check; non-zero exit on any violation
    psi0 data tokenizer DATASET -o OUT [--horizon 16] [--scale 10] [--vocab 2048]   fit a FAST tokenizer on its actions
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="data pipeline: convert, stats, check, tokenizer")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    c = dsub.add_parser("convert", help="readers → LeRobot v3.0 dataset")
    c.add_argument("format", choices=["egodex", "teleop", "bag", "psi0"],
                   help="psi0: an official released Ψ0 dataset (LeRobot v2.x)")
    c.add_argument("sources", nargs="+")
    c.add_argument("-o", "--out", required=True)
    c.add_argument("--workers", type=int, default=1)
    c.add_argument("--task", default=None, help="instruction for episodes that carry none")
    c.add_argument("--stride", type=int, default=1, help="egodex: frame stride")
    c.add_argument("--fps", type=float, default=30.0)
    c.add_argument("--image-topic", action="append", dest="image_topics", help="bag: camera topic(s)")
    c.add_argument("--action-topic", default=None, help="bag: ActionChunk or JointState topic")
    c.add_argument("--action-frame", default=None, help="bag: only chunks with this header.frame_id (e.g. expert)")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=cmd_convert)
    s = dsub.add_parser("stats", help="recompute meta/stats.json (streaming)")
    s.add_argument("dataset")
    s.add_argument("--bins", type=int, default=4096)
    s.set_defaults(func=cmd_stats)
    k = dsub.add_parser("check", help="check a dataset against the LeRobot v3.0 schema")
    k.add_argument("dataset")
    k.set_defaults(func=cmd_check)
    t = dsub.add_parser("tokenizer", help="fit a FAST tokenizer on a dataset's action chunks")
    t.add_argument("dataset")
    t.add_argument("-o", "--out", required=True)
    t.add_argument("--horizon", type=int, default=16)
    t.add_argument("--scale", type=float, default=10.0)
    t.add_argument("--vocab", type=int, default=2048)
    t.set_defaults(func=cmd_tokenizer)


def cmd_convert(ns: argparse.Namespace) -> int:
    from psi0_policy.data.convert import convert

    opts = {"task": ns.task, "stride": ns.stride, "fps": ns.fps, "image_topics": ns.image_topics, "action_topic": ns.action_topic,
            "action_frame": ns.action_frame}
    r = convert(ns.format, [Path(s) for s in ns.sources], Path(ns.out), workers=ns.workers, progress=not ns.no_progress, **opts)
    print(f"psi0 data convert: {r.converted}/{r.episodes} episodes ({r.resumed} resumed, {len(r.failed)} failed), "
          f"{r.frames} frames in {r.seconds:.1f} s ({r.frames_per_second:.0f} frames/s) → {r.output}")
    return 0 if r.converted and not r.failed else (2 if r.failed else 1)


def dataset_stats(root: Path, bins: int = 4096) -> dict:
    """One pass over the data parquet files, batch by batch (constant memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from psi0_policy.data.stats import StreamingStats

    info = json.loads((root / "meta" / "info.json").read_text())
    acc: dict[str, StreamingStats] = {}
    for f in sorted((root / "data").rglob("*.parquet")):
        for batch in pq.ParquetFile(f).iter_batches(columns=["observation.state", "action"], batch_size=8192):
            for name in ("observation.state", "action"):
                col = batch.column(name)
                assert pa.types.is_fixed_size_list(col.type)
                x = np.asarray(col.flatten()).reshape(len(col), col.type.list_size)
                acc.setdefault(name, StreamingStats(x.shape[1], bins)).update(x)
    old = json.loads((root / "meta" / "stats.json").read_text()) if (root / "meta" / "stats.json").exists() else {}
    new = {**old, **{k: v.to_dict() for k, v in acc.items()}}
    frames = acc["action"].count if "action" in acc else 0
    if frames != info["total_frames"]:
        raise ValueError(f"{root}: data files hold {frames} frames, info.json says {info['total_frames']}")
    return new


def cmd_stats(ns: argparse.Namespace) -> int:
    root = Path(ns.dataset)
    stats = dataset_stats(root, ns.bins)
    (root / "meta" / "stats.json").write_text(json.dumps(stats, indent=1))
    for name in ("observation.state", "action"):
        s = stats[name]
        print(f"{name}: N={s['count'][0]}  min {np.min(s['min']):.3f}  max {np.max(s['max']):.3f}  "
              f"mean|·| {np.mean(np.abs(s['mean'])):.3f}  std {np.mean(s['std']):.3f}")
    print(f"psi0 data stats: wrote {root / 'meta' / 'stats.json'}")
    return 0


def cmd_check(ns: argparse.Namespace) -> int:
    from psi0_policy.data.lerobot_reader import check

    problems = check(ns.dataset)
    for p in problems:
        print(f"  {p}")
    print(f"psi0 data check: {ns.dataset}: " + ("valid LeRobot v3.0" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def action_chunks(root: Path, horizon: int) -> list[np.ndarray]:
    """Every window of `horizon` consecutive actions inside one episode."""
    from psi0_policy.data.lerobot_reader import LeRobotData

    ds = LeRobotData(root)
    out = []
    for ep in range(len(ds.episodes)):
        a, b = ds.episode_span(ep)
        out += [ds.action[i:i + horizon] for i in range(a, b - horizon + 1)]
    return out


def cmd_tokenizer(ns: argparse.Namespace) -> int:
    from psi0_policy.data.fast import FastTokenizer

    chunks = action_chunks(Path(ns.dataset), ns.horizon)
    tok = FastTokenizer.fit(chunks, scale=ns.scale, vocab_size=ns.vocab, show_progress=sys.stderr.isatty())
    tok.save(ns.out)
    lengths = [len(t) for t in tok.encode(np.stack(chunks[:512]))]
    print(f"psi0 data tokenizer: {len(chunks)} chunks of {ns.horizon}; mean {np.mean(lengths):.1f} tokens/chunk → {ns.out}")
    return 0
