"""LeRobot v3.0 datasets: writer (parallel, resumable), reader and schema check.

Layout (LeRobot's documented v3.0 format):
    meta/info.json                               codebase_version "v3.0", fps, features, path templates, totals
    meta/stats.json                              per feature: min, max, mean, std, count, q01, q10, q50, q90, q99
    meta/tasks.parquet                           task (the pandas index) → task_index
    meta/episodes/chunk-000/file-000.parquet     one row per episode: length, tasks, data/video file and span, stats
    data/chunk-000/file-000.parquet              frames of many episodes (rolled over at `data_file_mb`)
    videos/<camera key>/chunk-000/file-NNN.mp4   H.264 yuv420p; here one episode per file
Frame columns: observation.state, action (float32 lists), timestamp (= frame_index / fps, float32),
frame_index, episode_index, index, task_index (int64), and observation.capture_time (float64 seconds,
the real capture time from the episode's first frame; an extra feature LeRobot passes through).

Writing is two-phase. `write_shard` turns one Episode into a self-contained folder (data.parquet, one
MP4 per camera, shard.json) — any process can do it, and a finished shard (its shard.json written
last, after an atomic rename) is never redone, so an interrupted conversion resumes. `finalize`
assembles the shards, in the given order, into the layout above with one streaming statistics pass.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from psi0_policy.data import video
from psi0_policy.data.episode import Episode
from psi0_policy.data.stats import StreamingStats

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
CHUNKS_SIZE = 1000
IMAGE_PREFIX = "observation.images."
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


class DatasetError(ValueError):
    pass


# ---- phase 1: one shard per episode ---------------------------------------------------------------
def write_shard(ep: Episode, folder: str | Path, crf: int = 18, image_stride: int = 10) -> dict[str, Any]:
    """Episode → folder with data.parquet, <camera>.mp4, shard.json. Returns the shard's summary."""
    folder = Path(folder)
    done = folder / "shard.json"
    if done.exists():
        return json.loads(done.read_text())
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = len(ep)
    pq.write_table(pa.table({"observation.state": _fixed(ep.state), "action": _fixed(ep.action),
                             "observation.capture_time": pa.array(ep.capture_time, pa.float64())}), tmp / "data.parquet")
    cams: dict[str, Any] = {}
    for key, source in ep.cameras.items():
        acc = _ImageStats()
        shape: list[int] = []

        def frames(source=source, acc=acc, shape=shape):
            for k, rgb in enumerate(source()):
                if k == 0:
                    shape.extend(rgb.shape)
                if k % image_stride == 0:
                    acc.update(rgb)
                yield rgb

        count = video.encode(tmp / f"{key}.mp4", frames(), ep.fps, crf=crf)
        if count != n:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DatasetError(f"{ep.name}: camera {key} gave {count} frames for {n} state/action rows")
        cams[key] = {"shape": shape, "stats": acc.to_dict()}
    summary = {"name": ep.name, "task": ep.task, "length": n, "fps": ep.fps, "state_dim": ep.state.shape[1],
               "action_dim": ep.action.shape[1], "cameras": cams}
    (tmp / "shard.json").write_text(json.dumps(summary))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return summary


def _fixed(x: np.ndarray) -> pa.FixedSizeListArray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), x.shape[1])


class _ImageStats:
    """Per-channel statistics of sampled frames, in [0, 1] (LeRobot's image stats, shape (3, 1, 1)); `count` is the
    number of frames sampled, as LeRobot counts it (every 16th pixel of each frame enters the statistics)."""

    def __init__(self) -> None:
        self.s = StreamingStats(3, bins=256)
        self.frames = 0

    def update(self, rgb: np.ndarray) -> None:
        self.s.update(rgb.reshape(-1, 3)[::16] / 255.0)
        self.frames += 1

    def to_dict(self) -> dict[str, Any]:
        d = {k: (np.asarray(v).reshape(3, 1, 1).tolist() if k != "count" else v) for k, v in self.s.to_dict().items()}
        d["pixels"] = d["count"]  # what the statistics were computed over (the merge weight)
        d["count"] = [self.frames]
        return d


# ---- phase 2: the dataset -------------------------------------------------------------------------
@dataclass
class Features:
    state_names: list[str]
    action_names: list[str]


def finalize(root: str | Path, shards: list[Path], features: Features, robot_type: str = "unitree_g1",
             data_file_mb: float = 100.0, stats_bins: int = 4096) -> dict[str, Any]:
    """Assemble finished shards (in order: episode k = shards[k]) into a LeRobot v3.0 dataset at root."""
    root = Path(root)
    if not shards:
        raise DatasetError("no episodes to write")
    summaries = [json.loads((s / "shard.json").read_text()) for s in shards]
    first = summaries[0]
    fps = first["fps"]
    for s in summaries:
        if s["fps"] != fps or s["state_dim"] != first["state_dim"] or s["action_dim"] != first["action_dim"] \
                or {k: v["shape"] for k, v in s["cameras"].items()} != {k: v["shape"] for k, v in first["cameras"].items()}:
            raise DatasetError(f"episode {s['name']} differs from {first['name']} in fps, dimensions or cameras")
    if len(features.state_names) != first["state_dim"] or len(features.action_names) != first["action_dim"]:
        raise DatasetError("feature names do not match the state/action dimensions")
    for sub in ("data", "videos", "meta"):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    tasks: dict[str, int] = {}
    st_state, st_action = StreamingStats(first["state_dim"], stats_bins), StreamingStats(first["action_dim"], stats_bins)
    img_stats = {k: StreamingStats(3, 256) for k in first["cameras"]}
    img_frames: dict[str, int] = {}  # frames sampled per camera (LeRobot's image `count`)
    rows: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None
    file_index, file_bytes, index = 0, 0, 0
    limit = data_file_mb * 1e6
    for ep_index, (shard, s) in enumerate(zip(shards, summaries, strict=True)):
        t = pq.read_table(shard / "data.parquet")
        n = t.num_rows
        task_index = tasks.setdefault(s["task"], len(tasks))
        if writer is not None and file_bytes > limit:
            writer.close()
            writer, file_index, file_bytes = None, file_index + 1, 0
        frame = np.arange(n)
        table = pa.table({
            "observation.state": t["observation.state"], "action": t["action"],
            "timestamp": pa.array((frame / fps).astype(np.float32)), "frame_index": pa.array(frame, pa.int64()),
            "episode_index": pa.array(np.full(n, ep_index), pa.int64()), "index": pa.array(index + frame, pa.int64()),
            "task_index": pa.array(np.full(n, task_index), pa.int64()),
            "observation.capture_time": t["observation.capture_time"]})
        if writer is None:
            path = root / DATA_PATH.format(chunk_index=0, file_index=file_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        file_bytes += table.nbytes
        state = np.asarray(t["observation.state"].combine_chunks().flatten()).reshape(n, -1)
        action = np.asarray(t["action"].combine_chunks().flatten()).reshape(n, -1)
        ep_stats = {"observation.state": StreamingStats(state.shape[1], 256), "action": StreamingStats(action.shape[1], 256)}
        ep_stats["observation.state"].update(state)
        ep_stats["action"].update(action)
        st_state.update(state)
        st_action.update(action)
        row: dict[str, Any] = {"episode_index": ep_index, "tasks": [s["task"]], "length": n,
                               "data/chunk_index": 0, "data/file_index": file_index,
                               "dataset_from_index": index, "dataset_to_index": index + n,
                               "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0, "source": s["name"]}
        for key, cam in s["cameras"].items():
            vkey = IMAGE_PREFIX + key
            chunk, fidx = divmod(ep_index, CHUNKS_SIZE)
            dst = root / VIDEO_PATH.format(video_key=vkey, chunk_index=chunk, file_index=fidx)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shard / f"{key}.mp4", dst)
            row.update({f"videos/{vkey}/chunk_index": chunk, f"videos/{vkey}/file_index": fidx,
                        f"videos/{vkey}/from_timestamp": 0.0, f"videos/{vkey}/to_timestamp": n / fps})
            _merge_image_stats(img_stats[key], cam["stats"])
            img_frames[key] = img_frames.get(key, 0) + int(cam["stats"]["count"][0])
        for feat, acc in ep_stats.items():
            for k, v in acc.to_dict().items():
                row[f"stats/{feat}/{k}"] = v
        rows.append(row)
        index += n
    if writer is not None:
        writer.close()
    pq.write_table(pa.Table.from_pylist(rows), root / EPISODES_PATH)
    _write_tasks(root / "meta" / "tasks.parquet", tasks)
    stats = {"observation.state": st_state.to_dict(), "action": st_action.to_dict()}
    for key, acc in img_stats.items():
        stats[IMAGE_PREFIX + key] = {k: (np.asarray(v).reshape(3, 1, 1).tolist() if k != "count" else [img_frames[key]])
                                     for k, v in acc.to_dict().items()}
    (root / "meta" / "stats.json").write_text(json.dumps(stats, indent=1))
    feats: dict[str, Any] = {
        "observation.state": {"dtype": "float32", "shape": [first["state_dim"]], "names": features.state_names},
        "action": {"dtype": "float32", "shape": [first["action_dim"]], "names": features.action_names},
        "observation.capture_time": {"dtype": "float64", "shape": [1], "names": None},
    }
    for key, cam in first["cameras"].items():
        h, w, c = cam["shape"]
        feats[IMAGE_PREFIX + key] = {"dtype": "video", "shape": [h, w, c], "names": ["height", "width", "channels"],
                                     "info": {"video.height": h, "video.width": w, "video.codec": video.CODEC,
                                              "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "video.fps": fps,
                                              "video.channels": c, "has_audio": False}}
    feats.update(DEFAULT_FEATURES)
    info = {"codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": len(shards),
            "total_frames": index, "total_tasks": len(tasks), "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": data_file_mb, "video_files_size_in_mb": 500, "fps": fps,
            "splits": {"train": f"0:{len(shards)}"}, "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if first["cameras"] else None, "features": feats}
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    return info


def _merge_image_stats(acc: StreamingStats, d: dict[str, Any]) -> None:
    """Fold a shard's per-channel summary into the dataset accumulator (exact for count/mean/std/min/max): weighted
    by the sampled pixels (the frames, LeRobot's `count`, are summed by the caller)."""
    other = StreamingStats(3, acc.bins)
    other.count = int(d.get("pixels", d["count"])[0])
    other.mean = np.asarray(d["mean"]).ravel()
    other.m2 = np.asarray(d["std"]).ravel() ** 2 * other.count
    other.min, other.max = np.asarray(d["min"]).ravel(), np.asarray(d["max"]).ravel()
    # quantiles: the summary's quantile points stand for the shard's pixels (approximate)
    other.lo = other.min.copy()
    other.width = np.maximum(other.max - other.min, 1e-6) / other.bins * 1.0001
    qs = np.stack([np.asarray(d[k]).ravel() for k in ("q01", "q10", "q50", "q90", "q99")])
    weights = np.array([0.05, 0.2, 0.5, 0.2, 0.05]) * other.count
    for c in range(3):
        idx = np.minimum(((qs[:, c] - other.lo[c]) / other.width[c]).astype(np.int64), other.bins - 1)
        other.hist[c] = np.bincount(idx, weights=weights, minlength=other.bins).astype(np.int64)
    acc.merge(other)


def _write_tasks(path: Path, tasks: dict[str, int]) -> None:
    """tasks.parquet with the task string as the pandas index (what LeRobot's loader expects)."""
    table = pa.table({"task_index": pa.array(list(tasks.values()), pa.int64()), "task": pa.array(list(tasks), pa.string())})
    meta = {"index_columns": ["task"], "column_indexes": [], "columns": [
        {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
        {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None}],
        "creator": {"library": "psi0"}, "pandas_version": "2.2.0"}
    pq.write_table(table.replace_schema_metadata({b"pandas": json.dumps(meta).encode()}), path)
