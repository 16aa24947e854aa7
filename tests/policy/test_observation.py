"""The policy's state: measured joints + the torso command of the control step before the observation."""

import numpy as np
import pytest

from psi0_core.g1_adapter import G1Adapter
from psi0_policy.observation import StateBuilder

pytestmark = pytest.mark.unit


def _chunk(h: int, start: float) -> np.ndarray:
    a = np.tile(G1Adapter().default_action(), (h, 1))
    a[:, 29] = start + 0.01 * np.arange(h)  # torso pitch, a different value every step
    return a


def test_the_state_reports_the_command_one_step_before_the_observation():
    sb = StateBuilder(G1Adapter())
    sb.update_joints(list(sb.adapter.state_joint_names), list(np.zeros(28)), 0.0)
    assert np.allclose(sb.state(at=5.0)[28:32], [0, 0, 0, 0.75])  # before any chunk: nominal
    dt = 0.1
    sb.update_chunk(10.0, dt, _chunk(30, 0.2))
    assert np.allclose(sb.state(at=10.05)[28:32], [0, 0, 0, 0.75])  # in its first step: nothing before it yet
    assert sb.state(at=10.55)[29] == pytest.approx(0.2 + 0.01 * 4)  # step 5 in force → step 4's command
    assert sb.state(at=99.0)[29] == pytest.approx(0.2 + 0.01 * 29)  # past its end: its last row holds
    sb.update_chunk(12.0, dt, _chunk(30, 0.5))  # the next chunk starts ahead of an observation taken now
    assert sb.state(at=11.95)[29] == pytest.approx(0.2 + 0.01 * 18)  # still the old chunk's step 18
    assert sb.state(at=12.25)[29] == pytest.approx(0.5 + 0.01 * 1)
