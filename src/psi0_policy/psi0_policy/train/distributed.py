"""Process-group setup and model wrapping for torchrun: one process = plain, WORLD_SIZE > 1 = DDP or FSDP.

Backend: NCCL when each process has a GPU, gloo on CPU. FSDP is PyTorch's `fully_shard` (FSDP2) applied
to every expert block and every language-model decoder layer, then to the whole model. Checkpoints are
gathered to full state dicts (torch.distributed.checkpoint.state_dict), so a checkpoint written by an
8-GPU FSDP run loads in a 1-CPU process and the other way round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict


@dataclass(frozen=True)
class Dist:
    world: int
    rank: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init(device: str = "auto") -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but no CUDA device is visible")
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(world, rank, local, dev)


def wrap(model: nn.Module, kind: str, d: Dist) -> nn.Module:
    if not d.active:
        return model
    if kind == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(d.device.type, (d.world,))
        for block in model.expert.transformer_blocks:
            fully_shard(block, mesh=mesh)
        for layer in model.backbone.vlm.language_model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # the last joint block's observation-stream output is never consumed (SD3 MM-DiT layout): its MLP gets no
    # gradient, so DDP must look for unused parameters
    return DDP(model, device_ids=[d.device.index] if d.device.type == "cuda" else None, find_unused_parameters=True)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def full_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """Full (unsharded, CPU) model and optimiser state dicts; collective under FSDP (call on every rank)."""
    opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_state_dict(unwrap(model), optimizer, options=opts)  # DDP → its module; FSDP2 is the model itself


def load_full_state(model: nn.Module, optimizer: torch.optim.Optimizer, model_sd: dict[str, Any],
                    optim_sd: dict[str, Any]) -> None:
    opts = StateDictOptions(full_state_dict=True, strict=False)
    set_state_dict(unwrap(model), optimizer, model_state_dict=model_sd,
                   optim_state_dict=optim_sd, options=opts)


def is_sharded(model: nn.Module) -> bool:
    """True for a model wrapped by fully_shard (FSDP2 swaps its class for FSDP<Name>)."""
    return type(model).__name__.startswith("FSDP")


def mean(value: float, d: Dist) -> float:
    if not d.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / d.world


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def shutdown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()
