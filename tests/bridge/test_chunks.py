import numpy as np
import pytest

from psi0_core.chunks import Chunk, ChunkExecutor, ChunkRejected, validate_chunk
from psi0_core.g1_adapter import action_names

pytestmark = pytest.mark.unit
NAMES = action_names()


def _args(**kw):
    a = dict(chunk_id=1, t0=10.0, dt=0.1, horizon=4, dim=36, names=NAMES, data=np.zeros(4 * 36), prefix_len=0,
             expected_names=NAMES, previous=None)
    a.update(kw)
    return a


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(dim=35), "dim 35"),
        (dict(names=[*NAMES[:-1], "x"]), "column names"),
        (dict(data=np.zeros(10)), "expected horizon"),
        (dict(data=np.r_[np.zeros(143), np.nan]), "non-finite value at step 3"),
        (dict(data=np.r_[np.inf, np.zeros(143)]), "non-finite"),
        (dict(dt=0.0), "dt"),
        (dict(dt=float("nan")), "dt"),
        (dict(horizon=0, data=np.zeros(0)), "horizon 0"),
        (dict(prefix_len=5), "prefix_len"),
        (dict(t0=float("inf")), "stamp"),
        (dict(previous=Chunk(5, 9.0, 0.1, np.zeros((4, 36)))), "not newer"),
        (dict(chunk_id=6, previous=Chunk(5, 11.0, 0.1, np.zeros((4, 36)))), "before the previous"),
    ],
)
def test_malformed_chunks_are_rejected_with_a_reason(change, message):
    with pytest.raises(ChunkRejected, match=message):
        validate_chunk(**_args(**change))


def _chunk(cid, t0, values, dt=0.1, prefix=0):
    a = np.repeat(np.asarray(values, float)[:, None], 36, axis=1)
    return Chunk(cid, t0, dt, a, prefix)


def test_interpolates_between_steps_and_never_extrapolates():
    ex = ChunkExecutor()
    ex.push(_chunk(1, 10.0, [0.0, 1.0, 3.0]))
    assert ex.sample(9.99) is None
    assert ex.sample(10.0)[0] == 0.0
    assert ex.sample(10.05)[0] == pytest.approx(0.5)
    assert ex.sample(10.15)[0] == pytest.approx(2.0)
    assert ex.sample(10.2)[0] == pytest.approx(3.0)
    assert ex.sample(10.2001) is None


def test_switches_at_the_first_due_step_after_the_prefix():
    ex = ChunkExecutor()
    ex.push(_chunk(1, 10.0, [0, 1, 2, 3, 4, 5]))
    assert ex.sample(10.1)[0] == pytest.approx(1.0)
    ex.push(_chunk(2, 10.2, [2, 3, 9, 9], prefix=2))  # prefix = steps at 10.2, 10.3 (same as chunk 1)
    assert ex.sample(10.25)[0] == pytest.approx(2.5)
    assert ex.active.chunk_id == 1
    assert ex.sample(10.4)[0] == pytest.approx(9.0)
    assert ex.active.chunk_id == 2 and ex.switches == 2


def test_late_chunk_takes_over_when_the_active_one_runs_out():
    ex = ChunkExecutor()
    ex.push(_chunk(1, 10.0, [0, 1]))
    assert ex.sample(10.15) is None
    ex.push(_chunk(2, 10.1, [5, 6, 7], prefix=3))
    assert ex.sample(10.15)[0] == pytest.approx(5.5)
