"""Real robot: camera + policy + bridge. `ros2 launch psi0 deploy.launch.py network_interface:=eth0`.

The node set is config/profiles/deploy.yaml, shared with `psi0 up deploy` (see psi0/profiles.py).
Arguments: `profile:=<name>` (deploy by default; sim and demo work too) and the chosen profile's own; the rest keep
that profile's defaults (`ros2 launch psi0 deploy.launch.py --show-args` lists each profile's). See psi0/launch_support.py.
"""

from psi0.launch_support import generate


def generate_launch_description():
    return generate("deploy")
