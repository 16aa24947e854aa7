"""Small real datasets for the training tests (synthetic teleop / EgoDex → LeRobot v3.0 with the data pipeline)."""

from __future__ import annotations

from pathlib import Path

from psi0_policy.data.convert import convert
from psi0_policy.train.config import load_train_config
from tests.conftest import REPO
from tests.data.fixtures import make_egodex, make_teleop

CONFIGS = REPO / "config" / "train"


def teleop_dataset(root: Path, episodes: int = 4, frames: int = 40) -> Path:
    for k in range(episodes):
        make_teleop(root / "raw" / f"episode_{k}", n=frames, seed=k, task="wave")
    rep = convert("teleop", [root / "raw"], root / "ds", progress=False)
    assert rep.converted == episodes
    return root / "ds"


def egodex_dataset(root: Path, episodes: int = 4, frames: int = 40) -> Path:
    for k in range(episodes):
        make_egodex(root / "raw_ego" / "pour", n=frames, seed=k)
    convert("egodex", [root / "raw_ego"], root / "ego", progress=False)
    return root / "ego"


def tiny_finetune(ds: Path, out: Path, *overrides: str):
    return load_train_config(CONFIGS / "finetune_tiny.yaml", [f"datasets=[{ds}]", f"out={out}", *overrides])
