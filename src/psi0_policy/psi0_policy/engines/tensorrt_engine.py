"""TensorRT engine (written against the TensorRT 10 Python API; TensorRT exists on no machine here).

Builds a TensorRT engine from the expert's ONNX export (onnx_engine.export_expert) with FP16 or
BF16 kernels, caches it per GPU (file name carries the device name and compute capability), and
runs it on torch CUDA buffers (`set_tensor_address` + `execute_async_v3` on the current stream).
The backbone runs in PyTorch, as in the ONNX engine. At build time an accuracy gate compares the
engine's velocity with PyTorch's on fixed inputs and refuses an engine whose cosine similarity is
below 0.999. tests/policy/test_engines.py runs the parity test wherever `tensorrt` imports and skips
with the reason elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import torch

from psi0_policy.engines.onnx_engine import export_expert
from psi0_policy.model import flow
from psi0_policy.model.psi0 import BackboneInputs, Psi0Model

COSINE_GATE = 0.999


def _trt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise RuntimeError("TensorRT is not installed (pip install tensorrt on a machine with an NVIDIA GPU)") from e
    return trt


class TensorRTEngine:
    name = "tensorrt"

    def __init__(self, model: Psi0Model, context_len: int, cache_dir: str | Path = "~/.cache/psi0/trt",
                 precision: str = "fp16") -> None:
        trt = _trt()
        if not torch.cuda.is_available():
            raise RuntimeError("the tensorrt engine needs a CUDA GPU")
        self.trt = trt
        self.model = model.float().cuda().eval()
        self.cfg = model.cfg
        self.context_len = context_len
        props = torch.cuda.get_device_properties(0)
        tag = f"{props.name.replace(' ', '_')}_sm{props.major}{props.minor}_{precision}_L{context_len}"
        cache = Path(cache_dir).expanduser()
        cache.mkdir(parents=True, exist_ok=True)
        plan = cache / f"expert_{tag}.plan"
        if not plan.exists():
            onnx_path = export_expert(self.model.cpu(), context_len, cache / f"expert_L{context_len}.onnx")
            self.model.cuda()
            plan.write_bytes(self._build(onnx_path, precision))
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan.read_bytes())
        self.context = self.engine.create_execution_context()
        self._gate()

    def _build(self, onnx_path: Path, precision: str) -> bytes:
        trt = self.trt
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_flag(trt.BuilderFlag.FP16 if precision == "fp16" else trt.BuilderFlag.BF16)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError("TensorRT engine build failed")
        return bytes(serialized)

    def _velocity(self, obs: torch.Tensor, mask: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        for name, tensor in (("obs", obs), ("obs_mask", mask), ("x", x), ("t", t), ("velocity", out)):
            self.context.set_tensor_address(name, tensor.data_ptr())
        if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        return out

    def _gate(self) -> None:
        """Accuracy gate: cosine similarity with PyTorch on fixed inputs ≥ COSINE_GATE, else refuse."""
        g = torch.Generator().manual_seed(0)
        c = self.cfg
        obs = torch.randn(1, self.context_len + 1, c.expert.width, generator=g).cuda()
        mask = torch.ones(1, self.context_len, dtype=torch.int64).cuda()
        x = torch.randn(1, c.horizon, c.action_dim, generator=g).cuda()
        t = torch.rand(1, c.horizon, generator=g).cuda()
        ref = self.model.expert(obs, x, t, mask > 0)
        got = self._velocity(obs.contiguous(), mask, x.contiguous(), t.contiguous())
        torch.cuda.synchronize()
        cos = torch.nn.functional.cosine_similarity(ref.flatten(), got.flatten(), dim=0).item()
        if cos < COSINE_GATE:
            raise RuntimeError(f"TensorRT engine failed the accuracy gate: cosine {cos:.5f} < {COSINE_GATE}")
        self.cosine = cos

    @torch.inference_mode()
    def infer(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
              prefix: torch.Tensor | None = None, prefix_len: int = 0) -> torch.Tensor:
        inputs = {k: v.cuda() for k, v in inputs.items()}
        obs, mask = self.model.context(inputs, state.float().cuda(), deploy=True)
        mask = mask.to(torch.int64).contiguous()
        obs = obs.contiguous()
        velocity = lambda x, t: self._velocity(obs, mask, x.contiguous(), t.float().contiguous())  # noqa: E731
        pre = prefix.cuda() if prefix is not None else None
        return flow.sample_rtc(velocity, noise.float().cuda(), self.cfg.num_steps, pre, prefix_len, per_token=True).cpu()
