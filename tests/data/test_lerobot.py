"""LeRobot v3.0 writer: schema, frame-exact read-back, statistics against numpy, resume, failures reported."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from psi0_policy.data import convert as conv
from psi0_policy.data import teleop
from psi0_policy.data.cli import dataset_stats
from psi0_policy.data.lerobot import write_shard
from psi0_policy.data.lerobot_reader import LeRobotData, check
from tests.data.fixtures import frames_rgb, make_egodex, make_teleop

pytestmark = pytest.mark.unit


@pytest.fixture
def raw(tmp_path):
    root = tmp_path / "raw"
    for k, n in enumerate((9, 14, 11)):
        make_teleop(root / f"episode_{k}", n=n, seed=k, task="wave" if k != 1 else "touch the red cube")
    return root


def _psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_teleop_to_lerobot_reads_back_frame_exact(raw, tmp_path):
    out = tmp_path / "ds"
    rep = conv.convert("teleop", [raw], out, workers=1, progress=False)
    assert (rep.episodes, rep.converted, rep.failed) == (3, 3, [])
    assert check(out) == []
    ds = LeRobotData(out)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_frames"] == 34 and info["total_tasks"] == 2
    assert info["features"]["observation.images.head"]["shape"] == [48, 64, 3]
    assert [ds.task(k) for k in range(3)] == ["wave", "touch the red cube", "wave"]
    for k in range(3):
        ep = teleop.read_teleop(raw / f"episode_{k}")
        a, b = ds.episode_span(k)
        np.testing.assert_array_equal(ds.state[a:b], ep.state)  # float32 both ways: exact
        np.testing.assert_array_equal(ds.action[a:b], ep.action)
        np.testing.assert_array_equal(ds.columns["observation.capture_time"][a:b], ep.capture_time)
        src = list(ep.cameras["head"]())
        got = list(ds.frames(k, "observation.images.head"))
        assert len(got) == len(src)
        for i, f in enumerate(got):
            assert _psnr(f, src[i]) > 30
            assert int(np.argmin([np.abs(f.astype(float) - s).mean() for s in src])) == i  # no frame shifted
    tasks = pq.read_table(out / "meta" / "tasks.parquet")
    assert tasks.schema.pandas_metadata["index_columns"] == ["task"]


def test_statistics_equal_numpy(raw, tmp_path):
    out = tmp_path / "ds"
    conv.convert("teleop", [raw], out, progress=False)
    stats = json.loads((out / "meta" / "stats.json").read_text())
    ds = LeRobotData(out)
    for name, x in (("observation.state", ds.state.astype(np.float64)), ("action", ds.action.astype(np.float64))):
        s = stats[name]
        np.testing.assert_allclose(s["min"], x.min(0))
        np.testing.assert_allclose(s["max"], x.max(0))
        np.testing.assert_allclose(s["mean"], x.mean(0), atol=1e-12)
        np.testing.assert_allclose(s["std"], x.std(0), atol=1e-12)
        assert s["count"] == [len(x)]
        width = 3 * (x.max(0) - x.min(0)) / 4096 + 1e-12
        for q, key in ((0.01, "q01"), (0.99, "q99")):
            assert np.all(np.abs(np.array(s[key]) - np.quantile(x, q, axis=0)) <= width)
    assert np.array(stats["observation.images.head"]["mean"]).shape == (3, 1, 1)
    assert stats["observation.images.head"]["count"] == [1 + 2 + 2]  # frames sampled (every 10th of 9, 14, 11), not pixels
    assert dataset_stats(out)["action"]["mean"] == pytest.approx(stats["action"]["mean"])  # the CLI's streaming pass


def test_corrupt_episode_is_reported_and_skipped(raw, tmp_path):
    (raw / "episode_1" / "data.json").write_text("[]")
    out = tmp_path / "ds"
    rep = conv.convert("teleop", [raw], out, progress=False)
    assert rep.episodes == 3 and rep.converted == 2 and len(rep.failed) == 1
    assert "episode_1" in rep.failed[0]["episode"] and "no frames" in rep.failed[0]["error"]
    saved = json.loads((out / "conversion_report.json").read_text())
    assert saved["failed"] == rep.failed and saved["converted"] == 2
    assert check(out) == [] and LeRobotData(out).info["total_episodes"] == 2


def test_resume_reuses_finished_shards(raw, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    first = raw / "episode_0"
    write_shard(teleop.read_teleop(first), conv._shard_dir(out / ".staging", first))  # an interrupted run's work
    (out / ".staging" / "debris.tmp").mkdir()  # a worker killed mid-shard leaves a .tmp folder: ignored
    written = []
    real = conv.write_shard
    monkeypatch.setattr(conv, "write_shard", lambda ep, folder: written.append(ep.name) or real(ep, folder))
    rep = conv.convert("teleop", [raw], out, workers=1, progress=False)
    assert rep.resumed == 1 and rep.converted == 3 and check(out) == []
    assert sorted(written) == [str(raw / "episode_1"), str(raw / "episode_2")]  # episode 0 was not redone
    ref = tmp_path / "ref"
    conv.convert("teleop", [raw], ref, workers=2, progress=False)
    np.testing.assert_array_equal(LeRobotData(out).action, LeRobotData(ref).action)


def test_egodex_dataset_and_check_finds_damage(tmp_path):
    for k in range(2):
        make_egodex(tmp_path / "raw" / "pour", n=12, seed=k)
    out = tmp_path / "ego"
    rep = conv.convert("egodex", [tmp_path / "raw"], out, progress=False)
    assert rep.converted == 2 and check(out) == []
    ds = LeRobotData(out)
    assert ds.action.shape == (22, 48) and ds.info["robot_type"] == "human_egocentric"
    got = next(iter(ds.frames(1, "observation.images.ego")))
    assert _psnr(got, frames_rgb(12, 48, 64, seed=1)[0]) > 30
    info = json.loads((out / "meta" / "info.json").read_text())
    info["total_frames"] = 99
    (out / "meta" / "info.json").write_text(json.dumps(info))
    next((out / "videos").rglob("*.mp4")).unlink()
    problems = check(out)
    assert any("total_frames" in p for p in problems) and any("missing video" in p for p in problems)


def test_cli_convert_check_stats(raw, tmp_path, capsys):
    from psi0.cli import main

    out = tmp_path / "ds"
    assert main(["data", "convert", "teleop", str(raw), "-o", str(out), "--no-progress", "--workers", "2"]) == 0
    assert "3/3 episodes" in capsys.readouterr().out
    assert main(["data", "check", str(out)]) == 0
    assert main(["data", "stats", str(out)]) == 0
    assert main(["data", "convert", "teleop", str(tmp_path / "nope"), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_episodes_in_several_metadata_files_are_all_read(raw, tmp_path):
    """LeRobot v3.0 rolls meta/episodes into several files on large datasets; every one of them is read."""
    import pyarrow as pa

    out = tmp_path / "ds"
    conv.convert("teleop", [raw], out, progress=False)
    first = out / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    rows = pq.read_table(first).to_pylist()
    pq.write_table(pa.Table.from_pylist(rows[:1]), first)
    pq.write_table(pa.Table.from_pylist(rows[1:]), first.with_name("file-001.parquet"))
    ds = LeRobotData(out)
    assert [e["episode_index"] for e in ds.episodes] == [0, 1, 2] and check(out) == []
    assert len(list(ds.frames(2, "observation.images.head"))) == 11


def test_decoding_from_a_later_frame_seeks_and_gives_the_same_frames(tmp_path):
    from psi0_policy.data import video

    path = tmp_path / "v.mp4"
    video.encode(path, frames_rgb(120, 48, 64, seed=3), fps=30)
    every = list(video.decode(path))
    for start, stop, step in ((0, 5, 1), (37, 45, 1), (90, 120, 3), (119, None, 1)):
        got = list(video.decode(path, start, stop, step))
        want = every[start:stop:step]
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True)), (start, stop)
