from setuptools import find_packages, setup

PACKAGE = "psi0_sim"

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
    description="MuJoCo G1 that speaks the robot's own DDS interface (rt/lowstate, rt/lowcmd, Dex3), with a head camera.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["sim_node = psi0_sim.sim_node:main"]},
)
