"""Streaming statistics: exact moments, quantiles within one histogram bin, constant memory, merges."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psi0_policy.data.stats import StreamingStats, policy_stats

pytestmark = pytest.mark.unit


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), batches=st.lists(st.integers(1, 300), min_size=1, max_size=8),
       scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3))
def test_matches_numpy(seed, batches, scale, shift):
    rng = np.random.default_rng(seed)
    parts = [shift + scale * rng.standard_t(3, size=(n, 4)) for n in batches]
    x = np.concatenate(parts)
    s = StreamingStats(4, bins=512)
    for p in parts:
        s.update(p)
    np.testing.assert_allclose(s.mean, x.mean(0), rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(s.std, x.std(0), rtol=1e-7, atol=1e-9 * scale)
    assert np.array_equal(s.min, x.min(0)) and np.array_equal(s.max, x.max(0))
    for q in (0.0, 0.01, 0.5, 0.99, 1.0):
        assert np.all(np.abs(s.quantile(q) - np.quantile(x, q, axis=0)) <= s.bin_width() * (1 + 1e-9))
    assert s.hist.shape == (4, 512)  # memory independent of the number of samples


def test_merge_equals_one_pass():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 3)) * [1, 10, 0.1]
    a, b, whole = StreamingStats(3), StreamingStats(3), StreamingStats(3)
    a.update(x[:1234])
    b.update(x[1234:] + 0)
    whole.update(x)
    a.merge(b)
    np.testing.assert_allclose(a.mean, whole.mean)
    np.testing.assert_allclose(a.std, whole.std)
    assert np.all(np.abs(a.quantile(0.99) - np.quantile(x, 0.99, axis=0)) <= 2 * a.bin_width())


def test_rejects_nan_and_empty():
    s = StreamingStats(2)
    with pytest.raises(ValueError, match="NaN"):
        s.update(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="no data"):
        s.to_dict()


def test_policy_stats_layout():
    s = StreamingStats(2)
    s.update(np.array([[0.0, 1.0], [2.0, 3.0]]))
    d = {"observation.state": s.to_dict(), "action": s.to_dict()}
    out = policy_stats(d)
    assert set(out) == {"action", "state"} and out["action"]["max"] == [2.0, 3.0]
