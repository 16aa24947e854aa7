"""`psi0 motion-mode`: which built-in controller owns the G1's motors, and releasing it (the operator's step
before the bridge starts; the bridge refuses to start while a mode is active, S1).

Uses unitree_sdk2py's own MotionSwitcherClient, as Unitree's low-level examples do: CheckMode, then
ReleaseMode and CheckMode again until the reported name is empty. The SDK's ChannelFactory is a
process-wide singleton on one domain, which is why this runs as its own short process and the bridge
asks through psi0_core.motion_switcher instead.

Exit codes: 0 released (or nothing was active), 1 a mode is still active, 3 no motion switcher answered.
"""

from __future__ import annotations

import time

RELEASED, ACTIVE, NO_ANSWER = 0, 1, 3


def run(network_interface: str, robot_domain: int, release: bool, timeout_s: float = 2.0, attempts: int = 5) -> int:
    from unitree_sdk2py.comm.motion_switcher.motion_switcher_client import MotionSwitcherClient
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    ChannelFactoryInitialize(robot_domain, network_interface)
    client = MotionSwitcherClient()
    client.SetTimeout(timeout_s)
    client.Init()

    def active() -> str | None:
        code, data = client.CheckMode()  # data: the reply's JSON, parsed by the SDK
        return None if code != 0 or data is None else str(data.get("name", ""))

    mode = active()
    if mode is None:
        print(f"[psi0 motion-mode] no motion switcher answered on domain {robot_domain} ({network_interface})")
        return NO_ANSWER
    print(f"[psi0 motion-mode] active mode: {mode!r}" if mode else "[psi0 motion-mode] no built-in mode active")
    for _ in range(attempts if release else 0):
        if not mode:
            break
        client.ReleaseMode()
        time.sleep(0.5)  # the built-in controller hands over (Unitree's example waits 1 s between checks)
        now = active()
        if now is None:
            print("[psi0 motion-mode] no answer after ReleaseMode")
            return NO_ANSWER
        mode = now
        print(f"[psi0 motion-mode] still active: {mode!r}" if mode else "[psi0 motion-mode] released")
    return ACTIVE if mode else RELEASED
