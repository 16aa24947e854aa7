"""The `psi0` command. Subcommands:

  psi0 up <profile> [name:=value ...]   start a profile's nodes (launcher.py)
  psi0 profiles                         list the profiles and their arguments
  psi0 params <node>                    print a node's parameter schema as Markdown
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from psi0.params import ConfigError
from psi0.profiles import load_profile, share_dir

# node name -> "module:SCHEMA" (imported lazily so `psi0 up` does not import torch or mujoco)
SCHEMAS = {
    "estop_heartbeat": "psi0.estop_heartbeat:SCHEMA",
}


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
    if ns.node not in SCHEMAS:
        raise ConfigError(f"unknown node {ns.node!r}; known: {', '.join(sorted(SCHEMAS))}")
    module, attr = SCHEMAS[ns.node].split(":")
    print(getattr(importlib.import_module(module), attr).markdown())
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
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.func(ns)
    except ConfigError as e:
        print(f"psi0: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
