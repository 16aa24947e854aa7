"""Engine interface and the eager PyTorch engine."""

from __future__ import annotations

from typing import Protocol

import torch

from psi0_policy.model.psi0 import BackboneInputs, Psi0Model


class Engine(Protocol):
    name: str

    def infer(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
              prefix: torch.Tensor | None = None, prefix_len: int = 0) -> torch.Tensor:
        """inputs/state for one observation (batch 1), noise (1, H, D), prefix (1, ≥prefix_len, D), all
        normalised → (1, H, D) normalised chunk on the CPU (float32)."""
        ...


class TorchEngine:
    """Eager PyTorch on CPU or GPU, fp32 or bf16. `conditioning`: "training" (Ψ0's prefix conditioning)
    or "guidance" (inference-time RTC for checkpoints trained without it)."""

    name = "torch"

    def __init__(self, model: Psi0Model, device: str = "cpu", dtype: str = "fp32", conditioning: str = "training",
                 num_steps: int | None = None) -> None:
        self.device = torch.device(device)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
        self.model = model.to(self.device, self.dtype).eval()
        self.conditioning = conditioning
        self.num_steps = num_steps

    def to_device(self, inputs: BackboneInputs, state: torch.Tensor) -> tuple[BackboneInputs, torch.Tensor]:
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs, state.to(self.device, self.dtype)

    @torch.inference_mode()
    def infer(self, inputs: BackboneInputs, state: torch.Tensor, noise: torch.Tensor,
              prefix: torch.Tensor | None = None, prefix_len: int = 0) -> torch.Tensor:
        inputs, state = self.to_device(inputs, state)
        prefix = prefix.to(self.device) if prefix is not None else None
        mode = "guidance" if self.conditioning == "guidance" and prefix is not None else "training"
        if mode == "guidance":
            with torch.inference_mode(False), torch.no_grad():
                inputs = {k: v.clone() for k, v in inputs.items()}
                out = self.model.sample_actions(inputs, state.clone(), noise.to(self.device), prefix.clone(),
                                                prefix_len, mode, self.num_steps)
        else:
            out = self.model.sample_actions(inputs, state, noise.to(self.device), prefix, prefix_len, mode,
                                            self.num_steps)
        return out.float().cpu()
