"""Inference engines behind one interface: observation (+ committed prefix, noise) → normalised chunk.

    engine = make_engine("torch" | "cuda_graph" | "onnx" | "tensorrt", model, ...)
    chunk = engine.infer(inputs, state, noise, prefix, prefix_len)   # (1, H, D) normalised

All engines take the same noise and prefix, so they are comparable (parity tests).
"""

from __future__ import annotations

from typing import Any

from psi0_policy.engines.base import Engine, TorchEngine
from psi0_policy.model.psi0 import Psi0Model

ENGINES = ("torch", "cuda_graph", "onnx", "tensorrt")


def make_engine(name: str, model: Psi0Model, **kwargs: Any) -> Engine:
    if name == "torch":
        return TorchEngine(model, **kwargs)
    if name == "cuda_graph":
        from psi0_policy.engines.cuda_graph import CudaGraphEngine

        return CudaGraphEngine(model, **kwargs)
    if name == "onnx":
        from psi0_policy.engines.onnx_engine import OnnxEngine

        return OnnxEngine(model, **kwargs)
    if name == "tensorrt":
        from psi0_policy.engines.tensorrt_engine import TensorRTEngine

        return TensorRTEngine(model, **kwargs)
    raise ValueError(f"unknown engine {name!r}; choose one of {ENGINES}")
