"""Shared fixtures: isolated ROS 2 domains, in-process rclpy contexts, hard-timeout subprocesses.

Every test gets its own ROS_DOMAIN_ID (localhost-only discovery), so tests never see each other's
traffic or a real robot's. pytest-timeout (pyproject.toml) gives every test a hard timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from psi0.process import die_with_parent

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
# in-process rendering (tests/sim/test_instruction_reading.py) needs EGL chosen before a test module imports mujoco
os.environ.setdefault("MUJOCO_GL", "egl")
# One OpenMP thread for torch in the tests and every process they start (the policy node already runs with
# cpu_threads 1): two threads wait for each other at every barrier when one core is busy. 100 training steps of the
# tiny model: 2 threads 10.9 s idle but 41 s beside a one-core CPU hog (a module fixture then passed the 120 s
# timeout, which ends the whole run); 1 thread 14.3 s idle, 14.7 s beside the hog.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

# ROS domains 30..99 for tests (0 = real robot, 1 = simulator robot DDS by convention).
_domains = itertools.cycle(range(30 + os.getpid() % 7 * 10, 100))
# Robot-side (Cyclone DDS) domains for tests: 2..29, disjoint from the ROS ones. A domain's UDP ports are
# 7400 + 250·d + a few: from d = 102 on they lie in Linux's ephemeral port range (32768+), where any socket may
# already hold one, and the participant then fails to start ("failed to bind … address in use", seen in CI).
_ROBOT_DOMAINS = list(range(2, 30))
_robot_domains = itertools.cycle(_ROBOT_DOMAINS[os.getpid() % 28:] + _ROBOT_DOMAINS[:os.getpid() % 28])


def next_robot_domain() -> int:
    """A robot DDS domain for one test's simulator / bridge / fake robot (cycles through 28)."""
    return next(_robot_domains)


# What the sim profile sets for one machine that runs the simulator beside the stack: the simulator's /clock rate (every
# node on use_sim_time runs a Python callback per message) and a bridge loop that sleeps instead of spinning. The
# bridge's control loop and ROS executor run SCHED_FIFO where allowed (CI runs as root): at the defaults (/clock at
# 500 Hz, a 500 µs spin) they took ~0.9 of this 2-core machine's cores, starved the test's e-stop heartbeat thread for
# over 0.5 s beside the policy node, and the bridge e-stopped (S9), as it should.
_SHARED_MACHINE_KEYS = {"sim": ("clock_rate_hz",), "bridge": ("loop_spin_us",)}


def shared_machine_params(node: str) -> list[str]:
    """`-p key:=value` arguments with the sim profile's shared-machine settings for `node` ("sim" or "bridge")."""
    from psi0.profiles import load_profile

    spec = next(n for n in load_profile("sim").nodes if n.name == node)
    return [a for k in _SHARED_MACHINE_KEYS[node] for a in ("-p", f"{k}:={spec.overrides[k]}")]


def reference_dir(*parts: str) -> Path:
    """A folder of ../shared/reference; skips the test with a reason when it is absent."""
    path = SHARED.joinpath("reference", *parts)
    if not path.exists():
        pytest.skip(f"reference data {path} not present (it lives in ../shared beside the checkout)")
    return path


@pytest.fixture
def ros_domain(monkeypatch: pytest.MonkeyPatch) -> int:
    domain = next(_domains)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    return domain


@pytest.fixture
def rclpy_context(ros_domain: int) -> Iterator[object]:
    """A fresh, initialised rclpy Context on the test's own domain."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx, domain_id=ros_domain)
    try:
        yield ctx
    finally:
        rclpy.try_shutdown(context=ctx)


def spin_until(executor: object, predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.02) -> bool:
    """Spin `executor` until `predicate()` is true or `timeout_s` passes; return the predicate."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=step_s)  # type: ignore[attr-defined]
    return predicate()


class Proc:
    """A subprocess in its own process group, killed (whole group) when the test ends."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._fh = open(log, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            args, stdout=self._fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGKILL),  # nothing outlives a pytest that died (e.g. on a timeout)
        )

    def output(self) -> str:
        self._fh.flush()
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._fh.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start subprocesses that are always cleaned up; `spawn([...], name='x')`."""
    procs: list[Proc] = []

    def _spawn(args: list[str], name: str = "proc", env: dict[str, str] | None = None) -> Proc:
        p = Proc(args, tmp_path / f"{name}.log", env)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        p.kill()


PYTHON = sys.executable
