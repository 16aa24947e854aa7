"""Typed, validated training configuration: one YAML file per stage, `base:` inheritance, CLI overrides.

    cfg = load_train_config("config/train/finetune_tiny.yaml", overrides=["steps=50", "out=runs/x"])

Unknown keys fail with the closest known name; values are type-checked and range-checked. The stage files
(config/train/{pretrain,posttrain,finetune}.yaml) carry the official recipes, read from the official training
scripts (scripts/train/psi0/*.sh): AdamW (betas, eps, weight decay per stage), lr 1e-4 with per-group rates for the
vision tower and mergers in pre-training, grad clip 1.0, warmup then constant or cosine (to 0 in fine-tuning),
bf16 autocast on GPU, chunk 1 × 48 in EgoDex pre-training, 16 in post-training and 30 with training-time RTC delays
0..7 in fine-tuning, VLM frozen after pre-training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from psi0_core.params import ConfigError, check_keys

STAGES = ("pretrain", "posttrain", "finetune")


class TrainConfigError(ConfigError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    stage: str
    model: str = "psi0"  # a registry config for a fresh model (psi0, tiny), used when `init` is empty
    init: str = ""  # checkpoint or bundle folder to start from (weights + config + stats)
    datasets: tuple[str, ...] = ()  # LeRobot v3.0 dataset folders (same state/action dims)
    camera: str = ""  # video feature to use ("" = the dataset's first camera)
    fast_tokenizer: str = ""  # FAST tokenizer folder (pretrain)
    text_tokenizer: str = ""  # folder with the Qwen tokenizer.json (models with tokenizer "qwen")
    horizon: int = 30  # actions per training chunk
    steps: int = 10_000
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    vision_lr: float = 0.0  # lr of the vision tower's blocks and patch embedding (0: lr); official vision_tower_lr
    merger_lr: float = 0.0  # lr of the vision→language mergers (0: lr); official mm_projector_lr
    schedule: str = "cosine"  # cosine | constant (both after a linear warmup)
    warmup_steps: int = 500
    min_lr_ratio: float = 0.1  # cosine floor, as a fraction of lr
    grad_clip: float = 1.0
    global_batch: int = 128  # samples per optimiser step, over all processes (reached by accumulation)
    micro_batch: int = 16  # samples per forward/backward per process
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | bf16 | fp32
    train: str = "expert"  # expert | backbone | all: the parameters that learn
    rtc_max_delay: int = 0  # training-time RTC: clean prefix d ~ U{0..rtc_max_delay} (0: off)
    color_jitter: float = 0.0  # brightness/contrast/saturation factors in [1 − j, 1 + j]
    norm_mode: str = "minmax"  # minmax (min/max) | quantile (q01/q99)
    # where the state token's position code sits in training: "padded" (official: after the padded batch's last
    # token) or "valid" (at the prompt's valid length, where deployment codes it). With instructions of different
    # lengths in one dataset, "padded" trains each short-instruction sample with the code of its batch's longest
    # prompt and deploys it with another (measured: arm error 0.47 rad RMS open-loop vs 0.05 with "valid")
    state_position: str = "padded"
    # 0…N spaces added to each training sample's instruction at random gaps (train.data.jitter_instruction): the
    # prompt's length stops telling the tasks apart, so a policy must read the words (0: off, the official recipe)
    instruction_jitter: int = 0
    heldout_episodes: int = 1  # the last N episodes of the (first) dataset, for open-loop evaluation
    eval_every: int = 1000
    eval_chunks: int = 8  # chunks per held-out episode in an evaluation
    save_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    num_workers: int = 0  # DataLoader worker processes per rank
    frame_cache_episodes: int = 256  # decoded episodes kept in memory per process (at model resolution)
    distributed: str = "ddp"  # ddp | fsdp (used when launched with torchrun, WORLD_SIZE > 1)
    device: str = "auto"  # auto | cpu | cuda
    out: str = "runs/train"

    def __post_init__(self) -> None:
        checks = [
            (self.stage in STAGES, f"stage {self.stage!r}: one of {STAGES}"),
            (self.schedule in ("cosine", "constant"), "schedule: cosine or constant"),
            (self.precision in ("auto", "bf16", "fp32"), "precision: auto, bf16 or fp32"),
            (self.train in ("expert", "backbone", "all"), "train: expert, backbone or all"),
            (self.norm_mode in ("minmax", "quantile"), "norm_mode: minmax or quantile"),
            (self.state_position in ("padded", "valid"), "state_position: padded or valid"),
            (self.distributed in ("ddp", "fsdp"), "distributed: ddp or fsdp"),
            (self.device in ("auto", "cpu", "cuda"), "device: auto, cpu or cuda"),
            (self.horizon >= 1, "horizon ≥ 1"),
            (0 <= self.rtc_max_delay < self.horizon, "rtc_max_delay in [0, horizon)"),
            (self.steps >= 1 and self.micro_batch >= 1 and self.global_batch >= self.micro_batch, "steps, batches ≥ 1"),
            (self.lr > 0 and 0 <= self.min_lr_ratio <= 1 and self.grad_clip > 0, "lr > 0, min_lr_ratio in [0, 1], grad_clip > 0"),
            (self.vision_lr >= 0 and self.merger_lr >= 0 and self.eps > 0, "vision_lr, merger_lr ≥ 0 (0: lr), eps > 0"),
            (all(0 <= b < 1 for b in self.betas) and len(self.betas) == 2, "betas: two values in [0, 1)"),
            (0 <= self.color_jitter < 1, "color_jitter in [0, 1)"),
            (0 <= self.instruction_jitter <= 32, "instruction_jitter in [0, 32]"),
            (self.warmup_steps >= 0 and self.heldout_episodes >= 0, "warmup_steps, heldout_episodes ≥ 0"),
            (self.eval_every >= 1 and self.save_every >= 1 and self.log_every >= 1, "eval/save/log intervals ≥ 1"),
            (bool(self.datasets), "at least one dataset"),
        ]
        for ok, msg in checks:
            if not ok:
                raise TrainConfigError(f"train config: {msg}")
        if self.stage == "pretrain" and not self.fast_tokenizer:
            raise TrainConfigError("train config: pretrain needs fast_tokenizer (psi0 data tokenizer …)")

    def accumulation(self, world: int) -> int:
        per_step = self.micro_batch * world
        if self.global_batch % per_step:
            raise TrainConfigError(f"global_batch {self.global_batch} is not a multiple of micro_batch × processes = {per_step}")
        return self.global_batch // per_step

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, value: Any, typ: Any) -> Any:
    t = str(typ)
    try:
        if t == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if t == "float":
            return float(value)
        if t == "str":
            return "" if value is None else str(value)
        if t.startswith("tuple[str"):
            return tuple(str(v) for v in ([value] if isinstance(value, str) else value))
        if t.startswith("tuple[float"):
            return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        pass
    raise TrainConfigError(f"train config: {name} = {value!r} is not a {t}")


def from_dict(data: dict[str, Any]) -> TrainConfig:
    known = {f.name: f for f in fields(TrainConfig)}
    check_keys(data, known, "train config", TrainConfigError)
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(key, value, known[key].type)
    if "stage" not in kwargs:
        raise TrainConfigError("train config: `stage` is required")
    return TrainConfig(**kwargs)


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise TrainConfigError(f"train config: `base` cycle through {path}")
    if not path.exists():
        raise FileNotFoundError(f"train config {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path}: a mapping of keys expected")
    base = data.pop("base", None)
    return {**(_read((path.parent / base).resolve(), (*seen, path)) if base else {}), **data}


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise TrainConfigError(f"override {item!r}: use key=value")
    k, v = item.split("=", 1)
    return k.strip(), yaml.safe_load(v)


def load_train_config(path: str | Path, overrides: list[str] | None = None, stage: str | None = None) -> TrainConfig:
    data = _read(Path(path).resolve())
    data.update(dict(_parse_override(o) for o in overrides or []))
    cfg = from_dict(data)
    if stage is not None and cfg.stage != stage:
        raise TrainConfigError(f"{path} is a {cfg.stage} config, not {stage}")
    return cfg
