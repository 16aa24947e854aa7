"""The URDF and the forward kinematics the robot_state node publishes agree with MuJoCo's G1 (built from the same
facts by other code, and solved by MuJoCo's own kinematics): every link, site and the head camera, at random joint
angles. The description names every joint the bridge publishes and every frame the stack stamps."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psi0_camera.camera_config import CameraConfig
from psi0_core.g1_kinematics import OPTICAL, load_kinematics, matrix_to_quat, matrix_to_rpy, quat_to_matrix, rpy_to_matrix
from psi0_core.g1_model import robot_only_mjcf
from psi0_core.g1_urdf import g1_urdf
from psi0_core.robot import load_g1

pytestmark = pytest.mark.unit


def _urdf() -> ET.Element:
    return ET.fromstring(g1_urdf().split("\n", 1)[1])  # after the XML declaration


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _urdf_forward(root: ET.Element, q: dict[str, float]) -> dict[str, np.ndarray]:
    """Link poses in the root link's frame, read from the URDF text alone (URDF: rpy about fixed x, y, z)."""
    joints = {j.find("child").get("link"): j for j in root.findall("joint")}
    poses: dict[str, np.ndarray] = {}

    def pose(link: str) -> np.ndarray:
        if link not in poses:
            j = joints.get(link)
            if j is None:
                poses[link] = np.eye(4)
            else:
                o = j.find("origin")
                r, p, y = (float(v) for v in o.get("rpy").split())
                t = np.eye(4)
                t[:3, :3] = _rot_z(y) @ _rot_y(p) @ _rot_x(r)
                t[:3, 3] = [float(v) for v in o.get("xyz").split()]
                if j.get("type") == "revolute":
                    axis = np.array([float(v) for v in j.find("axis").get("xyz").split()])
                    a = q[j.get("name")]
                    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
                    motion = np.eye(4)
                    motion[:3, :3] = np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k
                    t = t @ motion
                poses[link] = pose(j.find("parent").get("link")) @ t
        return poses[link]

    for link in root.findall("link"):
        pose(link.get("name"))
    return poses


def _mujoco_at(q: dict[str, float], base_pos=(0.0, 0.0, 0.0), base_quat=(1.0, 0.0, 0.0, 0.0)):
    m = mujoco.MjModel.from_xml_string(robot_only_mjcf())
    d = mujoco.MjData(m)
    d.qpos[:3], d.qpos[3:7] = base_pos, base_quat
    for name, value in q.items():
        d.qpos[m.jnt_qposadr[m.joint(name).id]] = value
    mujoco.mj_forward(m, d)
    return m, d


def _random_q(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {j.name: float(rng.uniform(j.lower, j.upper)) for j in load_kinematics().movable}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_urdf_and_forward_kinematics_match_mujoco(seed):
    q = _random_q(seed)
    m, d = _mujoco_at(q)
    from_urdf = _urdf_forward(_urdf(), q)
    from_kin = load_kinematics().forward(q)
    checked = 0
    for b in range(1, m.nbody):
        name = m.body(b).name
        for poses in (from_urdf, from_kin):
            np.testing.assert_allclose(poses[name][:3, 3], d.xpos[b], atol=1e-6, err_msg=name)
            np.testing.assert_allclose(poses[name][:3, :3], d.xmat[b].reshape(3, 3), atol=1e-6, err_msg=name)
        checked += 1
    for s in range(m.nsite):
        name = m.site(s).name
        if name in from_urdf:
            np.testing.assert_allclose(from_urdf[name][:3, 3], d.site_xpos[s], atol=1e-6, err_msg=name)
            np.testing.assert_allclose(from_urdf[name][:3, :3], d.site_xmat[s].reshape(3, 3), atol=1e-6, err_msg=name)
            checked += 1
    assert checked == m.nbody - 1 + 4  # 44 bodies' links (pelvis is the world here) + head, d435 and two IMU sites


def test_the_optical_frame_is_the_rendered_head_cameras():
    """Images are stamped `head_camera`: z along the view, y down (REP-103), where MuJoCo's camera looks along −z, y up."""
    q = _random_q(3)
    m, d = _mujoco_at(q)
    cam = m.camera("head_camera").id
    rc, pose = d.cam_xmat[cam].reshape(3, 3), _urdf_forward(_urdf(), q)[OPTICAL]
    np.testing.assert_allclose(pose[:3, 3], d.cam_xpos[cam], atol=1e-6)
    np.testing.assert_allclose(pose[:3, :3], rc @ np.diag([1.0, -1.0, -1.0]), atol=1e-6)


def test_the_description_names_every_joint_and_frame_the_stack_uses():
    root = _urdf()
    g1 = load_g1()
    revolute = {j.get("name"): j for j in root.findall("joint") if j.get("type") == "revolute"}
    assert set(revolute) == set(g1.joint_state_names())
    limit = revolute["left_knee_joint"].find("limit")
    i = g1.body.index("left_knee_joint")
    assert float(limit.get("velocity")) == pytest.approx(g1.body.velocity_limit[i])
    assert float(limit.get("effort")) == pytest.approx(g1.body.effort[i])
    links = {link.get("name") for link in root.findall("link")}
    children = [j.find("child").get("link") for j in root.findall("joint")]
    assert len(children) == len(set(children)) == len(links) - 1 and set(links) - set(children) == {"pelvis"}
    assert {"head_camera", "imu_in_pelvis", "d435", "imu_in_torso"} <= links
    assert CameraConfig().frame_id in links
    bridge = (Path(__file__).parents[2] / "src/psi0_bridge/psi0_bridge/bridge_node.py").read_text()
    assert '"imu_in_pelvis"' in bridge  # the imu's frame_id
    masses = [float(m.get("value")) for m in root.findall("link/inertial/mass")]
    assert sum(masses) == pytest.approx(34.3942, abs=0.05)  # the facts' total mass


@pytest.mark.parametrize("roll, pitch", [(0.0, 0.0), (0.1, -0.15), (-0.2, 0.25)])
def test_the_base_pose_puts_the_lower_foot_on_the_ground(roll, pitch):
    """odom → pelvis: at the IMU's orientation and a knee-bent stance, MuJoCo's lowest foot contact sphere touches
    z = 0 (its centre one radius up) when the pelvis is placed where base_pose says."""
    kin = load_kinematics()
    q = {n: v for n, v in zip(load_g1().body.names, load_g1().body.default, strict=True)}
    quat = matrix_to_quat(rpy_to_matrix((roll, pitch, 0.3)))
    base = kin.base_pose(quat, q)
    m, d = _mujoco_at(q, base[:3, 3], quat)
    contacts = [g for g in range(m.ngeom) if "contact" in (m.geom(g).name or "")]
    lowest = min(d.geom_xpos[g][2] - m.geom_size[g][0] for g in contacts)
    assert lowest == pytest.approx(-m.geom_size[contacts[0]][0], abs=1e-6)
    assert 0.6 < base[2, 3] < 0.8


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda v: sum(x * x for x in v) > 1e-3),
       st.tuples(st.floats(-3, 3), st.floats(-1.5, 1.5), st.floats(-3, 3)))
def test_rotation_conversions_round_trip(wxyz, rpy):
    r = quat_to_matrix(wxyz)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(r)), r, atol=1e-9)
    m = rpy_to_matrix(rpy)
    np.testing.assert_allclose(rpy_to_matrix(matrix_to_rpy(m)), m, atol=1e-7)


def test_the_inertials_are_mujocos():
    m, _ = _mujoco_at({})
    for link in _urdf().findall("link"):
        inertial = link.find("inertial")
        if inertial is None:
            continue
        b = m.body(link.get("name")).id
        i = inertial.find("inertia")
        tensor = np.array([[float(i.get("i" + "".join(sorted(a + c, key="xyz".index)))) for c in "xyz"] for a in "xyz"])
        r = quat_to_matrix(m.body_iquat[b])
        np.testing.assert_allclose(tensor, r @ np.diag(m.body_inertia[b]) @ r.T, atol=1e-8, err_msg=link.get("name"))
        np.testing.assert_allclose([float(v) for v in inertial.find("origin").get("xyz").split()], m.body_ipos[b], atol=1e-9)
        assert float(inertial.find("mass").get("value")) == pytest.approx(m.body_mass[b])


def test_psi0_urdf_writes_the_published_description(tmp_path, capsys):
    from psi0.cli import main

    assert main(["urdf", "-o", str(tmp_path / "g1.urdf")]) == 0
    assert (tmp_path / "g1.urdf").read_text() == g1_urdf()
    capsys.readouterr()
    assert main(["urdf"]) == 0
    assert capsys.readouterr().out == g1_urdf()
