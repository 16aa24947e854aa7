"""Simulated time → monotonic time at the simulator's measured rate (bridge under use_sim_time)."""

import itertools

import pytest

from psi0_bridge.clock_rate import ClockRate

pytestmark = pytest.mark.unit


def test_rate_follows_a_slow_simulation_and_maps_chunks():
    c = ClockRate(enabled=True)
    for k in range(20):  # the simulation advances 0.5 s per wall second
        c.update(mono=100.0 + 0.25 * k, ros=10.0 + 0.125 * k)
    assert c.rate == pytest.approx(0.5, rel=1e-3)
    t0, dt = c.to_local(t=12.0, dt=1 / 30, mono_now=200.0, ros_now=11.9)
    assert t0 == pytest.approx(200.2, abs=1e-3) and dt == pytest.approx(2 / 30, rel=1e-3)  # 0.1 sim-s = 0.2 wall-s ahead


def test_disabled_is_a_plain_offset_and_rate_is_clamped_and_survives_a_reset():
    off = ClockRate(enabled=False)
    off.update(0.0, 0.0)
    off.update(1.0, 5.0)
    assert off.to_local(3.0, 0.1, 50.0, 2.0) == (51.0, 0.1)
    c = ClockRate(enabled=True, smoothing=0.0)
    c.update(0.0, 0.0)
    c.update(1.0, 0.0)  # paused simulation
    assert c.rate == 0.05
    c.update(2.0, 100.0)
    assert c.rate == 4.0
    c.update(3.0, 1.0)  # simulation reset: time went back — a new reference, the rate is kept
    assert c.rate == 4.0
    c.update(4.0, 2.0)
    assert c.rate == pytest.approx(1.0)
    c.update(4.1, 2.1)  # readings closer than min_interval do not count
    assert c.rate == pytest.approx(1.0)


def test_stamps_in_order_map_in_order_when_the_simulation_catches_up():
    c = ClockRate(enabled=True)
    a, _ = c.to_local(t=10.0, dt=1 / 30, mono_now=100.0, ros_now=9.9)  # 0.1 s ahead
    # 10 ms of wall time later the simulator has jumped 0.1 s (catching up after a stall; the rate estimate is
    # still 1): a plain mapping would put the next chunk (one step later in sim time) at 100.043, before 100.1
    b, _ = c.to_local(t=10.0 + 1 / 30, dt=1 / 30, mono_now=100.01, ros_now=10.0)
    assert a == pytest.approx(100.1) and b == pytest.approx(100.1)  # not before it (the bridge would reject it, S4)
    # an ordinary later chunk is not moved; an earlier stamp (out of order, or a reset simulation) is not clamped
    c2, _ = c.to_local(t=11.0, dt=1 / 30, mono_now=101.0, ros_now=10.9)
    assert c2 == pytest.approx(101.1)
    d, _ = c.to_local(t=5.0, dt=1 / 30, mono_now=101.0, ros_now=10.9)
    assert d == pytest.approx(95.1)


def test_a_chunk_mapped_late_does_not_make_every_later_chunk_late():
    """A dip of the rate estimate (a stalled simulator) maps a chunk late; once the estimate recovers, the next chunks
    map where their stamps say again — order is kept without carrying the lateness forward."""
    c = ClockRate(enabled=True)
    c.rate = 0.2  # estimate dipped: 0.3 s of lead maps to 1.5 s
    late, _ = c.to_local(t=10.3, dt=1 / 30, mono_now=100.0, ros_now=10.0)
    assert late == pytest.approx(101.5)
    c.rate = 1.0
    mono, mapped = 100.0, [late]
    for k in range(1, 12):  # chunks every 1/3 s, each 0.3 s ahead, on a simulator at real time
        mono, ros = 100.0 + k / 3, 10.0 + k / 3
        mapped.append(c.to_local(t=ros + 0.3, dt=1 / 30, mono_now=mono, ros_now=ros)[0])
    assert all(b >= a for a, b in itertools.pairwise(mapped))  # in order throughout …
    assert mapped[-1] - mono == pytest.approx(0.3)  # … and on time again (a spacing-keeping clamp left it 1.2 s late)
