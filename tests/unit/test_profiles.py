"""Profiles, and the agreement between `psi0 up` and the ROS 2 launch files.

The `launch` / `launch_ros` packages do not exist for this Python, so the launch files cannot run
here. What *can* be checked: each launch file, executed against small recording stand-ins for the
four launch classes it uses, produces exactly the node set (package, executable, name, namespace,
parameter files, overrides, env) that `psi0 up` starts for the same profile and arguments.
"""

import importlib
import runpy
import sys
import types
from pathlib import Path

import pytest

from psi0.profiles import load_profile, ros_args
from psi0_core.params import ConfigError

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_sim_profile_resolves_arguments():
    p = load_profile("sim", {"network_interface": "enp3s0", "robot_domain": "0"})
    bridge = next(n for n in p.nodes if n.name == "bridge")
    assert bridge.overrides == {"wbc": "holosoma_ppo", "network_interface": "enp3s0", "robot_domain": 0, "auto_enable": True,
                                "use_sim_time": False, "loop_spin_us": 0.0}
    assert all(Path(f).exists() for f in bridge.params)


def test_use_sim_time_is_a_profile_argument():
    demo = load_profile("demo", {"use_sim_time": "false"})
    assert all(n.overrides["use_sim_time"] is False for n in demo.nodes if n.name in ("bridge", "policy"))
    assert load_profile("sim", {"use_sim_time": "true"}).nodes[1].overrides["use_sim_time"] is True


def test_unknown_argument_fails_loudly():
    with pytest.raises(ConfigError, match="unknown argument"):
        load_profile("sim", {"netwrk_interface": "eth0"})


def test_unknown_profile_lists_known_ones():
    with pytest.raises(ConfigError, match=r"known profiles: .*sim"):
        load_profile("nope")


def test_ros_args_renaming_and_params():
    p = load_profile("sim", {"namespace": "robot1"})
    args = ros_args(next(n for n in p.nodes if n.name == "bridge"))
    assert args[:3] == ["--ros-args", "-r", "__node:=bridge"]
    assert "__ns:=/robot1" in args
    assert "robot_domain:=1" in args


class _Recorder:
    """Stand-ins for launch / launch_ros classes: they record their constructor arguments."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        rec = self

        class Node:
            def __init__(self, **kw):
                rec.nodes.append(kw)

        class DeclareLaunchArgument:
            def __init__(self, name, default_value="", description=""):
                self.name, self.default_value, self.description = name, default_value, description

        class OpaqueFunction:
            def __init__(self, function):
                self.function = function

        class Shutdown:
            def __init__(self, reason=""):
                self.reason = reason

        class LaunchConfiguration:
            def __init__(self, name):
                self.name = name

            def perform(self, context):
                return context[self.name]

        class LaunchDescription:
            def __init__(self, entities):
                self.entities = entities

        self.modules = {
            "launch": types.SimpleNamespace(LaunchDescription=LaunchDescription),
            "launch.actions": types.SimpleNamespace(
                DeclareLaunchArgument=DeclareLaunchArgument, OpaqueFunction=OpaqueFunction, Shutdown=Shutdown
            ),
            "launch.substitutions": types.SimpleNamespace(LaunchConfiguration=LaunchConfiguration),
            "launch_ros": types.SimpleNamespace(),
            "launch_ros.actions": types.SimpleNamespace(Node=Node),
        }


def _run_launch_file(monkeypatch, launch_file: str, given: dict[str, str]) -> tuple[_Recorder, dict[str, str]]:
    """Execute a launch file against the stand-ins, as `ros2 launch psi0 <file> k:=v ...` would; return the recorder
    (the nodes it describes) and the declared arguments with their defaults."""
    rec = _Recorder()
    for name, module in rec.modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "psi0.launch_support", raising=False)
    importlib.invalidate_caches()
    ld = runpy.run_path(str(REPO / "launch" / launch_file))["generate_launch_description"]()
    declared = {e.name: e.default_value for e in ld.entities if hasattr(e, "default_value")}
    unknown = set(given) - set(declared)
    assert not unknown, f"ros2 launch would refuse {unknown}"
    opaque = [e for e in ld.entities if hasattr(e, "function")]
    assert len(opaque) == 1
    opaque[0].function({**declared, **given})
    return rec, declared


def _assert_nodes(rec: _Recorder, expected) -> None:
    assert len(rec.nodes) == len(expected.nodes)
    for got, spec in zip(rec.nodes, expected.nodes, strict=True):
        assert (got["package"], got["executable"], got["name"], got["namespace"]) == (
            spec.package, spec.executable, spec.name, spec.namespace)
        params = list(spec.params) + ([spec.overrides] if spec.overrides else [])
        assert got["parameters"] == params
        assert got["additional_env"] == spec.env
        assert (got["on_exit"] is not None) == spec.required


@pytest.mark.parametrize("launch_file, profile", [("deploy.launch.py", "deploy"), ("sim.launch.py", "sim")])
@pytest.mark.parametrize("overrides", [{}, {"namespace": "g1", "network_interface": "eth7", "checkpoint": "/ckpt"}])
def test_launch_file_and_launcher_describe_the_same_nodes(monkeypatch, launch_file, profile, overrides):
    rec, declared = _run_launch_file(monkeypatch, launch_file, overrides)
    assert declared["profile"] == profile
    _assert_nodes(rec, load_profile(profile, overrides))


def test_launch_files_declare_every_profiles_arguments(monkeypatch):
    from psi0.launch_support import PROFILE_DEFAULT

    _, declared = _run_launch_file(monkeypatch, "sim.launch.py", {})
    for name in ("sim", "deploy", "demo"):
        assert set(load_profile(name).arguments) <= set(declared), name
    assert {v for k, v in declared.items() if k != "profile"} == {PROFILE_DEFAULT}


@pytest.mark.parametrize("launch_file, profile, given", [
    ("deploy.launch.py", "sim", {}),  # deploy's own arguments (engine, camera_*) must not leak into sim
    ("sim.launch.py", "deploy", {}),  # deploy's defaults (eth0, domain 0), not sim's lo / 1
    ("sim.launch.py", "deploy", {"network_interface": "enp3s0", "engine": "onnx"}),
    ("deploy.launch.py", "demo", {"instruction": "raise your left hand"}),
])
def test_a_launch_file_runs_another_profile_with_that_profiles_defaults(monkeypatch, launch_file, profile, given):
    rec, _ = _run_launch_file(monkeypatch, launch_file, {"profile": profile, **given})
    expected = load_profile(profile, given)
    _assert_nodes(rec, expected)
    bridge = next(n for n in rec.nodes if n["name"] == "bridge")["parameters"][-1]
    assert bridge["network_interface"] == given.get("network_interface", load_profile(profile).arguments["network_interface"])


def test_an_argument_the_chosen_profile_does_not_take_fails_loudly(monkeypatch):
    with pytest.raises(ConfigError, match=r"profile sim: unknown argument\(s\) \['engine'\]; known: .*network_interface"):
        _run_launch_file(monkeypatch, "sim.launch.py", {"engine": "onnx"})
