"""Gravity feed-forward for the arms from the generated G1 dynamics model (MuJoCo, no rclpy).

With position-only PD the arms sag under their own weight (kp 50 at the shoulder leaves ~0.1 rad,
i.e. 2–6 cm at the hand, in a forward reach). The bridge can add the gravity torque of the measured
pose as τ_ff: the torque that holds the arm still there, from the nominal masses (an object in the
hand is not modelled, so some sag remains with a payload). The bridge bounds τ_ff to a fraction of
each motor's torque limit and never sends it in a damping frame.
"""

from __future__ import annotations

import mujoco
import numpy as np

from psi0_core.g1_model import motor_joint_names, robot_only_mjcf
from psi0_core.robot import BODY_MOTORS


class GravityModel:
    def __init__(self) -> None:
        self.model = mujoco.MjModel.from_xml_string(robot_only_mjcf())
        self.data = mujoco.MjData(self.model)
        names = motor_joint_names()[:BODY_MOTORS]
        self.qadr = np.array([self.model.jnt_qposadr[self.model.joint(n).id] for n in names])
        self.dadr = np.array([self.model.jnt_dofadr[self.model.joint(n).id] for n in names])
        mujoco.mj_resetData(self.model, self.data)

    def torques(self, q: np.ndarray, quat_wxyz: np.ndarray) -> np.ndarray:
        """(29,) joint torques that balance gravity at body pose `q` with pelvis orientation `quat_wxyz`."""
        d = self.data
        quat = np.asarray(quat_wxyz, dtype=np.float64)
        n = np.linalg.norm(quat)
        d.qpos[3:7] = quat / n if np.isfinite(n) and n > 0.5 else (1.0, 0.0, 0.0, 0.0)
        d.qpos[self.qadr] = np.nan_to_num(q)
        d.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)  # qfrc_bias = gravity (+ Coriolis, zero at rest)
        return d.qfrc_bias[self.dadr].copy()
