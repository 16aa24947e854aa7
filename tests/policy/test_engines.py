"""Engine parity: every engine that runs here matches eager PyTorch with the same noise and prefix."""

import importlib.util

import pytest
import torch

from psi0_policy.engines import make_engine
from psi0_policy.engines.onnx_engine import export_expert
from tests.policy.helpers import engine_case, noise, observations, tiny_model

pytestmark = pytest.mark.unit


def _case():
    m = tiny_model(3)
    torch.manual_seed(1)
    for p in m.expert.parameters():  # non-trivial weights (AdaLN-Zero starts every block as identity)
        p.data.add_(0.05 * torch.randn_like(p))
    inputs, state = observations(1, seed=4)
    prefix = torch.randn(1, 5, m.cfg.action_dim) * 0.3
    return m, inputs, state, prefix


@pytest.mark.parametrize("prefix_len", [0, 5])
def test_onnx_matches_torch(tmp_path, prefix_len):
    m, inputs, state, prefix = _case()
    ref = make_engine("torch", m).infer(inputs, state, noise(1, 7), prefix, prefix_len)
    onnx_path = export_expert(m, inputs["input_ids"].shape[1], tmp_path / "expert.onnx")
    out = make_engine("onnx", m, onnx_path=onnx_path).infer(inputs, state, noise(1, 7), prefix, prefix_len)
    err = (out - ref).abs().max().item()
    print(f"onnx vs torch max |Δ| = {err:.2e}")
    assert err < 1e-4
    if prefix_len:  # conditioned on the prefix; the official last step moves it by 0.001·v
        assert (out[:, :prefix_len] - prefix[:, :prefix_len]).abs().max() < 0.01


def test_onnx_refuses_a_different_context_length(tmp_path):
    m, inputs, state, _ = _case()
    onnx_path = export_expert(m, inputs["input_ids"].shape[1] + 3, tmp_path / "expert.onnx")
    with pytest.raises(ValueError, match="exported for"):
        make_engine("onnx", m, onnx_path=onnx_path).infer(inputs, state, noise(1, 7))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs through the device tool)")
def test_cuda_graph_matches_torch_on_gpu():
    m, inputs, state, prefix = _case()
    ref = make_engine("torch", m, device="cuda", dtype="fp32").infer(inputs, state, noise(1, 7), prefix, 5)
    eng = make_engine("cuda_graph", m, dtype="fp32")
    out = eng.infer(inputs, state, noise(1, 7), prefix, 5)
    assert eng.backbone_fallback is None, eng.backbone_fallback  # the backbone was captured too
    assert (out - ref).abs().max().item() < 1e-4
    again = eng.infer(inputs, state, noise(1, 7), prefix, 5)  # a replay, not a capture
    assert torch.equal(again, out)


@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None or not torch.cuda.is_available(),
                    reason="TensorRT is not installed on this machine (none here has it)")
def test_tensorrt_matches_torch():
    m, inputs, state, prefix = _case()
    ref = make_engine("torch", m, device="cuda").infer(inputs, state, noise(1, 7), prefix, 5)
    eng = make_engine("tensorrt", m, context_len=inputs["input_ids"].shape[1])
    out = eng.infer(inputs, state, noise(1, 7), prefix, 5)
    cos = torch.nn.functional.cosine_similarity(out.flatten(), ref.flatten(), dim=0).item()
    assert cos >= 0.999


@pytest.mark.unit
def test_onnx_backbone_and_expert_match_torch(tmp_path):
    """The whole chunk in ONNX Runtime (context graph: backbone + projection; expert graph), vs eager torch with the
    same noise, for instructions of different lengths (the padding mask and M-RoPE positions are inputs)."""
    from psi0_policy.engines.onnx_context import export_context, image_token_positions, static_deepstack

    m, pre, (img,), rng = engine_case(0)
    ctx = export_context(m, tmp_path / "context.onnx")
    L = pre([[img]], ["x"])["input_ids"].shape[1]
    expert = export_expert(m, L, tmp_path / "expert.onnx")
    eng = make_engine("onnx", m, onnx_path=expert, context_path=ctx)
    ref_engine = make_engine("torch", m)
    for text, d in (("raise your right hand", 0), ("hi", 3), ("x" * m.cfg.max_text_tokens, 5)):
        inputs = pre([[img]], [text])
        state = torch.as_tensor(rng.normal(0, 0.3, (1, 36)), dtype=torch.float32)
        prefix = torch.as_tensor(rng.normal(0, 0.5, (1, 30, 36)), dtype=torch.float32)
        n = noise(1, 11)
        got = eng.infer(inputs, state, n, prefix, d)
        ref = ref_engine.infer(inputs, state, n, prefix, d)
        err = float((got - ref).abs().max())
        print(f"onnx (backbone + expert) vs torch, {text[:12]!r}: max |Δ| = {err:.2e}")
        assert err < 1e-4
    # the index_add DeepStack used for export is the stock boolean-mask update, exactly
    inputs = pre([[img]], ["wave"])
    with torch.no_grad():
        stock = m.backbone(**inputs)
        with static_deepstack(m, image_token_positions(inputs)):
            fixed = m.backbone(**inputs)
    assert torch.equal(stock, fixed)


@pytest.mark.unit
def test_a_padded_prompt_gives_the_chunk_of_the_unpadded_one():
    """The fixed-shape engines pad the prompt; at deployment the state token is coded at the valid length, so the
    padded prompt's chunk is the unpadded one's (the official deploy path pads nothing)."""
    from psi0_policy.model.preprocess import ByteTokenizer, Preprocessor

    m, fixed, (img,), rng = engine_case(0)
    free = Preprocessor(m.cfg, ByteTokenizer())
    state = torch.as_tensor(rng.normal(0, 0.3, (1, 36)), dtype=torch.float32)
    prefix = torch.as_tensor(rng.normal(0, 0.5, (1, 30, 36)), dtype=torch.float32)
    for text in ("raise your right hand", "hi"):
        a, b = fixed([[img]], [text]), free([[img]], [text])
        assert a["input_ids"].shape[1] > b["input_ids"].shape[1]  # padding present
        with torch.no_grad():
            pa = m.sample_actions(a, state, noise(1, 5), prefix, 4)
            pb = m.sample_actions(b, state, noise(1, 5), prefix, 4)
        err = float((pa - pb).abs().max())
        print(f"padded vs unpadded prompt {text!r}: max |Δ| = {err:.2e}")
        assert err < 1e-5
