from setuptools import find_packages, setup

PACKAGE = "psi0_camera"

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
    description="The psi0 camera node: device or file frames as sensor_msgs/Image + CameraInfo, stamped at capture.",
    license="Apache-2.0",
    entry_points={"console_scripts": ["camera_node = psi0_camera.camera_node:main"]},
)
