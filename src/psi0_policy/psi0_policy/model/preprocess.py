"""Inputs of the backbone: camera images → Qwen3-VL patches, instruction → token ids.

Image path (per camera), the official one: (H, W, 3) uint8 RGB → resize to `camera_resize` (240×320 from a 640×480
frame: the dataset transform, bilinear) → resize to `image_size` (256×320: qwen_vl_utils rounds to multiples of 32,
bicubic) → scale to [0, 1] → normalise
with mean = std = 0.5 per channel (Qwen3-VL's image processor values) → cut into 16×16 patches,
duplicated along time (temporal patch 2: a still image is a 2-frame clip), ordered so that each
2×2 merge window is contiguous:
    pixel_values: (grid_h·grid_w, 3·2·16·16) float32, grid_thw = (1, grid_h, grid_w) per image.

Prompt (per sample), the official one: the Qwen3-VL chat template of one user turn — the camera images, then the
instruction lower-cased — and the assistant header (apply_chat_template(..., add_generation_prompt=True); Qwen3-VL
adds no default system turn):
    <|im_start|> "user\n" (<vision_start> <image>×N <vision_end>) per camera  instruction  <|im_end|> "\n"
    <|im_start|> "assistant\n"
The text between special tokens is tokenised piece by piece, as a Hugging Face tokenizer splits on special tokens.
The instruction is never cut. Batches are right-padded (padding masked out), as the official collator does; with
`fixed_length` every prompt is padded to `context_len(cameras)` — the static shape the ONNX, CUDA-graph and TensorRT
engines are built for (`max_text_tokens` instruction tokens) — and a longer instruction is a ValueError, not a cut.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from psi0_policy.model.config import ModelConfig

IMAGE_MEAN = 0.5
IMAGE_STD = 0.5


def resize_image(rgb: np.ndarray | torch.Tensor, size: tuple[int, int], first: tuple[int, int] | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, h, w) float32 in [0, 1] along the official path, in PIL (uint8 after each step):
    resize to `first` (the dataset transform's ResizeImage + CenterCrop of the same size: bilinear, antialiased),
    then to `size` (qwen_vl_utils' smart resize to multiples of 32: bicubic). Steps whose size already matches are
    skipped."""
    from PIL import Image

    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    for target, method in ((first, Image.Resampling.BILINEAR), (size, Image.Resampling.BICUBIC)):
        if target is not None and img.size != (target[1], target[0]):
            img = img.resize((target[1], target[0]), method)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div_(255.0)


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

    def __init__(self, cfg: ModelConfig, tokenizer: ByteTokenizer | QwenTokenizer, fixed_length: bool = False) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.fixed_length = fixed_length
        self._user = [cfg.im_start_token_id, *tokenizer.encode("user\n")]
        self._end_turn = [cfg.im_end_token_id, *tokenizer.encode("\n")]
        self._assistant = [cfg.im_start_token_id, *tokenizer.encode("assistant\n")]

    def user_turn(self, cameras: int, instruction: str) -> list[int]:
        """<|im_start|>user\n images instruction <|im_end|>\n (the instruction lower-cased, as the official reader)."""
        n = self.cfg.image_tokens
        vision = [self.cfg.vision_start_token_id, *[self.cfg.image_token_id] * n, self.cfg.vision_end_token_id] * cameras
        return self._user + vision + self.tokenizer.encode(instruction.lower()) + self._end_turn

    def assistant_header(self) -> list[int]:
        return list(self._assistant)

    def end_of_turn(self) -> list[int]:
        """<|im_end|> and the newline the chat template writes after a turn (they carry stage-1 loss)."""
        return list(self._end_turn)

    def prompt_ids(self, cameras: int, instruction: str) -> list[int]:
        return self.user_turn(cameras, instruction) + self._assistant

    def context_len(self, cameras: int) -> int:
        """The fixed prompt length: the template around `max_text_tokens` instruction tokens."""
        return len(self.prompt_ids(cameras, "")) + self.cfg.max_text_tokens

    def pad(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad to the longest (or to the fixed length) → input_ids (B, L), attention_mask (B, L)."""
        n = max(len(s) for s in seqs)
        if self.fixed_length:
            fixed = self.context_len(self._cameras(seqs[0]))
            if n > fixed:
                raise ValueError(f"the instruction takes {n - fixed + self.cfg.max_text_tokens} tokens; this model's "
                                 f"fixed prompt holds {self.cfg.max_text_tokens} (model config max_text_tokens) — "
                                 f"shorten it or use the torch engine")
            n = fixed
        ids = torch.full((len(seqs), n), self.cfg.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[b, : len(s)] = 1
        return ids, mask

    def _cameras(self, seq: list[int]) -> int:
        return seq.count(self.cfg.vision_start_token_id)

    def images(self, images: list[list[np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
        """images[b][k] (H, W, 3) uint8 → pixel_values (B·K·N_patch, P), image_grid_thw (B·K, 3)."""
        pix, grids = [], []
        for cams in images:
            for rgb in cams:
                pv, grid = patchify(resize_image(rgb, self.cfg.image_size, self.cfg.camera_resize), self.cfg)
                pix.append(pv)
                grids.append(grid)
        return torch.cat(pix), torch.stack(grids)

    def inputs(self, seqs: list[list[int]], images: list[list[np.ndarray]]) -> dict[str, torch.Tensor]:
        input_ids, mask = self.pad(seqs)
        pixel_values, grids = self.images(images)
        return {
            "input_ids": input_ids,
            "mm_token_type_ids": (input_ids == self.cfg.image_token_id).int(),  # 1 = image token (for M-RoPE)
            "attention_mask": mask,
            "pixel_values": pixel_values,
            "image_grid_thw": grids,
        }

    def __call__(self, images: list[list[np.ndarray]], instructions: list[str]) -> dict[str, torch.Tensor]:
        """images[b][k]: camera k of sample b, (H, W, 3) uint8. Returns input_ids (B, L), mm_token_type_ids (B, L),
        attention_mask (B, L), pixel_values (B·K·N_patch, P), image_grid_thw (B·K, 3)."""
        seqs = [self.prompt_ids(len(cams), text) for cams, text in zip(images, instructions, strict=True)]
        return self.inputs(seqs, images)
