"""A plain unitree_sdk2py low-level client, written the way Unitree's G1 examples are: SDK channel
factory, LowState subscriber, LowCmd publisher at 500 Hz with the SDK's own CRC, mode_machine copied
from LowState. Knows nothing about psi0. Moves the left shoulder pitch to TARGET, holds the rest.

    python unitree_style_client.py <domain> <seconds>
"""

import sys
import time

from unitree_sdk2py.core.channel import ChannelFactoryInitialize, ChannelPublisher, ChannelSubscriber
from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowCmd_
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_
from unitree_sdk2py.utils.crc import CRC

TARGET = -0.8  # rad, left shoulder pitch (motor 15): arm forward
KP = [165, 165, 165, 330, 160, 40] * 2 + [440] * 3 + [50, 50, 50, 50, 30, 30, 30] * 2
KD = [2, 2, 2, 4, 2, 1] * 2 + [15] * 3 + [7.5, 7.5, 7.5, 7.5, 6, 6, 6] * 2

state = {"msg": None}


def main() -> int:
    domain, seconds = int(sys.argv[1]), float(sys.argv[2])
    ChannelFactoryInitialize(domain, "lo")
    sub = ChannelSubscriber("rt/lowstate", LowState_)
    sub.Init(lambda m: state.__setitem__("msg", m), 10)
    pub = ChannelPublisher("rt/lowcmd", LowCmd_)
    pub.Init()
    crc = CRC()
    while state["msg"] is None:
        time.sleep(0.01)
    start_q = [state["msg"].motor_state[i].q for i in range(29)]
    t0 = time.time()
    written = 0
    while time.time() - t0 < seconds:
        ls = state["msg"]
        cmd = unitree_hg_msg_dds__LowCmd_()
        cmd.mode_pr = 0
        cmd.mode_machine = ls.mode_machine
        a = min((time.time() - t0) / 2.0, 1.0)
        for i in range(29):
            goal = TARGET if i == 15 else start_q[i]
            cmd.motor_cmd[i].mode = 1
            cmd.motor_cmd[i].q = (1 - a) * start_q[i] + a * goal
            cmd.motor_cmd[i].dq = 0.0
            cmd.motor_cmd[i].kp = KP[i]
            cmd.motor_cmd[i].kd = KD[i]
            cmd.motor_cmd[i].tau = 0.0
        cmd.crc = crc.Crc(cmd)
        pub.Write(cmd)
        written += 1
        time.sleep(0.002)
    print(f"left shoulder pitch {state['msg'].motor_state[15].q:.3f}", flush=True)
    print(f"wrote {written} commands", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
