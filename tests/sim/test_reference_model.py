"""The simulator also runs Unitree's reference MJCF (with meshes) when given by parameter."""

import numpy as np
import pytest

from psi0.robot import load_g1
from psi0_sim.physics import G1Physics, MotorCommand
from tests.conftest import reference_dir

pytestmark = pytest.mark.unit


def test_reference_model_loads_and_tracks_a_pd_command():
    path = reference_dir("g1") / "g1_body29_hand14.xml"
    p = G1Physics(model_path=str(path), fixed_base=False, elastic_band=True)
    assert not p.implicit  # motors driven with the explicit PD law
    g1 = load_g1()
    target = g1.body.default.copy()
    target[15] = -0.5  # left shoulder pitch
    kp = np.full(29, 60.0)
    p.set_command(slice(0, 29), MotorCommand(target, np.zeros(29), np.zeros(29), kp, np.full(29, 3.0), np.ones(29, bool)))
    p.step(1000)
    q = p.motor_state()[0]
    assert abs(q[15] + 0.5) < 0.15 and np.all(np.isfinite(q))
    quat, _gyro, acc, _ = p.imu()
    assert abs(np.linalg.norm(quat) - 1) < 1e-6 and acc.shape == (3,)
