import pytest

from psi0_core.rostime import to_sec, to_time_msg

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("t", [0.0, 5.9999999999, 1.5, 1795702000.123456789, 3.0000000004])
def test_stamps_round_trip_within_a_nanosecond_and_never_lose_a_second(t):
    m = to_time_msg(t)
    assert 0 <= m.nanosec < 1_000_000_000
    assert abs(to_sec(m) - t) <= 1e-9 * max(1.0, abs(t)) * 2


@pytest.mark.parametrize("t", [0.0, 0.9999999999, 29 / 30, 1.0])
def test_durations_never_carry_a_full_second_in_nanosec(t):
    from psi0_core.rostime import to_duration_msg

    d = to_duration_msg(t)
    assert 0 <= d.nanosec < 1_000_000_000
    assert abs(to_sec(d) - t) <= 2e-9
    # the expression the policy node used before: round((t % 1) * 1e9) gives 1e9 for t just below a whole second
    if t == 0.9999999999:
        assert round((t % 1) * 1e9) == 1_000_000_000
