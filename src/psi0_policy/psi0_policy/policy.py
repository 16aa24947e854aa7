"""Deployment wrapper: raw observation in, raw (absolute, robot units) action chunk out.

    policy = Policy.load(bundle_dir, engine="torch")
    chunk = policy.infer(images=[rgb], instruction="touch the red cube", state=s36,
                         prefix=committed, prefix_len=d, seed=7)     # (H, 36)

Normalisation: actions and states are normalised to [−1, 1] with the bundle's stats (clipped) — min/max bounds,
or q01/q99 when the bundle's stats.json says `"norm_mode": "quantile"` (how it was trained) — and chunks are
denormalised back. Noise is drawn from a generator seeded per call when `seed` is
given (deterministic replays), otherwise from the policy's own generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from psi0_policy.engines import Engine, make_engine
from psi0_policy.model.checkpoint import load_checkpoint
from psi0_policy.model.normalize import Normalizer
from psi0_policy.model.preprocess import Preprocessor, make_tokenizer
from psi0_policy.model.psi0 import Psi0Model


class Policy:
    def __init__(self, model: Psi0Model, stats: dict[str, Any] | None, engine: str = "torch",
                 tokenizer_dir: str | None = None, norm_mode: str | None = None, seed: int = 0,
                 **engine_kwargs: Any) -> None:
        self.cfg = model.cfg
        # the torch engine takes the official prompt as it is; the others are built for one fixed prompt length
        self.pre = Preprocessor(model.cfg, make_tokenizer(model.cfg, tokenizer_dir), fixed_length=engine != "torch")
        d = model.cfg.action_dim
        norm_mode = norm_mode or (stats or {}).get("norm_mode", "minmax")  # the bundle says how it was trained
        self.action_norm = Normalizer.from_stats(stats["action"], norm_mode) if stats else Normalizer.identity(d)
        state_stats = (stats or {}).get("state")
        self.state_norm = Normalizer.from_stats(state_stats, norm_mode) if state_stats else self.action_norm
        if engine == "onnx" and "context_len" not in engine_kwargs and "onnx_path" not in engine_kwargs:
            engine_kwargs["context_len"] = self.context_len(1)
        if engine == "cuda_graph":
            engine_kwargs.setdefault("preprocessor", self.pre)
        self.engine: Engine = make_engine(engine, model, **engine_kwargs)
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def load(cls, bundle: str | Path, engine: str = "torch", **kwargs: Any) -> Policy:
        model, stats = load_checkpoint(bundle)
        tok = Path(bundle) / "tokenizer"
        if model.cfg.tokenizer == "qwen" and "tokenizer_dir" not in kwargs:
            kwargs["tokenizer_dir"] = str(tok)
        onnx = Path(bundle) / "expert.onnx"  # exported by `psi0 export` for one camera
        if engine == "onnx" and onnx.exists() and "onnx_path" not in kwargs and "context_len" not in kwargs:
            kwargs["onnx_path"] = str(onnx)
            if (Path(bundle) / "context.onnx").exists() and "context_path" not in kwargs:
                kwargs["context_path"] = str(Path(bundle) / "context.onnx")
        return cls(model, stats, engine=engine, **kwargs)

    def context_len(self, cameras: int) -> int:
        return self.pre.context_len(cameras)

    def noise(self, seed: int | None = None) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed) if seed is not None else self.generator
        return torch.randn(1, self.cfg.horizon, self.cfg.action_dim, generator=g)

    def infer(self, images: list[np.ndarray], instruction: str, state: np.ndarray, prefix: np.ndarray | None = None,
              prefix_len: int = 0, seed: int | None = None, noise: torch.Tensor | None = None) -> np.ndarray:
        """images: camera frames (H, W, 3) uint8; state (36,) raw; prefix (≥prefix_len, 36) raw → chunk (H, 36) raw."""
        inputs = self.pre([images], [instruction])
        s = torch.as_tensor(self.state_norm.normalize(np.asarray(state, dtype=np.float64)), dtype=torch.float32)[None]
        p = None
        if prefix_len:
            p = torch.as_tensor(self.action_norm.normalize(np.asarray(prefix[:prefix_len], dtype=np.float64)),
                                dtype=torch.float32)[None]
        n = noise if noise is not None else self.noise(seed)
        out = self.engine.infer(inputs, s, n, p, prefix_len)[0].double().numpy()
        chunk = self.action_norm.denormalize(out)
        if prefix_len:  # committed steps are returned exactly as given (no normalisation round-off)
            chunk[:prefix_len] = prefix[:prefix_len]
        return chunk
