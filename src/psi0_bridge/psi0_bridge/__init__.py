"""psi0_bridge.

G1 low-level interface over unitree_sdk2py, whole-body controller slot, safety layer, bridge node and camera node."""
