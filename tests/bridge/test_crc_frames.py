import numpy as np
import pytest
from cyclonedds.idl._support import Endianness
from hypothesis import given, settings
from hypothesis import strategies as st
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_
from unitree_sdk2py.utils.crc import CRC

from psi0_core.crc import crc32_reference, crc32_words
from psi0_core.lowlevel import (
    MotorTargets,
    crc_ok,
    lowcmd_cdr,
    lowcmd_frame,
    lowcmd_from_cdr,
    lowcmd_message,
    lowstate_cdr,
    lowstate_frame,
    lowstate_from_cdr,
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


def _state(seed):
    """A LowState frame with every field non-trivial (the padding bytes are where the layouts differ)."""
    rng = np.random.default_rng(seed)
    f = pack_lowstate(*rng.standard_normal((3, 29)), np.array([1.0, 0, 0, 0]), *rng.standard_normal((3, 3)),
                      mode_machine=5, tick=seed)
    f["version"] = [1, 2]
    f["mode_pr"] = 1
    f["imu"]["temperature"] = -7
    m = f["motor"]
    m["mode"] = rng.integers(0, 255, 35)
    m["temperature"] = rng.integers(-300, 300, (35, 2))
    m["vol"], m["ddq"] = rng.standard_normal((2, 35))
    m["sensor"], m["motorstate"] = rng.integers(0, 2**32, (35, 2)), rng.integers(0, 2**32, 35)
    m["reserve"] = rng.integers(0, 2**32, (35, 4))
    f["wireless_remote"] = rng.integers(0, 255, 40)
    f["reserve"] = [5, 6, 7, 8]
    f["crc"] = CRC().Crc(lowstate_message(f))
    return f


def test_lowstate_cdr_bytes_equal_the_sdk_serialisation_both_ways():
    for seed in range(5):
        f = _state(seed)
        msg = lowstate_message(f)
        assert lowstate_cdr(f) == msg.serialize()
        back = lowstate_from_cdr(msg.serialize())
        assert back.shape == () and back.flags.writeable
        assert back.tobytes() == lowstate_frame(msg).tobytes() == f.tobytes() and crc_ok(back)


def test_lowcmd_from_cdr_equals_the_sdk_deserialisation():
    for seed in range(5):
        f = pack_lowcmd(_targets(seed), mode_machine=seed)
        assert lowcmd_from_cdr(lowcmd_cdr(f)).tobytes() == lowcmd_frame(lowcmd_message(f)).tobytes() == f.tobytes()


def test_big_endian_samples_take_the_sdk_path_and_agree():
    f = _state(11)
    big = lowstate_message(f).serialize(endianness=Endianness.Big)
    assert big[:2] == b"\x00\x00" and big != lowstate_cdr(f)
    assert lowstate_from_cdr(big).tobytes() == f.tobytes()
    c = pack_lowcmd(_targets(2), 5)
    assert lowcmd_from_cdr(lowcmd_message(c).serialize(endianness=Endianness.Big)).tobytes() == c.tobytes()


@given(st.binary(max_size=2200))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_parse_or_raise_value_error(data):
    for parse, size in ((lowstate_from_cdr, 2092), (lowcmd_from_cdr, 1004)):
        try:
            f = parse(data)
        except ValueError:
            continue
        assert f.dtype.itemsize == size  # a frame (whose CRC the caller still checks), never anything else


def test_truncated_or_foreign_samples_are_value_errors():
    good = lowstate_cdr(_state(1))
    for bad in (good[:-4], good[:100], b"", good + b"\x00" * 4):
        with pytest.raises(ValueError):
            lowstate_from_cdr(bad)
    with pytest.raises(ValueError):
        lowcmd_from_cdr(good)  # a LowState is no LowCmd


def test_serialized_readers_polled_and_listened_receive_what_was_written():
    import time

    from psi0_core.robot_dds import Endpoint, take_serialized, write_serialized
    from tests.conftest import next_robot_domain

    a, b = Endpoint(d := next_robot_domain(), "lo"), Endpoint(d, "lo")
    heard: list[bytes] = []
    b.reader("rt/lowstate", LowState_, heard.append, serialized=True)
    polled = b.polled_reader("rt/lowstate", LowState_)
    w = a.writer("rt/lowstate", LowState_)
    f = _state(4)
    taken: list[bytes] = []
    deadline = time.monotonic() + 5
    while not (heard and taken) and time.monotonic() < deadline:
        write_serialized(w, lowstate_cdr(f))
        time.sleep(0.05)
        taken += take_serialized(polled)
    assert heard and taken
    assert lowstate_from_cdr(heard[0]).tobytes() == lowstate_from_cdr(taken[0]).tobytes() == f.tobytes()
    for i in range(5):  # default QoS keeps the newest sample only: a slow taker gets the latest, not a backlog
        write_serialized(w, lowstate_cdr(_state(i + 20)))
    time.sleep(0.3)
    last = take_serialized(polled)
    assert len(last) == 1 and lowstate_from_cdr(last[0]).tobytes() == _state(24).tobytes()
    assert take_serialized(polled) == []
    a.close()
    b.close()


def test_serialized_write_arrives_as_the_same_lowcmd():
    import time

    from psi0_core.robot_dds import Endpoint, write_serialized
    from tests.conftest import next_robot_domain

    a, b = Endpoint(d := next_robot_domain(), "lo"), Endpoint(d, "lo")
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
