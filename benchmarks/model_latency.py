"""Model latency: one Ψ0 chunk (backbone + N Euler steps of the expert), per part and per engine.

    python benchmarks/model_latency.py                       # tiny on CPU: eager torch vs onnx
    python benchmarks/model_latency.py --config small --threads 1   # the demo suite's model, as the policy node runs it
    python benchmarks/model_latency.py --gpu --out DIR       # full size on a CUDA GPU (bf16, random weights):
                                                             # vision, language model, expert, eager vs cuda_graph
                                                             # (expert loop only, and backbone + expert)
Inputs: 1 camera 256×320 + 16 text tokens (98 context tokens at full size), 8 steps. Prints JSON.
Runs without ROS (the device machine has none): only psi0_policy and psi0_core on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
for pkg in ("psi0", "psi0_policy", "psi0_bridge"):
    sys.path.insert(0, str(REPO / "src" / pkg))

from psi0_policy.engines import make_engine  # noqa: E402
from psi0_policy.model.config import get_config  # noqa: E402
from psi0_policy.model.preprocess import Preprocessor, make_tokenizer  # noqa: E402
from psi0_policy.model.psi0 import Psi0Model  # noqa: E402


def timed(fn, iters: int, warmup: int, cuda: bool) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t) * 1e3)
    return {"p50_ms": round(statistics.median(samples), 3), "p90_ms": round(float(np.percentile(samples, 90)), 3),
            "min_ms": round(min(samples), 3)}


def inputs_for(cfg) -> tuple[dict, torch.Tensor, torch.Tensor]:
    pre = Preprocessor(cfg, make_tokenizer(cfg), fixed_length=True)  # the static prompt shape every engine takes
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    inputs = pre([[img]], ["pick up the red cube and place it in the bowl"])
    state = torch.zeros(1, cfg.state_dim)
    noise = torch.randn(1, cfg.horizon, cfg.action_dim, generator=torch.Generator().manual_seed(0))
    return inputs, state, noise


def cpu_small_model(iters: int, name: str = "tiny") -> dict:
    cfg = get_config(name)
    torch.manual_seed(0)
    model = Psi0Model(cfg).eval()
    inputs, state, noise = inputs_for(cfg)
    out = {"config": name, "device": "cpu", "threads": torch.get_num_threads(),
           "context_tokens": int(inputs["input_ids"].shape[1])}
    eager = make_engine("torch", model)
    out["torch_eager"] = timed(lambda: eager.infer(inputs, state, noise), iters, 5, False)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        onnx = make_engine("onnx", model, context_len=inputs["input_ids"].shape[1], workdir=d)
        out["onnx"] = timed(lambda: onnx.infer(inputs, state, noise), iters, 5, False)
        from psi0_policy.engines.onnx_context import export_context

        ctx = export_context(model, Path(d) / "context.onnx")
        full = make_engine("onnx", model, onnx_path=Path(d) / f"expert_L{inputs['input_ids'].shape[1]}.onnx", context_path=ctx)
        out["onnx_backbone_and_expert"] = timed(lambda: full.infer(inputs, state, noise), iters, 5, False)
    out["onnx_vs_eager_ratio"] = round(out["onnx"]["p50_ms"] / out["torch_eager"]["p50_ms"], 3)
    out["onnx_full_vs_eager_ratio"] = round(out["onnx_backbone_and_expert"]["p50_ms"] / out["torch_eager"]["p50_ms"], 3)
    with torch.inference_mode():
        obs, mask = model.context(inputs, state)
        v = model.velocity_fn(obs, mask)
        x, t = noise.clone(), torch.ones(1, cfg.horizon)
        out["backbone_eager"] = timed(lambda: model.context(inputs, state), iters, 5, False)
        out["expert_8_steps_eager"] = timed(lambda: [v(x, t) for _ in range(cfg.num_steps)], iters, 5, False)
    return out


def gpu_full(iters: int) -> dict:
    cfg = get_config("psi0", tokenizer="bytes")  # byte ids are valid Qwen ids: no tokenizer files needed here
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Psi0Model(cfg).to(torch.bfloat16).eval()
    inputs, state, noise = inputs_for(cfg)
    dev = {k: v.cuda() for k, v in inputs.items()}
    dev["pixel_values"] = dev["pixel_values"].to(torch.bfloat16)
    props = torch.cuda.get_device_properties(0)
    out = {"config": "psi0", "device": props.name, "dtype": "bf16", "weights": "random",
           "context_tokens": int(inputs["input_ids"].shape[1]), "steps": cfg.num_steps,
           "torch": torch.__version__}
    with torch.inference_mode():
        visual = model.backbone.vlm.visual
        out["vision_tower_eager"] = timed(lambda: visual(dev["pixel_values"], grid_thw=dev["image_grid_thw"]), iters, 5, True)
        out["backbone_eager"] = timed(lambda: model.backbone(**dev), iters, 5, True)
        obs, mask = model.context(dev, state.cuda().to(torch.bfloat16))
        v = model.velocity_fn(obs, mask)
        x, t = noise.cuda(), torch.ones(1, cfg.horizon, device="cuda")
        out["expert_8_steps_eager"] = timed(lambda: [v(x, t) for _ in range(cfg.num_steps)], iters, 5, True)
    eager = make_engine("torch", model, device="cuda", dtype="bf16")
    expert_only = make_engine("cuda_graph", model, dtype="bf16", capture_backbone=False)
    graph = make_engine("cuda_graph", model, dtype="bf16")
    prefix = torch.zeros(1, 5, cfg.action_dim)
    out["chunk_torch_eager"] = timed(lambda: eager.infer(inputs, state, noise, prefix, 5), iters, 5, True)
    out["chunk_cuda_graph_expert_only"] = timed(lambda: expert_only.infer(inputs, state, noise, prefix, 5), iters, 5,
                                                True)
    out["chunk_cuda_graph"] = timed(lambda: graph.infer(inputs, state, noise, prefix, 5), iters, 5, True)
    out["backbone_captured"] = graph.backbone_fallback is None
    out["backbone_fallback"] = graph.backbone_fallback
    a = eager.infer(inputs, state, noise, prefix, 5)
    b = graph.infer(inputs, state, noise, prefix, 5)
    out["cuda_graph_vs_eager_max_abs_diff_bf16"] = float((a - b).abs().max())
    out["cuda_graph_speedup"] = round(out["chunk_torch_eager"]["p50_ms"] / out["chunk_cuda_graph"]["p50_ms"], 2)
    out["target_chunk_p50_ms"] = 15.0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--config", default="tiny", choices=["tiny", "small"], help="CPU: the model config")
    ap.add_argument("--threads", type=int, default=0, help="CPU: torch threads (0: torch's default; the policy node uses 1)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = gpu_full(args.iters) if args.gpu else cpu_small_model(args.iters, args.config)
    result["benchmark"] = "model_latency"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "model_latency_gpu.json" if args.gpu else ("model_latency_cpu.json" if args.config == "tiny" else
                                                      f"model_latency_cpu_{args.config}.json")
    (out / name).write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
