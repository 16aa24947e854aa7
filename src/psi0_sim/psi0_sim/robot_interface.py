"""The simulated G1's DDS interface, as the real robot offers it (no rclpy).

Publishes `rt/lowstate` (unitree_hg LowState_: motor q/dq/τ, pelvis IMU, mode_machine of a 29-DoF
G1, tick, CRC) every physics step (500 Hz) and `rt/dex3/{left,right}/state` at 100 Hz; consumes
`rt/lowcmd` (frames with a bad CRC are dropped and counted, as the robot does) and
`rt/dex3/{left,right}/cmd`. Any unitree_sdk2py program written for the real G1 talks to it.
"""

from __future__ import annotations

import threading

import numpy as np
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, HandState_, LowCmd_, LowState_

from psi0_bridge.lowlevel import MOTOR_ENABLE, crc_ok, hand_state, lowcmd_frame, lowstate_message, pack_lowstate
from psi0_bridge.robot_dds import Endpoint
from psi0_sim.physics import NUM_BODY, NUM_HAND, G1Physics, MotorCommand

G1_29DOF_MODE_MACHINE = 5
HAND_SLICES = {"left": slice(29, 36), "right": slice(36, 43)}


class SimRobotInterface:
    def __init__(self, physics: G1Physics, domain: int = 1, interface: str = "lo",
                 mode_machine: int = G1_29DOF_MODE_MACHINE, hand_every: int = 5) -> None:
        self.physics = physics
        self.mode_machine = mode_machine
        self.hand_every = hand_every
        self.ep = Endpoint(domain, interface)
        self.lowstate = self.ep.writer("rt/lowstate", LowState_)
        self.hand_writers = {s: self.ep.writer(f"rt/dex3/{s}/state", HandState_) for s in HAND_SLICES}
        self.lock = threading.Lock()
        self._pending: dict[str, MotorCommand] = {}
        self.commands = 0
        self.bad_crc = 0
        self.hand_commands = 0
        self.tick = 0
        self.ep.reader("rt/lowcmd", LowCmd_, self._on_lowcmd)
        for side in HAND_SLICES:
            self.ep.reader(f"rt/dex3/{side}/cmd", HandCmd_, lambda m, s=side: self._on_hand(s, m))

    # ---- DDS listener threads ------------------------------------------------------------------
    def _on_lowcmd(self, msg: LowCmd_) -> None:
        f = lowcmd_frame(msg)
        if not crc_ok(f):
            with self.lock:
                self.bad_crc += 1
            return
        m = f["motor"][:NUM_BODY]
        cmd = MotorCommand(m["q"].astype(float), m["dq"].astype(float), m["tau"].astype(float),
                           m["kp"].astype(float), m["kd"].astype(float), (m["mode"] & 0x01) == MOTOR_ENABLE)
        with self.lock:
            self._pending["body"] = cmd
            self.commands += 1

    def _on_hand(self, side: str, msg: HandCmd_) -> None:
        mc = msg.motor_cmd[:NUM_HAND]
        if len(mc) != NUM_HAND:
            return
        cmd = MotorCommand(np.array([c.q for c in mc]), np.array([c.dq for c in mc]), np.array([c.tau for c in mc]),
                           np.array([c.kp for c in mc]), np.array([c.kd for c in mc]),
                           np.array([(c.mode >> 4) & 0x07 == 0x01 for c in mc]))
        with self.lock:
            self._pending[side] = cmd
            self.hand_commands += 1

    # ---- simulation thread --------------------------------------------------------------------------
    def apply_commands(self) -> None:
        """Hand the latest received commands to the physics (call before stepping)."""
        with self.lock:
            pending, self._pending = self._pending, {}
        for key, cmd in pending.items():
            self.physics.set_command(slice(0, NUM_BODY) if key == "body" else HAND_SLICES[key], cmd)

    def publish_state(self) -> None:
        q, dq, tau = self.physics.motor_state()
        quat, gyro, acc, rpy = self.physics.imu()
        f = pack_lowstate(q[:NUM_BODY], dq[:NUM_BODY], tau[:NUM_BODY], quat, gyro, acc, rpy,
                          mode_machine=self.mode_machine, tick=self.tick)
        self.lowstate.write(lowstate_message(f))
        if self.tick % self.hand_every == 0:
            for side, sl in HAND_SLICES.items():
                self.hand_writers[side].write(hand_state(q[sl], dq[sl], tau[sl]))
        self.tick += 1

    def reset_commands(self) -> None:
        with self.lock:
            self._pending.clear()

    def close(self) -> None:
        self.ep.close()
