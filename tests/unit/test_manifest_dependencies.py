"""Every package.xml is true about what its code (and the tests of that package) import from outside psi0.

An import is one of three things:
- a ROS package (rclpy, launch, ..._msgs, ..._srvs, ..._interfaces): declared under its own name;
- a Python library with a rosdep key (ros/rosdistro rosdep/python.yaml, checked 2026-12): declared by that key;
- a Python library rosdep has no key for: declared as <pip_depend> inside <export> (free-form there, ignored by rosdep)
  and pinned in requirements.txt (or requirements-nodeps.txt), which tools/setup.sh installs; scope="test" marks one
  only the package's tests import.
Imports only an optional feature needs (a RealSense, OpenCV capture, TensorRT) are not declared; they must be lazy
(inside a function), so the package imports without them. psi0_core's internal rosdep keys stay outside this test
(test_structure.py checks those).
"""

from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"

# import name -> (how it is declared, the key or the requirements.txt distribution)
LIBRARIES: dict[str, tuple[str, str]] = {
    "numpy": ("rosdep", "python3-numpy"),
    "yaml": ("rosdep", "python3-yaml"),
    "PIL": ("rosdep", "python3-pil"),
    "torch": ("rosdep", "python3-torch"),
    "matplotlib": ("rosdep", "python3-matplotlib"),
    "h5py": ("rosdep", "python3-h5py"),
    "tqdm": ("rosdep", "python3-tqdm"),
    "pytest": ("rosdep", "python3-pytest"),
    "hypothesis": ("rosdep", "python3-hypothesis"),
    "websockets": ("rosdep", "python3-websockets"),
    "google": ("rosdep", "python3-protobuf"),  # google.protobuf
    "mujoco": ("rosdep", "python3-mujoco-pip"),
    "onnxruntime": ("rosdep", "python3-onnxruntime-pip"),
    "rosbags": ("rosdep", "python3-rosbags-pip"),
    "transformers": ("rosdep", "python3-transformers-pip"),
    "av": ("pip", "av"),
    "pyarrow": ("pip", "pyarrow"),
    "safetensors": ("pip", "safetensors"),
    "tokenizers": ("pip", "tokenizers"),
    "onnx": ("pip", "onnx"),
    "cyclonedds": ("pip", "cyclonedds"),
    "unitree_sdk2py": ("pip", "unitree-sdk2py-dimos"),
    "foxglove": ("pip", "foxglove-sdk"),
    "cv2": ("optional", "V4L2 capture through OpenCV (camera_sources)"),
    "pyrealsense2": ("optional", "RealSense capture (camera_sources)"),
    "tensorrt": ("optional", "the TensorRT engine"),
}
ROS_NAME = re.compile(r"^(rclpy|launch|launch_ros|ament_index_python|\w+_msgs|\w+_srvs|\w+_interfaces)$")

# The tests of each package: tests/<folder> -> the package whose manifest lists their test dependencies.
TEST_OWNERS = {
    "bridge": "psi0_bridge", "camera": "psi0_camera", "sim": "psi0_sim",
    "data": "psi0_policy", "policy": "psi0_policy", "train": "psi0_policy",
    "graph": "psi0", "ros": "psi0", "unit": "psi0", "support": "psi0", "conftest.py": "psi0",
}


def _packages() -> list[str]:
    return sorted(p.parent.name for p in SRC.glob("*/package.xml") if (p.parent / p.parent.name).is_dir())


def _external_imports(files: list[Path]) -> dict[str, dict[str, bool]]:
    """{top-level name: {file: imported at module level}} for every import from outside the stdlib and psi0."""
    out: dict[str, dict[str, bool]] = {}
    for f in files:
        tree = ast.parse(f.read_text(), str(f))
        top = {id(n) for n in tree.body} | {id(c) for n in tree.body if isinstance(n, ast.Try | ast.If) for c in n.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in {n.split(".")[0] for n in names}:
                if name in sys.stdlib_module_names or name.startswith("psi0") or name == "tests":
                    continue
                seen = out.setdefault(name, {})
                seen[str(f.relative_to(REPO))] = seen.get(str(f.relative_to(REPO)), False) or id(node) in top
    return out


def _manifest(package: str) -> dict[str, set[str]]:
    root = ET.parse(SRC / package / "package.xml").getroot()
    tags = ("depend", "exec_depend", "build_depend", "test_depend")
    out = {t: {e.text for e in root.findall(t)} for t in tags}
    pip = root.findall("export/pip_depend")
    out["pip_depend"] = {e.text for e in pip if e.get("scope") != "test"}
    out["pip_test_depend"] = {e.text for e in pip if e.get("scope") == "test"}
    return out


def _declaration(name: str) -> tuple[str, str]:
    if ROS_NAME.match(name):
        return ("ros", name)
    assert name in LIBRARIES, f"`import {name}` is new: add it to LIBRARIES with its rosdep key (or pip/optional)"
    return LIBRARIES[name]


def _missing(imports: dict[str, dict[str, bool]], declared: set[str], pip: set[str]) -> list[str]:
    missing = []
    for name, files in sorted(imports.items()):
        kind, key = _declaration(name)
        if kind == "optional":
            eager = [f for f, at_top in files.items() if at_top]
            assert not eager, f"{name} ({key}) is optional but imported at module level in {eager}"
        elif kind == "pip":
            if key not in pip:
                missing.append(f"<pip_depend>{key}</pip_depend> (for {name}, in {sorted(files)[0]})")
        elif key not in declared:
            missing.append(f"{key} (for {name}, in {sorted(files)[0]})")
    return missing


@pytest.mark.parametrize("package", _packages())
def test_manifest_declares_every_external_import_of_its_code(package):
    m = _manifest(package)
    imports = _external_imports(list((SRC / package / package).rglob("*.py")))
    missing = _missing(imports, m["depend"] | m["exec_depend"], m["pip_depend"])
    assert not missing, f"{package}/package.xml lacks: " + "; ".join(missing)


@pytest.mark.parametrize("package", _packages())
def test_manifest_declares_what_its_tests_import(package):
    folders = [f for f, owner in TEST_OWNERS.items() if owner == package]
    files = [p for f in folders for p in ([REPO / "tests" / f] if f.endswith(".py") else (REPO / "tests" / f).rglob("*.py"))]
    m = _manifest(package)
    missing = _missing(_external_imports(files), m["depend"] | m["exec_depend"] | m["test_depend"],
                       m["pip_depend"] | m["pip_test_depend"])
    assert not missing, f"{package}/package.xml lacks test dependencies: " + "; ".join(missing)


def test_every_test_folder_has_an_owner():
    folders = {p.name for p in (REPO / "tests").iterdir() if (p.is_dir() and any(p.rglob("*.py"))) or p.name == "conftest.py"}
    assert folders - {"__pycache__"} <= set(TEST_OWNERS), sorted(folders - set(TEST_OWNERS))


@pytest.mark.parametrize("package", _packages())
def test_declared_libraries_are_used_and_pip_ones_are_pinned(package):
    """Nothing declared that no code or test of the package imports, and every <pip_depend> is in requirements.txt."""
    m = _manifest(package)
    folders = [f for f, owner in TEST_OWNERS.items() if owner == package]
    files = list((SRC / package / package).rglob("*.py")) + [
        p for f in folders for p in ([REPO / "tests" / f] if f.endswith(".py") else (REPO / "tests" / f).rglob("*.py"))]
    used = {key for kind, key in map(_declaration, _external_imports(files)) if kind != "optional"}
    library_keys = {key for kind, key in LIBRARIES.values() if kind in ("rosdep", "pip")}
    pip = m["pip_depend"] | m["pip_test_depend"]
    declared = (m["depend"] | m["exec_depend"] | m["test_depend"] | pip) & library_keys
    assert not declared - used, f"{package} declares libraries it never imports: {sorted(declared - used)}"
    pinned = {re.split(r"[=<>\s#]", line.strip())[0].lower()
              for req in ("requirements.txt", "requirements-nodeps.txt")
              for line in (REPO / req).read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert not pip - pinned, f"not pinned in requirements.txt: {sorted(pip - pinned)}"

