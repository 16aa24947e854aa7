"""Real robot: camera + policy + bridge. `ros2 launch psi0 deploy.launch.py network_interface:=eth0`.

The node set is config/profiles/deploy.yaml, shared with `psi0 up deploy` (see psi0/profiles.py).
Arguments: profile, namespace, network_interface, robot_domain, checkpoint (see the profile).
"""

from psi0.launch_support import generate


def generate_launch_description():
    return generate("deploy")
