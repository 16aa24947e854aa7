"""Test bundles: a tiny Ψ0 checkpoint whose stats keep every action close to the G1's default pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from psi0_core.g1_adapter import default_action
from psi0_policy.model.checkpoint import save_checkpoint
from psi0_policy.model.config import get_config
from psi0_policy.model.psi0 import Psi0Model


def tiny_bundle(folder: Path, spread: float = 0.05, seed: int = 0) -> Path:
    """Random tiny weights; min-max stats of ± `spread` around the default action, so whatever the
    random model outputs maps to small motions around the standing pose."""
    torch.manual_seed(seed)
    m = Psi0Model(get_config("tiny"))
    for p in m.expert.parameters():  # make the output depend on the input (AdaLN-Zero starts at zero)
        p.data.add_(0.02 * torch.randn_like(p))
    d = default_action()
    stats = {k: {"min": (d - spread).tolist(), "max": (d + spread).tolist(),
                 "mean": d.tolist(), "std": np.full(36, spread).tolist()} for k in ("action", "state")}
    return save_checkpoint(m, folder, stats=stats)
