"""The bridge's control core driving the simulated G1 in one process, without DDS (benchmarks, fast closed loops).

`InProcessG1` runs exactly what the bridge node runs each 2 ms tick — `BridgeCore.tick` with its state machine,
whole-body controller, limits and watchdogs — but hands the frames to `G1Physics` directly instead of through
rt/lowcmd, and feeds the physics' motor and IMU state back as LowState would. Chunks go to `BridgeCore.on_chunk`
as they would from the action_chunk topic. Time is the simulator's: deterministic, and as fast as the CPU allows.
What it does not exercise (the DDS transport, the frame codec, threads, the ROS side) the graph tests do.

Measured every tick: base tilt (IMU), pelvis height and position (ground truth), base velocity in the heading
frame, foot positions, what the bridge reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import mujoco
import numpy as np

from psi0_bridge.bridge_config import BridgeConfig
from psi0_bridge.core import BridgeCore, Output, State, base_tilt_deg
from psi0_bridge.wbc import StandController, WholeBodyController
from psi0_core.g1_adapter import G1Adapter
from psi0_core.robot import BODY_MOTORS, G1, HAND_MOTORS, MODE_MACHINE_29DOF, load_g1
from psi0_sim.model import Scene
from psi0_sim.physics import G1Physics, MotorCommand

ActionFn = Callable[[float], np.ndarray]  # sim time → (36,) absolute action
FEET = ("left_ankle_roll_link", "right_ankle_roll_link")


@dataclass
class Trace:
    """One sample per `every` ticks."""

    t: list[float] = field(default_factory=list)
    tilt_deg: list[float] = field(default_factory=list)
    pelvis: list[np.ndarray] = field(default_factory=list)  # (3,) world
    yaw: list[float] = field(default_factory=list)
    velocity: list[np.ndarray] = field(default_factory=list)  # (vx, vy, yaw rate) in the heading frame
    feet: list[np.ndarray] = field(default_factory=list)  # (2, 3) world
    state: list[str] = field(default_factory=list)
    arm_error: list[float] = field(default_factory=list)  # max |commanded − measured| over the arm motors (rad)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.__dict__.items() if k != "state"}


def make_controller(name: str, robot: G1, rate_hz: float = 50.0) -> WholeBodyController:
    """`stand` or a layout name of config/wbc/."""
    if name == "stand":
        return StandController(robot.body.default)
    from psi0_bridge.learned_wbc import LearnedController
    from psi0_bridge.wbc_layout import layout_file

    return LearnedController.load(layout_file(name), robot, rate_hz)


class InProcessG1:
    def __init__(self, controller: str | WholeBodyController = "stand", scene: Scene | None = None,
                 gantry_release_s: float | None = 3.0, model_path: str | None = None, every: int = 10,
                 implicit_pd: bool = True, **bridge: object) -> None:
        self.robot = load_g1()
        self.adapter = G1Adapter(self.robot)
        self.cfg = BridgeConfig.from_values({"auto_enable": True, **bridge})
        wbc = make_controller(controller, self.robot, self.cfg.wbc_rate_hz) if isinstance(controller, str) else controller
        self.core = BridgeCore(self.cfg, self.robot, wbc)
        self.physics = G1Physics(scene or Scene(table_pos=(6.0, 0.0)), gantry_release_s=gantry_release_s,
                                 model_path=model_path, implicit_pd=implicit_pd)
        self.trace = Trace()
        self.every = every
        self.ticks = 0
        self._chunk_id = 0
        self._feet = [self.physics.model.body(f).id for f in FEET]
        self.last_out: Output | None = None

    @property
    def t(self) -> float:
        return self.physics.time

    # ---- the loop ----------------------------------------------------------------------------------
    def _feed(self) -> None:
        q, dq, _ = self.physics.motor_state()
        quat, gyro, _, _ = self.physics.imu()
        now = self.t
        self.core.on_lowstate(now, q[:BODY_MOTORS], dq[:BODY_MOTORS], quat, gyro, MODE_MACHINE_29DOF)
        self.core.on_hand_state(q[BODY_MOTORS:BODY_MOTORS + 2 * HAND_MOTORS])
        self.core.on_heartbeat(now, True)

    def _apply(self, out: Output) -> None:
        if out.body is not None:
            b = out.body
            self.physics.set_command(slice(0, BODY_MOTORS), MotorCommand(
                b.q[:BODY_MOTORS], b.dq[:BODY_MOTORS], b.tau[:BODY_MOTORS], b.kp[:BODY_MOTORS], b.kd[:BODY_MOTORS],
                b.enabled[:BODY_MOTORS].copy()))
        if out.hands is not None:
            h, n = out.hands, 2 * HAND_MOTORS
            z = np.zeros(n)
            self.physics.set_command(slice(BODY_MOTORS, BODY_MOTORS + n), MotorCommand(h.q, z, z, h.kp, h.kd,
                                                                                        np.ones(n, dtype=bool)))

    def send(self, start: float, actions: np.ndarray, dt: float = 1 / 30) -> bool:
        """One chunk (H, 36) whose step 0 is due at `start` (sim time)."""
        self._chunk_id += 1
        f = self.adapter.chunk_fields(actions)
        return self.core.on_chunk(self.t, chunk_id=self._chunk_id, t0=start, dt=dt, horizon=f["horizon"],
                                  dim=f["dim"], names=f["names"], data=f["data"], prefix_len=0)

    def run(self, seconds: float, action: ActionFn | None = None, until: Callable[[InProcessG1], bool] | None = None,
            chunk_every_s: float = 0.5, chunk_len: int = 40) -> None:
        """Step physics + bridge for `seconds` of sim time; `action(t)` is streamed as chunks (40 rows at 30 Hz, a new
        one every 0.5 s, starting now) while the bridge is ACTIVE or HOLDING."""
        end = self.t + seconds
        next_chunk = self.t
        dt_ctrl = 1.0 / self.cfg.control_rate_hz
        steps_per_tick = max(1, round(dt_ctrl / self.physics.dt))
        while self.t < end - 1e-9:
            if action is not None and self.core.state in (State.ACTIVE, State.HOLDING) and self.t >= next_chunk:
                t0 = self.t
                rows = np.stack([action(t0 + i / 30) for i in range(chunk_len)])
                self.send(t0, rows)
                next_chunk = t0 + chunk_every_s
            self._feed()
            out = self.core.tick(self.t)
            self._apply(out)
            self.last_out = out
            self.physics.step(steps_per_tick)
            self.ticks += 1
            if self.ticks % self.every == 0:
                self._record(out)
            if until is not None and until(self):
                return

    def wait_active(self, timeout_s: float = 10.0) -> None:
        self.run(timeout_s, until=lambda s: s.core.state == State.ACTIVE)
        if self.core.state != State.ACTIVE:
            raise RuntimeError(f"bridge not ACTIVE after {timeout_s} s: {self.core.state.name} {self.core.stop_reason}")

    # ---- measurements --------------------------------------------------------------------------------
    def _record(self, out: Output) -> None:
        d = self.physics.data
        tr = self.trace
        quat = d.qpos[3:7]
        w, x, y, z = quat
        yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        v_world = d.qvel[:3]
        c, s = math.cos(yaw), math.sin(yaw)
        tr.t.append(self.t)
        tr.tilt_deg.append(base_tilt_deg(self.physics.imu()[0]))
        tr.pelvis.append(d.qpos[:3].copy())
        tr.yaw.append(yaw)
        # the free joint's angular velocity is in the body frame; its z is close to the yaw rate for a level base
        tr.velocity.append(np.array([c * v_world[0] + s * v_world[1], -s * v_world[0] + c * v_world[1], d.qvel[5]]))
        tr.feet.append(np.stack([d.xpos[f].copy() for f in self._feet]))
        tr.state.append(self.core.state.name)
        q = self.physics.motor_state()[0]
        cmd = self.core.body_guard.previous
        tr.arm_error.append(float(np.max(np.abs(cmd[15:BODY_MOTORS] - q[15:BODY_MOTORS]))) if cmd is not None else 0.0)

    def world_tilt_deg(self) -> float:
        """Ground-truth tilt of the pelvis (the IMU's, without sensor noise)."""
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, self.physics.data.qpos[3:7])
        return math.degrees(math.acos(max(-1.0, min(1.0, mat[8]))))


# ---- commanded motions ----------------------------------------------------------------------------
# Arm keyframes in the range Ψ0's manipulation data covers (left 7 then right 7: shoulder pitch, roll, yaw, elbow,
# wrist roll, pitch, yaw): rest, both reach forward to table height, right hand raised, both hands forward high,
# reaching across the body, wrists turned.
ARM_KEYFRAMES = np.array([
    [0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0],
    [-0.6, 0.2, 0.0, 0.9, 0.0, -0.3, 0.0, -0.6, -0.2, 0.0, 0.9, 0.0, -0.3, 0.0],
    [0.0, 0.1, 0.0, 0.3, 0.0, 0.0, 0.0, -1.6, -0.3, 0.0, 0.6, 0.0, 0.0, 0.0],
    [-1.1, 0.3, 0.2, 0.5, 0.5, 0.0, 0.0, -1.1, -0.3, -0.2, 0.5, -0.5, 0.0, 0.0],
    [-0.8, -0.2, 0.5, 1.2, 0.0, 0.4, 0.3, -0.8, 0.2, -0.5, 1.2, 0.0, 0.4, -0.3],
    [-0.4, 0.4, -0.3, 1.4, 1.0, -0.5, 0.5, -0.4, -0.4, 0.3, 1.4, -1.0, -0.5, -0.5],
])


def arm_sweep(base: np.ndarray, t0: float, segment_s: float = 2.5) -> ActionFn:
    """An action function: `base` (36,) with both arms moving smoothly (cosine) from keyframe to keyframe."""
    from psi0_core.g1_adapter import ARMS

    n = len(ARM_KEYFRAMES)

    def action(t: float) -> np.ndarray:
        u = max(t - t0, 0.0) / segment_s
        k, frac = int(u) % n, u - int(u)
        s = 0.5 - 0.5 * math.cos(math.pi * min(frac * 1.6, 1.0))  # move for 62 % of a segment, then hold
        a = np.array(base, dtype=np.float64, copy=True)
        a[ARMS] = (1 - s) * ARM_KEYFRAMES[k] + s * ARM_KEYFRAMES[(k + 1) % n]
        return a

    return action


def velocity_command(base: np.ndarray, vx: float = 0.0, vy: float = 0.0, yaw_rate: float = 0.0) -> ActionFn:
    """An action function: `base` (36,) with a constant velocity command (dims 32..34)."""
    from psi0_core.g1_adapter import VELOCITY

    a = np.array(base, dtype=np.float64, copy=True)
    a[VELOCITY] = (vx, vy, yaw_rate)
    return lambda t: a
