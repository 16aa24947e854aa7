"""`psi0 up`: real node processes, supervised; a dead required node stops the rest."""

import os
import re
import signal
import time
from pathlib import Path

import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from tests.conftest import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(90)]
PROFILE = Path(__file__).resolve().parents[1] / "fixtures" / "pair_profile.yaml"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _start(spawn, tmp_path, *extra):
    launcher = spawn(["psi0", "up", str(PROFILE), *extra, "--log-dir", str(tmp_path / "logs"), "--grace", "3"],
                     name="launcher")
    deadline = time.monotonic() + 20
    pids: dict[str, int] = {}
    while time.monotonic() < deadline and len(pids) < 2:
        pids = {m[0]: int(m[1]) for m in re.findall(r"started (\w+) \(pid (\d+)\)", launcher.output())}
        time.sleep(0.05)
    assert len(pids) == 2, launcher.output()
    return launcher, pids


def _report(launcher, tmp_path) -> str:
    """The launcher's output and every node's log: a failed stop says why."""
    logs = sorted((tmp_path / "logs").glob("*.log"))
    return "\n".join([launcher.output(), *(f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}" for p in logs)])


def _wait_for_nodes(ctx, names):
    node = Node("observer", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ok = spin_until(ex, lambda: set(names) <= set(node.get_node_names()), timeout_s=20)
    ex.shutdown()
    node.destroy_node()
    return ok


def test_killing_a_required_node_stops_the_other_and_exits_nonzero(rclpy_context, spawn, tmp_path):
    launcher, pids = _start(spawn, tmp_path)
    assert _wait_for_nodes(rclpy_context, ["beat_a", "beat_b"]), launcher.output()
    os.kill(pids["beat_a"], signal.SIGKILL)
    code = launcher.wait(timeout=20)
    assert code != 0
    assert "required node beat_a exited" in launcher.output()
    assert not _alive(pids["beat_b"])
    assert (tmp_path / "logs" / "beat_b.log").exists()


def test_sigint_stops_every_node_and_exits_zero(rclpy_context, spawn, tmp_path):
    launcher, pids = _start(spawn, tmp_path)
    assert _wait_for_nodes(rclpy_context, ["beat_a", "beat_b"]), launcher.output()
    launcher.popen.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=20) == 0, _report(launcher, tmp_path)
    assert not any(_alive(p) for p in pids.values())


def test_killed_launcher_takes_its_nodes_with_it(rclpy_context, spawn, tmp_path):
    # SIGKILL leaves the launcher no chance to stop anything: the kernel's parent-death signal (SIGINT) stops the nodes
    launcher, pids = _start(spawn, tmp_path)
    assert _wait_for_nodes(rclpy_context, ["beat_a", "beat_b"]), launcher.output()
    launcher.popen.send_signal(signal.SIGKILL)
    launcher.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids.values()), {n: _alive(p) for n, p in pids.items()}


def test_node_with_invalid_parameter_fails_and_launcher_reports_it(spawn, tmp_path, ros_domain):
    launcher = spawn(["psi0", "up", str(PROFILE), "rate:=5000.0", "--log-dir", str(tmp_path / "logs"), "--grace", "3"],
                     name="launcher")
    assert launcher.wait(timeout=30) != 0
    assert "outside the allowed range" in (tmp_path / "logs" / "beat_a.log").read_text() or \
        "outside the allowed range" in (tmp_path / "logs" / "beat_b.log").read_text()


def test_unknown_profile_argument_is_an_error(spawn, tmp_path):
    p = spawn(["psi0", "up", str(PROFILE), "rat:=5"], name="launcher")
    assert p.wait(timeout=20) == 2
    assert "unknown argument" in p.output()


def test_a_node_that_fails_while_stopping_makes_the_launcher_exit_nonzero(tmp_path, monkeypatch):
    """Ctrl-C: a node that crashes on its way out (exit code 3) is not a clean stop; the launcher says so, exits 1."""
    import io
    import stat
    import sys

    from psi0.launcher import Launcher
    from psi0.profiles import NodeSpec, Profile

    exe = tmp_path / "prefix" / "lib" / "fakepkg"
    exe.mkdir(parents=True)
    for name, code in (("fails_on_stop", 3), ("stops_cleanly", 0)):
        script = exe / name
        script.write_text(f"#!{sys.executable}\nimport signal, sys, time\n"
                          f"signal.signal(signal.SIGINT, lambda *a: sys.exit({code}))\n"
                          "while True:\n    time.sleep(0.05)\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path / 'prefix'}{os.pathsep}{os.environ.get('AMENT_PREFIX_PATH', '')}")
    for bad, expected in ((True, 1), (False, 0)):
        nodes = (NodeSpec("a", "fakepkg", "fails_on_stop" if bad else "stops_cleanly"), NodeSpec("b", "fakepkg",
                                                                                               "stops_cleanly"))
        out = io.StringIO()
        launcher = Launcher(Profile("t", "", {}, nodes), tmp_path / f"logs{bad}", grace_s=3.0, out=out)
        launcher.start()
        time.sleep(0.5)
        launcher.request_stop()
        assert launcher.supervise() == expected, out.getvalue()
        assert ("a exited with code 3 while stopping" in out.getvalue()) == bad
