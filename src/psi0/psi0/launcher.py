"""`psi0 up`: start the nodes of a profile as processes, for installs without the ROS 2 CLI.

Behaviour:
- each node runs as its own process (`<prefix>/lib/<package>/<executable> --ros-args ...`), its
  stdout/stderr go to `<log_dir>/<node>.log`; the paths are printed at start;
- Ctrl-C / SIGTERM to the launcher is forwarded (SIGINT) to every node; a node still alive after
  `grace_s` gets SIGTERM, then SIGKILL;
- when a required node exits (for any reason) the launcher stops the others the same way and
  exits non-zero (the dead node's exit code, or 1); when every node exits 0 it exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from psi0.process import die_with_parent
from psi0.profiles import NodeSpec, Profile, ros_args
from psi0_core.params import ConfigError


def find_executable(package: str, executable: str) -> Path:
    """Locate `lib/<package>/<executable>` on AMENT_PREFIX_PATH, as `ros2 run` does."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in prefixes:
        candidate = Path(prefix) / "lib" / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError(f"executable {package}/{executable} not found on AMENT_PREFIX_PATH (source tools/env.sh?)")


def command_for(spec: NodeSpec) -> list[str]:
    return [str(find_executable(spec.package, spec.executable)), *ros_args(spec)]


@dataclass
class Running:
    spec: NodeSpec
    proc: subprocess.Popen[bytes]
    log: Path


class Launcher:
    def __init__(self, profile: Profile, log_dir: Path, grace_s: float = 5.0, out=sys.stdout) -> None:
        self.profile = profile
        self.log_dir = log_dir
        self.grace_s = grace_s
        self.out = out
        self.running: list[Running] = []
        self._stop_requested = False

    def say(self, text: str) -> None:
        print(f"[psi0 up] {text}", file=self.out, flush=True)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        commands = [(spec, command_for(spec)) for spec in self.profile.nodes]  # resolve all before starting any
        for spec, cmd in commands:
            log = self.log_dir / f"{spec.name}.log"
            fh = open(log, "wb")  # noqa: SIM115 - owned by the child for its lifetime
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **spec.env},
                                    preexec_fn=die_with_parent(signal.SIGINT))  # a killed launcher stops its nodes
            fh.close()
            self.running.append(Running(spec, proc, log))
            self.say(f"started {spec.name} (pid {proc.pid}), log: {log}")

    def request_stop(self, *_: object) -> None:
        self._stop_requested = True

    def stop_all(self) -> None:
        alive = [r for r in self.running if r.proc.poll() is None]
        for r in alive:
            r.proc.send_signal(signal.SIGINT)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            deadline = time.monotonic() + self.grace_s
            while time.monotonic() < deadline and any(r.proc.poll() is None for r in alive):
                time.sleep(0.05)
            for r in alive:
                if r.proc.poll() is None:
                    self.say(f"{r.spec.name} did not stop, sending {sig.name}")
                    r.proc.send_signal(sig)
        for r in alive:
            r.proc.wait()

    def supervise(self, poll_s: float = 0.05) -> int:
        """Block until a stop request, a required node's exit, or every node's exit; return the exit code."""
        while True:
            if self._stop_requested:
                self.say("stop requested, stopping all nodes")
                self.stop_all()
                return self._shutdown_code()
            exited = [r for r in self.running if r.proc.poll() is not None]
            for r in exited:
                if r.spec.required:
                    code = r.proc.returncode
                    self.say(f"required node {r.spec.name} exited with code {code}; stopping the others (log: {r.log})")
                    self.stop_all()
                    return code if code not in (0, None) and code > 0 else 1
            if len(exited) == len(self.running):
                return 0 if all(r.proc.returncode == 0 for r in exited) else 1
            time.sleep(poll_s)

    def _shutdown_code(self) -> int:
        """After a requested stop: 0 when every node ended cleanly (0, or killed by the SIGINT we sent); 1 when one
        failed on its way out — a bridge that crashed while damping is not a clean stop, and is said."""
        failed = [r for r in self.running if r.proc.returncode not in (0, -signal.SIGINT)]
        for r in failed:
            self.say(f"{r.spec.name} exited with code {r.proc.returncode} while stopping (log: {r.log})")
        return 1 if failed else 0

    def run(self) -> int:
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            return self.supervise()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            if any(r.proc.poll() is None for r in self.running):
                self.stop_all()
