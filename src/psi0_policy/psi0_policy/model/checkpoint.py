"""Checkpoints: safetensors weights + JSON model config + JSON normalisation stats, in one folder.

    <dir>/model.safetensors   all weights (tied embeddings stored once)
    <dir>/config.json         ModelConfig.to_dict()
    <dir>/stats.json          {"action": {min, max, q01, q99, mean, std}, "state": {...}} (optional)

`convert_official_state_dict` / `load_official_weights` take the official Ψ0 layouts (a training run's checkpoint,
the released action_header.safetensors, the released Qwen3-VL folder): the expert's names are the official ones,
so only prefixes map; every missing, unknown or mis-shaped key is named in the error. Verified on the official
parity fixture's state dict (tests/policy/test_official_parity.py, test_model.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from psi0_policy.model.config import ModelConfig, from_dict
from psi0_policy.model.psi0 import Psi0Model


def save_checkpoint(model: Psi0Model, folder: str | Path, stats: dict[str, Any] | None = None) -> Path:
    return save_weights(model.state_dict(), model.cfg, folder, stats)


def save_weights(state: dict[str, torch.Tensor], cfg: ModelConfig, folder: str | Path,
                 stats: dict[str, Any] | None = None) -> Path:
    """A (full) state dict + its config (+ stats) as a checkpoint folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    # tied weights share storage: store each tensor once (safetensors refuses shared storage)
    seen: dict[int, str] = {}
    unique = {}
    for k, v in state.items():
        ptr = v.untyped_storage().data_ptr()
        if ptr in seen and v.shape == state[seen[ptr]].shape:
            continue
        seen[ptr] = k
        unique[k] = v.clone()
    save_file(unique, str(folder / "model.safetensors"), metadata={"format": "psi0"})
    (folder / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    if stats is not None:
        (folder / "stats.json").write_text(json.dumps(stats))
    return folder


def load_config(folder: str | Path) -> ModelConfig:
    return from_dict(json.loads((Path(folder) / "config.json").read_text()))


def load_checkpoint(folder: str | Path, map_location: str = "cpu") -> tuple[Psi0Model, dict[str, Any] | None]:
    folder = Path(folder)
    if not (folder / "model.safetensors").exists():
        raise FileNotFoundError(f"{folder} holds no model.safetensors")
    model = Psi0Model(load_config(folder))
    weights = load_file(str(folder / "model.safetensors"), device=map_location)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = {k for k in missing if k.endswith("embed_tokens.weight") or k.startswith("lm_head")}
    if set(missing) - tied or unexpected:
        raise ValueError(f"checkpoint {folder}: missing {sorted(set(missing) - tied)[:5]}, unexpected {unexpected[:5]}")
    stats_file = folder / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else None
    return model.eval(), stats


# ---- the official layouts -------------------------------------------------------------------------
# The expert's parameter names are the official ones (model/expert.py), so only prefixes change:
#   training checkpoint (checkpoints/ckpt_*/model.safetensors):  action_header.*, vlm_model.model.{visual,language_model}.*,
#                                                                vlm_model.lm_head.weight (tied to the embeddings)
#   released action expert (action_header.safetensors):          the expert's keys without a prefix
#   released VLM folder (save_pretrained of Qwen3-VL):           model.{visual,language_model}.*, lm_head.weight
OFFICIAL_PREFIXES = {
    "training": (("action_header.", "expert."), ("vlm_model.model.", "backbone.vlm."), ("vlm_model.lm_head.", None)),
    "expert": (("", "expert."),),
    "vlm": (("model.", "backbone.vlm."), ("lm_head.", None)),
}


class CheckpointLayoutError(KeyError):
    """An official checkpoint does not fit the model: the message names the missing, unknown or mis-shaped keys."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def convert_official_state_dict(sd: dict[str, torch.Tensor], layout: str) -> dict[str, torch.Tensor]:
    """Official names → this model's, for one of OFFICIAL_PREFIXES' layouts (tied lm_head weights are dropped)."""
    if layout not in OFFICIAL_PREFIXES:
        raise ValueError(f"unknown official layout {layout!r}; known: {', '.join(OFFICIAL_PREFIXES)}")
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for k, v in sd.items():
        for src, dst in OFFICIAL_PREFIXES[layout]:
            if k.startswith(src):
                if dst is not None:
                    out[dst + k[len(src):]] = v
                break
        else:
            unknown.append(k)
    if unknown:
        raise CheckpointLayoutError(f"{len(unknown)} keys fit no {layout!r} prefix "
                                    f"({', '.join(p for p, _ in OFFICIAL_PREFIXES[layout]) or 'none'}), e.g. {unknown[:5]}")
    return out


def load_official_weights(model: Psi0Model, parts: dict[str, dict[str, torch.Tensor]], strict_backbone: bool = True) -> None:
    """Load official state dicts ({layout: state dict}) into `model`; CheckpointLayoutError lists what does not fit.
    Every expert key must be present; backbone keys too unless strict_backbone is False (an expert-only load)."""
    converted: dict[str, torch.Tensor] = {}
    for layout, sd in parts.items():
        converted.update(convert_official_state_dict(sd, layout))
    own = model.state_dict()
    unexpected = sorted(k for k in converted if k not in own)
    shapes = sorted(f"{k}: {tuple(converted[k].shape)} vs {tuple(own[k].shape)}" for k in converted
                    if k in own and converted[k].shape != own[k].shape)
    tied = {k for k in own if k.endswith("embed_tokens.weight") or k.startswith("lm_head")}
    missing = sorted(k for k in own if k not in converted and k not in tied
                     and (strict_backbone or k.startswith("expert.")))
    if unexpected or shapes or missing:
        raise CheckpointLayoutError("official checkpoint does not fit the model: "
                                    + "; ".join(f"{what} ({len(x)}): {x[:4]}" for what, x in
                                                (("missing", missing), ("unexpected", unexpected), ("shape", shapes)) if x))
    model.load_state_dict(converted, strict=False)
