"""Per-dimension normalisation of actions and states from dataset statistics.

Min-max to [−1, 1] (`mode="minmax"`, bounds min/max) or the robust variant (`mode="quantile"`,
bounds q01/q99, used for pre/post-training). Values outside the bounds are clipped at inference
(and in training), so an outlier never produces an out-of-range network input. Dimensions whose
bounds coincide (constant, e.g. zero padding) map to 0 and back to the constant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Normalizer:
    low: np.ndarray  # (D,)
    high: np.ndarray  # (D,)

    @staticmethod
    def from_stats(stats: dict[str, Any], mode: str = "minmax") -> Normalizer:
        keys = {"minmax": ("min", "max"), "quantile": ("q01", "q99")}
        if mode not in keys:
            raise ValueError(f"normalisation mode {mode!r}: use minmax or quantile")
        lo, hi = (np.asarray(stats[k], dtype=np.float64) for k in keys[mode])
        if lo.shape != hi.shape or np.any(hi < lo):
            raise ValueError("normalisation stats: bounds of different shapes or high < low")
        return Normalizer(lo, hi)

    @staticmethod
    def identity(dim: int) -> Normalizer:
        return Normalizer(-np.ones(dim), np.ones(dim))

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        span = self.high - self.low
        return np.where(span > 1e-8, span, 1.0), span > 1e-8

    def normalize(self, x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        span, live = self._scale()
        if isinstance(x, torch.Tensor):
            lo, sp, lv = (torch.as_tensor(a, dtype=x.dtype, device=x.device) for a in (self.low, span, live))
            return torch.where(lv.bool(), (2 * (x - lo) / sp - 1).clamp(-1, 1), torch.zeros_like(x))
        return np.where(live, np.clip(2 * (np.asarray(x) - self.low) / span - 1, -1, 1), 0.0)

    def denormalize(self, y: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        span, live = self._scale()
        if isinstance(y, torch.Tensor):
            lo, sp, lv = (torch.as_tensor(a, dtype=y.dtype, device=y.device) for a in (self.low, span, live))
            return torch.where(lv.bool(), (y.clamp(-1, 1) + 1) / 2 * sp + lo, lo.expand_as(y))
        return np.where(live, (np.clip(y, -1, 1) + 1) / 2 * span + self.low, self.low)

    def to_dict(self) -> dict[str, list[float]]:
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @staticmethod
    def from_dict(d: dict[str, list[float]]) -> Normalizer:
        return Normalizer(np.asarray(d["low"], dtype=np.float64), np.asarray(d["high"], dtype=np.float64))


def load_stats(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
