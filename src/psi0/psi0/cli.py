"""The `psi0` command. Subcommands:

  psi0 up <profile> [name:=value ...]   start a profile's nodes (launcher.py)
  psi0 profiles                         list the profiles and their arguments
  psi0 params <node>                    print a node's parameter schema as Markdown
  psi0 record <bag> <topic> [...]       record topics of the live graph to a rosbag2 (MCAP / sqlite3)
  psi0 replay <bag>                     publish a bag's topics with the original timing
  psi0 data convert|stats|check|tokenizer   the data pipeline (psi0_policy.data.cli)
  psi0 train <stage> --config FILE      pre-train / post-train / fine-tune (psi0_policy.train.cli)
  psi0 export RUN -o BUNDLE             a deployable bundle for the policy node
  psi0 eval [--episodes N] [--chunking rtc sync] [--expert] [--record DIR]   closed-loop evaluation in simulation
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from psi0.profiles import load_profile
from psi0_core.params import ConfigError
from psi0_core.share import share_dir

# node name -> "module:ConfigClass" (each node's `<node>_config.py`; imported lazily: no torch, no mujoco)
SCHEMAS = {
    "estop_heartbeat": "psi0.heartbeat_config:HeartbeatConfig",
    "bridge": "psi0_bridge.bridge_config:BridgeConfig",
    "camera": "psi0_camera.camera_config:CameraConfig",
    "policy": "psi0_policy.policy_config:PolicyConfig",
    "robot_state": "psi0.robot_state_config:RobotStateConfig",
    "view": "psi0.view_config:ViewConfig",
    "sim": "psi0_sim.sim_config:SimConfig",
}


def node_schema(node: str):
    """The parameter schema of a node (psi0_core.params.Schema)."""
    if node not in SCHEMAS:
        raise ConfigError(f"unknown node {node!r}; known: {', '.join(sorted(SCHEMAS))}")
    module, attr = SCHEMAS[node].split(":")
    return getattr(importlib.import_module(module), attr).schema()


def _parse_assignments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if ":=" not in item:
            raise ConfigError(f"argument {item!r} is not of the form name:=value")
        k, v = item.split(":=", 1)
        out[k] = v
    return out


def cmd_up(ns: argparse.Namespace) -> int:
    from psi0.launcher import Launcher

    profile = load_profile(ns.profile, _parse_assignments(ns.args))
    log_dir = Path(ns.log_dir) if ns.log_dir else Path("log") / "run" / f"{profile.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"[psi0 up] profile {profile.name}: {profile.description}")
    return Launcher(profile, log_dir.resolve(), grace_s=ns.grace).run()


def cmd_profiles(_: argparse.Namespace) -> int:
    for f in sorted((share_dir() / "config" / "profiles").glob("*.yaml")):
        p = load_profile(str(f))
        args = " ".join(f"{k}:={v!r}" for k, v in p.arguments.items())
        print(f"{p.name:12s} {p.description}\n{'':12s} nodes: {', '.join(n.name for n in p.nodes)}; args: {args}")
    return 0


def cmd_params(ns: argparse.Namespace) -> int:
    print(node_schema(ns.node).markdown())
    return 0


def _with_node(name: str, fn):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    rclpy.init()
    node = Node(name)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    try:
        return fn(node, ex)
    except KeyboardInterrupt:
        return 0
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


def cmd_record(ns: argparse.Namespace) -> int:
    from psi0.bags.record import Recorder

    def run(node, ex) -> int:
        rec = Recorder(node, ns.bag, ns.topics, storage=ns.storage, split_size_mb=ns.split_size_mb,
                       split_duration_s=ns.split_duration_s)
        print(f"[psi0 record] waiting for publishers of {ns.topics}")
        spin = lambda: ex.spin_once(timeout_sec=0.05)  # noqa: E731
        deadline = time.monotonic() + ns.discover_timeout
        while True:
            try:
                rec.discover(timeout_s=0.1)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
                spin()
        rec.start()
        print(f"[psi0 record] recording {rec.types} to {ns.bag} ({ns.storage}); Ctrl-C stops")
        end = time.monotonic() + ns.duration if ns.duration else None
        try:
            while end is None or time.monotonic() < end:
                spin()
        finally:
            paths = rec.stop()
            print(f"[psi0 record] {rec.count} messages in {', '.join(map(str, paths))}")
        return 0

    return _with_node("psi0_record", run)


def cmd_replay(ns: argparse.Namespace) -> int:
    from psi0.bags.replay import Player

    remap = dict(_parse_assignments(ns.remap)) if ns.remap else {}

    def run(node, ex) -> int:
        player = Player(node, ns.bag, rate=ns.rate, start_offset_s=ns.start_offset, loop=ns.loop, remap=remap)
        print(f"[psi0 replay] {len(player.msgs)} messages from {ns.bag} at {ns.rate}x")
        n = player.play(spin=lambda s: ex.spin_once(timeout_sec=s))
        print(f"[psi0 replay] published {n} messages")
        return 0

    return _with_node("psi0_replay", run)


def cmd_motion_mode(ns: argparse.Namespace) -> int:
    from psi0_bridge.motion_mode import run

    return run(ns.network_interface, ns.robot_domain, ns.release, ns.timeout)


def cmd_view(ns: argparse.Namespace) -> int:
    """Runs the view node in this process's place (Ctrl-C stops it), its parameters from name:=value."""
    import os

    import yaml

    from psi0.launcher import find_executable
    from psi0.view_config import ViewConfig

    params = {"host": ns.host, "port": str(ns.port), **_parse_assignments(ns.args)}
    ViewConfig.from_values({k: yaml.safe_load(v) for k, v in params.items()})  # bad keys/values: one line, exit 2
    exe = str(find_executable("psi0", "view"))
    argv = [exe, "--ros-args", *(a for k, v in params.items() for a in ("-p", f"{k}:={v}"))]
    print(f"[psi0 view] Foxglove live view on ws://{ns.host}:{ns.port}: open it in Foxglove (Open connection)")
    os.execv(exe, argv)
    return 0  # not reached


def cmd_urdf(ns: argparse.Namespace) -> int:
    """The G1 URDF robot_state publishes, to stdout or a file (for robot_state_publisher, RViz, a URDF viewer)."""
    from psi0_core.g1_urdf import g1_urdf

    text = g1_urdf()
    if ns.output:
        Path(ns.output).write_text(text)
        print(f"[psi0 urdf] wrote {ns.output}")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="psi0", description="psi0: the Ψ0 stack for the Unitree G1")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the nodes of a profile")
    up.add_argument("profile", help="profile name (config/profiles/<name>.yaml) or a profile file")
    up.add_argument("args", nargs="*", help="launch arguments, name:=value")
    up.add_argument("--log-dir", help="where node logs go (default log/run/<profile>-<time>)")
    up.add_argument("--grace", type=float, default=5.0, help="seconds a node gets to exit after SIGINT")
    up.set_defaults(func=cmd_up)
    sub.add_parser("profiles", help="list profiles").set_defaults(func=cmd_profiles)
    params = sub.add_parser("params", help="print a node's parameter schema")
    params.add_argument("node")
    params.set_defaults(func=cmd_params)
    rec = sub.add_parser("record", help="record topics to a rosbag2")
    rec.add_argument("bag", help="output bag folder (must not exist)")
    rec.add_argument("topics", nargs="+")
    rec.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    rec.add_argument("--split-size-mb", type=float, default=0.0)
    rec.add_argument("--split-duration-s", type=float, default=0.0)
    rec.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: Ctrl-C)")
    rec.add_argument("--discover-timeout", type=float, default=30.0)
    rec.set_defaults(func=cmd_record)
    rep = sub.add_parser("replay", help="publish a bag with its original timing")
    rep.add_argument("bag")
    rep.add_argument("--rate", type=float, default=1.0)
    rep.add_argument("--start-offset", type=float, default=0.0)
    rep.add_argument("--loop", action="store_true")
    rep.add_argument("--remap", nargs="*", default=[], help="old:=new topic renames")
    rep.set_defaults(func=cmd_replay)
    mm = sub.add_parser("motion-mode", help="the robot's active built-in controller (motion switcher); --release it")
    mm.add_argument("--release", action="store_true", help="release the active mode (before the bridge starts)")
    mm.add_argument("--network-interface", default="lo", help="the robot's interface (lo: the simulator)")
    mm.add_argument("--robot-domain", type=int, default=1, help="the robot's DDS domain (0: a real G1, 1: the simulator)")
    mm.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer")
    mm.set_defaults(func=cmd_motion_mode)
    view = sub.add_parser("view", help="live view in Foxglove: camera, joints, chunks, status, the robot model")
    view.add_argument("args", nargs="*", help="view parameters, name:=value (psi0 params view)")
    view.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    view.add_argument("--port", type=int, default=8765)
    view.set_defaults(func=cmd_view)
    urdf = sub.add_parser("urdf", help="write the G1 URDF (the robot_description robot_state publishes)")
    urdf.add_argument("-o", "--output", help="file to write (default: stdout)")
    urdf.set_defaults(func=cmd_urdf)
    from psi0_policy.data.cli import add_parser as add_data  # light: argparse + numpy (the work imports lazily)

    add_data(sub)
    from psi0_policy.train.cli import add_parsers as add_train

    add_train(sub)
    from psi0.evaluate import add_arguments as add_eval
    from psi0.evaluate import run as run_eval

    ev = sub.add_parser("eval", help="closed-loop evaluation in the simulator (N seeded episodes)")
    add_eval(ev)
    ev.set_defaults(func=run_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.func(ns)
    except (ConfigError, FileNotFoundError, ValueError) as e:  # bad input: one clear line, no traceback
        print(f"psi0: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
