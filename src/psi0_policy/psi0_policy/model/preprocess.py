"""Inputs of the backbone: camera images → Qwen3-VL patches, instruction → token ids.

Image path (per camera): (H, W, 3) uint8 RGB → resize to `image_size` (h, w) (Ψ0 feeds 240×320 from a
640×480 frame; the vision tower needs multiples of 32, so 256×320) → scale to [0, 1] → normalise
with mean = std = 0.5 per channel (Qwen3-VL's image processor values) → cut into 16×16 patches,
duplicated along time (temporal patch 2: a still image is a 2-frame clip), ordered so that each
2×2 merge window is contiguous:
    pixel_values: (grid_h·grid_w, 3·2·16·16) float32, grid_thw = (1, grid_h, grid_w) per image.

Prompt (per sample): <vision_start> <image>×N <vision_end> for each camera, then the instruction's
tokens (truncated / padded to `max_text_tokens`, padding masked out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from psi0_policy.model.config import ModelConfig

IMAGE_MEAN = 0.5
IMAGE_STD = 0.5


def resize_image(rgb: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, h, w) float32 in [0, 1], bilinear (antialiased when shrinking)."""
    x = torch.as_tensor(np.asarray(rgb)).permute(2, 0, 1).float().div_(255.0)  # (3, H, W)
    if tuple(x.shape[1:]) != tuple(size):
        x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return x.clamp_(0.0, 1.0)


def patchify(img: torch.Tensor, cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, h, w) in [0, 1] → pixel_values (grid_h·grid_w, 3·T·p·p), grid_thw (3,)."""
    v = cfg.vision
    p, m, t = v.patch_size, v.spatial_merge_size, v.temporal_patch_size
    x = (img - IMAGE_MEAN) / IMAGE_STD
    c, h, w = x.shape
    gh, gw = h // p, w // p
    x = x[None].expand(t, c, h, w)  # (T, 3, h, w): a still image repeated over the temporal patch
    x = x.reshape(t, c, gh // m, m, p, gw // m, m, p)
    x = x.permute(2, 5, 3, 6, 1, 0, 4, 7)  # (gh/m, gw/m, m, m, C, T, p, p): merge windows contiguous
    return x.reshape(gh * gw, c * t * p * p).contiguous(), torch.tensor([1, gh, gw])


class ByteTokenizer:
    """Byte-level fallback tokenizer for `tiny` models: UTF-8 bytes are ids 0..255."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class QwenTokenizer:
    """The Qwen tokenizer from a local model folder (tokenizer.json); never downloads."""

    def __init__(self, folder: str | Path) -> None:
        from tokenizers import Tokenizer

        path = Path(folder) / "tokenizer.json"
        if not path.exists():
            raise FileNotFoundError(f"no tokenizer.json in {folder} (Qwen3-VL-2B-Instruct model folder expected)")
        self.tok = Tokenizer.from_file(str(path))

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids)


def make_tokenizer(cfg: ModelConfig, folder: str | Path | None = None) -> ByteTokenizer | QwenTokenizer:
    if cfg.tokenizer == "bytes":
        return ByteTokenizer()
    if folder is None:
        raise ValueError("the qwen tokenizer needs the local model folder (tokenizer.json)")
    return QwenTokenizer(folder)


class Preprocessor:
    """Builds backbone inputs for a batch of observations (any number of cameras, same for all samples)."""

    def __init__(self, cfg: ModelConfig, tokenizer: ByteTokenizer | QwenTokenizer) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer

    def text_ids(self, instruction: str) -> tuple[list[int], list[int]]:
        n = self.cfg.max_text_tokens
        ids = self.tokenizer.encode(instruction)[:n]
        mask = [1] * len(ids) + [0] * (n - len(ids))
        return ids + [self.cfg.pad_token_id] * (n - len(ids)), mask

    def __call__(self, images: list[list[np.ndarray]], instructions: list[str]) -> dict[str, torch.Tensor]:
        """images[b][k]: camera k of sample b, (H, W, 3) uint8. Returns input_ids (B, L), mm_token_type_ids (B, L),
        attention_mask (B, L), pixel_values (B·K·N_patch, P), image_grid_thw (B·K, 3)."""
        cfg = self.cfg
        n_img = cfg.image_tokens
        pix, grids, ids, masks = [], [], [], []
        for cams, text in zip(images, instructions, strict=True):
            seq: list[int] = []
            for rgb in cams:
                pv, grid = patchify(resize_image(rgb, cfg.image_size), cfg)
                pix.append(pv)
                grids.append(grid)
                seq += [cfg.vision_start_token_id] + [cfg.image_token_id] * n_img + [cfg.vision_end_token_id]
            t, m = self.text_ids(text)
            ids.append(seq + t)
            masks.append([1] * len(seq) + m)
        input_ids = torch.tensor(ids, dtype=torch.long)
        return {
            "input_ids": input_ids,
            "mm_token_type_ids": (input_ids == cfg.image_token_id).int(),  # 1 = image token (for M-RoPE)
            "attention_mask": torch.tensor(masks, dtype=torch.long),
            "pixel_values": torch.cat(pix),
            "image_grid_thw": torch.stack(grids),
        }
