"""Simulated G1: simulator + bridge (+ policy). `ros2 launch psi0 sim.launch.py`.

The node set is config/profiles/sim.yaml, shared with `psi0 up sim` (see psi0/profiles.py).
"""

from psi0.launch_support import generate


def generate_launch_description():
    return generate("sim")
