"""CUDA-graph engine: the whole chunk — backbone + context projection (engines/static_context.py) and the
expert's num_steps Euler steps with prefix handling — captured once per input layout and replayed from static
buffers.

Capture happens on the first call for a layout (context length, image tensor shape; a few hundred ms after
three warm-up runs) and is reused after that; batch 1, static shapes. The per-call host work is copying the
inputs into the static buffers (and, once per instruction length, the M-RoPE position ids).

`capture_backbone=False`, or a backbone capture that fails (e.g. a transformers version whose vision or text
forward reads device values on the host again), falls back to the eager backbone with only the expert loop
captured; the reason is kept in `backbone_fallback` and logged once, and the chunk is still computed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import torch

from psi0_policy.engines.static_context import StaticContext
from psi0_policy.model import flow
from psi0_policy.model.preprocess import Preprocessor
from psi0_policy.model.psi0 import BackboneInputs, Psi0Model

log = logging.getLogger(__name__)


class Replayable(Protocol):
    def replay(self) -> None: ...


def capture(fn: Callable[[], None], warmup: int) -> Replayable:
    """Run `fn` `warmup` times on a side stream (allocator and library workspaces settle), then capture one run
    into a CUDA graph; `replay()` re-runs its kernels on whatever the static buffers hold."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.inference_mode():
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.inference_mode():
        fn()
    return graph


class CudaGraphEngine:
    name = "cuda_graph"

    def __init__(self, model: Psi0Model, device: str = "cuda", dtype: str = "bf16", warmup: int = 3,
                 capture_backbone: bool = True, preprocessor: Preprocessor | None = None) -> None:
        if not torch.cuda.is_available():
            raise RuntimeError("the cuda_graph engine needs a CUDA GPU")
        self.device = torch.device(device)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
        self.model = model.to(self.device, self.dtype).eval()
        self.cfg = model.cfg
        self.warmup = warmup
        self.backbone_fallback: str | None = None if capture_backbone else "capture_backbone=False"
        self.graphs: dict[tuple, tuple[Replayable, dict[str, torch.Tensor]]] = {}
        self.contexts: dict[int, StaticContext] = {}  # per camera count
        self.preprocessor = preprocessor  # fixes the prompt layout the static context is built for

    # ---- what the graph runs ----------------------------------------------------------------------
    def _expert_loop(self, b: dict[str, torch.Tensor], obs: torch.Tensor, mask: torch.Tensor) -> None:
        n = self.cfg.num_steps
        timesteps, sigmas = flow.schedule(n, b["noise"].device)  # constants of the graph
        clean = b["clean"]
        x = b["noise"]
        for i in range(n):  # flow.sample_rtc with a boolean prefix mask instead of a slice (static shapes)
            x = torch.where(clean[..., None], b["prefix"], x)
            t = torch.where(clean, torch.zeros_like(b["t_ref"]), timesteps[i].expand_as(b["t_ref"]))
            v = self.model.expert(obs, x.to(self.dtype), t, mask).float()
            x = x + (sigmas[i + 1] - sigmas[i]) * v
        b["out"].copy_(x)

    def _chunk(self, b: dict[str, torch.Tensor], ctx: StaticContext | None) -> None:
        if ctx is None:  # observation computed eagerly, outside the graph
            self._expert_loop(b, b["obs"], b["mask"])
            return
        obs = ctx(b["input_ids"], b["attention_mask"], b["pixel_values"], b["rope"], b["state"])  # (1, L+1, W)
        self._expert_loop(b, obs, b["attention_mask"].bool())

    def _buffers(self, context_len: int, inputs: BackboneInputs | None) -> dict[str, torch.Tensor]:
        c, dev = self.cfg, self.device
        b = {
            "noise": torch.zeros(1, c.horizon, c.action_dim, device=dev),
            "prefix": torch.zeros(1, c.horizon, c.action_dim, device=dev),
            "clean": torch.zeros(1, c.horizon, device=dev, dtype=torch.bool),
            "t_ref": torch.zeros(1, c.horizon, device=dev),
            "out": torch.zeros(1, c.horizon, c.action_dim, device=dev),
        }
        if inputs is None:
            b["obs"] = torch.zeros(1, context_len + 1, c.expert.width, device=dev, dtype=self.dtype)
            b["mask"] = torch.ones(1, context_len, device=dev, dtype=torch.bool)
        else:
            b["input_ids"] = inputs["input_ids"].to(dev).clone()  # a real observation: warm-up runs are valid
            b["attention_mask"] = inputs["attention_mask"].to(dev).clone()
            b["pixel_values"] = inputs["pixel_values"].to(dev, self.dtype).clone()
            b["rope"] = torch.zeros(3, 1, context_len, device=dev, dtype=torch.long)
            b["state"] = torch.zeros(1, c.state_dim, device=dev, dtype=self.dtype)
        return b

    def _capture(self, b: dict[str, torch.Tensor], ctx: StaticContext | None) -> Replayable:
        return capture(lambda: self._chunk(b, ctx), self.warmup)

    # ---- inference ----------------------------------------------------------------------------------
    def _context(self, inputs: BackboneInputs) -> StaticContext:
        cameras = int(inputs["image_grid_thw"].shape[0])
        if cameras not in self.contexts:
            self.contexts[cameras] = StaticContext(self.model, cameras, self.preprocessor)
        return self.contexts[cameras]

    def _full_graph(self, inputs: BackboneInputs) -> tuple[Replayable, dict[str, torch.Tensor], StaticContext]:
        ctx = self._context(inputs)
        length = int(inputs["input_ids"].shape[1])
        key = ("full", ctx.cameras, length, tuple(inputs["pixel_values"].shape))
        if key not in self.graphs:
            b = self._buffers(length, inputs)
            b["rope"].copy_(ctx.rope_position_ids(inputs))
            self.graphs[key] = (self._capture(b, ctx), b)
        graph, b = self.graphs[key]
        return graph, b, ctx

    def _set_actions(self, b: dict[str, torch.Tensor], noise: torch.Tensor, prefix: torch.Tensor | None,
                     prefix_len: int) -> None:
        b["noise"].copy_(noise)
        b["prefix"].zero_()
        b["clean"].zero_()
        if prefix_len:
            b["prefix"][:, :prefix_len].copy_(prefix[:, :prefix_len])
            b["clean"][:, :prefix_len] = True

    @torch.inference_mode()
    def infer(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
              prefix: torch.Tensor | None = None, prefix_len: int = 0) -> torch.Tensor:
        if self.backbone_fallback is None:
            try:
                graph, b, ctx = self._full_graph(inputs)
            except RuntimeError as e:  # capture refused (a host sync inside, an older transformers): expert graph only
                self.backbone_fallback = f"backbone capture failed: {e}"
                log.warning("cuda_graph: %s; running the backbone eagerly", self.backbone_fallback)
                with contextlib.suppress(RuntimeError):
                    torch.cuda.synchronize()
            else:
                b["input_ids"].copy_(inputs["input_ids"])
                b["attention_mask"].copy_(inputs["attention_mask"])
                b["pixel_values"].copy_(inputs["pixel_values"])
                b["rope"].copy_(ctx.rope_position_ids(inputs))
                b["state"].copy_(state)
                self._set_actions(b, noise, prefix, prefix_len)
                graph.replay()
                return b["out"].float().cpu()
        dev_inputs = {k: v.to(self.device) for k, v in inputs.items()}
        dev_inputs["pixel_values"] = dev_inputs["pixel_values"].to(self.dtype)
        obs, mask = self.model.context(dev_inputs, state.to(self.device, self.dtype), deploy=True)
        length = int(mask.shape[1])
        key = ("expert", length)
        if key not in self.graphs:
            b = self._buffers(length, None)
            self.graphs[key] = (self._capture(b, None), b)
        graph, b = self.graphs[key]
        b["obs"].copy_(obs)
        b["mask"].copy_(mask.bool())
        self._set_actions(b, noise, prefix, prefix_len)
        graph.replay()
        return b["out"].float().cpu()
