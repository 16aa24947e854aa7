"""Turn a profile into a ROS 2 LaunchDescription (used by launch/*.launch.py on ROS 2 installs).

Imports `launch` and `launch_ros`, which exist only on a ROS 2 install; `psi0 up` does not use
this module. The node set comes from `psi0.profiles.load_profile`, the same call the launcher makes.

Every launch file takes `profile:=<name>` (its own profile by default) and declares the arguments of
*all* installed profiles, each defaulting to "the chosen profile's default". Only the arguments given
on the command line reach the chosen profile, so `deploy.launch.py profile:=sim` runs the sim profile
with its own defaults (lo, domain 1), and an argument the chosen profile does not take
(`sim.launch.py engine:=onnx`) fails loudly, naming the ones it does take.
"""

from __future__ import annotations

from typing import Any

from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from psi0.profiles import known_profiles, load_profile

PROFILE_DEFAULT = "<profile default>"  # an argument left at this value takes the chosen profile's default


def argument_defaults() -> dict[str, dict[str, str]]:
    """Every installed profile's arguments: name -> {profile: its default}."""
    table: dict[str, dict[str, str]] = {}
    for name in known_profiles():
        for arg, default in load_profile(name).arguments.items():
            table.setdefault(arg, {})[name] = default
    return dict(sorted(table.items()))


def nodes_for(profile_name: str, args: dict[str, str]) -> list[Any]:
    profile = load_profile(profile_name, args)
    return [
        Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            namespace=spec.namespace,
            parameters=[*spec.params, spec.overrides] if spec.overrides else list(spec.params),
            additional_env=spec.env,
            output="screen",
            # A required node's exit shuts the whole launch down, as `psi0 up` does.
            on_exit=[Shutdown(reason=f"required node {spec.name} exited")] if spec.required else None,
        )
        for spec in profile.nodes
    ]


def given_arguments(values: dict[str, str]) -> dict[str, str]:
    """The arguments set on the command line (the rest stay at PROFILE_DEFAULT)."""
    return {name: value for name, value in values.items() if value != PROFILE_DEFAULT}


def generate(default_profile: str) -> LaunchDescription:
    table = argument_defaults()
    declared = [DeclareLaunchArgument("profile", default_value=default_profile,
                                      description=f"node set: one of {', '.join(known_profiles())}")]
    for name, defaults in table.items():
        where = "; ".join(f"{p}: {v!r}" for p, v in defaults.items())
        declared.append(DeclareLaunchArgument(name, default_value=PROFILE_DEFAULT,
                                              description=f"defaults per profile: {where}"))

    def setup(context: Any, *_: Any, **__: Any) -> list[Any]:
        values = {name: LaunchConfiguration(name).perform(context) for name in ("profile", *table)}
        return nodes_for(values.pop("profile"), given_arguments(values))

    return LaunchDescription([*declared, OpaqueFunction(function=setup)])
