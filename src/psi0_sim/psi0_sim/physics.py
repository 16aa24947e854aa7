"""MuJoCo G1 physics with the robot's motor-driver behaviour (no DDS, no rclpy).

`G1Physics` owns MjModel/MjData, applies per-motor PD + feed-forward commands exactly as the G1's
motor drivers do (τ = kp(q* − q) + kd(q̇* − q̇) + τ_ff, clipped to the torque limit), and reads the
motor, IMU and hand state the robot reports. Motors whose enable flag is off produce no torque.

Models: the generated project model (default) uses affine actuators (the damping term is then
integrated implicitly); any other MJCF (e.g. Unitree's reference with meshes) is driven through its
motor actuators with the same law computed explicitly, matched by joint name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from psi0_core.robot import BODY_MOTORS, load_g1
from psi0_sim.model import Scene, g1_mjcf, motor_joint_names


@dataclass
class MotorCommand:
    """Targets for a group of motors (arrays of the group's size)."""

    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    enabled: np.ndarray

    @staticmethod
    def zero(n: int) -> MotorCommand:
        z = np.zeros(n)
        return MotorCommand(z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), np.zeros(n, dtype=bool))


@dataclass
class ElasticBand:
    """A spring-damper holding the pelvis near a point (upper-body work without falling).

    As a *gantry* (`release_after_s` set) it mimics the hardware start-up procedure: the robot hangs
    from it until the body motors have been stiff (all kp > 0) for `release_after_s` of sim time —
    i.e. the bridge's start-up ramp has run — and is then lowered away over `fade_s`.
    """

    point: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.95]))
    stiffness: float = 2000.0
    damping: float = 200.0
    rot_stiffness: float = 0.0  # N·m/rad toward upright (a gantry harness also keeps the torso upright)
    rot_damping: float = 0.0
    release_after_s: float | None = None
    fade_s: float = 0.5
    stiff_since: float | None = None

    def scale(self, t: float, stiff: bool) -> float:
        """Current strength in [0, 1]."""
        if self.release_after_s is None:
            return 1.0
        if not stiff:
            if self.stiff_since is not None and t - self.stiff_since < self.release_after_s:
                self.stiff_since = None  # gains dropped before release: keep holding
            return 1.0 if self.stiff_since is None else self._fade(t)
        if self.stiff_since is None:
            self.stiff_since = t
        return self._fade(t)

    def _fade(self, t: float) -> float:
        assert self.stiff_since is not None and self.release_after_s is not None
        return float(np.clip(1.0 - (t - self.stiff_since - self.release_after_s) / self.fade_s, 0.0, 1.0))


class G1Physics:
    def __init__(self, scene: Scene | None = None, fixed_base: bool = False, elastic_band: bool = False,
                 model_path: str | None = None, gantry_release_s: float | None = None, implicit_pd: bool = False) -> None:
        """`model_path`: another MJCF (e.g. Unitree's reference with meshes), driven through its motor actuators with
        the motor-driver law computed explicitly, or with `implicit_pd` exactly as the generated model (the actuators
        made affine, damping integrated implicitly with implicitfast: stable for the light links' kd at 2 ms)."""
        self.scene = self.start_scene = scene or Scene()
        if model_path:
            self.model = mujoco.MjModel.from_xml_path(model_path)
            self.implicit = implicit_pd
            if implicit_pd:
                m = self.model
                m.actuator_gaintype[:] = mujoco.mjtGain.mjGAIN_FIXED
                m.actuator_gainprm[:, 0] = 1.0
                m.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_AFFINE
                m.actuator_biasprm[:] = 0.0
                m.actuator_ctrllimited[:] = 0
                m.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        else:
            self.model = mujoco.MjModel.from_xml_string(g1_mjcf(self.scene, fixed_base=fixed_base))
            self.implicit = True
        m = self.model
        self.data = mujoco.MjData(m)
        names = motor_joint_names()
        self.qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in names])
        self.dadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in names])
        self.act = np.array([m.actuator(n).id for n in names])
        self.effort = np.array([m.jnt_actfrcrange[m.joint(n).id][1] for n in names])
        self.pelvis = m.body("pelvis").id
        self.free = m.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
        # the band's forces are explicit: on a model without rotor armature (the reference) the light pelvis only
        # stays stable under a softer rotational spring-damper
        rot = (800.0, 80.0) if not model_path else (200.0, 8.0)
        if gantry_release_s is not None:
            self.band: ElasticBand | None = ElasticBand(point=np.array([0.0, 0.0, 0.79]), stiffness=5000.0, damping=500.0,
                                                        rot_stiffness=rot[0], rot_damping=rot[1],
                                                        release_after_s=gantry_release_s)
        else:
            # a harness keeps the torso upright too (without it the robot tips over its pelvis while the motors damp)
            self.band = ElasticBand(rot_stiffness=rot[0], rot_damping=rot[1]) if elastic_band else None
        self.cmd = MotorCommand.zero(len(names))
        self._has_imu = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, "imu_gyro") >= 0
        self.reset()

    # ---- state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Standing pose: default joint angles, pelvis at its nominal height, the table and objects where the start-up
        scene had them."""
        mujoco.mj_resetData(self.model, self.data)
        self._move_table(self.start_scene)
        self.scene = self.start_scene
        g1 = load_g1()
        default = np.concatenate([g1.body.default, g1.left_hand.default, g1.right_hand.default])
        self.data.qpos[self.qadr] = default
        if self.free:
            self.data.qpos[2] = 0.78  # feet on the ground in the default (slightly bent) pose
        self.cmd = MotorCommand.zero(len(self.qadr))
        if self.band is not None:
            self.band.stiff_since = None
        mujoco.mj_forward(self.model, self.data)

    def place_scene(self, scene: Scene) -> None:
        """Move the table to `scene`'s pose and the objects, at rest, to their places in it (same table size and
        objects as the model was built with: ValueError otherwise). The robot is not touched."""
        if scene.table_size != self.start_scene.table_size or [o.name for o in scene.objects] != [
                o.name for o in self.start_scene.objects]:
            raise ValueError("place_scene moves the table and objects the model has; it cannot resize or add them")
        self._move_table(scene)
        m, d = self.model, self.data
        half_yaw = 0.5 * scene.table_yaw
        for o in scene.objects:
            j = m.body(o.name).jntadr[0]
            d.qpos[m.jnt_qposadr[j]:m.jnt_qposadr[j] + 7] = (*o.pos, np.cos(half_yaw), 0.0, 0.0, np.sin(half_yaw))
            d.qvel[m.jnt_dofadr[j]:m.jnt_dofadr[j] + 6] = 0.0
        self.scene = scene
        mujoco.mj_forward(m, d)

    def _move_table(self, scene: Scene) -> None:
        if not self.model.nbody or mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, "table") < 0:
            return  # another model (the reference MJCF) has no table
        b = self.model.body("table")
        b.pos[:] = (*scene.table_pos, scene.table_size[2])
        b.quat[:] = (np.cos(0.5 * scene.table_yaw), 0.0, 0.0, np.sin(0.5 * scene.table_yaw))

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def dt(self) -> float:
        return float(self.model.opt.timestep)

    def motor_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """q, dq, τ of all 43 motors (body 29, left hand 7, right hand 7)."""
        d = self.data
        return d.qpos[self.qadr].copy(), d.qvel[self.dadr].copy(), d.actuator_force[self.act].copy()

    def imu(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pelvis IMU: quaternion (w, x, y, z), gyro (rad/s, IMU frame), accelerometer (m/s², IMU frame), rpy."""
        m, d = self.model, self.data
        if self._has_imu:
            quat = d.sensor("imu_quat").data.copy()
            gyro = d.sensor("imu_gyro").data.copy()
            acc = d.sensor("imu_acc").data.copy()
        else:
            quat = d.xquat[self.pelvis].copy()
            vel = np.zeros(6)
            mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_BODY, self.pelvis, vel, 1)
            gyro = vel[:3]
            acc = d.xmat[self.pelvis].reshape(3, 3).T @ np.array([0, 0, 9.81])
        w, x, y, z = quat
        rpy = np.array([np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)),
                        np.arcsin(np.clip(2 * (w * y - z * x), -1, 1)),
                        np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))])
        return quat, gyro, acc, rpy

    def body_pos(self, name: str) -> np.ndarray:
        return self.data.body(name).xpos.copy()

    def site_pos(self, name: str) -> np.ndarray:
        return self.data.site(name).xpos.copy()

    # ---- commands ---------------------------------------------------------------------------------
    def set_command(self, sl: slice, c: MotorCommand) -> None:
        """Set the targets of motors `sl` (body: 0:29, left hand 29:36, right hand 36:43)."""
        for name in ("q", "dq", "tau", "kp", "kd", "enabled"):
            getattr(self.cmd, name)[sl] = getattr(c, name)

    def _apply(self) -> None:
        m, d, c = self.model, self.data, self.cmd
        on = c.enabled
        kp, kd = np.where(on, c.kp, 0.0), np.where(on, c.kd, 0.0)
        ff = np.where(on, kp * c.q + kd * c.dq + c.tau, 0.0)
        if self.implicit:  # force = ctrl − kp·q − kd·q̇, clipped to forcerange by MuJoCo
            m.actuator_biasprm[self.act, 1] = -kp
            m.actuator_biasprm[self.act, 2] = -kd
            d.ctrl[self.act] = ff
        else:
            q, dq = d.qpos[self.qadr], d.qvel[self.dadr]
            d.ctrl[self.act] = np.clip(ff - kp * q - kd * dq, -self.effort, self.effort)
        if self.band is not None and self.free:
            p, v = d.qpos[:3], d.qvel[:3]
            b = self.band
            k = b.scale(float(d.time), stiff=bool(np.all(kp[:BODY_MOTORS] > 0)))
            d.xfrc_applied[self.pelvis, :3] = k * (b.stiffness * (b.point - p) - b.damping * v)
            if b.rot_stiffness > 0:
                err = np.zeros(3)  # rotation (world frame) that takes the pelvis back to upright
                quat = d.qpos[3:7]
                mujoco.mju_subQuat(err, np.array([1.0, 0, 0, 0]), quat)  # body-frame rotation vector
                err_world = d.xmat[self.pelvis].reshape(3, 3) @ err
                d.xfrc_applied[self.pelvis, 3:] = k * (b.rot_stiffness * err_world - b.rot_damping * d.qvel[3:6])

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._apply()
            mujoco.mj_step(self.model, self.data)
