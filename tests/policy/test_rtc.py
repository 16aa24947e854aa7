"""Real-time chunking: the scheduler's protocol, and the policy/bridge time-line with injected delays
using a tiny model trained with prefix conditioning."""

import numpy as np
import pytest

from psi0_policy.rtc import ChunkScheduler, SchedulerConfig
from psi0_policy.rtc_sim import simulate
from tests.policy.toy_policy import train_continuing_policy

pytestmark = pytest.mark.unit


def test_scheduler_prefix_and_stamps():
    s = ChunkScheduler(SchedulerConfig(horizon=30, dt=0.1, s_min=15, d_max=10))
    assert s.should_start(0.0)
    r = s.begin(0.0)
    assert r.prefix is None and r.prefix_len == 0 and not s.should_start(0.0)
    a = np.arange(30.0)[:, None] * np.ones((1, 2))
    c = s.complete(0.1, a)
    assert c.t0 == pytest.approx(0.1) and c.chunk_id == 1
    assert not s.should_start(1.5) and s.should_start(1.6)
    r = s.begin(1.63)  # latency 0.1 s → d = ceil(1) + 1 margin = 2 steps
    assert r.prefix_len == 2 and r.t0 == pytest.approx(0.1 + 16 * 0.1)
    np.testing.assert_array_equal(r.prefix[:, 0], [16, 17])
    s.fail(1.7)
    assert s.failures == 1 and s.in_flight is None and s.should_start(1.7)


def test_slow_inference_is_reported_as_degraded_not_raised():
    s = ChunkScheduler(SchedulerConfig(horizon=10, dt=0.1, s_min=5, d_max=9))
    s.begin(0.0)
    s.complete(0.0, np.zeros((10, 1)))
    for _ in range(5):
        s.latencies.append(0.9)  # slower than the chunk's remaining budget
    r = s.begin(0.55)
    assert r.prefix_len == 9 and s.degraded_events == 1
    np.testing.assert_array_equal(r.prefix[-1], np.zeros(1))  # held the last action past the end


@pytest.fixture(scope="module")
def continuing_policy():
    return train_continuing_policy()


@pytest.mark.parametrize("delay_ms", [0, 100, 200, 300])
def test_rtc_never_starves_and_switches_smoothly(continuing_policy, delay_ms):
    r = simulate(continuing_policy, delay_ms / 1000, duration_s=5.0, mode="rtc")
    s = r.summary()
    print(s)
    assert r.starved_ticks == 0
    assert r.chunks >= 5
    assert s["boundary_jump_max"] <= 1.5 * s["within_step_p99"]


def test_sync_chunking_starves_and_jumps_at_200ms(continuing_policy):
    rtc = simulate(continuing_policy, 0.2, duration_s=5.0, mode="rtc").summary()
    sync = simulate(continuing_policy, 0.2, duration_s=5.0, mode="sync").summary()
    print("rtc", rtc, "\nsync", sync)
    assert sync["starved_ticks"] > 0 and sync["boundary_jump_p99"] > rtc["boundary_jump_p99"]


@pytest.mark.unit
def test_synchronous_baseline_waits_for_the_chunk_and_starts_on_arrival():
    s = ChunkScheduler(SchedulerConfig(horizon=30, s_min=15, d_max=10, synchronous=True))
    req = s.begin(0.0)
    c = s.complete(0.05, np.zeros((30, 4)))
    assert req.prefix is None and c.prefix_len == 0 and c.t0 == pytest.approx(0.1)  # expected latency ≥ actual: kept
    assert not s.should_start(c.t0 + 15 / 30) and not s.should_start(c.t0 + 29.5 / 30)
    assert s.should_start(c.t0 + 30 / 30)  # only once the chunk is used up
    req = s.begin(c.t0 + 1.0)
    assert req.prefix is None and req.prefix_len == 0
    late = s.complete(c.t0 + 1.3, np.ones((30, 4)))
    assert late.t0 == pytest.approx(c.t0 + 1.3)  # the robot held meanwhile; the chunk starts where it arrives
