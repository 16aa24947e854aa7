"""Named, frozen, validated model configurations.

`get_config("psi0")` is the full-size Ψ0 (Qwen3-VL-2B shape, expert 6 × 1536 × 24 heads, H 30,
D 36, 8 Euler steps); `get_config("tiny")` has the same classes with small dimensions and trains on
a CPU in minutes (tests use it); `get_config("small")` is tiny with a finer image and a wider expert (the demo suite's
policy). `from_dict` rejects unknown keys with the closest known name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from psi0_core.params import ConfigError, check_keys


class ModelConfigError(ConfigError):
    pass


@dataclass(frozen=True)
class TextConfig:
    hidden_size: int = 2048
    num_hidden_layers: int = 28
    intermediate_size: int = 6144
    num_attention_heads: int = 16
    num_key_value_heads: int = 8
    head_dim: int = 128
    vocab_size: int = 151936
    rope_theta: float = 5_000_000.0
    mrope_section: tuple[int, int, int] = (24, 20, 20)


@dataclass(frozen=True)
class VisionConfig:
    depth: int = 24
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_heads: int = 16
    patch_size: int = 16
    spatial_merge_size: int = 2
    temporal_patch_size: int = 2
    deepstack_visual_indexes: tuple[int, ...] = (5, 11, 17)
    num_position_embeddings: int = 2304


@dataclass(frozen=True)
class ExpertConfig:
    width: int = 1536  # official action_hidden_dim
    depth: int = 6  # action_num_blocks (the last one context-pre-only)
    heads: int = 24  # action_nheads
    head_dim: int = 64  # attention_head_dim (the attention's inner width is heads × head_dim)
    mlp_ratio: float = 4.0
    state_dropout: float = 0.2  # official: Dropout before the proprioception token's Linear (training only)
    token_dropout: float = 0.1  # official: Dropout on every observation token (training only)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "psi0"
    text: TextConfig = field(default_factory=TextConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    expert: ExpertConfig = field(default_factory=ExpertConfig)
    horizon: int = 30  # H actions per chunk (1 s at 30 Hz)
    action_dim: int = 36  # D (the G1 layout: psi0_core.g1_adapter)
    state_dim: int = 36
    num_steps: int = 8  # Euler steps at inference
    image_size: tuple[int, int] = (256, 320)  # (h, w) fed to the vision tower: 240×320 rounded to ×32
    camera_resize: tuple[int, int] | None = (240, 320)  # (h, w) of the official dataset transform, before that
    max_text_tokens: int = 48  # instruction tokens of the fixed-shape engines' prompt (the torch engine has no limit)
    tokenizer: str = "qwen"  # "qwen" (local folder) or "bytes" (byte-level fallback)
    # special tokens of the Qwen vocabulary (byte tokenizer: placed after the 256 byte values)
    image_token_id: int = 151655
    vision_start_token_id: int = 151652
    vision_end_token_id: int = 151653
    pad_token_id: int = 151643
    im_start_token_id: int = 151644  # chat template turns
    im_end_token_id: int = 151645
    text_tokens: int = 151669  # len(tokenizer): stage-1 action tokens are added from this id on (official layout)
    rtc_max_delay: int = 7  # training-time real-time chunking: prefix d ~ U{0..rtc_max_delay}
    # FAST action tokens added to the vocabulary by stage-1 pre-training (0: none), as the official tokenizer adds
    # them: <|a_i|> at text_tokens + i, then <|action_start|>, <|action_end|>; the embedding is resized to a multiple
    # of 192 (train/pretrain.py).
    action_vocab: int = 0

    def __post_init__(self) -> None:
        if self.vision.spatial_merge_size * self.vision.patch_size * 1 == 0:
            raise ModelConfigError("patch and merge sizes must be positive")
        unit = self.vision.patch_size * self.vision.spatial_merge_size
        if any(s % unit for s in self.image_size):
            raise ModelConfigError(f"image_size {self.image_size} must be multiples of {unit} (patch × merge)")
        if self.expert.width % self.expert.heads:
            raise ModelConfigError("expert width must be divisible by heads")
        if self.text_tokens > self.text.vocab_size:
            raise ModelConfigError(f"text_tokens {self.text_tokens} exceeds the vocabulary ({self.text.vocab_size})")
        if not 0 <= self.rtc_max_delay < self.horizon:
            raise ModelConfigError("rtc_max_delay must be in [0, horizon)")

    @property
    def image_tokens(self) -> int:
        """Tokens one camera image becomes after the 2×2 merge."""
        unit = self.vision.patch_size * self.vision.spatial_merge_size
        return (self.image_size[0] // unit) * (self.image_size[1] // unit)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    check_keys(data, [f.name for f in dataclasses.fields(cls)], where, ModelConfigError)
    kwargs = {}
    for key, value in data.items():
        sub = {"text": TextConfig, "vision": VisionConfig, "expert": ExpertConfig}.get(key) if cls is ModelConfig else None
        if sub is not None and isinstance(value, dict):
            value = _build(sub, value, f"{where}.{key}")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> ModelConfig:
    return _build(ModelConfig, dict(data), "model config")


TINY = ModelConfig(
    name="tiny",
    text=TextConfig(hidden_size=64, num_hidden_layers=2, intermediate_size=128, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, vocab_size=264, rope_theta=10000.0, mrope_section=(2, 3, 3)),
    vision=VisionConfig(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, deepstack_visual_indexes=(0,),
                        num_position_embeddings=64),
    expert=ExpertConfig(width=64, depth=2, heads=4, head_dim=16, state_dropout=0.0, token_dropout=0.0),  # deterministic
    image_size=(64, 96),
    camera_resize=None,
    tokenizer="bytes",
    max_text_tokens=32,
    image_token_id=256, vision_start_token_id=257, vision_end_token_id=258, pad_token_id=259,
    im_start_token_id=260, im_end_token_id=261, text_tokens=262,
)

# The demo suite's policy (config/bundles/suite): tiny's backbone with a finer image — 96×128 gives 12 vision tokens
# (tiny's 64×96: 6), so a 5 cm cube on the table spans ~8 px — a wider vision tower and a wider, deeper action expert
# (the 7 arm joints of a grasp must land within ~2 cm), and room for the longest suite instruction ("walk to the table
# and pick up the green cube": 44 byte tokens). About 2× tiny's training cost per step on a CPU.
SMALL = dataclasses.replace(
    TINY, name="small",
    vision=dataclasses.replace(TINY.vision, hidden_size=48, intermediate_size=96),
    expert=dataclasses.replace(TINY.expert, width=96, depth=3),
    image_size=(96, 128),
    max_text_tokens=48,
)

REGISTRY: dict[str, ModelConfig] = {"psi0": ModelConfig(), "tiny": TINY, "small": SMALL}


def get_config(name: str, **overrides: Any) -> ModelConfig:
    check_keys([name], sorted(REGISTRY), f"model registry ({', '.join(sorted(REGISTRY))})", ModelConfigError, what="model config")
    return from_dict({**REGISTRY[name].to_dict(), **overrides}) if overrides else REGISTRY[name]
