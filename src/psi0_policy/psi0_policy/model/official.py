"""The official Ψ0 release and training layouts → this project's model config, weights and stats.

Two sources (physical-superintelligence-lab/Psi0; facts read from src/psi/models/psi0.py,
scripts/save_posttrain_action_expert.py, src/psi/config/transform.py):

    training run     <run>/run_config.json                 the launch config (model.*, data.transform.field.*)
                     <run>/checkpoints/ckpt_<step>/model.safetensors   vlm_model.model.*, vlm_model.lm_head.weight (tied),
                                                                       action_header.*
    release          <vlm>/config.json + model*.safetensors (+ tokenizer.json)   save_pretrained of the Qwen3-VL
                     <expert>/action_header.safetensors                          the expert's keys, no prefix

Statistics come from the dataset's `meta/stats_psi0.json`: {"action": {min, max, q01, q99, mean, std}, "states": {…}};
the released real datasets have 32-D states (hands 14, arms 14, previous torso rpy + height), which are padded with
zeros to the model's state size, as the official ActionStateTransform does (pad_to_len; min = max = 0 there, so
those dims normalise to 0).

The expert's shape (width, depth, heads of 64, MLP ratio, horizon, action and state sizes, context width) is read
from the tensors themselves, so any official expert size converts; the backbone's shape comes from a named
config (`psi0`: Qwen3-VL-2B, `tiny`: tests) with the vocabulary size of the checkpoint's embedding.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from psi0_policy.model.checkpoint import CheckpointLayoutError, load_official_weights
from psi0_policy.model.config import ModelConfig, get_config
from psi0_policy.model.psi0 import Psi0Model

HEAD_DIM = 64  # official attention_head_dim (a constructor default the checkpoints do not record)
NORM_TYPES = {"bounds": "minmax", "bounds_q99": "quantile"}  # official action_norm_type → ours
STAT_KEYS = ("min", "max", "q01", "q99", "mean", "std")


class OfficialLayoutError(ValueError):
    """An official folder or file is missing something the conversion needs; the message says what and where."""


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise OfficialLayoutError(f"{what}: {path} does not exist")
    return path


# ---- shapes ----------------------------------------------------------------------------------------
def expert_shape(expert_sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The expert's sizes from its (unprefixed, official-named) tensors."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in expert_sd:
            raise CheckpointLayoutError(f"the action expert has no {key!r}: not an official Ψ0 action_header")
        return tuple(expert_sd[key].shape)

    width, action_dim = shape("action_proj_in.ac_proj.2.weight")
    horizon = shape("action_proj_in.dec_pos")[0]
    state_dim = shape("obs_proj._obs_proc.1.weight")[1]
    context_dim = shape("obs_proj.views_proj.weight")[1]
    blocks = {int(m.group(1)) for k in expert_sd if (m := re.match(r"transformer_blocks\.(\d+)\.", k))}
    if not blocks or sorted(blocks) != list(range(len(blocks))):
        raise CheckpointLayoutError(f"transformer_blocks are not numbered 0..N-1: {sorted(blocks)[:8]}")
    inner = shape("transformer_blocks.0.attn.to_q.weight")[0]
    ff = shape("transformer_blocks.0.ff_act.net.0.proj.weight")[0]
    if inner % HEAD_DIM:
        raise CheckpointLayoutError(f"attention width {inner} is not a multiple of the official head size {HEAD_DIM}")
    return {"width": width, "depth": len(blocks), "heads": inner // HEAD_DIM, "head_dim": HEAD_DIM,
            "mlp_ratio": ff / width, "horizon": horizon, "action_dim": action_dim, "state_dim": state_dim,
            "context_dim": context_dim}


def model_config(expert_sd: dict[str, torch.Tensor], vocab_size: int | None, base: str = "psi0",
                 rtc_max_delay: int | None = None) -> ModelConfig:
    """Our ModelConfig for an official expert (+ the backbone `base` with the checkpoint's vocabulary)."""
    b = get_config(base)
    s = expert_shape(expert_sd)
    if s["context_dim"] != b.text.hidden_size:
        raise CheckpointLayoutError(f"the expert reads {s['context_dim']}-wide VLM features but the {base!r} backbone "
                                    f"is {b.text.hidden_size} wide: pick the backbone the expert was trained on")
    expert = dataclasses.replace(b.expert, **{k: s[k] for k in ("width", "depth", "heads", "head_dim", "mlp_ratio")})
    text = dataclasses.replace(b.text, vocab_size=vocab_size) if vocab_size else b.text
    kw: dict[str, Any] = {"expert": expert, "text": text, "horizon": s["horizon"], "action_dim": s["action_dim"],
                          "state_dim": s["state_dim"]}
    if rtc_max_delay is not None:
        kw["rtc_max_delay"] = min(rtc_max_delay, s["horizon"] - 1)
    return dataclasses.replace(b, name=f"{base}-official", **kw)


# ---- statistics ------------------------------------------------------------------------------------
def bundle_stats(stats_psi0: dict[str, Any], action_dim: int, state_dim: int, action_key: str = "action",
                 state_key: str = "states", norm_mode: str = "minmax") -> dict[str, Any]:
    """meta/stats_psi0.json → a bundle's stats.json ({"action", "state", "norm_mode"}), zero-padded to the model."""
    out: dict[str, Any] = {"norm_mode": norm_mode}
    for src, dst, dim in ((action_key, "action", action_dim), (state_key, "state", state_dim)):
        if src not in stats_psi0:
            raise OfficialLayoutError(f"stats have no {src!r} entry (keys: {sorted(stats_psi0)})")
        part = {}
        for k in STAT_KEYS:
            if k not in stats_psi0[src]:
                continue
            v = np.asarray(stats_psi0[src][k], dtype=np.float64).ravel()
            if len(v) > dim:
                raise OfficialLayoutError(f"stats {src}.{k} has {len(v)} values, the model takes {dim}")
            part[k] = np.pad(v, (0, dim - len(v))).tolist()
        missing = [k for k in ("min", "max") + (("q01", "q99") if norm_mode == "quantile" else ()) if k not in part]
        if missing:
            raise OfficialLayoutError(f"stats {src} lack {missing} (normalisation {norm_mode})")
        out[dst] = part
    return out


# ---- the two sources -------------------------------------------------------------------------------
def _vlm_weights(folder: Path) -> dict[str, torch.Tensor]:
    files = sorted(folder.glob("model*.safetensors"))
    if not files:
        raise OfficialLayoutError(f"released VLM folder {folder} holds no model*.safetensors")
    sd: dict[str, torch.Tensor] = {}
    for f in files:
        sd.update(load_file(str(f)))
    return sd


def _vocab(sd: dict[str, torch.Tensor], key: str) -> int:
    if key not in sd:
        raise CheckpointLayoutError(f"no {key!r}: the VLM half of the checkpoint is missing")
    return int(sd[key].shape[0])


def latest_step(run: Path) -> int:
    steps = [int(m.group(1)) for p in (run / "checkpoints").glob("ckpt_*") if (m := re.fullmatch(r"ckpt_(\d+)", p.name))]
    if not steps:
        raise OfficialLayoutError(f"{run}/checkpoints holds no ckpt_<step> folder")
    return max(steps)


def load_run(run: str | Path, step: int | None = None, base: str = "psi0",
             stats_file: str | Path | None = None) -> tuple[Psi0Model, dict[str, Any], dict[str, Any]]:
    """An official training run → (model with its weights, bundle stats, facts for the manifest)."""
    run = Path(run)
    launch = json.loads(_need(run / "run_config.json", "official run config").read_text())
    step = latest_step(run) if step is None else step
    ckpt = _need(run / "checkpoints" / f"ckpt_{step}" / "model.safetensors", f"checkpoint of step {step}")
    sd = load_file(str(ckpt))
    expert_sd = {k[len("action_header."):]: v for k, v in sd.items() if k.startswith("action_header.")}
    if not expert_sd:
        raise CheckpointLayoutError(f"{ckpt} holds no action_header.* keys")
    m = launch.get("model", {})
    delay = int(m["max_delay"]) - 1 if m.get("rtc") and "max_delay" in m else None  # official delays: 0..max_delay-1
    cfg = model_config(expert_sd, _vocab(sd, "vlm_model.model.language_model.embed_tokens.weight"), base, delay)
    for key, ours in (("action_chunk_size", cfg.horizon), ("action_dim", cfg.action_dim), ("odim", cfg.state_dim)):
        if key in m and int(m[key]) != ours:
            raise CheckpointLayoutError(f"run_config model.{key} = {m[key]} but the checkpoint's expert has {ours}")
    model = Psi0Model(cfg)
    load_official_weights(model, {"training": sd})
    field = launch.get("data", {}).get("transform", {}).get("field", {})
    norm = NORM_TYPES.get(field.get("action_norm_type", "bounds"))
    if norm is None:
        raise OfficialLayoutError(f"unsupported action_norm_type {field.get('action_norm_type')!r} "
                                  f"(known: {', '.join(NORM_TYPES)})")
    if stats_file is None:
        stats_file = run / "stats_psi0.json"
        if not stats_file.exists():
            raise OfficialLayoutError(f"{run} has no stats_psi0.json: pass the dataset's meta/stats_psi0.json "
                                      f"(the run was trained on {field.get('stat_path', 'an unknown stats file')})")
    stats = bundle_stats(json.loads(_need(Path(stats_file), "stats").read_text()), cfg.action_dim, cfg.state_dim,
                         field.get("stat_action_key", "action"), field.get("stat_state_key", "states"), norm)
    facts = {"source": str(run.resolve()), "stage": launch.get("train", {}).get("name"), "step": step,
             "tokenizer_dir": m.get("model_name_or_path")}
    return model.eval(), stats, facts


def load_release(vlm: str | Path, expert: str | Path, stats_file: str | Path, base: str = "psi0",
                 rtc_max_delay: int | None = 7) -> tuple[Psi0Model, dict[str, Any], dict[str, Any]]:
    """The released VLM folder + action_header.safetensors + stats_psi0.json → (model, bundle stats, facts)."""
    vlm, expert = Path(vlm), Path(expert)
    if expert.is_dir():
        expert = expert / "action_header.safetensors"
    expert_sd = load_file(str(_need(expert, "released action expert")))
    vlm_sd = _vlm_weights(_need(vlm, "released VLM folder"))
    cfg = model_config(expert_sd, _vocab(vlm_sd, "model.language_model.embed_tokens.weight"), base, rtc_max_delay)
    model = Psi0Model(cfg)
    load_official_weights(model, {"expert": expert_sd, "vlm": vlm_sd})
    stats = bundle_stats(json.loads(_need(Path(stats_file), "stats").read_text()), cfg.action_dim, cfg.state_dim)
    facts = {"source": f"{vlm.resolve()} + {expert.resolve()}", "stage": "release", "step": None,
             "tokenizer_dir": str(vlm)}
    return model.eval(), stats, facts
