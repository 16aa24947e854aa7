from setuptools import find_packages, setup

PACKAGE = "psi0_bridge"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="psi0 developers",
    maintainer_email="psi0@example.org",
    description="G1 low-level interface, whole-body controller slot, safety layer, bridge and camera nodes.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["bridge_node = psi0_bridge.bridge_node:main",
                                      "camera_node = psi0_bridge.camera_node:main"]},
)
