"""Bringup package `psi0`: installs the repository's top-level launch/ and config/ (but config/robot/ and
config/wbc/, which psi0_core and psi0_bridge install) into share/psi0."""

import os
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "psi0"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent  # src/psi0 -> repository root


def tree(folder: str, skip: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """data_files entries that mirror REPO/folder under share/psi0/folder (minus the `skip` subfolders)."""
    entries: dict[str, list[str]] = {}
    for f in sorted((REPO / folder).rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts and not any((REPO / folder / s) in f.parents for s in skip):
            dest = Path("share") / PACKAGE / f.parent.relative_to(REPO)
            entries.setdefault(str(dest), []).append(os.path.relpath(f, HERE))
    return list(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        *tree("launch"),
        *tree("config", skip=("robot", "wbc")),  # config/robot/ is psi0_core's, config/wbc/ psi0_bridge's
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="psi0 developers",
    maintainer_email="psi0@example.org",
    description="psi0 bringup: launch files, config, profiles and the psi0 command",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "psi0 = psi0.cli:main",
            "estop_heartbeat = psi0.estop_heartbeat:main",
            "robot_state = psi0.robot_state_node:main",
            "view = psi0.view_node:main",
        ],
    },
)
