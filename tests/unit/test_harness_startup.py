"""The episode harness's start-up: a protective stop for stale LowState (S2) while the graph starts is reset (at
most twice, counted); any other stop is an error. Control flow only — the bridge's status is scripted."""

from types import SimpleNamespace

import pytest

from psi0.episodes import Harness

pytestmark = pytest.mark.unit


class ScriptedHarness(Harness):
    """A Harness without ROS: each spin advances to the next scripted BridgeStatus; `call` records resets."""

    def __init__(self, states: list[tuple[str, str]]) -> None:  # deliberately not Harness.__init__
        self.states = list(states)
        self.bridge = None
        self.joints = [1]
        self.calls: list[str] = []
        self._clock_ref = None
        self._t = 0.0

    def now(self) -> float:
        return self._t

    def spin(self, seconds, until=None, stream=None) -> bool:
        if self.states:
            name, reason = self.states.pop(0)
            self.bridge = SimpleNamespace(state_name=name, stop_reason=reason)
        self._t += seconds if until is None else 0.1
        return until is None or bool(until())

    def call(self, name: str, node: str = "policy", timeout: float = 10.0) -> None:
        self.calls.append(f"{node}/{name}")

    def hold_stream(self, lead: float = 0.1):
        return None


S2 = "LowState stale for 102 ms (S2)"


def test_a_startup_s2_stop_is_reset_and_counted():
    h = ScriptedHarness([("STOPPED", S2), ("RAMPING", ""), ("ACTIVE", "")])
    h.wait_ready(timeout=5, settle_s=0.0)
    assert h.calls == ["bridge/reset"] and h.startup_resets == 1


def test_other_stops_and_repeated_s2_stops_are_errors():
    h = ScriptedHarness([("STOPPED", "no due chunk step for 500 ms (S3)")])
    with pytest.raises(RuntimeError, match=r"state STOPPED: no due chunk step"):
        h.wait_ready(timeout=5, settle_s=0.0)
    assert h.calls == []
    h = ScriptedHarness([("STOPPED", S2), ("RAMPING", ""), ("STOPPED", S2), ("RAMPING", ""), ("STOPPED", S2)])
    with pytest.raises(RuntimeError, match=r"\(S2\)"):
        h.wait_ready(timeout=5, settle_s=0.0)
    assert h.calls == ["bridge/reset", "bridge/reset"] and h.startup_resets == 2


def test_an_episode_in_which_the_robot_fell_is_never_a_success():
    from psi0.episodes import FALL_PELVIS_M, FALL_TILT_DEG, fallen

    assert not fallen(4.0, 0.72, 0)  # upright the whole episode
    assert fallen(FALL_TILT_DEG + 0.1, 0.72, 0)  # leaning on the table counts as fallen
    assert fallen(3.0, 0.72, 1)  # an S12 stop
    assert fallen(3.0, FALL_PELVIS_M - 0.01, 0)  # sitting / lying with a level pelvis
    assert fallen(None, 0.72, 0)  # nobody saw the base: not a success
    assert not fallen(FALL_TILT_DEG - 0.1, None, 0)  # pelvis unknown (no simulator ground truth): tilt decides


def test_a_fallen_robot_is_stood_up_by_the_simulators_reset_before_the_bridge_is_reset():
    h = ScriptedHarness([("STOPPED", "base tilted 50° (> 35°): fall (S12)"), ("ACTIVE", ""), ("ACTIVE", "")])
    h.recoveries, h.sim_resets = 0, 0
    refused = iter([True])

    def call(name, node="policy", timeout=10.0):
        h.calls.append(f"{node}/{name}")
        if node == "bridge" and next(refused, False):
            raise RuntimeError("bridge/reset failed: cannot reset: the base is tilted 69° (> 10°); stand the robot up")

    h.call = call
    h.recover()
    assert h.calls == ["bridge/reset", "sim/reset", "bridge/reset"] and h.sim_resets == 1


def test_a_reset_refused_for_stale_state_is_retried_other_refusals_are_not():
    h = ScriptedHarness([("STOPPED", S2)] * 5)
    answers = iter([RuntimeError("bridge/reset failed: cannot reset: LowState is stale")] * 2 + [None])

    def call(name, node="policy", timeout=10.0):
        h.calls.append(f"{node}/{name}")
        e = next(answers)
        if e is not None:
            raise e

    h.call = call
    h.reset_bridge()
    assert h.calls == ["bridge/reset"] * 3
    h.call = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("cannot reset: no e-stop heartbeat"))
    with pytest.raises(RuntimeError, match="heartbeat"):
        h.reset_bridge()
