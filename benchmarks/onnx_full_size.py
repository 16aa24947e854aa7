"""Full-size ONNX export of the Ψ0 action expert (~0.5 B parameters, > 2 GB in fp32): the exporter must switch to
ONNX external data (weights beside the .onnx file), ONNX Runtime must load it from there, and it must still match
PyTorch. CPU only, random weights; the backbone is not built (the expert's export needs only its config).

    python benchmarks/onnx_full_size.py [--out benchmarks/results/onnx_full_size]

Prints JSON: parameter count, export time, file sizes (graph file, external data), ORT load time, one velocity
evaluation's latency in ORT and PyTorch on this CPU, max |Δ| between them. (The exporter drops what the output
does not depend on — the observation stream's last MLP — so the graph can be smaller than the parameters.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from results_io import write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--context-len", type=int, default=98)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "onnx_full_size"))
    args = ap.parse_args()
    import onnxruntime as ort

    from psi0_policy.engines.onnx_engine import export_expert
    from psi0_policy.model.config import get_config
    from psi0_policy.model.expert import ActionExpert

    cfg = get_config("psi0", tokenizer="bytes")
    torch.manual_seed(0)
    expert = ActionExpert(cfg, context_dim=cfg.text.hidden_size).eval()
    with torch.no_grad():  # AdaLN-Zero starts every block (and the output layer) at zero: perturb, or all is 0
        for p in expert.parameters():
            p.add_(0.02 * torch.randn_like(p))
    params = sum(p.numel() for p in expert.parameters())
    L, w = args.context_len, cfg.expert.width
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(1, L + 1, w, generator=g)
    mask = torch.ones(1, L, dtype=torch.int64)
    mask[:, -10:] = 0  # some padding
    x = torch.randn(1, cfg.horizon, cfg.action_dim, generator=g)
    t = torch.full((1, cfg.horizon), 0.7)
    result: dict = {"benchmark": "onnx_full_size", "parameters": params, "fp32_bytes": params * 4,
                    "context_tokens": L}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "expert.onnx"
        t0 = time.perf_counter()
        export_expert(SimpleNamespace(cfg=cfg, expert=expert), L, path)
        result["export_s"] = round(time.perf_counter() - t0, 1)
        files = sorted(Path(d).iterdir())
        result["graph_file_bytes"] = path.stat().st_size
        result["external_data_files"] = len(files) - 1
        result["external_data_bytes"] = sum(f.stat().st_size for f in files if f != path)
        t0 = time.perf_counter()
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        result["ort_load_s"] = round(time.perf_counter() - t0, 1)
        feeds = {"obs": obs.numpy(), "obs_mask": mask.numpy(), "x": x.numpy(), "t": t.numpy()}
        got = sess.run(None, feeds)[0]
        t0 = time.perf_counter()
        for _ in range(3):
            sess.run(None, feeds)
        result["ort_velocity_ms_cpu"] = round((time.perf_counter() - t0) / 3 * 1e3, 1)
    with torch.inference_mode():
        ref = expert(obs, x, t, mask > 0).numpy()
        t0 = time.perf_counter()
        for _ in range(3):
            expert(obs, x, t, mask > 0)
        result["torch_velocity_ms_cpu"] = round((time.perf_counter() - t0) / 3 * 1e3, 1)
    result["max_abs_diff"] = float(np.abs(got - ref).max())
    result["ref_abs_max"] = float(np.abs(ref).max())
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
