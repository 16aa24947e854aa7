"""CUDA-graph engine: the expert's whole sampling loop (num_steps Euler steps, prefix handling)
captured once per context length and replayed with static buffers.

The backbone runs eagerly (the stock Hugging Face Qwen3-VL forward syncs with the host in its
vision position code and in the deepstack update, so it cannot be captured as it is; see
docs/engines.md). Capture happens on the first call for a given context length (a few hundred ms)
and is reused after that; shapes are static per capture (batch 1).
"""

from __future__ import annotations

import torch

from psi0_policy.model.psi0 import BackboneInputs, Psi0Model


class CudaGraphEngine:
    name = "cuda_graph"

    def __init__(self, model: Psi0Model, device: str = "cuda", dtype: str = "bf16", warmup: int = 3) -> None:
        if not torch.cuda.is_available():
            raise RuntimeError("the cuda_graph engine needs a CUDA GPU")
        self.device = torch.device(device)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
        self.model = model.to(self.device, self.dtype).eval()
        self.cfg = model.cfg
        self.warmup = warmup
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, dict[str, torch.Tensor]]] = {}

    def _loop(self, b: dict[str, torch.Tensor]) -> None:
        n = self.cfg.num_steps
        dt = 1.0 / n
        clean = b["clean"]
        x = torch.where(clean[..., None], b["prefix"], b["noise"])
        for i in range(n):
            t = torch.where(clean, torch.zeros_like(b["t_ref"]), torch.full_like(b["t_ref"], 1.0 - i * dt))
            v = self.model.expert(b["obs"], x.to(self.dtype), t, b["mask"]).float()
            x = torch.where(clean[..., None], b["prefix"], x - dt * v)
        b["out"].copy_(x)

    def _capture(self, context_len: int) -> tuple[torch.cuda.CUDAGraph, dict[str, torch.Tensor]]:
        c, dev = self.cfg, self.device
        b = {
            "obs": torch.zeros(1, context_len + 1, c.expert.width, device=dev, dtype=self.dtype),
            "mask": torch.ones(1, context_len, device=dev, dtype=torch.bool),
            "noise": torch.zeros(1, c.horizon, c.action_dim, device=dev),
            "prefix": torch.zeros(1, c.horizon, c.action_dim, device=dev),
            "clean": torch.zeros(1, c.horizon, device=dev, dtype=torch.bool),
            "t_ref": torch.zeros(1, c.horizon, device=dev),
            "out": torch.zeros(1, c.horizon, c.action_dim, device=dev),
        }
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(self.warmup):
                self._loop(b)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            self._loop(b)
        return graph, b

    @torch.inference_mode()
    def infer(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
              prefix: torch.Tensor | None = None, prefix_len: int = 0) -> torch.Tensor:
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        obs, mask = self.model.context(inputs, state.to(self.device, self.dtype))
        length = mask.shape[1]
        if length not in self.graphs:
            self.graphs[length] = self._capture(length)
        graph, b = self.graphs[length]
        b["obs"].copy_(obs)
        b["mask"].copy_(mask.bool())
        b["noise"].copy_(noise)
        b["prefix"].zero_()
        b["clean"].zero_()
        if prefix_len:
            b["prefix"][:, :prefix_len].copy_(prefix[:, :prefix_len])
            b["clean"][:, :prefix_len] = True
        graph.replay()
        return b["out"].float().cpu()
