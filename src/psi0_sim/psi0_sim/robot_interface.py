"""The simulated G1's DDS interface, as the real robot offers it (no rclpy).

Publishes `rt/lowstate` (unitree_hg LowState_: motor q/dq/τ, pelvis IMU, mode_machine of a 29-DoF
G1, tick, CRC) every physics step (500 Hz) and `rt/dex3/{left,right}/state` at 100 Hz; consumes
`rt/lowcmd` (frames with a bad CRC are dropped and counted, as the robot does) and
`rt/dex3/{left,right}/cmd`. It answers the motion switcher's RPC as a G1 does (psi0_core.motion_switcher;
`motion_mode` "" = released, or the name of a built-in mode the robot "booted into"). Any unitree_sdk2py
program written for the real G1 talks to it.
"""

from __future__ import annotations

from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, HandState_, LowCmd_, LowState_

from psi0_core.lowlevel import (
    MOTOR_ENABLE,
    crc_ok,
    hand_cmd_arrays,
    hand_state,
    lowcmd_from_cdr,
    lowstate_cdr,
    pack_lowstate,
)
from psi0_core.motion_switcher import MotionSwitcherService
from psi0_core.robot import BODY_MOTORS, HAND_MOTORS, MODE_MACHINE_29DOF
from psi0_core.robot_dds import Endpoint, take_serialized, write_serialized
from psi0_sim.physics import G1Physics, MotorCommand

HAND_SLICES = {"left": slice(BODY_MOTORS, BODY_MOTORS + HAND_MOTORS),  # the physics' motor order: body, left, right
               "right": slice(BODY_MOTORS + HAND_MOTORS, BODY_MOTORS + 2 * HAND_MOTORS)}
LOWCMD_DEPTH = 16  # LowCmds kept between two steps: every one is CRC-checked and counted even when the sim runs slow


class SimRobotInterface:
    """Commands are taken by the simulation thread before each step (polled readers: no Python runs on DDS threads,
    so nothing races the physics and nothing calls into the interpreter while it exits)."""

    def __init__(self, physics: G1Physics, domain: int = 1, interface: str = "lo",
                 mode_machine: int = MODE_MACHINE_29DOF, hand_every: int = 5, motion_mode: str = "") -> None:
        self.physics = physics
        self.mode_machine = mode_machine
        self.hand_every = hand_every
        self.ep = Endpoint(domain, interface)
        self.lowstate = self.ep.writer("rt/lowstate", LowState_)
        self.hand_writers = {s: self.ep.writer(f"rt/dex3/{s}/state", HandState_) for s in HAND_SLICES}
        self.commands = 0
        self.bad_crc = 0
        self.hand_commands = 0
        self.tick = 0
        self._lowcmd = self.ep.polled_reader("rt/lowcmd", LowCmd_, depth=LOWCMD_DEPTH)
        self._hand_cmd = {side: self.ep.polled_reader(f"rt/dex3/{side}/cmd", HandCmd_) for side in HAND_SLICES}
        self.motion_switcher = MotionSwitcherService(self.ep, motion_mode)

    # ---- simulation thread --------------------------------------------------------------------------
    def apply_commands(self) -> None:
        """Hand the newest valid commands received since the last step to the physics (call before stepping).
        LowCmd frames with a bad CRC (or that do not parse) are dropped and counted, as the robot does."""
        body = None
        for data in take_serialized(self._lowcmd, LOWCMD_DEPTH):
            try:
                f = lowcmd_from_cdr(data)
            except ValueError:
                f = None
            if f is None or not crc_ok(f):
                self.bad_crc += 1
                continue
            body = f
            self.commands += 1
        if body is not None:
            m = body["motor"][:BODY_MOTORS]
            self.physics.set_command(slice(0, BODY_MOTORS), MotorCommand(
                m["q"].astype(float), m["dq"].astype(float), m["tau"].astype(float), m["kp"].astype(float),
                m["kd"].astype(float), (m["mode"] & 0x01) == MOTOR_ENABLE))
        for side, reader in self._hand_cmd.items():
            for msg in reader.take(1):
                if len(getattr(msg, "motor_cmd", ())) < HAND_MOTORS:  # not a Dex3 command (or no data)
                    continue
                a = {k: v[:HAND_MOTORS] for k, v in hand_cmd_arrays(msg).items()}
                self.physics.set_command(HAND_SLICES[side], MotorCommand(
                    a["q"], a["dq"], a["tau"], a["kp"], a["kd"], (a["mode"].astype(int) >> 4) & 0x07 == 0x01))
                self.hand_commands += 1

    def publish_state(self) -> None:
        q, dq, tau = self.physics.motor_state()
        quat, gyro, acc, rpy = self.physics.imu()
        f = pack_lowstate(q[:BODY_MOTORS], dq[:BODY_MOTORS], tau[:BODY_MOTORS], quat, gyro, acc, rpy,
                          mode_machine=self.mode_machine, tick=self.tick)
        write_serialized(self.lowstate, lowstate_cdr(f))  # ~5 µs; the SDK's Python serialiser takes ~0.9 ms
        if self.tick % self.hand_every == 0:
            for side, sl in HAND_SLICES.items():
                self.hand_writers[side].write(hand_state(q[sl], dq[sl], tau[sl]))
            self.motion_switcher.poll()  # 100 Hz: an RPC answer within 10 ms
        self.tick += 1

    def reset_commands(self) -> None:
        """Drop every command received so far (a reset must not replay them)."""
        take_serialized(self._lowcmd, LOWCMD_DEPTH)
        for reader in self._hand_cmd.values():
            take_serialized(reader, 8)

    def close(self) -> None:
        self.ep.close()
