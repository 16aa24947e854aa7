"""ONNX Runtime engine: backbone and action expert exported to ONNX (static shapes), run with ONNX Runtime.

What runs where: the observation path (Qwen3-VL backbone + the expert's context projection, one graph, see
onnx_context.py) and the expert's velocity network — called `num_steps` times per chunk — run in ONNX Runtime
(CPU or CUDA provider); the host does the preprocessing, the M-RoPE position ids and the Euler loop with the
prefix handling (flow.sample_rtc, the official schedule). Without a context graph (`context_path`), the observation path
runs in PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from psi0_policy.engines.onnx_context import context_feeds
from psi0_policy.model import flow
from psi0_policy.model.psi0 import BackboneInputs, Psi0Model


class _Velocity(nn.Module):
    def __init__(self, model: Psi0Model) -> None:
        super().__init__()
        self.expert = model.expert

    def forward(self, obs: torch.Tensor, obs_mask: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.expert(obs, x, t, obs_mask > 0)


def export_expert(model: Psi0Model, context_len: int, path: str | Path, opset: int = 17) -> Path:
    """Export the expert velocity network for a context of `context_len` tokens (batch 1, static shapes)."""
    cfg = model.cfg
    w = cfg.expert.width
    args = (torch.zeros(1, context_len + 1, w), torch.ones(1, context_len, dtype=torch.int64),
            torch.zeros(1, cfg.horizon, cfg.action_dim), torch.ones(1, cfg.horizon))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(_Velocity(model).float().eval(), args, str(path), input_names=["obs", "obs_mask", "x", "t"],
                      output_names=["velocity"], opset_version=opset, dynamo=False)
    return path


class OnnxEngine:
    name = "onnx"

    def __init__(self, model: Psi0Model, onnx_path: str | Path | None = None, context_len: int | None = None,
                 providers: list[str] | None = None, workdir: str | Path | None = None,
                 context_path: str | Path | None = None) -> None:
        import onnxruntime as ort

        self.model = model.float().eval()
        self.cfg = model.cfg
        if onnx_path is None:
            if context_len is None:
                raise ValueError("OnnxEngine needs onnx_path, or context_len to export the expert now")
            onnx_path = export_expert(model, context_len, Path(workdir or ".") / f"expert_L{context_len}.onnx")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=providers or ["CPUExecutionProvider"])
        self.context_len = self.session.get_inputs()[1].shape[1]
        self.context_session = None
        if context_path is not None:
            self.context_session = ort.InferenceSession(str(context_path), opts, providers=providers or ["CPUExecutionProvider"])
            length = self.context_session.get_inputs()[0].shape[1]
            if length != self.context_len:
                raise ValueError(f"context graph for {length} tokens, expert graph for {self.context_len}")

    @torch.inference_mode()
    def infer(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
              prefix: torch.Tensor | None = None, prefix_len: int = 0) -> torch.Tensor:
        mask = inputs["attention_mask"]
        if mask.shape[1] != self.context_len:
            raise ValueError(f"context of {mask.shape[1]} tokens; the ONNX expert was exported for {self.context_len}")
        if self.context_session is not None:
            obs = self.context_session.run(None, context_feeds(self.model, inputs, state))[0]
        else:
            obs = self.model.context(inputs, state.float(), deploy=True)[0].numpy()
        feeds = {"obs": obs.astype(np.float32), "obs_mask": mask.numpy().astype(np.int64)}

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out = self.session.run(None, {**feeds, "x": x.numpy().astype(np.float32), "t": t.numpy().astype(np.float32)})
            return torch.from_numpy(out[0])

        return flow.sample_rtc(velocity, noise.float(), self.cfg.num_steps, prefix, prefix_len, per_token=True)
