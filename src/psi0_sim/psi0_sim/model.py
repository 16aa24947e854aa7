"""The simulated world: the generated G1 (psi0_core.g1_model) plus a table with graspable objects,
randomised by seed, a head camera at the G1's D435 mount and a third-person camera."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np

from psi0_core.g1_model import actuators_xml, body_xml, fmt, load_facts, motor_joint_names, robot_root

__all__ = ["Scene", "SceneObject", "g1_mjcf", "load_facts", "motor_joint_names"]


@dataclass(frozen=True)
class SceneObject:
    name: str
    shape: str  # box | cylinder
    size: tuple[float, ...]  # MuJoCo half-sizes
    rgba: str
    pos: tuple[float, float, float]
    mass: float = 0.05


@dataclass(frozen=True)
class Scene:
    """A table in front of the robot with a few graspable objects (randomised by seed)."""

    # front edge 0.34 m ahead of the pelvis (clear of the hands in the default pose), top at 0.66 m
    table_pos: tuple[float, float] = (0.54, 0.0)
    table_size: tuple[float, float, float] = (0.2, 0.4, 0.33)  # half-sizes
    objects: tuple[SceneObject, ...] = ()

    @property
    def table_top(self) -> float:
        return 2 * self.table_size[2]

    @staticmethod
    def random(seed: int | None) -> Scene:
        rng = np.random.default_rng(seed)
        base = Scene()
        top = base.table_top
        specs = [("red_cube", "box", (0.025, 0.025, 0.025), "0.85 0.1 0.1 1"),
                 ("green_cube", "box", (0.025, 0.025, 0.025), "0.1 0.75 0.2 1"),
                 ("blue_can", "cylinder", (0.025, 0.04), "0.15 0.3 0.9 1")]
        objects, placed = [], []
        for name, shape, size, rgba in specs:
            for _ in range(100):  # rejection sampling: keep objects apart
                x = base.table_pos[0] - base.table_size[0] + rng.uniform(0.06, 0.16)  # within the arms' reach
                y = rng.uniform(-0.28, 0.28)
                if all(math.hypot(x - px, y - py) > 0.09 for px, py in placed):
                    break
            placed.append((x, y))
            z = top + (size[2] if shape == "box" else size[1]) + 0.002
            objects.append(SceneObject(name, shape, size, rgba, (round(x, 4), round(y, 4), round(z, 4))))
        return Scene(objects=tuple(objects))


def g1_mjcf(scene: Scene | None = None, fixed_base: bool = False, base_height: float | None = None) -> str:
    """MJCF text of the G1 (+ optional scene). Body and actuator names match the reference model."""
    facts = load_facts()
    root, children = robot_root(base_height)
    actuators = actuators_xml()
    scene = scene or Scene()
    objects = []
    for o in scene.objects:
        objects.append(
            f'    <body name="{o.name}" pos="{fmt(o.pos)}">\n      <freejoint name="{o.name}_joint"/>\n'
            f'      <geom name="{o.name}_geom" type="{o.shape}" size="{fmt(o.size)}" rgba={quoteattr(o.rgba)} '
            f'mass="{o.mass}" contype="1" conaffinity="1" friction="1.2 0.02 0.001" condim="4"/>\n    </body>')
    tx, ty = scene.table_pos
    ts = scene.table_size
    return f"""<mujoco model="psi0_g1">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{facts['timestep']}" integrator="implicitfast"/>
  <visual><global offwidth="1280" offheight="720"/><quality shadowsize="2048"/></visual>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.3 0.33 0.36" rgb2="0.22 0.24 0.27" width="256" height="256"/>
    <material name="floor" texture="grid" texrepeat="8 8" reflectance="0.05"/>
    <material name="table" rgba="0.55 0.42 0.3 1"/>
  </asset>
  <worldbody>
    <light pos="1 0 3.5" dir="0 0 -1" directional="true"/>
    <light pos="-1 1 2.5" dir="0.4 -0.3 -1"/>
    <geom name="floor" type="plane" size="0 0 0.05" material="floor" contype="1" conaffinity="1"/>
    <body name="table" pos="{tx} {ty} {ts[2]}">
      <geom name="table_top" type="box" size="{fmt(ts)}" material="table" contype="1" conaffinity="1"/>
    </body>
    <camera name="third_person" pos="1.9 -1.6 1.5" xyaxes="0.64 0.77 0 -0.32 0.27 0.91" fovy="50"/>
{body_xml(root, children, fixed_base, 4)}
{chr(10).join(objects)}
  </worldbody>
  <actuator>
{actuators}
  </actuator>
  <sensor>
    <framequat name="imu_quat" objtype="site" objname="imu_in_pelvis"/>
    <gyro name="imu_gyro" site="imu_in_pelvis"/>
    <accelerometer name="imu_acc" site="imu_in_pelvis"/>
  </sensor>
</mujoco>
"""
