"""What the robot model, the transforms and the live view cost on this machine, and what a viewer receives.

Runs `psi0 up sim` (simulator 640×480 head camera at 30 Hz, bridge, robot_state, e-stop heartbeat) and `psi0 view`
as processes, then measures each process's CPU (share of one core, from /proc over --seconds) twice: with no viewer
connected, and with one Foxglove WebSocket client subscribed to every channel (messages and kB per second per
channel). Prints JSON (benchmarks/results/live_view.json).

    python benchmarks/live_view.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from results_io import write_result  # noqa: E402

NAMES = ("sim_node", "bridge_node", "robot_state", "view")


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _processes(roots: list[int]) -> dict[str, int]:
    """The stack's node processes (children of `roots`) by executable name."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if ppid in roots or int(d.name) in roots:
            for name in NAMES:
                if re.search(rf"/{name}( |$)", cmd):
                    out[name] = int(d.name)
    return out


def _cpu(pids: dict[str, int], seconds: float, during=None) -> dict[str, float]:
    hz = os.sysconf("SC_CLK_TCK")
    before = {n: _ticks(p) for n, p in pids.items()}
    t0 = time.monotonic()
    if during:
        during(seconds)
    else:
        time.sleep(seconds)
    wall = time.monotonic() - t0
    return {n: round(100 * (_ticks(p) - before[n]) / hz / wall, 1) for n, p in pids.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "live_view"))
    args = ap.parse_args()
    env = {**os.environ, "ROS_DOMAIN_ID": "93", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    logs = Path("/tmp/psi0_live_view_bench")
    up = subprocess.Popen(["psi0", "up", "sim", "--log-dir", str(logs)], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    view = subprocess.Popen(["psi0", "view", "--port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
    try:
        port = None
        deadline = time.monotonic() + 60
        for line in view.stdout:  # the node's log line gives the port it got
            if m := re.search(r"ws://127\.0\.0\.1:(\d+) ", line):
                port = int(m.group(1))
                break
            if time.monotonic() > deadline:
                break
        assert port, "the view did not start"
        time.sleep(20)  # simulator model load, gantry release, bridge ramp
        pids = _processes([up.pid, view.pid])
        idle = _cpu(pids, args.seconds)

        from websockets.sync.client import connect

        counts: dict[str, list[int]] = {}
        with connect(f"ws://127.0.0.1:{port}", subprotocols=["foxglove.sdk.v1"], max_size=None) as ws:
            channels: dict[int, str] = {}

            def read(seconds: float) -> None:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    try:
                        frame = ws.recv(timeout=0.1)
                    except TimeoutError:
                        continue
                    if isinstance(frame, str):
                        msg = json.loads(frame)
                        if msg["op"] == "advertise":
                            subs = [{"id": ch["id"], "channelId": ch["id"]} for ch in msg["channels"]]
                            channels.update({ch["id"]: ch["topic"] for ch in msg["channels"]})
                            ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))
                    elif frame[0] == 0x01:
                        c = counts.setdefault(channels[int.from_bytes(frame[1:5], "little")], [0, 0])
                        c[0] += 1
                        c[1] += len(frame)

            read(3.0)  # subscribe and let the view open its ROS subscriptions
            counts.clear()
            watched = _cpu(pids, args.seconds, read)
        per_s = {t: {"msgs_per_s": round(n / args.seconds, 1), "kB_per_s": round(b / 1e3 / args.seconds, 1)}
                 for t, (n, b) in sorted(counts.items())}
    finally:
        for p in (view, up):
            os.killpg(p.pid, signal.SIGINT)
        for p in (view, up):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    write_result(args.out, {"benchmark": "live_view", "cpus": os.cpu_count(), "seconds": args.seconds,
                            "stack": "psi0 up sim (640x480 head camera @ 30 Hz) + psi0 view",
                            "cpu_percent_of_one_core": {"no_viewer": idle, "one_viewer_all_channels": watched},
                            "viewer_receives": per_s})
    return 0


if __name__ == "__main__":
    sys.exit(main())
