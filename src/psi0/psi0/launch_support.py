"""Turn a profile into a ROS 2 LaunchDescription (used by launch/*.launch.py on ROS 2 installs).

Imports `launch` and `launch_ros`, which exist only on a ROS 2 install; `psi0 up` does not use
this module. The node set comes from `psi0.profiles.load_profile`, the same call the launcher makes.
"""

from __future__ import annotations

from typing import Any

from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from psi0.profiles import load_profile


def _declared_arguments(default_profile: str) -> dict[str, str]:
    return {"profile": default_profile, **load_profile(default_profile).arguments}


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


def generate(default_profile: str) -> LaunchDescription:
    declared = _declared_arguments(default_profile)

    def setup(context: Any, *_: Any, **__: Any) -> list[Any]:
        values = {name: LaunchConfiguration(name).perform(context) for name in declared}
        profile = values.pop("profile")
        return nodes_for(profile, values)

    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=value) for name, value in declared.items()]
        + [OpaqueFunction(function=setup)]
    )
