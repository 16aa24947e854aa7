"""The project's own G1 model: MJCF generated from the facts table (models/g1_facts.yaml).

The table holds published facts about the robot (link frames, joint axes and limits, torque limits,
masses, inertias, IMU sites, foot contact points, link extents); this module turns it into MJCF
with primitive geometry only (one box per link from its extent, four sphere contacts per foot),
so the model needs no mesh files.

Actuation: one `general` actuator per motor, in the robot's motor order (body 0..28, then the left
and right Dex3 hands in their own motor orders). The simulator sets, per motor and per command,
    force = ctrl + bias1·q + bias2·q̇  with  ctrl = kp·q* + kd·q̇* + τ_ff,  bias1 = −kp,  bias2 = −kd,
i.e. exactly the motor driver's τ = kp(q* − q) + kd(q̇* − q̇) + τ_ff, clipped by forcerange to the
torque limit. With the implicitfast integrator the damping term is integrated implicitly, which keeps
the light finger links stable at the 2 ms step.

Reflected rotor inertia (armature) per motor type follows published G1 actuator figures (mjlab's G1
configuration): 7520-14 0.01018, 7520-22 0.02510, 5020 0.003610, 4010 0.00425 kg·m²; Dex3 motors 5e-4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import yaml

from psi0.robot import load_g1

FACTS = Path(__file__).resolve().parent / "models" / "g1_facts.yaml"

ARMATURE = {
    "hip_pitch": 0.010177520, "hip_yaw": 0.010177520, "waist_yaw": 0.010177520,
    "hip_roll": 0.025101925, "knee": 0.025101925,
    "ankle": 0.003609725, "waist_roll": 0.003609725, "waist_pitch": 0.003609725,
    "shoulder": 0.003609725, "elbow": 0.003609725, "wrist_roll": 0.003609725,
    "wrist_pitch": 0.00425, "wrist_yaw": 0.00425, "hand": 5e-4,
}
D435_FOVY_DEG = 55.0  # D435 colour: 69.4° × 42.5° at 16:9; at 640×480 (4:3 crop) the vertical FOV is ~55°
LINK_RGBA = "0.75 0.75 0.78 1"
DARK_RGBA = "0.2 0.2 0.22 1"


@cache
def load_facts(path: str | None = None) -> dict[str, Any]:
    return yaml.safe_load(Path(path or FACTS).read_text())


def armature(joint: str) -> float:
    for key, value in ARMATURE.items():
        if key in joint:
            return value
    raise KeyError(joint)


def _v(x: Any) -> str:
    return " ".join(f"{float(v):.9g}" for v in x)


def motor_joint_names() -> list[str]:
    """Actuator order = the robot's motor order: body 0..28, left Dex3 0..6, right Dex3 0..6."""
    g1 = load_g1()
    return list(g1.body.names + g1.left_hand.names + g1.right_hand.names)


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

    table_pos: tuple[float, float] = (0.45, 0.0)
    table_size: tuple[float, float, float] = (0.25, 0.4, 0.36)  # half-sizes; top at 0.72 m
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
                x = base.table_pos[0] + rng.uniform(-0.12, 0.08)
                y = rng.uniform(-0.3, 0.3)
                if all(math.hypot(x - px, y - py) > 0.09 for px, py in placed):
                    break
            placed.append((x, y))
            z = top + (size[2] if shape == "box" else size[1]) + 0.002
            objects.append(SceneObject(name, shape, size, rgba, (round(x, 4), round(y, 4), round(z, 4))))
        return Scene(objects=tuple(objects))


def _body_xml(b: dict[str, Any], children: dict[str, list[dict[str, Any]]], fixed_base: bool, indent: int) -> str:
    pad = " " * indent
    inert = b["inertial"]
    lines = [f'{pad}<body name="{b["name"]}" pos="{_v(b["pos"])}" quat="{_v(b["quat"])}">',
             f'{pad}  <inertial pos="{_v(inert["pos"])}" quat="{_v(inert["quat"])}" mass="{inert["mass"]}" '
             f'diaginertia="{_v(inert["diaginertia"])}"/>']
    if b["parent"] == "world" and not fixed_base:
        lines.append(f'{pad}  <freejoint name="floating_base_joint"/>')
    j = b.get("joint")
    if j:
        lines.append(f'{pad}  <joint name="{j["name"]}" axis="{_v(j["axis"])}" range="{_v(j["range"])}" '
                     f'armature="{armature(j["name"])}" actuatorfrcrange="{-j["effort"]} {j["effort"]}"/>')
    ext = b.get("extent")
    if ext:
        lo, hi = np.array(ext["min"]), np.array(ext["max"])
        half = np.maximum((hi - lo) / 2, 0.004)
        foot = "contact_points" in b
        rgba = DARK_RGBA if ("hand" in b["name"] or "ankle_roll" in b["name"] or b["name"] == "pelvis") else LINK_RGBA
        # feet touch the ground through their contact points; other links collide with objects only
        col = 'contype="0" conaffinity="0"' if foot else 'contype="1" conaffinity="0"'
        lines.append(f'{pad}  <geom name="{b["name"]}_box" type="box" size="{_v(half)}" pos="{_v((hi + lo) / 2)}" '
                     f'rgba="{rgba}" {col} density="0" friction="1.0 0.02 0.001"/>')
    for k, p in enumerate(b.get("contact_points", [])):
        lines.append(f'{pad}  <geom name="{b["name"]}_contact{k}" type="sphere" size="0.005" pos="{_v(p)}" '
                     f'rgba="{DARK_RGBA}" contype="1" conaffinity="1" density="0" friction="1.0 0.02 0.001"/>')
    for site, s in load_facts()["sites"].items():
        if s["body"] == b["name"]:
            lines.append(f'{pad}  <site name="{site}" pos="{_v(s["pos"])}" size="0.01"/>')
    for frame, f in load_facts()["frames"].items():
        if f["body"] == b["name"]:
            lines.append(f'{pad}  <site name="{frame}" pos="{_v(f["pos"])}" euler="{_v(f["rpy"])}" size="0.01"/>')
            if frame == "d435":
                p = f["rpy"][1]  # camera looks along the frame's x, up = frame's z (pitched down by p)
                xyaxes = [0, -1, 0, math.sin(p), 0, math.cos(p)]
                lines.append(f'{pad}  <camera name="head_camera" pos="{_v(f["pos"])}" xyaxes="{_v(xyaxes)}" '
                             f'fovy="{D435_FOVY_DEG}"/>')
    for c in children.get(b["name"], []):
        lines.append(_body_xml(c, children, fixed_base, indent + 2))
    lines.append(f"{pad}</body>")
    return "\n".join(lines)


def g1_mjcf(scene: Scene | None = None, fixed_base: bool = False, base_height: float | None = None) -> str:
    """MJCF text of the G1 (+ optional scene). Body and actuator names match the reference model."""
    facts = load_facts()
    children: dict[str, list[dict[str, Any]]] = {}
    for b in facts["bodies"]:
        children.setdefault(b["parent"], []).append(b)
    root = dict(children["world"][0])
    if base_height is not None:
        root["pos"] = [root["pos"][0], root["pos"][1], base_height]
    efforts = {b["joint"]["name"]: b["joint"]["effort"] for b in facts["bodies"] if "joint" in b}
    actuators = "\n".join(
        f'    <general name="{j}" joint="{j}" gainprm="1" biasprm="0 0 0" biastype="affine" '
        f'forcelimited="true" forcerange="{-efforts[j]} {efforts[j]}" ctrllimited="false"/>'
        for j in motor_joint_names())
    scene = scene or Scene()
    objects = []
    for o in scene.objects:
        objects.append(
            f'    <body name="{o.name}" pos="{_v(o.pos)}">\n      <freejoint name="{o.name}_joint"/>\n'
            f'      <geom name="{o.name}_geom" type="{o.shape}" size="{_v(o.size)}" rgba={quoteattr(o.rgba)} '
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
      <geom name="table_top" type="box" size="{_v(ts)}" material="table" contype="1" conaffinity="1"/>
    </body>
    <camera name="third_person" pos="1.9 -1.6 1.5" xyaxes="0.64 0.77 0 -0.32 0.27 0.91" fovy="50"/>
{_body_xml(root, children, fixed_base, 4)}
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
