"""psi0_bridge: the bridge node. Installs the learned controllers' layouts (top-level config/wbc/) into share/psi0_bridge."""

import os
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "psi0_bridge"
HERE = Path(__file__).resolve().parent
WBC = HERE.parent.parent / "config" / "wbc"  # src/psi0_bridge -> repository root

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        (f"share/{PACKAGE}/config/wbc", sorted(os.path.relpath(f, HERE) for f in WBC.glob("*.yaml"))),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="psi0 developers",
    maintainer_email="psi0@example.org",
    description="The bridge node: safety layer, whole-body controller slot and the 500 Hz command stream to the G1.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["bridge_node = psi0_bridge.bridge_node:main"]},
)
