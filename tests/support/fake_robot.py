"""A test-side G1 on real DDS: publishes LowState (+ Dex3 HandState) at 500 Hz with unitree_hg
types, records every LowCmd / HandCmd it receives with its arrival time (monotonic clock).

It "tracks" commanded positions perfectly (q := commanded q when kp > 0), which is what the
bridge tests need: the bridge's behaviour, not physics (psi0_sim adds physics). It answers the motion
switcher RPC as a released G1 does (`motion_mode`: what it reports)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, HandState_, LowCmd_, LowState_

from psi0_core.lowlevel import crc_ok, hand_state, lowcmd_from_cdr, lowstate_cdr, pack_lowstate
from psi0_core.motion_switcher import MotionSwitcherService
from psi0_core.robot import load_g1
from psi0_core.robot_dds import Endpoint, write_serialized


@dataclass
class Received:
    t: float
    q: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    mode: np.ndarray
    mode_machine: int
    mode_pr: int
    crc_ok: bool

    @property
    def damping(self) -> bool:
        return bool(np.all(self.kp[:29] == 0) and np.all(self.kd[:29] > 0))


@dataclass(repr=False)  # the generated repr would print every received frame (slow in failure reports)
class FakeRobot:
    domain: int
    mode_machine: int = 5
    rate_hz: float = 500.0
    corrupt_crc: bool = False
    q: np.ndarray = field(default_factory=lambda: load_g1().body.default.copy())
    frames: list[Received] | deque[Received] = field(default_factory=list)  # a deque(maxlen=N) for long runs
    hand_frames: list[tuple[float, str, np.ndarray]] = field(default_factory=list)
    publishing: bool = True
    last_state_sent: float = 0.0
    send_gaps: list[tuple[float, float]] = field(default_factory=list)  # (time, gap) of LowState gaps > 50 ms
    received: int = 0
    motion_mode: str = ""

    def __repr__(self) -> str:
        return f"FakeRobot(domain={self.domain}, {len(self.frames)} frames received, publishing={self.publishing})"

    def __post_init__(self) -> None:
        self.ep = Endpoint(self.domain, "lo")
        self.pub = self.ep.writer("rt/lowstate", LowState_)
        self.hand_pubs = {s: self.ep.writer(f"rt/dex3/{s}/state", HandState_) for s in ("left", "right")}
        self.motion_switcher = MotionSwitcherService(self.ep, self.motion_mode)
        self.ep.reader("rt/lowcmd", LowCmd_, self._on_cmd, serialized=True)
        for s in ("left", "right"):
            self.ep.reader(f"rt/dex3/{s}/cmd", HandCmd_, lambda m, s=s: self._on_hand(s, m))
        self.lock = threading.Lock()
        self._rt: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _realtime(self) -> None:
        """The robot side stamps arrivals: give its threads a higher priority than the bridge's so
        that the timestamps measure the bridge, not this harness's scheduling (best effort)."""
        if threading.get_ident() in getattr(self, "_rt", {threading.get_ident()}):
            return
        self._rt.add(threading.get_ident())
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(90))
        except OSError:
            pass

    def _on_cmd(self, data: bytes) -> None:
        self._realtime()
        t = time.monotonic()
        f = lowcmd_from_cdr(data)
        m = f["motor"]
        r = Received(t, m["q"].astype(float), m["kp"].astype(float), m["kd"].astype(float), m["mode"].copy(),
                     int(f["mode_machine"]), int(f["mode_pr"]), crc_ok(f))
        with self.lock:
            self.frames.append(r)
            self.received += 1
            if r.crc_ok and np.all(r.kp[:29] > 0):
                self.q = r.q[:29].copy()

    def _on_hand(self, side: str, msg: HandCmd_) -> None:
        with self.lock:
            self.hand_frames.append((time.monotonic(), side, np.array([c.q for c in msg.motor_cmd])))

    def _run(self) -> None:
        # a robot never pauses: the publishing thread runs above the bridge's real-time threads (best effort) and
        # the interpreter hands the GIL over often, so a busy test thread cannot fake a LowState dropout (S2)
        self._realtime()
        sys.setswitchinterval(0.0005)
        period = 1.0 / self.rate_hz
        tick = 0
        nxt = time.monotonic()
        while not self._stop.is_set():
            nxt += period
            if self.publishing:
                with self.lock:
                    q = self.q.copy()
                f = pack_lowstate(q, np.zeros(29), np.zeros(29), np.array([1.0, 0, 0, 0]), np.zeros(3),
                                  np.array([0, 0, 9.81]), np.zeros(3), self.mode_machine, tick)
                if self.corrupt_crc:
                    f["crc"] ^= 0xDEADBEEF
                write_serialized(self.pub, lowstate_cdr(f))
                if tick % 5 == 0:
                    for _s, p in self.hand_pubs.items():
                        p.write(hand_state(np.zeros(7), np.zeros(7), np.zeros(7)))
                    self.motion_switcher.poll()
                now = time.monotonic()
                if self.last_state_sent and now - self.last_state_sent > 0.05:
                    self.send_gaps.append((now, now - self.last_state_sent))
                self.last_state_sent = now
                tick += 1
            time.sleep(max(0.0, nxt - time.monotonic()))

    def largest_gap_since(self, t: float) -> float:
        """The longest this fake robot itself went without sending LowState since t (its own stalls, not the bridge's)."""
        return max((g for when, g in self.send_gaps if when >= t), default=0.0)

    def frames_since(self, t: float) -> list[Received]:
        with self.lock:
            return [f for f in self.frames if f.t >= t]

    def wait_for(self, pred, timeout: float, since: float = 0.0) -> Received | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for f in self.frames_since(since):
                if pred(f):
                    return f
            time.sleep(0.005)
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.ep.close()


def main() -> None:
    """`python -m tests.support.fake_robot --domain N --duration S`: a stand-alone fake G1."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--domain", type=int, required=True)
    ap.add_argument("--duration", type=float, default=60.0)
    a = ap.parse_args()
    # bounded history: 150 000 frames kept over a 5-minute benchmark made this process's own garbage collection
    # pause its LowState publisher for > 100 ms (and the bridge stop, rightly, on S2)
    robot = FakeRobot(a.domain, frames=deque(maxlen=5000))
    try:
        time.sleep(a.duration)
    finally:
        gap = max((g for _, g in robot.send_gaps), default=0.0)
        print(f"fake robot: {robot.received} LowCmd frames received, longest own LowState gap {gap * 1e3:.0f} ms",
              flush=True)
        robot.close()


if __name__ == "__main__":
    main()
