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
