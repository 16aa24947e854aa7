"""`psi0 data convert`: readers → shards (parallel, resumable) → one LeRobot v3.0 dataset.

    report = convert("teleop", [Path("raw/")], Path("datasets/pick"), workers=4)

Each source episode becomes a shard under `<out>/.staging/` in a worker process; a shard that is
already complete (from an interrupted run) is reused, not redone. A malformed episode is reported
with its reason, counted as failed and left out; the run still writes the others, and the report
(`<out>/conversion_report.json`, also returned) lists every failure — nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from psi0_policy.data import egodex, official_dataset, rosbag_reader, teleop
from psi0_policy.data.episode import Episode, EpisodeError
from psi0_policy.data.lerobot import Features, finalize, write_shard

FORMATS = ("egodex", "teleop", "bag", "psi0")  # psi0: the official released datasets (LeRobot v2.x)


@dataclass
class Report:
    format: str
    output: str
    episodes: int = 0  # found in the sources
    converted: int = 0  # in the written dataset
    resumed: int = 0  # of those, shards reused from an earlier run
    failed: list[dict[str, str]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def find(fmt: str, root: Path) -> list[Path]:
    if not root.exists():
        raise FileNotFoundError(f"source {root} does not exist")
    return {"egodex": egodex.find_episodes, "teleop": teleop.find_episodes, "bag": rosbag_reader.find_bags,
            "psi0": official_dataset.find_episodes}[fmt](root)


def read(fmt: str, path: Path, options: dict[str, Any]) -> Episode:
    if fmt == "egodex":
        return egodex.read_egodex(path, stride=int(options.get("stride", 1)))
    if fmt == "teleop":
        return teleop.read_teleop(path, task=options.get("task"), fps=float(options.get("fps", 30.0)))
    if fmt == "psi0":
        return official_dataset.read_official(path)
    if fmt == "bag":
        kw = {k: options[k] for k in ("image_topics", "action_topic", "joint_topic", "task", "fps", "action_frame")
              if options.get(k)}
        if "image_topics" in kw:
            kw["image_topics"] = tuple(kw["image_topics"])
        return rosbag_reader.read_bag(path, **kw)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def features(fmt: str) -> Features:
    if fmt == "egodex":
        names = [f"{side}_{part}_{axis}" for side in egodex.SIDES
                 for part, axes in (("wrist", "xyz"), ("wrist_rot", "rpy"), ("pad", "abc"),
                                    *((tip.lower(), "xyz") for tip in egodex.FINGERTIPS)) for axis in axes]
        return Features(state_names=names, action_names=[f"d_{n}" for n in names])
    from psi0_core.g1_adapter import default_adapter

    g1 = default_adapter()
    return Features(state_names=list(g1.state_names), action_names=list(g1.action_names))


def _shard_dir(staging: Path, src: Path) -> Path:
    h = hashlib.sha1(str(src.resolve()).encode()).hexdigest()[:12]
    return staging / f"{h}_{src.stem[:40]}"


def _job(fmt: str, src: str, shard: str, options: dict[str, Any]) -> tuple[str, dict[str, Any] | str]:
    try:
        return "ok", write_shard(read(fmt, Path(src), options), shard)
    except (EpisodeError, ValueError, OSError) as e:
        return "failed", f"{type(e).__name__}: {e}"


def convert(fmt: str, sources: list[Path], out: Path, workers: int = 1, progress: bool = True,
            robot_type: str | None = None, **options: Any) -> Report:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    t0 = time.monotonic()
    out = Path(out)
    staging = out / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    episodes = [p for s in sources for p in find(fmt, Path(s))]
    report = Report(format=fmt, output=str(out), episodes=len(episodes))
    if not episodes:
        raise FileNotFoundError(f"no {fmt} episodes found in {[str(s) for s in sources]}")
    shards = {p: _shard_dir(staging, p) for p in episodes}
    done = {p for p, d in shards.items() if (d / "shard.json").exists()}
    report.resumed = len(done)
    results: dict[Path, tuple[str, Any]] = {p: ("ok", None) for p in done}
    todo = [p for p in episodes if p not in done]
    bar = _bar(len(episodes), progress, initial=len(done))
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_job, fmt, str(p), str(shards[p]), options): p for p in todo}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update(1)
    else:
        for p in todo:
            results[p] = _job(fmt, str(p), str(shards[p]), options)
            bar.update(1)
    bar.close()
    ok = [p for p in episodes if results[p][0] == "ok"]
    report.failed = [{"episode": str(p), "error": results[p][1]} for p in episodes if results[p][0] != "ok"]
    for f in report.failed:
        print(f"psi0 data convert: skipped {f['episode']}: {f['error']}", file=sys.stderr)
    if ok:
        info = finalize(out, [shards[p] for p in ok], features(fmt),
                        robot_type=robot_type or ("human_egocentric" if fmt == "egodex" else "unitree_g1"))
        report.frames = int(info["total_frames"])
        shutil.rmtree(staging, ignore_errors=True)
    report.converted = len(ok)
    report.seconds = time.monotonic() - t0
    (out / "conversion_report.json").write_text(json.dumps({**asdict(report), "frames_per_second": report.frames_per_second},
                                                           indent=2))
    return report


def _bar(total: int, enabled: bool, initial: int = 0):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="episode", desc="convert")
