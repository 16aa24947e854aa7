import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unitree_sdk2py.utils.crc import CRC

from psi0_bridge.crc import crc32_reference, crc32_words
from psi0_bridge.lowlevel import (
    MotorTargets,
    crc_ok,
    lowcmd_cdr,
    lowcmd_frame,
    lowcmd_message,
    lowstate_frame,
    lowstate_message,
    pack_lowcmd,
    pack_lowstate,
)

pytestmark = pytest.mark.unit


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_fast_crc_equals_the_bit_by_bit_definition(words):
    w = np.array(words, dtype=np.uint32)
    assert crc32_words(w) == crc32_reference(w)


def _targets(seed=0):
    rng = np.random.default_rng(seed)
    t = MotorTargets()
    t.q[:29], t.dq[:29], t.tau[:29] = rng.standard_normal((3, 29))
    t.kp[:29], t.kd[:29] = 100.0, 2.0
    t.enabled[:29] = True
    return t


def test_lowcmd_crc_matches_the_unitree_sdk():
    msg = lowcmd_message(pack_lowcmd(_targets(), mode_machine=5))
    assert msg.crc == CRC().Crc(msg)
    assert msg.mode_pr == 0 and msg.mode_machine == 5
    assert [m.mode for m in msg.motor_cmd] == [1] * 29 + [0] * 6


def test_lowstate_crc_matches_the_unitree_sdk_and_detects_corruption():
    rng = np.random.default_rng(3)
    f = pack_lowstate(rng.standard_normal(29), rng.standard_normal(29), rng.standard_normal(29),
                      np.array([1.0, 0, 0, 0]), np.ones(3), np.ones(3), np.zeros(3), mode_machine=5, tick=42)
    msg = lowstate_message(f)
    assert msg.crc == CRC().Crc(msg)
    assert crc_ok(lowstate_frame(msg))
    msg.motor_state[3].q += 1e-3
    assert not crc_ok(lowstate_frame(msg))


def test_frames_are_built_fresh():
    a = pack_lowcmd(_targets(1), 5)
    t = MotorTargets()  # all zero: nothing from the previous frame may leak into this one
    b = pack_lowcmd(t, 5)
    assert np.all(b["motor"]["q"] == 0) and np.all(b["motor"]["mode"] == 0)
    assert crc_ok(lowcmd_frame(lowcmd_message(a))) and crc_ok(lowcmd_frame(lowcmd_message(b)))


def test_fast_cdr_bytes_equal_the_sdk_serialisation():
    for seed in range(5):
        f = pack_lowcmd(_targets(seed), mode_machine=seed)
        assert lowcmd_cdr(f) == lowcmd_message(f).serialize()


def test_serialized_write_arrives_as_the_same_lowcmd():
    import time

    from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_

    from psi0_bridge.robot_dds import Endpoint, write_serialized

    a, b = Endpoint(229, "lo"), Endpoint(229, "lo")
    got = []
    b.reader("rt/lowcmd", LowCmd_, got.append)
    w = a.writer("rt/lowcmd", LowCmd_)
    f = pack_lowcmd(_targets(9), mode_machine=5)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        write_serialized(w, lowcmd_cdr(f))
        time.sleep(0.05)
    assert got and got[0] == lowcmd_message(f) and crc_ok(lowcmd_frame(got[0]))
    a.close()
    b.close()
