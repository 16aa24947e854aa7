"""psi0_core: the ground package. Installs the robot facts (top-level config/robot/) into share/psi0_core."""

import os
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "psi0_core"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent  # src/psi0_core -> repository root
ROBOT = REPO / "config" / "robot"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        (f"share/{PACKAGE}/config/robot", sorted(os.path.relpath(f, HERE) for f in ROBOT.glob("*.yaml"))),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="psi0 developers",
    maintainer_email="psi0@example.org",
    description="psi0 ground: G1 facts, the Ψ0 ⇄ G1 adapter, the chunk contract, typed configuration",
    license="Apache-2.0",
)
