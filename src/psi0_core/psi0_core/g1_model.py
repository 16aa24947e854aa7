"""The G1's MuJoCo description generated from the facts table (config/robot/g1_facts.yaml, installed by psi0_core).

The table holds published facts about the robot (link frames, joint axes and limits, torque limits,
masses, inertias, IMU sites, foot contact points, link extents); this module turns it into MJCF
with primitive geometry only (one box per link from its extent, four sphere contacts per foot),
so the model needs no mesh files. psi0_sim adds a scene around it; the bridge uses it as a dynamics
model (gravity feed-forward).

Actuation: one `general` actuator per motor, in the robot's motor order (body 0..28, then the left
and right Dex3 hands in their own motor orders). A simulator sets, per motor and per command,
    force = ctrl + bias1·q + bias2·q̇  with  ctrl = kp·q* + kd·q̇* + τ_ff,  bias1 = −kp,  bias2 = −kd,
i.e. exactly the motor driver's τ = kp(q* − q) + kd(q̇* − q̇) + τ_ff, clipped by forcerange to the
torque limit. With the implicitfast integrator the damping term is integrated implicitly, which keeps
the light finger links stable at the 2 ms step.

Reflected rotor inertia (armature) per motor type follows published G1 actuator figures (mjlab's G1
configuration): 7520-14 0.01018, 7520-22 0.02510, 5020 0.003610, 4010 0.00425 kg·m²; Dex3 motors 5e-4.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from psi0_core.robot import load_g1
from psi0_core.share import robot_file

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
    return yaml.safe_load(Path(path) if path else robot_file("g1_facts.yaml").read_text())


def armature(joint: str) -> float:
    for key, value in ARMATURE.items():
        if key in joint:
            return value
    raise KeyError(joint)


def fmt(x: Any) -> str:
    return " ".join(f"{float(v):.9g}" for v in x)


def motor_joint_names() -> list[str]:
    """Actuator order = the robot's motor order: body 0..28, left Dex3 0..6, right Dex3 0..6."""
    return load_g1().motor_joint_names()


def body_xml(b: dict[str, Any], children: dict[str, list[dict[str, Any]]], fixed_base: bool, indent: int) -> str:
    pad = " " * indent
    inert = b["inertial"]
    lines = [f'{pad}<body name="{b["name"]}" pos="{fmt(b["pos"])}" quat="{fmt(b["quat"])}">',
             f'{pad}  <inertial pos="{fmt(inert["pos"])}" quat="{fmt(inert["quat"])}" mass="{inert["mass"]}" '
             f'diaginertia="{fmt(inert["diaginertia"])}"/>']
    if b["parent"] == "world" and not fixed_base:
        lines.append(f'{pad}  <freejoint name="floating_base_joint"/>')
    j = b.get("joint")
    if j:
        lines.append(f'{pad}  <joint name="{j["name"]}" axis="{fmt(j["axis"])}" range="{fmt(j["range"])}" '
                     f'armature="{armature(j["name"])}" actuatorfrcrange="{-j["effort"]} {j["effort"]}"/>')
    ext = b.get("extent")
    if ext:
        lo, hi = np.array(ext["min"]), np.array(ext["max"])
        half = np.maximum((hi - lo) / 2, 0.004)
        foot = "contact_points" in b
        rgba = DARK_RGBA if ("hand" in b["name"] or "ankle_roll" in b["name"] or b["name"] == "pelvis") else LINK_RGBA
        # feet touch the ground through their contact points; other links collide with objects only
        col = 'contype="0" conaffinity="0"' if foot else 'contype="1" conaffinity="0"'
        lines.append(f'{pad}  <geom name="{b["name"]}_box" type="box" size="{fmt(half)}" pos="{fmt((hi + lo) / 2)}" '
                     f'rgba="{rgba}" {col} density="0" friction="1.0 0.02 0.001"/>')
    for k, p in enumerate(b.get("contact_points", [])):
        lines.append(f'{pad}  <geom name="{b["name"]}_contact{k}" type="sphere" size="0.005" pos="{fmt(p)}" '
                     f'rgba="{DARK_RGBA}" contype="1" conaffinity="1" density="0" friction="1.0 0.02 0.001"/>')
    for site, s in load_facts()["sites"].items():
        if s["body"] == b["name"]:
            lines.append(f'{pad}  <site name="{site}" pos="{fmt(s["pos"])}" size="0.01"/>')
    for frame, f in load_facts()["frames"].items():
        if f["body"] == b["name"]:
            lines.append(f'{pad}  <site name="{frame}" pos="{fmt(f["pos"])}" euler="{fmt(f["rpy"])}" size="0.01"/>')
            if frame == "d435":
                p = f["rpy"][1]  # camera looks along the frame's x, up = frame's z (pitched down by p)
                xyaxes = [0, -1, 0, math.sin(p), 0, math.cos(p)]
                lines.append(f'{pad}  <camera name="head_camera" pos="{fmt(f["pos"])}" xyaxes="{fmt(xyaxes)}" '
                             f'fovy="{D435_FOVY_DEG}"/>')
    for c in children.get(b["name"], []):
        lines.append(body_xml(c, children, fixed_base, indent + 2))
    lines.append(f"{pad}</body>")
    return "\n".join(lines)


def actuators_xml() -> str:
    efforts = {b["joint"]["name"]: b["joint"]["effort"] for b in load_facts()["bodies"] if "joint" in b}
    return "\n".join(
        f'    <general name="{j}" joint="{j}" gainprm="1" biasprm="0 0 0" biastype="affine" '
        f'forcelimited="true" forcerange="{-efforts[j]} {efforts[j]}" ctrllimited="false"/>'
        for j in motor_joint_names())


def robot_root(base_height: float | None = None) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The pelvis body entry and the parent → children map of the facts table."""
    children: dict[str, list[dict[str, Any]]] = {}
    for b in load_facts()["bodies"]:
        children.setdefault(b["parent"], []).append(b)
    root = dict(children["world"][0])
    if base_height is not None:
        root["pos"] = [root["pos"][0], root["pos"][1], base_height]
    return root, children


def robot_only_mjcf() -> str:
    """The robot alone (floating base, no scene): a dynamics model, e.g. for gravity torques."""
    root, children = robot_root()
    return f"""<mujoco model="psi0_g1_robot">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{load_facts()['timestep']}" integrator="implicitfast"/>
  <worldbody>
{body_xml(root, children, False, 4)}
  </worldbody>
  <actuator>
{actuators_xml()}
  </actuator>
</mujoco>
"""
