"""The simulated world: the generated G1 (psi0_core.g1_model) plus a table with graspable objects,
randomised by seed, a head camera at the G1's D435 mount and a third-person camera."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np

from psi0_core.g1_model import actuators_xml, body_xml, fmt, load_facts, motor_joint_names, robot_root

__all__ = ["OBJECTS", "Scene", "SceneObject", "g1_mjcf", "load_facts", "motor_joint_names", "object_layout", "table_in_front"]


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
    """A table in front of the robot with a few graspable objects (randomised by seed).

    The table is 0.72 m high (the standing G1's pelvis is at ~0.75 m: its hands reach the top from above) and 0.4 m deep.
    At start-up its front edge is 0.6 m ahead of the pelvis, clear of the arms in any pose the tasks start from; an
    episode moves it where its task wants it (`place_table`, the simulator's `sim/reset_scene`)."""

    table_pos: tuple[float, float] = (0.6 + 0.2, 0.0)
    table_size: tuple[float, float, float] = (0.2, 0.4, 0.36)  # half-sizes
    objects: tuple[SceneObject, ...] = ()
    table_yaw: float = 0.0  # rad: the table's x axis (its depth, away from the robot) in the world

    @property
    def table_top(self) -> float:
        return 2 * self.table_size[2]

    @staticmethod
    def random(seed: int | None) -> Scene:
        base = Scene()
        return base.with_objects(seed)

    def with_objects(self, seed: int | None) -> Scene:
        """This table with the objects at the seed's places on it (`object_layout`)."""
        top = self.table_top
        objects = []
        for (name, shape, size, rgba), (u, v) in zip(OBJECTS, object_layout(seed), strict=True):
            x, y = self.on_table(u, v)
            z = top + (size[2] if shape == "box" else size[1]) + 0.002
            objects.append(SceneObject(name, shape, size, rgba, (round(x, 4), round(y, 4), round(z, 4))))
        return Scene(self.table_pos, self.table_size, tuple(objects), self.table_yaw)

    def on_table(self, u: float, v: float) -> tuple[float, float]:
        """World (x, y) of the point `u` m behind the table's front edge and `v` m to the left of its centre line."""
        c, s = math.cos(self.table_yaw), math.sin(self.table_yaw)
        du = u - self.table_size[0]
        return self.table_pos[0] + c * du - s * v, self.table_pos[1] + s * du + c * v


# name, shape, MuJoCo half-sizes, colour
OBJECTS = (("red_cube", "box", (0.025, 0.025, 0.025), "0.85 0.1 0.1 1"),
           ("green_cube", "box", (0.025, 0.025, 0.025), "0.1 0.75 0.2 1"),
           ("blue_can", "cylinder", (0.025, 0.04), "0.15 0.3 0.9 1"))
OBJECT_DEPTH_M = (0.04, 0.09)  # object centres this far behind the front edge: where a standing G1's hands reach
OBJECT_SPREAD_M = 0.18  # … and at most this far left or right of the table's centre line
OBJECT_GAP_M = 0.09  # … at least this far apart (a Dex3 hand fits between them)


def object_layout(seed: int | None) -> list[tuple[float, float]]:
    """(u, v) per object in OBJECTS, seeded: u behind the table's front edge, v left of its centre line (m)."""
    rng = np.random.default_rng(seed)
    placed: list[tuple[float, float]] = []
    for _ in OBJECTS:
        for _ in range(200):  # rejection sampling: keep objects apart
            u, v = rng.uniform(OBJECT_DEPTH_M[0], OBJECT_DEPTH_M[1]), rng.uniform(-OBJECT_SPREAD_M, OBJECT_SPREAD_M)
            if all(math.hypot(u - pu, v - pv) > OBJECT_GAP_M for pu, pv in placed):
                break
        placed.append((u, v))
    return placed


def table_in_front(base_xy: tuple[float, float], base_yaw: float, distance: float, bearing: float = 0.0,
                   facing: float = 0.0, table_size: tuple[float, float, float] = Scene.table_size) -> tuple[float, float, float]:
    """(x, y, yaw) of a table whose front edge's middle is `distance` m from a robot at base_xy, base_yaw, in the
    direction `bearing` rad from its heading, turned `facing` rad from squarely facing the robot."""
    heading = base_yaw + bearing
    ex, ey = base_xy[0] + distance * math.cos(heading), base_xy[1] + distance * math.sin(heading)
    yaw = heading + facing
    return ex + table_size[0] * math.cos(yaw), ey + table_size[0] * math.sin(yaw), yaw


THIRD_PERSON_POS = (1.9, -1.6, 1.5)  # the third-person camera where the robot starts (world frame, m) …
THIRD_PERSON_XYAXES = "0.64 0.77 0 -0.32 0.27 0.91"  # … looking at it from the front right


def robot_with_view(robot: str, pelvis_pos) -> str:
    """The robot's MJCF body tree with the third-person camera in its pelvis body, mode trackcom: it keeps its offset
    from the robot (world-fixed orientation) wherever the robot walks, so the view never loses it."""
    first, rest = robot.split("\n", 1)
    if 'name="pelvis"' not in first:
        raise ValueError("the robot's root body must be the pelvis")
    pad = first[: len(first) - len(first.lstrip())] + "  "
    offset = [c - float(p) for c, p in zip(THIRD_PERSON_POS, pelvis_pos, strict=True)]
    camera = (f'{pad}<camera name="third_person" mode="trackcom" pos="{fmt(offset)}" xyaxes="{THIRD_PERSON_XYAXES}" '
              'fovy="50"/>')
    return "\n".join([first, camera, rest])


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
    <body name="table" pos="{tx} {ty} {ts[2]}" euler="0 0 {scene.table_yaw}">
      <geom name="table_top" type="box" size="{fmt(ts)}" material="table" contype="1" conaffinity="1"/>
    </body>
{robot_with_view(body_xml(root, children, fixed_base, 4), root["pos"])}
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
