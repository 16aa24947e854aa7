"""`psi0 eval` keeps what it measured: eval.json is written after every configuration, so a run stopped part-way
(a node died, the machine was taken back) still leaves the configurations it finished."""

import json

import pytest

from psi0 import evaluate
from psi0.episodes import EpisodeResult

pytestmark = pytest.mark.unit


def result(seed: int, success: bool) -> EpisodeResult:
    return EpisodeResult(seed=seed, actor="policy", success=success, time_to_success_s=3.0 if success else None,
                         stops=0, chunks_rejected=0, states=[], policy_chunks=5, max_tilt_deg=2.0, min_pelvis_m=0.75,
                         task="pick_red_cube", instruction="pick up the red cube")


def test_eval_json_holds_the_finished_configurations_when_a_later_one_fails(tmp_path, monkeypatch):
    ran: list[tuple[str, str]] = []

    def fake_session(bundle, seeds, actor, chunking, extra_latency_ms, log_dir, record=None, task="", robot_domain=7,
                     control=""):
        ran.append((chunking, control))
        if control == "blind":
            raise RuntimeError("a node died")
        return [result(s, success=(chunking == "rtc" and s % 2 == 0)) for s in seeds]

    monkeypatch.setattr(evaluate, "session", fake_session)
    out = tmp_path / "ev"
    with pytest.raises(RuntimeError, match="a node died"):
        evaluate.main(["--task", "pick", "--episodes", "4", "--chunking", "rtc", "sync", "--controls", "blind",
                       "--bundle", str(tmp_path), "--out", str(out)])
    assert ran == [("rtc", ""), ("sync", ""), ("rtc", "blind")]
    report = json.loads((out / "eval.json").read_text())
    assert report["complete"] is False
    assert report["policy_rtc"]["successes"] == 2 and report["policy_sync"]["successes"] == 0
    assert "policy_rtc_blind" not in report and len(report["policy_sync_episodes"]) == 4


def test_a_finished_run_is_marked_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "session", lambda bundle, seeds, *a, **k: [result(s, True) for s in seeds])
    out = tmp_path / "ev"
    assert evaluate.main(["--task", "pick", "--episodes", "2", "--bundle", str(tmp_path), "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["complete"] is True and report["policy_rtc"]["successes"] == 2
