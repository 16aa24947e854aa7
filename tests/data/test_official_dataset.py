"""The official released Ψ0 dataset layout (LeRobot v2.x, 32-D `states`) → Episodes → our LeRobot v3.0 dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from psi0_policy.data import convert as conv
from psi0_policy.data import video
from psi0_policy.data.episode import EpisodeError
from psi0_policy.data.lerobot_reader import LeRobotData, check
from psi0_policy.data.official_dataset import find_episodes, read_official
from tests.data.fixtures import frames_rgb

INFO = {"codebase_version": "v2.1", "fps": 30, "chunks_size": 1000,
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {"observation.images.egocentric": {"dtype": "video", "shape": [48, 64, 3]},
                     "states": {"dtype": "float32", "shape": [32]}, "action": {"dtype": "float32", "shape": [36]}}}


def make_official(root: Path, lengths=(6, 5), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(INFO))
    (root / "meta" / "tasks.jsonl").write_text("\n".join(json.dumps({"task_index": i, "task": t}) for i, t in
                                                         enumerate(["Pick up the red cube", "wave"])) + "\n")
    for ep, n in enumerate(lengths):
        action = rng.normal(0, 0.3, (n, 36))
        states = np.c_[rng.normal(0, 0.3, (n, 28)), np.r_[[[0, 0, 0, 0.75]], action[:-1, 28:32]]]  # previous command
        table = pa.table({"states": states.astype(np.float32).tolist(), "action": action.astype(np.float32).tolist(),
                          "timestamp": (np.arange(n) / 30).astype(np.float32), "frame_index": np.arange(n),
                          "episode_index": np.full(n, ep), "index": np.arange(n) + ep * 100,
                          "task_index": np.full(n, ep % 2)})
        (root / "data" / "chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / "chunk-000" / f"episode_{ep:06d}.parquet")
        mp4 = root / "videos" / "chunk-000" / "observation.images.egocentric" / f"episode_{ep:06d}.mp4"
        mp4.parent.mkdir(parents=True, exist_ok=True)
        video.encode(mp4, frames_rgb(n, 48, 64, seed=ep), fps=30)
    return root


def test_an_official_episode_reads_with_padded_states_and_its_task(tmp_path):
    root = make_official(tmp_path / "psi0_pick")
    eps = find_episodes(root)
    assert [p.name for p in eps] == ["episode_000000.parquet", "episode_000001.parquet"]
    ep = read_official(eps[0])
    table = pq.read_table(eps[0])
    states, action = np.asarray(table["states"].to_pylist()), np.asarray(table["action"].to_pylist())
    assert ep.task == "Pick up the red cube" and ep.state.shape == ep.action.shape == (6, 36)
    np.testing.assert_allclose(ep.state[:, :32], states, rtol=1e-6)
    assert np.all(ep.state[:, 32:] == 0)  # official pad_to_len
    np.testing.assert_allclose(ep.action, action, rtol=1e-6)
    np.testing.assert_allclose(ep.state[1:, 28:32], ep.action[:-1, 28:32], rtol=1e-6)  # previous command, as written
    frames = list(ep.cameras["head"]())
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert read_official(eps[1]).task == "wave"


def test_an_official_dataset_converts_to_ours(tmp_path):
    root = make_official(tmp_path / "psi0_pick")
    rep = conv.convert("psi0", [root], tmp_path / "ds", progress=False)
    assert rep.converted == 2 and not rep.failed and check(tmp_path / "ds") == []
    ds = LeRobotData(tmp_path / "ds")
    assert len(ds) == 11 and ds.state.shape == (11, 36) and "observation.images.head" in ds.camera_keys
    assert sorted(ds.tasks.values()) == ["Pick up the red cube", "wave"]


@pytest.mark.parametrize("damage, match", [
    (lambda r: (r / "meta" / "info.json").write_text(json.dumps({**INFO, "codebase_version": "v3.0"})), "LeRobot v2.x"),
    (lambda r: (r / "meta" / "tasks.jsonl").unlink(), "no meta/tasks.jsonl"),
    (lambda r: pq.write_table(pa.table({"states": [[0.0] * 20] * 3, "action": [[0.0] * 36] * 3, "task_index": [0] * 3}),
                              r / "data" / "chunk-000" / "episode_000000.parquet"), r"states is \(3, 20\)"),
    (lambda r: (r / "videos" / "chunk-000" / "observation.images.egocentric" / "episode_000000.mp4").unlink(),
     "missing video"),
])
def test_a_broken_official_dataset_is_named(tmp_path, damage, match):
    root = make_official(tmp_path / "psi0_pick")
    damage(root)
    with pytest.raises(EpisodeError, match=match):
        read_official(root / "data" / "chunk-000" / "episode_000000.parquet")
