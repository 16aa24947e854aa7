"""Checkpoints: safetensors weights + JSON model config + JSON normalisation stats, in one folder.

    <dir>/model.safetensors   all weights (tied embeddings stored once)
    <dir>/config.json         ModelConfig.to_dict()
    <dir>/stats.json          {"action": {min, max, q01, q99, mean, std}, "state": {...}} (optional)

`convert_released_state_dict` maps the public Ψ0 release's parameter layout onto ours. That layout
is the Hugging Face Qwen3-VL one for the backbone (`model.visual.*`, `model.language_model.*`) and
the diffusers SD3 joint-block names for the action expert (`transformer_blocks.{i}.attn.to_q` …,
`norm1.linear`, `norm1_context.linear`, `ff.net.0.proj`, `ff_context.net.2`, `attn.to_add_out`, …),
under configurable prefixes. The release could not be downloaded here: the converter is verified
on a synthetic checkpoint built from those documented names and shapes (tests/policy), not on the
real file; where the real file differs, the converter reports every unmapped or missing key.
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


# ---- the public release's layout -----------------------------------------------------------------
_STREAM = {"act": ("", "norm1", "ff", "to_out.0"), "obs": ("add_", "norm1_context", "ff_context", "to_add_out")}


def released_expert_names(depth: int) -> list[str]:
    """Parameter names of the released expert's joint blocks (diffusers SD3 naming), for documentation/tests."""
    names = []
    for i in range(depth):
        b = f"transformer_blocks.{i}"
        for _, (qkv, norm, ff, out) in _STREAM.items():
            for x in ("q", "k", "v"):
                proj = f"attn.{qkv}{x}_proj" if qkv else f"attn.to_{x}"
                names += [f"{b}.{proj}.weight", f"{b}.{proj}.bias"]
            names += [f"{b}.{norm}.linear.weight", f"{b}.{norm}.linear.bias", f"{b}.attn.{out}.weight",
                      f"{b}.attn.{out}.bias", f"{b}.{ff}.net.0.proj.weight", f"{b}.{ff}.net.0.proj.bias",
                      f"{b}.{ff}.net.2.weight", f"{b}.{ff}.net.2.bias"]
        names += [f"{b}.attn.norm_q.weight", f"{b}.attn.norm_k.weight", f"{b}.attn.norm_added_q.weight",
                  f"{b}.attn.norm_added_k.weight"]
    return names


def convert_released_state_dict(sd: dict[str, torch.Tensor], depth: int, vlm_prefix: str = "vlm.",
                                expert_prefix: str = "action_expert.",
                                extra: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """Released names → ours. `extra` maps the remaining released names (projections, time embedding, final
    layer) one to one, e.g. {"action_expert.proj_out.weight": "expert.final_out.weight"}."""
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(name: str) -> torch.Tensor:
        used.add(name)
        return sd[name]

    for k, v in sd.items():  # backbone: HF Qwen3-VL for-generation layout → Qwen3VLModel layout
        if k.startswith(vlm_prefix + "model."):
            out["backbone.vlm." + k[len(vlm_prefix + "model."):]] = v
            used.add(k)
        elif k.startswith(vlm_prefix + "lm_head."):
            used.add(k)  # tied to the embeddings
    p = expert_prefix
    for i in range(depth):
        b = f"{p}transformer_blocks.{i}"
        for ours, (qkv, norm, ff, outp) in _STREAM.items():
            dst = f"expert.blocks.{i}.{ours}"
            names = [f"{b}.attn.{qkv}{x}_proj" if qkv else f"{b}.attn.to_{x}" for x in ("q", "k", "v")]
            out[f"{dst}.qkv.weight"] = torch.cat([take(n + ".weight") for n in names])
            out[f"{dst}.qkv.bias"] = torch.cat([take(n + ".bias") for n in names])
            out[f"{dst}.ada.1.weight"] = take(f"{b}.{norm}.linear.weight")
            out[f"{dst}.ada.1.bias"] = take(f"{b}.{norm}.linear.bias")
            out[f"{dst}.proj.weight"] = take(f"{b}.attn.{outp}.weight")
            out[f"{dst}.proj.bias"] = take(f"{b}.attn.{outp}.bias")
            for src, tgt in (("net.0.proj", "mlp.0"), ("net.2", "mlp.2")):
                out[f"{dst}.{tgt}.weight"] = take(f"{b}.{ff}.{src}.weight")
                out[f"{dst}.{tgt}.bias"] = take(f"{b}.{ff}.{src}.bias")
            qn, kn = ("norm_added_q", "norm_added_k") if qkv else ("norm_q", "norm_k")
            out[f"{dst}.q_norm.weight"] = take(f"{b}.attn.{qn}.weight")
            out[f"{dst}.k_norm.weight"] = take(f"{b}.attn.{kn}.weight")
    for src, dst in (extra or {}).items():
        out[dst] = take(src)
    left = sorted(set(sd) - used)
    if left:
        raise KeyError(f"released checkpoint: {len(left)} keys not mapped, e.g. {left[:5]}")
    return out
