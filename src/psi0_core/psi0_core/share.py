"""Where a package's installed files are (pure Python).

Every psi0 package installs its data under `share/<package>/` like any ROS 2 package (robot facts in
psi0_core's, profiles, parameters, launch files, training configs and bundles in psi0's). In a source checkout
without an install, the repository root holds the same `config/` and `launch/` folders. `$PSI0_SHARE` overrides
the bringup's folder (tests point it at fixtures).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]  # src/psi0_core/psi0_core/share.py -> repository root


def share_dir(package: str = "psi0") -> Path:
    """The folder holding `package`'s config/ (and for psi0, launch/)."""
    if package == "psi0" and (env := os.environ.get("PSI0_SHARE")):
        return Path(env)
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(package))
    except Exception:  # not installed (ament index absent or package unknown): the source checkout
        return REPO


def robot_file(name: str) -> Path:
    """A robot description file (config/robot/<name>) installed by psi0_core."""
    return share_dir("psi0_core") / "config" / "robot" / name


def msg_dir() -> Path:
    """psi0_msgs' .msg files (installed share folder, else the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("psi0_msgs")) / "msg"
    except Exception:
        return REPO / "src" / "psi0_msgs" / "msg"
