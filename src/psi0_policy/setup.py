from setuptools import find_packages, setup

PACKAGE = "psi0_policy"

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
    description="Ψ0 model, inference engines, real-time chunking, policy node, data and training pipelines.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["policy_node = psi0_policy.policy_node:main"]},
)
