"""The house's structure: packages import only from packages below them (no cycle), every package.xml declares
the psi0 packages its code imports, and the G1 facts, the 36-D layout and the chunk contract exist once."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.unit
SRC = Path(__file__).resolve().parents[2] / "src"

# The layers, bottom up: a package may import only from packages in a lower layer (and itself).
LAYERS = {
    "psi0_msgs": 0,
    "psi0_core": 1,
    "psi0_bridge": 2, "psi0_camera": 2, "psi0_policy": 2, "psi0_sim": 2,
    "psi0": 3,
}


def _python_packages() -> dict[str, Path]:
    return {p.parent.name: p.parent for p in SRC.glob("*/package.xml") if (p.parent / p.parent.name).is_dir()}


def _imports(root: Path) -> dict[str, set[str]]:
    """Top-level psi0 packages imported by each module under root (every import, lazy ones included)."""
    out: dict[str, set[str]] = {}
    for f in root.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            found |= {n.split(".")[0] for n in names if n.split(".")[0] in LAYERS}
        out[str(f.relative_to(SRC))] = found
    return out


def test_every_package_has_a_layer():
    assert set(_python_packages()) | {"psi0_msgs"} == set(LAYERS)


@pytest.mark.parametrize("package", sorted(set(LAYERS) - {"psi0_msgs"}))
def test_no_package_imports_from_a_package_above_or_beside_it(package):
    root = _python_packages()[package] / package
    bad = {f: sorted(p for p in pkgs if p != package and LAYERS[p] >= LAYERS[package])
           for f, pkgs in _imports(root).items()}
    bad = {f: p for f, p in bad.items() if p}
    assert not bad, f"imports from the same or a higher layer: {bad}"


@pytest.mark.parametrize("package", sorted(set(LAYERS) - {"psi0_msgs"}))
def test_manifest_declares_the_psi0_packages_it_imports(package):
    folder = _python_packages()[package]
    deps = {e.text for e in ET.parse(folder / "package.xml").getroot() if e.tag in ("depend", "exec_depend")}
    used = set().union(*_imports(folder / package).values()) - {package}
    if package == "psi0":  # the bringup also starts the node packages its profiles name
        for f in (SRC.parent / "config" / "profiles").glob("*.yaml"):
            used |= set(re.findall(r"package: (psi0\w*)", f.read_text())) - {package}
    assert used <= deps, f"{package}/package.xml lacks {sorted(used - deps)}"
    assert not (deps & set(LAYERS)) - used - {"psi0_msgs"}, f"{package} declares psi0 packages it never imports"


def _code_literals(path: Path) -> list[tuple[int, object]]:
    """Numeric constants in executable code (docstrings and comments are not code)."""
    tree = ast.parse(path.read_text())
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(n.value, bool)]


# Where a robot number may legitimately appear outside psi0_core, and why.
ALLOWED = {
    "psi0_policy/psi0_policy/model/config.py": "the model's own dimensions (action_dim/state_dim 36) are model hyper-parameters",
}


def test_robot_constants_live_in_the_ground_package():
    """29 (body motors), 0.75 (nominal base height) and the 36-D layout's boundaries 14/28 as slices are G1 facts:
    psi0_core holds them, every other package names them."""
    offenders = []
    for f in SRC.glob("psi0*/psi0*/**/*.py"):
        rel = str(f.relative_to(SRC))
        if rel.startswith("psi0_core/") or rel in ALLOWED:
            continue
        for line, value in _code_literals(f):
            if value in (29, 0.75):
                offenders.append(f"{rel}:{line}: {value}")
        text = f.read_text()
        for m in re.finditer(r"\[(?:\.\.\., *|:, *)?(?:0?:14|14:28|28:3[0-6]|:29|29:)\]", text):
            offenders.append(f"{rel}:{text[:m.start()].count(chr(10)) + 1}: {m.group()}")
    assert not offenders, "robot constants outside psi0_core:\n" + "\n".join(offenders)


def test_the_chunk_contract_exists_once():
    """Chunk/ChunkExecutor are defined only in psi0_core.chunks; nobody re-implements sampling a chunk."""
    defs = []
    for f in SRC.glob("psi0*/psi0*/**/*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ClassDef) and (("Chunk" in node.name and "Executor" in node.name) or node.name in (
                    "Chunk", "_Chunks")):
                defs.append(f"{f.relative_to(SRC)}:{node.name}")
    assert defs == ["psi0_core/psi0_core/chunks.py:Chunk", "psi0_core/psi0_core/chunks.py:ChunkExecutor"], defs


def test_every_reader_of_the_36d_state_calls_the_adapter(monkeypatch, tmp_path):
    """The policy's observation, the teleoperation reader and the bag reader build their states through
    G1Adapter.state (spied on), so a change of what a dimension means is made in one place."""
    from psi0_core.g1_adapter import G1Adapter
    from psi0_policy.data import rosbag_reader, teleop
    from psi0_policy.observation import StateBuilder
    from tests.data.fixtures import make_teleop

    calls: list[str] = []  # every file on the stack of each call
    real = G1Adapter.state

    def spy(*args, **kwargs):
        import inspect

        calls.extend(Path(f.filename).name for f in inspect.stack()[1:])
        return real(*args, **kwargs)

    monkeypatch.setattr(G1Adapter, "state", staticmethod(spy))
    sb = StateBuilder(G1Adapter())
    sb.update_joints(list(sb.adapter.state_joint_names), list(np.zeros(28)), 0.0)
    sb.state()
    teleop.read_teleop(make_teleop(tmp_path / "ep", n=4))
    assert "observation.py" in calls
    assert "teleop.py" in calls
    assert "adapter.state_from_joints(" in Path(rosbag_reader.__file__).read_text()  # its test needs a recorded bag
