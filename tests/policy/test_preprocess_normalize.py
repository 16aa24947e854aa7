import numpy as np
import pytest
import torch

from psi0_policy.model.config import get_config
from psi0_policy.model.normalize import Normalizer, load_stats
from psi0_policy.model.preprocess import patchify, resize_image
from tests.conftest import reference_dir

pytestmark = pytest.mark.unit


def test_patchify_matches_transformers_qwen_image_processor():
    from transformers import Qwen2VLImageProcessorPil

    cfg = get_config("psi0")
    img = np.random.default_rng(0).integers(0, 255, (256, 320, 3), dtype=np.uint8)
    proc = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3,
                                    image_std=[0.5] * 3, do_resize=False)
    ref = proc(images=[img], return_tensors="pt")
    pv, grid = patchify(resize_image(img, (256, 320)), cfg)
    assert torch.equal(grid, ref["image_grid_thw"][0])
    assert torch.allclose(pv, ref["pixel_values"].float(), atol=1e-6)


def test_resize_from_a_640x480_frame():
    x = resize_image(np.full((480, 640, 3), 255, np.uint8), (256, 320))
    assert x.shape == (3, 256, 320) and torch.allclose(x, torch.ones_like(x))


def test_normalizer_round_trip_clip_and_constant_dims():
    n = Normalizer(np.array([0.0, -2.0, 1.0]), np.array([1.0, 2.0, 1.0]))
    x = np.array([[0.25, 0.0, 1.0], [5.0, -9.0, 1.0]])
    y = n.normalize(x)
    np.testing.assert_allclose(y, [[-0.5, 0.0, 0.0], [1.0, -1.0, 0.0]])
    np.testing.assert_allclose(n.denormalize(y), [[0.25, 0.0, 1.0], [1.0, -2.0, 1.0]])
    t = torch.tensor(x, dtype=torch.float64)
    assert torch.allclose(n.denormalize(n.normalize(t)), torch.tensor([[0.25, 0.0, 1.0], [1.0, -2.0, 1.0]],
                                                                        dtype=torch.float64))


def test_loads_the_released_psi0_stats():
    stats = load_stats(reference_dir("psi0", "stats") / "he_raw_rel_stats_combined.json")
    for mode in ("minmax", "quantile"):
        n = Normalizer.from_stats(stats["action"], mode)
        assert n.low.shape == (28,)
        x = np.asarray(stats["action"]["mean"])
        assert np.all(np.abs(n.normalize(x)) <= 1)


def test_the_official_two_step_resize():
    """640×480 → 240×320 (the dataset transform: PIL bilinear) → 256×320 (Qwen-VL's smart resize to ×32: bicubic),
    against transformers' Qwen-VL image processor doing the second step itself."""
    from PIL import Image
    from transformers import Qwen2VLImageProcessorPil

    cfg = get_config("psi0")
    frame = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    first = np.asarray(Image.fromarray(frame).resize((320, 240), Image.Resampling.BILINEAR))
    proc = Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, temporal_patch_size=2, image_mean=[0.5] * 3,
                                    image_std=[0.5] * 3)
    ref = proc(images=[first], return_tensors="pt")
    pv, grid = patchify(resize_image(frame, cfg.image_size, cfg.camera_resize), cfg)
    assert grid.tolist() == ref["image_grid_thw"][0].tolist() == [1, 16, 20]
    err = float((pv - ref["pixel_values"].float()).abs().max())
    print(f"two-step resize vs the Qwen-VL processor: max |Δ| {err:.2e}")
    assert err <= 1e-6  # the same PIL operations: identical
