"""The cuda_graph engine's control flow on the CPU: what it captures (backbone + expert loop, fed from static
buffers) computes what eager PyTorch computes, one graph serves every instruction length, and a refused backbone
capture falls back to the expert-only graph. No GPU exists here, so the capture itself is replaced by an eager
stand-in whose replay re-runs the captured function on the static buffers (the GPU test in test_engines.py
captures for real)."""

import pytest
import torch

from psi0_policy.engines import cuda_graph as cg
from psi0_policy.engines import make_engine
from tests.policy.helpers import engine_case, noise

pytestmark = pytest.mark.unit


class EagerGraph:
    def __init__(self, fn) -> None:
        self.fn = fn

    def replay(self) -> None:
        self.fn()


@pytest.fixture
def no_gpu_capture(monkeypatch):
    calls = []

    def capture(fn, warmup):
        calls.append(fn)
        fn()
        return EagerGraph(fn)

    monkeypatch.setattr(cg.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(cg, "capture", capture)
    return calls


def test_whole_chunk_graph_matches_eager(no_gpu_capture):
    m, pre, (img,), rng = engine_case(2)
    eng = cg.CudaGraphEngine(m, device="cpu", dtype="fp32")
    ref_engine = make_engine("torch", m)
    for text, d in (("raise your right hand", 0), ("hi", 4), ("x" * m.cfg.max_text_tokens, 7)):
        inputs = pre([[img]], [text])
        state = torch.as_tensor(rng.normal(0, 0.3, (1, 36)), dtype=torch.float32)
        prefix = torch.as_tensor(rng.normal(0, 0.5, (1, 30, 36)), dtype=torch.float32)
        got = eng.infer(inputs, state, noise(1, 5), prefix, d)
        ref = ref_engine.infer(inputs, state, noise(1, 5), prefix, d)
        err = float((got - ref).abs().max())
        print(f"graph body vs eager, {text[:10]!r}, prefix {d}: max |Δ| = {err:.2e}")
        assert err < 1e-5
        if d:  # conditioned on the prefix; the official last step moves it by 0.001·v
            assert (got[:, :d] - prefix[:, :d]).abs().max() < 0.01
    assert eng.backbone_fallback is None
    assert len(no_gpu_capture) == 1 and [k[0] for k in eng.graphs] == ["full"]  # one capture for all lengths


def test_refused_backbone_capture_falls_back_to_the_expert_graph(no_gpu_capture, monkeypatch):
    m, pre, (img,), _ = engine_case(2)
    eng = cg.CudaGraphEngine(m, device="cpu", dtype="fp32")
    real = cg.capture

    def refuse_backbone(fn, warmup):
        if not eng.graphs and eng.backbone_fallback is None:
            raise RuntimeError("operation not permitted when stream is capturing")
        return real(fn, warmup)

    monkeypatch.setattr(cg, "capture", refuse_backbone)
    monkeypatch.setattr(cg.torch.cuda, "synchronize", lambda: None)
    inputs = pre([[img]], ["wave"])
    state = torch.zeros(1, 36)
    got = eng.infer(inputs, state, noise(1, 9))
    ref = make_engine("torch", m).infer(inputs, state, noise(1, 9))
    assert float((got - ref).abs().max()) < 1e-5
    assert "not permitted" in eng.backbone_fallback and [k[0] for k in eng.graphs] == ["expert"]
