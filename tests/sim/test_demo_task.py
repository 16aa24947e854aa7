"""The main job's pieces through the real graph (sim + bridge [+ policy] as processes, simulator clock):
an expert episode recorded as a rosbag converts into a valid dataset; the committed bundle runs episodes
with real-time chunking, without a safety event, and the demo's video and plot are written."""

import json

import numpy as np
import pytest

from psi0.evaluate import default_bundle, session, summarize
from psi0_policy.data import convert as conv
from psi0_policy.data import video
from psi0_policy.data.lerobot_reader import LeRobotData, check
from tests.conftest import next_robot_domain

pytestmark = [pytest.mark.sim, pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]

# The standing robot leans while an arm is up: holosoma_ppo does not observe Ψ0's arms (config/wbc/holosoma_ppo.yaml,
# upper_body_observation), so a raised arm pitches the pelvis forward 6–8° for as long as it is held (measured on the
# bridge's IMU, seeds 2000–2003: 7.0–8.7° peak, pitch, roll ≤ 3°), and a loaded 2-core run adds transients (10.2° at
# real-time factor 0.43). Stood throughout = below this, with the fall line (psi0.episodes.FALL_TILT_DEG, 15°) above it.
STOOD_TILT_DEG = 12.0


def test_expert_demonstration_is_recorded_and_converted(tmp_path, ros_domain):
    results = session(None, [5], "expert", log_dir=tmp_path / "logs", record=tmp_path / "bags", robot_domain=next_robot_domain())
    r = results[0]
    # what matters: success standing, no stop, no rejected chunk (a brief HOLDING on a loaded machine is correct)
    assert r.success and not r.fell and r.stops == 0 and r.chunks_rejected == 0 and "STOPPED" not in r.states, r
    assert r.max_tilt_deg < STOOD_TILT_DEG, r
    rep = conv.convert("bag", [tmp_path / "bags"], tmp_path / "ds", progress=False, action_frame="expert")
    assert rep.converted == 1 and check(tmp_path / "ds") == []
    ds = LeRobotData(tmp_path / "ds")
    assert r.task == "raise_left_hand" and ds.tasks[0] == "raise your left hand"  # seed 5: the suite's second task
    pitch = ds.action[:, 14]  # left shoulder pitch: the demonstration raises it to the target
    assert len(ds) > 45 and pitch[0] > -0.6 and pitch[-1] == pytest.approx(-1.6, abs=1e-4)
    assert np.all(np.diff(pitch) <= 1e-6)  # monotonic raise: no reset motion or hold chunk leaked in
    assert np.ptp(ds.action[:, 14 + 7]) < 1e-6  # the right arm holds its start


def test_committed_bundle_runs_episodes_without_a_safety_event(tmp_path, ros_domain):
    """The committed suite bundle (config/bundles/suite) told "raise your right hand" (seeds 2000, 2001, from random
    poses of both arms): real-time chunking, no safety event, the robot standing throughout.

    Only the right hand: this bundle keys its tasks on the instruction's length, and "raise your left hand" has the
    20 characters of "pick up the red cube" — with the table in view it may reach for the table instead (fresh-clone
    CI 2026-12-08, seed 2001: leaned 17° over the table and knocked the cube and the can off it). That defect is
    test_the_committed_bundle_tells_raise_left_from_pick below (strict xfail until the bundle is retrained with
    instruction_jitter)."""
    bundle = default_bundle()
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["stage"] == "finetune" and manifest["horizon"] == 30
    results = session(bundle, [2000, 2001], "policy", "rtc", log_dir=tmp_path / "logs", video=tmp_path / "demo.mp4",
                      plot=tmp_path / "plot.png", task="raise_right_hand", robot_domain=next_robot_domain())
    s = summarize(results)
    print(json.dumps(s))
    assert s["safety_stops"] == 0 and s["chunks_rejected"] == 0
    assert s["falls"] == 0 and s["max_tilt_deg"] < STOOD_TILT_DEG and s["min_pelvis_m"] > 0.65  # the robot stood throughout
    assert all(r.policy_chunks >= 3 for r in results)
    assert s["successes"] >= 1  # the learned policy raises the hand (measured rate over 20 episodes: the note)
    assert s["boundary_jump_p99_rad"] is not None and s["inference_ms_p50"] > 0
    assert video.probe(tmp_path / "demo.mp4")["frames"] > 30 and (tmp_path / "plot.png").stat().st_size > 10_000


def test_the_pick_expert_picks_through_the_graph_and_success_is_never_counted_fallen(tmp_path, ros_domain):
    """pick_red_cube and pick_green_cube (seeds 0, 1) through sim + bridge + System-0: each episode's reset re-plants the
    feet (a tread in place), then the closed-loop expert's chunks move the arm and Dex3 hand of the free-standing robot,
    without a rejected chunk, and pick the named cube — success counted only with the cube up in the hand, the other
    objects where they stood and no fall. Measured 21/21 (benchmarks/results/eval_pick_expert.json; 5/21 on the same
    seeds before the reset re-planted the feet: the robot had slid into a crouch, pelvis 0.70 m instead of 0.76 m)."""
    results = session(None, [0, 1], "expert", task="pick", log_dir=tmp_path / "logs", robot_domain=next_robot_domain())
    for r in results:
        print(r.task, r.success, r.time_to_success_s, f"tilt {r.max_tilt_deg:.1f}°", r.states, r.metrics)
        assert not (r.success and r.fell), r
        assert r.chunks_rejected == 0, r
        if r.success:
            assert r.metrics["lift_max_m"] >= 0.05 and r.metrics["others_moved_m"] <= 0.03, r.metrics
    assert [r.task for r in results] == ["pick_red_cube", "pick_green_cube"]
    assert min(r.metrics["grasp_miss_m"] for r in results) < 0.05, [r.metrics for r in results]
    assert sum(r.success for r in results) >= 1, [r.metrics for r in results]


def test_the_walking_expert_walks_to_the_table_through_system_0(tmp_path, ros_domain):
    """walk_to_table (seeds 0, 1: the table 0.6–1.2 m away, off the heading, turned) through sim + bridge + System-0:
    the expert's vx, vy, yaw rate (dims 32–34) walk the free-standing robot to within reach of the edge, facing it,
    standing, upright — judged on the ground truth. Measured 8/8 unloaded and 4/4 at real-time factor 0.5–0.7 (three
    CPU burners), once the bridge kept stamps on time and stepped System-0 in simulated time."""
    results = session(None, [0, 1], "expert", task="walk_to_table", log_dir=tmp_path / "logs",
                      robot_domain=next_robot_domain())
    for r in results:
        print(r.task, r.success, r.time_to_success_s, f"tilt {r.max_tilt_deg:.1f}°", r.states, r.metrics)
        assert not r.fell and r.chunks_rejected == 0 and r.stops == 0, r
        assert r.metrics["walked_m"] > 0.3, r.metrics  # it walked: the table started ≥ 0.6 m away
    assert sum(r.success for r in results) >= 1, [r.metrics for r in results]
    for r in results:
        if r.success:
            m = r.metrics
            assert 0.2 <= m["end_ahead_m"] <= 0.4 and abs(m["end_side_m"]) <= 0.25 and m["end_heading_deg"] <= 15, m


def test_the_expert_walks_to_the_table_and_picks_the_named_object(tmp_path, ros_domain):
    """walk_and_pick_red_cube (seed 0) through the graph: the expert walks the free-standing robot to the table, stands,
    then reaches, grasps and lifts the red cube with a Dex3 hand — success on the ground truth (the cube ≥ 5 cm up in
    the hand for 1 s, the green cube and the can where they stood), never while fallen. Measured 20/20
    (benchmarks/results/eval_walk_and_pick_expert.json); the hand's grasp point came within 9 mm of the cube."""
    [r] = session(None, [0], "expert", task="walk_and_pick", log_dir=tmp_path / "logs", robot_domain=next_robot_domain())
    print(r.task, r.success, r.time_to_success_s, f"tilt {r.max_tilt_deg:.1f}°", r.states, r.metrics)
    assert r.task == "walk_and_pick_red_cube" and not r.fell and r.chunks_rejected == 0 and r.stops == 0, r
    assert r.metrics["walked_m"] > 0.3 and r.metrics["grasp_miss_m"] < 0.05, r.metrics
    assert r.success and r.metrics["lift_max_m"] >= 0.05 and r.metrics["others_moved_m"] <= 0.03, r.metrics


def test_the_committed_policy_walks_the_robot_to_the_table(tmp_path, ros_domain):
    """The committed bundle told "walk to the table" (seed 2000: the table 0.6–1.2 m away, off the heading): the
    policy's velocity dims walk the free-standing robot through System-0 towards the table's edge, standing throughout
    and without a safety event, and the top view of its path is written beside the plot."""
    [r] = session(default_bundle(), [2000], "policy", "rtc", task="walk_to_table", log_dir=tmp_path / "logs",
                  plot=tmp_path / "plot.png", robot_domain=next_robot_domain())
    print(r.task, r.success, r.time_to_success_s, f"tilt {r.max_tilt_deg:.1f}°", r.states, r.metrics)
    assert not r.fell and r.stops == 0 and r.chunks_rejected == 0, r
    m = r.metrics
    assert m["walked_m"] > 0.3 and m["start_ahead_m"] - m["end_ahead_m"] > 0.25, m  # it came ≥ 25 cm closer
    assert (tmp_path / "base_paths.png").stat().st_size > 10_000
