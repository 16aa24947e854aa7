"""torchrun on CPU (gloo): 2 processes × micro-batch 2 average to exactly the gradients of 1 process × batch 4,
and FSDP (fully_shard) reaches the same weights as DDP and as one process."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.train.helpers import CONFIGS, teleop_dataset

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _train(tmp_path, name: str, procs: int, micro: int, extra: list[str] = ()) -> None:
    args = ["finetune", "--config", str(CONFIGS / "finetune_tiny.yaml"), "--no-progress",
            "--dump-grads", str(tmp_path / f"{name}.pt"), "--set", f"datasets=[{tmp_path / 'ds'}]", "--set", "steps=2",
            "--set", f"micro_batch={micro}", "--set", "global_batch=4", "--set", f"out={tmp_path / name}"]
    for e in extra:
        args += ["--set", e]
    if procs > 1:
        port = 29500 + (hash(str(tmp_path)) % 400)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_port", str(port),
               "-m", "psi0_policy.train.cli", *args]
    else:
        cmd = [sys.executable, "-m", "psi0_policy.train.cli", *args]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _weights(tmp_path, name):
    return load_file(str(tmp_path / name / "checkpoints" / "step_0000002" / "model.safetensors"))


def test_ddp_two_processes_equal_one_process_with_the_doubled_batch(tmp_path):
    teleop_dataset(tmp_path, episodes=3, frames=20)
    _train(tmp_path, "single", 1, 4)
    _train(tmp_path, "ddp", 2, 2)
    g1, g2 = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "ddp.pt")
    assert g1.keys() == g2.keys() and len(g1) > 10
    scale = max(float(v.abs().max()) for v in g1.values())
    assert scale > 0
    for k in g1:
        torch.testing.assert_close(g2[k], g1[k], rtol=1e-5, atol=1e-6 * scale)
    w1, w2 = _weights(tmp_path, "single"), _weights(tmp_path, "ddp")
    assert max(float((w1[k] - w2[k]).abs().max()) for k in w1) < 1e-6
    _train(tmp_path, "fsdp", 2, 2, ["distributed=fsdp"])
    w3 = _weights(tmp_path, "fsdp")
    assert w3.keys() == w1.keys() and max(float((w1[k] - w3[k]).abs().max()) for k in w1) < 1e-6
