"""The official Ψ0 released datasets (LeRobot v2.x folders, as scripts/data/raw_to_lerobot.py writes them) → Episodes.

    <root>/meta/info.json        fps, data_path, video_path, chunks_size, features
    <root>/meta/tasks.jsonl      {"task_index": i, "task": "..."} per line
    <root>/meta/stats_psi0.json  the statistics the official fine-tuning normalises with (model/official.py reads them)
    <root>/data/chunk-XXX/episode_YYYYYY.parquet   columns states (32), action (36), timestamp, frame_index,
                                                   episode_index, index, task_index
    <root>/videos/chunk-XXX/observation.images.egocentric/episode_YYYYYY.mp4   the head camera

Meaning of the columns (the same as this stack's G1 adapter):
    states  0:14 Dex3 joints (measured) · 14:28 arm joints (measured) · 28:32 the torso rpy + height commanded at the
            frame before (0, 0, 0, 0.75 before the first)  → padded with zeros to 36 (official pad_to_len)
    action  0:14 Dex3 commands · 14:28 arm commands · 28:31 torso rpy · 31 height · 32 vx · 33 vy · 34 yaw rate ·
            35 target yaw (the operator's commands)
The camera `observation.images.egocentric` becomes `head` (the G1's head camera, as every other reader names it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from psi0_core.g1_adapter import ACTION_DIM, STATE_DIM
from psi0_policy.data import video
from psi0_policy.data.episode import Episode, EpisodeError

OFFICIAL_STATE_DIM = 32
CAMERA_KEYS = {"observation.images.egocentric": "head"}


def _info(root: Path) -> dict:
    f = root / "meta" / "info.json"
    if not f.exists():
        raise EpisodeError(f"{root}: no meta/info.json (not a LeRobot dataset)")
    info = json.loads(f.read_text())
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v2"):
        raise EpisodeError(f"{root}: codebase_version {version!r}; the official Ψ0 datasets are LeRobot v2.x "
                           "(a v3.0 dataset is read by `psi0 train` directly)")
    return info


def _tasks(root: Path) -> dict[int, str]:
    f = root / "meta" / "tasks.jsonl"
    if not f.exists():
        raise EpisodeError(f"{root}: no meta/tasks.jsonl")
    rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return {int(r["task_index"]): str(r["task"]) for r in rows}


def _root_of(parquet: Path) -> Path:
    return parquet.parent.parent.parent  # <root>/data/chunk-XXX/episode_Y.parquet


def _column(table, name: str, width: tuple[int, ...], where: str) -> np.ndarray:
    if name not in table.column_names:
        raise EpisodeError(f"{where}: no {name!r} column (columns: {table.column_names})")
    x = np.asarray(table[name].to_pylist(), dtype=np.float64)
    if x.ndim != 2 or x.shape[1] not in width:
        raise EpisodeError(f"{where}: {name} is {x.shape}, expected (T, {' or '.join(map(str, width))})")
    return x


def read_official(parquet: str | Path) -> Episode:
    """One episode's parquet file of an official dataset → Episode (36-D state and action, camera `head`)."""
    parquet = Path(parquet)
    root = _root_of(parquet)
    info, tasks = _info(root), _tasks(root)
    try:
        table = pq.read_table(parquet)
    except Exception as e:  # pyarrow raises several kinds on a damaged file
        raise EpisodeError(f"{parquet}: unreadable parquet ({e})") from e
    states = _column(table, "states", (OFFICIAL_STATE_DIM, STATE_DIM), str(parquet))
    action = _column(table, "action", (ACTION_DIM,), str(parquet))
    state = np.pad(states, ((0, 0), (0, STATE_DIM - states.shape[1])))  # official pad_to_len: zeros
    task_index = np.unique(np.asarray(table["task_index"].to_pylist())) if "task_index" in table.column_names else []
    if len(task_index) != 1 or int(task_index[0]) not in tasks:
        raise EpisodeError(f"{parquet}: task_index {list(task_index)} not one task of meta/tasks.jsonl")
    fps = float(info.get("fps", 30))
    t = np.asarray(table["timestamp"].to_pylist(), dtype=np.float64) if "timestamp" in table.column_names \
        else np.arange(len(state)) / fps
    episode = int(table["episode_index"][0].as_py()) if "episode_index" in table.column_names else 0
    chunk = episode // int(info.get("chunks_size", 1000))
    cameras = {}
    for key, name in CAMERA_KEYS.items():
        if key not in info.get("features", {}):
            continue
        mp4 = root / info["video_path"].format(episode_chunk=chunk, video_key=key, episode_index=episode)
        if not mp4.exists():
            raise EpisodeError(f"{parquet}: missing video {mp4.relative_to(root)}")
        if video.probe(mp4)["frames"] < len(state):
            raise EpisodeError(f"{mp4}: fewer video frames than the {len(state)} rows")
        cameras[name] = lambda mp4=mp4, n=len(state): video.decode(mp4, 0, n)
    return Episode(name=str(parquet), task=tasks[int(task_index[0])], capture_time=t - t[0], state=state,
                   action=action, cameras=cameras, fps=fps)


def find_episodes(root: str | Path) -> list[Path]:
    """Every episode parquet of an official dataset (root = the dataset folder), in episode order."""
    root = Path(root)
    _info(root)
    return sorted((root / "data").glob("chunk-*/episode_*.parquet"))
