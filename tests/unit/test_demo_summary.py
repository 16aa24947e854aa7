"""make demo's closing lines: the committed evaluation per task family, read from benchmarks/results."""

import json

import psi0_core.share
from psi0.demo import committed_evaluation


def test_committed_evaluation_prints_one_line_per_family_with_its_controls(tmp_path, monkeypatch):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    row = lambda k, n: {"successes": k, "episodes": n}  # noqa: E731
    (results / "eval_suite_pick.json").write_text(json.dumps(
        {"expert": row(20, 20), "policy_rtc": row(12, 20), "policy_rtc_blind": row(1, 20),
         "policy_rtc_wrong_instruction": row(2, 20), "policy_rtc_episodes": []}))
    (results / "eval_suite_raise_hand.json").write_text(json.dumps({"policy_rtc": row(5, 6)}))
    monkeypatch.setattr(psi0_core.share, "REPO", tmp_path)
    assert committed_evaluation() == [
        "pick: expert 20/20, policy 12/20, blind (black camera) 1/20, wrong instruction 2/20",
        "raise_hand: policy 5/6",  # families without a committed file (walk_to_table, walk_and_pick) are left out
    ]
