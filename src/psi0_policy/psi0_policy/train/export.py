"""`psi0 export`: a training run or checkpoint → a deployable bundle the policy node loads by one path.

    <bundle>/model.safetensors   weights          <bundle>/config.json   model config
    <bundle>/stats.json          normalisation    <bundle>/expert.onnx   action expert for the onnx/tensorrt engines
    <bundle>/context.onnx        backbone + context projection (onnx engine)
    <bundle>/tokenizer/          Qwen tokenizer.json (models with the qwen text tokenizer)
    <bundle>/fast_tokenizer/     FAST action tokenizer (pre-trained backbones)
    <bundle>/bundle.json         manifest: source, step, horizon, action names, camera count, file SHA-256s

The ONNX files are exported for one camera (context = the chat-template prompt with `max_text_tokens` instruction
slots, Preprocessor.context_len) and checked
against torch on random inputs before the bundle is written (max |Δ| reported in bundle.json).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from psi0_policy.model.checkpoint import load_checkpoint, save_checkpoint
from psi0_policy.model.psi0 import Psi0Model
from psi0_policy.train.trainer import latest_checkpoint


def resolve_checkpoint(source: str | Path) -> Path:
    src = Path(source)
    if (src / "model.safetensors").exists():
        return src
    ckpt = latest_checkpoint(src)
    if ckpt is None:
        raise FileNotFoundError(f"{src} is neither a checkpoint folder nor a training run with checkpoints")
    return ckpt


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export(source: str | Path, out: str | Path, onnx: bool = True, text_tokenizer: str | None = None) -> dict[str, Any]:
    ckpt = resolve_checkpoint(source)
    model, stats = load_checkpoint(ckpt)
    if stats is None:
        raise ValueError(f"{ckpt} has no stats.json: a bundle needs the normalisation statistics")
    cfg_file = ckpt / "train_config.json"  # the run's config (a bare checkpoint folder has none)
    train_cfg = json.loads(cfg_file.read_text()) if cfg_file.exists() else {}
    facts = {"source": str(ckpt.resolve()), "stage": train_cfg.get("stage"),
             "step": int(ckpt.name.split("_")[-1]) if ckpt.name.startswith("step_") else None}
    fast = ckpt / "fast_tokenizer"
    return write_bundle(model, stats, out, facts, onnx=onnx, text_tokenizer=text_tokenizer or train_cfg.get("text_tokenizer"),
                        fast_tokenizer=fast if fast.exists() else None)


def write_bundle(model: Psi0Model, stats: dict[str, Any], out: str | Path, facts: dict[str, Any], onnx: bool = True,
                 text_tokenizer: str | Path | None = None, fast_tokenizer: Path | None = None) -> dict[str, Any]:
    """A model with its stats → the bundle folder `out` (written beside it, then moved: never half a bundle)."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(model, tmp, stats=stats)
    cfg = model.cfg
    if fast_tokenizer is not None:
        shutil.copytree(fast_tokenizer, tmp / "fast_tokenizer")
    if cfg.tokenizer == "qwen":
        folder = Path(text_tokenizer or "")
        if not (folder / "tokenizer.json").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileNotFoundError("a qwen-tokenizer model needs --text-tokenizer (a folder with tokenizer.json)")
        (tmp / "tokenizer").mkdir()
        shutil.copy2(folder / "tokenizer.json", tmp / "tokenizer" / "tokenizer.json")
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest: dict[str, Any] = {"format": "psi0-bundle", "version": 1, "created": created, "source": facts["source"],
                                "stage": facts.get("stage"), "step": facts.get("step"),
                                "horizon": cfg.horizon, "action_dim": cfg.action_dim, "cameras": 1}
    from psi0_core.g1_adapter import ACTION_DIM, action_names

    if cfg.action_dim == ACTION_DIM:  # a G1 policy (an EgoDex pre-training run has other dimensions)
        manifest["action_names"] = action_names()
    if onnx:
        from psi0_policy.engines.onnx_context import export_context
        from psi0_policy.engines.onnx_engine import export_expert
        from psi0_policy.model.preprocess import Preprocessor, make_tokenizer

        pre = Preprocessor(cfg, make_tokenizer(cfg, tmp / "tokenizer" if cfg.tokenizer == "qwen" else None), fixed_length=True)
        context = pre.context_len(1)
        path = export_expert(model, context, tmp / "expert.onnx")
        diff = _check_onnx(model, path, context)
        manifest["onnx"] = {"file": "expert.onnx", "context_len": context, "max_abs_diff_vs_torch": diff}
        ctx = export_context(model, tmp / "context.onnx", pre=pre)
        manifest["onnx"]["context_file"] = "context.onnx"
        manifest["onnx"]["context_max_abs_diff_vs_torch"] = _check_context(model, ctx, pre)
    manifest["files"] = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    (tmp / "bundle.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return manifest


def _check_context(model, path: Path, pre) -> float:
    """The context graph (backbone + projection) against torch on a random image and state."""
    import onnxruntime as ort

    from psi0_policy.engines.onnx_context import context_feeds, example_inputs

    g = torch.Generator().manual_seed(1)
    inputs = example_inputs(model, 1, pre)
    inputs["pixel_values"] = torch.rand(inputs["pixel_values"].shape, generator=g) * 2 - 1
    state = torch.randn(1, model.cfg.state_dim, generator=g)
    with torch.no_grad():
        ref = model.context(inputs, state, deploy=True)[0].numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, context_feeds(model, inputs, state))[0]
    return _max_diff(got, ref, "context graph")


def _check_onnx(model, path: Path, context: int) -> float:
    import onnxruntime as ort

    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(1, context + 1, cfg.expert.width, generator=g)
    mask = torch.ones(1, context, dtype=torch.int64)
    x = torch.randn(1, cfg.horizon, cfg.action_dim, generator=g)
    t = torch.rand(1, cfg.horizon, generator=g)
    with torch.no_grad():
        ref = model.expert(obs, x, t, mask > 0).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"obs": obs.numpy(), "obs_mask": mask.numpy(), "x": x.numpy(), "t": t.numpy()})[0]
    return _max_diff(got, ref, "expert")


def _max_diff(got: np.ndarray, ref: np.ndarray, what: str) -> float:
    """Max |ONNX − torch|; an exported graph further off than 1e-3 (relative) is refused."""
    diff = float(np.abs(got - ref).max())
    if diff > 1e-3 * max(1.0, float(np.abs(ref).max())):
        raise RuntimeError(f"exported {what} differs from torch by {diff:.2e}")
    return diff
