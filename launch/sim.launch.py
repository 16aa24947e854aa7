"""Simulated G1: simulator + bridge (+ e-stop heartbeat). `ros2 launch psi0 sim.launch.py`.

The node set is config/profiles/sim.yaml, shared with `psi0 up sim` (see psi0/profiles.py).
Arguments: `profile:=<name>` (sim by default; `profile:=demo` adds camera + policy) and the chosen profile's own; the
rest keep that profile's defaults (`--show-args` lists each profile's). See psi0/launch_support.py.
"""

from psi0.launch_support import generate


def generate_launch_description():
    return generate("sim")
