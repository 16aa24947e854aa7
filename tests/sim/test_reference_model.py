"""The simulator also runs Unitree's reference MJCF (with meshes) when given by parameter."""

import numpy as np
import pytest

from psi0_core.robot import load_g1
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


def test_dynamic_parity_with_the_reference_model_under_the_same_pd_commands():
    """The same PD command stream (Ψ0's gains, a 2 s ramp of the left arm forward) on the generated model and on
    Unitree's reference MJCF (same PD law, integrated implicitly), both held by the elastic band: the arm joints
    follow within 0.02 rad of each other all along; both sag the same ~0.15 rad below the target (the arm's weight
    against kp 50: physics, not the simulator)."""
    from psi0_sim.model import Scene

    path = reference_dir("g1") / "g1_body29_hand14.xml"
    g1 = load_g1()
    kp = np.array([165, 165, 165, 330, 160, 40] * 2 + [440] * 3 + [50, 50, 50, 50, 30, 30, 30] * 2, float)
    kd = np.array([2, 2, 2, 4, 2, 1] * 2 + [15] * 3 + ([7.5] * 4 + [6.0] * 3) * 2, float)
    target = g1.body.default.copy()
    target[15:22] = [-1.0, 0.3, 0.0, 0.8, 0.0, 0.0, 0.0]
    runs = {}
    for name, kw in (("ours", dict(scene=Scene(table_pos=(6.0, 0.0)))), ("reference", dict(model_path=str(path),
                                                                                            implicit_pd=True))):
        p = G1Physics(elastic_band=True, **kw)
        q0 = p.motor_state()[0][:29].copy()
        traj = []
        for i in range(1500):  # 3 s
            a = min(1.0, i * p.dt / 2.0)
            p.set_command(slice(0, 29), MotorCommand((1 - a) * q0 + a * target, np.zeros(29), np.zeros(29), kp, kd,
                                                     np.ones(29, bool)))
            p.step(1)
            traj.append(p.motor_state()[0][15:22].copy())
        runs[name] = np.array(traj)
    gap = np.abs(runs["ours"] - runs["reference"]).max()
    print(f"max |ours − reference| over the left arm: {gap:.4f} rad; final errors "
          f"{np.abs(runs['ours'][-1] - target[15:22]).max():.3f} / {np.abs(runs['reference'][-1] - target[15:22]).max():.3f}")
    assert gap < 0.02
    for r in runs.values():
        assert np.abs(r[-1] - target[15:22]).max() < 0.2
