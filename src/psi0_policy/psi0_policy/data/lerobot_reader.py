"""Reading a LeRobot v3.0 dataset (ours or anyone's) and checking it against the documented schema.

`LeRobotData(root)` loads the frame table into NumPy (state, action, indices: small next to the
videos) from every data and episodes file, and decodes video frames on demand: `frames(episode, key)` yields an
episode's frames of one camera, located in its (possibly multi-episode) MP4 through the episode's from/to
timestamps (seeking to them, not decoding the file from its start).
`check(root)` returns every violation it finds (empty list: valid).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from psi0_policy.data import video
from psi0_policy.data.lerobot import CODEBASE_VERSION, DEFAULT_FEATURES, DatasetError


def _column(table, name: str) -> np.ndarray:
    col = table[name].combine_chunks()
    if pa.types.is_fixed_size_list(col.type):
        return np.asarray(col.flatten()).reshape(len(col), col.type.list_size)
    if pa.types.is_list(col.type):
        return np.asarray(col.to_pylist())
    return np.asarray(col)


class LeRobotData:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        info_file = self.root / "meta" / "info.json"
        if not info_file.exists():
            raise DatasetError(f"{self.root}: not a LeRobot dataset (no meta/info.json)")
        self.info: dict[str, Any] = json.loads(info_file.read_text())
        if self.info.get("codebase_version") != CODEBASE_VERSION:
            version = self.info.get("codebase_version")
            raise DatasetError(f"{self.root}: codebase_version {version!r}, this reader reads {CODEBASE_VERSION}")
        self.fps = float(self.info["fps"])
        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetError(f"{self.root}: no meta/episodes/chunk-*/file-*.parquet")
        rows = [r for f in files for r in pq.read_table(f).to_pylist()]  # every episodes file, not only the first
        self.episodes = sorted(rows, key=lambda e: e["episode_index"])
        tasks = pq.read_table(self.root / "meta" / "tasks.parquet").to_pydict()
        self.tasks = dict(zip(tasks["task_index"], tasks["task"], strict=True))
        files = sorted({(e["data/chunk_index"], e["data/file_index"]) for e in self.episodes})
        tables = [pq.read_table(self.root / self.info["data_path"].format(chunk_index=c, file_index=f)) for c, f in files]
        cols = {k: np.concatenate([_column(t, k) for t in tables]) for k in tables[0].column_names}
        order = np.argsort(cols["index"], kind="stable")
        self.columns = {k: v[order] for k, v in cols.items()}
        self.state = self.columns["observation.state"].astype(np.float32)
        self.action = self.columns["action"].astype(np.float32)
        self.episode_index = self.columns["episode_index"].astype(np.int64)
        self.frame_index = self.columns["frame_index"].astype(np.int64)
        self.camera_keys = [k for k, f in self.info["features"].items() if f["dtype"] == "video"]

    def __len__(self) -> int:
        return len(self.state)

    def episode_span(self, ep: int) -> tuple[int, int]:
        e = self.episodes[ep]
        return int(e["dataset_from_index"]), int(e["dataset_to_index"])

    def task(self, ep: int) -> str:
        return self.episodes[ep]["tasks"][0]

    def video_file(self, ep: int, key: str) -> tuple[Path, int, int]:
        e = self.episodes[ep]
        path = self.root / self.info["video_path"].format(video_key=key, chunk_index=e[f"videos/{key}/chunk_index"],
                                                          file_index=e[f"videos/{key}/file_index"])
        start = round(e[f"videos/{key}/from_timestamp"] * self.fps)
        return path, start, start + int(e["length"])

    def frames(self, ep: int, key: str, step: int = 1):
        path, start, stop = self.video_file(ep, key)
        return video.decode(path, start, stop, step)


def check(root: str | Path) -> list[str]:
    """Every violation of the v3.0 schema found in the dataset at root."""
    problems: list[str] = []
    root = Path(root)
    try:
        ds = LeRobotData(root)
    except Exception as e:
        return [f"cannot open: {e}"]
    info = ds.info
    for key in ("codebase_version", "fps", "features", "data_path", "video_path", "total_episodes", "total_frames",
                "total_tasks", "chunks_size", "splits", "robot_type"):
        if key not in info:
            problems.append(f"info.json lacks {key}")
    feats = info.get("features", {})
    for name, spec in DEFAULT_FEATURES.items():
        if feats.get(name, {}).get("dtype") != spec["dtype"]:
            problems.append(f"feature {name}: dtype {feats.get(name, {}).get('dtype')} (expected {spec['dtype']})")
    for name, f in feats.items():
        if f["dtype"] != "video" and name not in ds.columns:
            problems.append(f"feature {name} has no data column")
        if f["dtype"] in ("float32", "float64") and name in ds.columns:
            width = ds.columns[name].shape[1] if ds.columns[name].ndim == 2 else 1
            if [width] != list(f["shape"]):
                problems.append(f"feature {name}: shape {f['shape']} but data has {width} values")
    n = len(ds)
    if n != info.get("total_frames"):
        problems.append(f"total_frames {info.get('total_frames')} but {n} rows")
    if len(ds.episodes) != info.get("total_episodes"):
        problems.append(f"total_episodes {info.get('total_episodes')} but {len(ds.episodes)} episode rows")
    if len(ds.tasks) != info.get("total_tasks") or sorted(ds.tasks) != list(range(len(ds.tasks))):
        problems.append("tasks.parquet: task_index must be 0..total_tasks-1")
    if not np.array_equal(ds.columns["index"], np.arange(n)):
        problems.append("index is not 0..N-1")
    for k, e in enumerate(ds.episodes):
        a, b = ds.episode_span(k)
        if e["episode_index"] != k or b - a != e["length"]:
            problems.append(f"episode {k}: index/length inconsistent")
            continue
        if not np.array_equal(ds.frame_index[a:b], np.arange(b - a)) or np.any(ds.episode_index[a:b] != k):
            problems.append(f"episode {k}: frame_index/episode_index not contiguous")
        ts = ds.columns["timestamp"][a:b]
        if np.abs(ts - np.arange(b - a) / ds.fps).max() > 1e-4:
            problems.append(f"episode {k}: timestamp ≠ frame_index / fps")
        if e["tasks"][0] not in ds.tasks.values():
            problems.append(f"episode {k}: task not in tasks.parquet")
        for key in ds.camera_keys:
            path, start, stop = ds.video_file(k, key)
            if not path.exists():
                problems.append(f"episode {k}: missing video {path.relative_to(root)}")
                continue
            p = video.probe(path)
            h, w = feats[key]["shape"][:2]
            if p["frames"] < stop or (p["height"], p["width"]) != (h, w):
                problems.append(f"episode {k}: video {path.name} has {p['frames']} frames of {p['width']}x{p['height']}, "
                                f"needs frames [{start}, {stop}) of {w}x{h}")
    stats_file = root / "meta" / "stats.json"
    if not stats_file.exists():
        problems.append("meta/stats.json missing")
    else:
        stats = json.loads(stats_file.read_text())
        for name in ("observation.state", "action"):
            for s in ("min", "max", "mean", "std", "count", "q01", "q99"):
                if s not in stats.get(name, {}):
                    problems.append(f"stats.json: {name} lacks {s}")
    return problems
