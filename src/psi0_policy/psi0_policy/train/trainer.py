"""The training loop shared by the three stages.

    summary = Trainer(load_train_config("config/train/finetune_tiny.yaml")).run()
    torchrun --nproc_per_node 8 -m psi0_policy.train.cli finetune --config config/train/finetune.yaml

Per optimiser step: `global_batch` samples, split over processes and accumulated in `micro_batch` pieces
(DDP synchronises only on the last piece); gradients clipped to `grad_clip`; AdamW; linear warmup then
constant or cosine learning rate. Losses: flow matching (post-train, fine-tune; per-sample noise, flow time
and RTC delay drawn from (seed, position), so any process layout gives the same batch) or answer-token
cross-entropy (pre-train).

Outputs under `out`: checkpoints/step_NNNNNNN/ (model.safetensors, config.json, stats.json, trainer.pt with
optimiser, scheduler, step and RNG states; the newest `keep_checkpoints` are kept), tb/ (TensorBoard),
eval/step_NNNNNNN.png, train_config.yaml, summary.json. `resume=True` continues from the newest
checkpoint and reproduces the uninterrupted run exactly; an `out` holding checkpoints is never
overwritten without it.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from psi0_policy.data.fast import FastTokenizer
from psi0_policy.data.lerobot_reader import LeRobotData
from psi0_policy.data.stats import policy_stats
from psi0_policy.model import flow
from psi0_policy.model.checkpoint import load_checkpoint, save_weights
from psi0_policy.model.config import from_dict, get_config
from psi0_policy.model.normalize import Normalizer
from psi0_policy.model.preprocess import Preprocessor, make_tokenizer
from psi0_policy.model.psi0 import Psi0Model
from psi0_policy.train import distributed as D
from psi0_policy.train import pretrain
from psi0_policy.train.config import TrainConfig
from psi0_policy.train.data import ChunkDataset, DeterministicOrder, sample_rng, split_episodes
from psi0_policy.train.evaluate import open_loop


def merged_stats(roots: list[str]) -> dict[str, Any]:
    """Policy stats over several datasets: bounds are the union; mean/std count-weighted."""
    raw = [json.loads((Path(r) / "meta" / "stats.json").read_text()) for r in roots]
    parts = [policy_stats(d) for d in raw]
    counts = [d["action"]["count"][0] for d in raw]
    out: dict[str, Any] = {}
    for key in ("action", "state"):
        p = [{k: np.asarray(v) for k, v in part[key].items()} for part in parts]
        w = np.asarray(counts, dtype=float) / sum(counts)
        mean = sum(wi * pi["mean"] for wi, pi in zip(w, p, strict=True))
        var = sum(wi * (pi["std"] ** 2 + (pi["mean"] - mean) ** 2) for wi, pi in zip(w, p, strict=True))
        out[key] = {"min": np.min([pi["min"] for pi in p], 0).tolist(), "max": np.max([pi["max"] for pi in p], 0).tolist(),
                    "q01": np.min([pi["q01"] for pi in p], 0).tolist(), "q99": np.max([pi["q99"] for pi in p], 0).tolist(),
                    "mean": mean.tolist(), "std": np.sqrt(var).tolist()}
    return out


def adopt_horizon(model: Psi0Model, horizon: int) -> Psi0Model:
    """A model for chunks of `horizon` from one trained on another length, as the official fine-tuning starts from
    post-training (chunk 16 → 30): the backbone and the expert's transformer_blocks.* carry over; the rest of the
    expert (time embedding, observation and action projections, positions, output head) starts fresh."""
    d = model.cfg.to_dict()
    d["horizon"] = horizon
    d["rtc_max_delay"] = min(model.cfg.rtc_max_delay, horizon - 1)
    new = Psi0Model(from_dict(d))
    keep = {k: v for k, v in model.state_dict().items()
            if k.startswith("backbone.") or k.startswith("expert.transformer_blocks.")}
    missing, unexpected = new.load_state_dict(keep, strict=False)
    fresh = [k for k in missing if k.startswith("expert.") and ".transformer_blocks." not in k]
    if unexpected or len(fresh) != len(missing):
        kept_out = sorted(set(missing) - set(fresh))[:3]
        raise RuntimeError(f"adopt_horizon: unexpected {unexpected[:3]}, not carried over {kept_out}")
    print(f"[train] the initial model has chunks of {model.cfg.horizon}, training uses {horizon}: kept the backbone and "
          f"the expert's transformer blocks, the other {len(missing)} expert tensors start fresh", flush=True)
    return new


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The trainable parameters in AdamW groups: the vision tower's mergers at merger_lr, the rest of the vision
    tower at vision_lr, everything else at lr (a rate of 0 means lr). Each group keeps its rate under the schedule."""
    groups: dict[str, list[torch.nn.Parameter]] = {"merger": [], "vision": [], "rest": []}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if ".visual." in f".{name}" and ("merger" in name):
            groups["merger"].append(p)
        elif ".visual." in f".{name}":
            groups["vision"].append(p)
        else:
            groups["rest"].append(p)
    rates = {"merger": cfg.merger_lr or cfg.lr, "vision": cfg.vision_lr or cfg.lr, "rest": cfg.lr}
    return [{"params": ps, "lr": rates[k], "name": k} for k, ps in groups.items() if ps]


def lr_factor(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / (cfg.warmup_steps + 1)
    if cfg.schedule == "constant":
        return 1.0
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def latest_checkpoint(out: Path) -> Path | None:
    steps = sorted((out / "checkpoints").glob("step_*"))
    done = [s for s in steps if (s / "trainer.pt").exists()]
    return done[-1] if done else None


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False, progress: bool = True, dump_grads: str | None = None) -> None:
        self.cfg = cfg
        self.dist = D.init(cfg.device)
        self.out = Path(cfg.out)
        self.progress = progress and self.dist.main
        self.dump_grads = dump_grads
        ckpt = latest_checkpoint(self.out)
        if ckpt is not None and not resume:
            raise FileExistsError(f"{self.out} holds checkpoints ({ckpt.name}): pass --resume to continue, or choose another out")
        if resume and ckpt is None:
            raise FileNotFoundError(f"--resume: no checkpoint under {self.out / 'checkpoints'}")
        torch.manual_seed(cfg.seed)
        # ---- model ----
        source = str(ckpt) if ckpt is not None else cfg.init
        flow_stage = cfg.stage in ("posttrain", "finetune")
        if source:
            model, _ = load_checkpoint(source)
            if flow_stage and model.cfg.horizon != cfg.horizon:
                model = adopt_horizon(model, cfg.horizon)
        else:
            model = Psi0Model(get_config(cfg.model, **({"horizon": cfg.horizon} if flow_stage else {})))
        self.fast: FastTokenizer | None = None
        if cfg.stage == "pretrain":
            self.fast = FastTokenizer.load(cfg.fast_tokenizer)
            pretrain.extend_vocab(model, self.fast.vocab_size)
        if model.cfg.rtc_max_delay != cfg.rtc_max_delay and cfg.stage == "finetune":
            model.cfg = model.backbone.cfg = from_dict({**model.cfg.to_dict(), "rtc_max_delay": cfg.rtc_max_delay})
        learn = {"expert": ("expert",), "backbone": ("backbone",), "all": ("expert", "backbone")}[cfg.train]
        for name, p in model.named_parameters():
            p.requires_grad_(name.split(".")[0] in learn)
        self.model_cfg = model.cfg
        self.pre = Preprocessor(model.cfg, make_tokenizer(model.cfg, cfg.text_tokenizer or None))
        # ---- data ----
        self.stats = {**merged_stats(list(cfg.datasets)), "norm_mode": cfg.norm_mode}  # the policy normalises alike
        norm = (Normalizer.from_stats(self.stats["action"], cfg.norm_mode),
                Normalizer.from_stats(self.stats["state"], cfg.norm_mode))
        sets = [LeRobotData(r) for r in cfg.datasets]  # read once, shared by the training and held-out samples
        if len(norm[0].low) != model.cfg.action_dim and cfg.stage != "pretrain":
            raise ValueError(f"datasets have {len(norm[0].low)}-D actions, the model {model.cfg.action_dim}-D")
        train_eps, held_eps = split_episodes(sets, cfg.heldout_episodes)
        kw = {"camera": cfg.camera, "cache_episodes": cfg.frame_cache_episodes, "seed": cfg.seed,
              "camera_resize": model.cfg.camera_resize}
        self.train_set = ChunkDataset(sets, cfg.horizon, model.cfg.image_size, norm, train_eps, color_jitter=cfg.color_jitter,
                                      instruction_jitter=cfg.instruction_jitter, **kw)
        self.held_set = ChunkDataset(sets, cfg.horizon, model.cfg.image_size, norm, held_eps, **kw) if held_eps else None
        self.accum = cfg.accumulation(self.dist.world)
        # ---- optimisation ----
        self.model = D.wrap(model.to(self.dist.device), cfg.distributed, self.dist)
        self.opt = torch.optim.AdamW(param_groups(self.model, cfg), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                     weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, cfg))
        self.step = 0
        if ckpt is not None:
            self._load(ckpt)
        self.autocast = self._autocast()
        self.tb = None
        if self.dist.main:
            from torch.utils.tensorboard import SummaryWriter

            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "train_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
            self.tb = SummaryWriter(str(self.out / "tb"))

    # ---- one step -----------------------------------------------------------------------------
    def _autocast(self):
        dev = self.dist.device.type
        on = self.cfg.precision == "bf16" or (self.cfg.precision == "auto" and dev == "cuda")
        return lambda: torch.autocast(dev, dtype=torch.bfloat16, enabled=on)

    def _batch_loss(self, samples: list[dict[str, Any]]) -> torch.Tensor:
        cfg, dev = self.cfg, self.dist.device
        images = [s["image"] for s in samples]
        texts = [s["instruction"] for s in samples]
        actions = torch.stack([s["actions"] for s in samples]).to(dev)
        model = self.model
        if cfg.stage == "pretrain":
            ids = pretrain.ActionIds.of(D.unwrap(model))
            answers = pretrain.encode_answers(self.fast, actions.cpu())
            inputs, labels = pretrain.build_batch(self.pre, ids, images, texts, answers)
            inputs = {k: v.to(dev) for k, v in inputs.items()}
            with self.autocast():
                return model("tokens", inputs, labels.to(dev)).float().mean()
        inputs = {k: v.to(dev) for k, v in self.pre([[im] for im in images], texts).items()}
        state = torch.stack([s["state"] for s in samples]).to(dev)
        h, d = actions.shape[1:]
        noise, t, delays = [], [], []
        for s in samples:  # per-sample randomness keyed by its global position
            g = sample_rng(cfg.seed, 2, s["position"])
            noise.append(torch.randn(h, d, generator=g))
            t.append(torch.rand(1, generator=g))
            delays.append(flow.sample_delays(1, cfg.rtc_max_delay, g))  # same draw as torch.randint(0, d + 1, (1,))
        delay = torch.cat(delays) if cfg.rtc_max_delay > 0 else None
        with self.autocast():
            per = model("flow", inputs, state, actions, torch.stack(noise).to(dev), torch.cat(t).to(dev),
                        None if delay is None else delay.to(dev), cfg.state_position == "valid")
        return per.float().mean()

    def train_step(self, micro_batches: list[list[dict[str, Any]]]) -> float:
        self.model.train()
        total = 0.0
        for i, samples in enumerate(micro_batches):
            last = i == len(micro_batches) - 1
            sync_later = self.dist.active and not last and hasattr(self.model, "no_sync")
            ctx = self.model.no_sync() if sync_later else contextlib.nullcontext()
            with ctx:
                loss = self._batch_loss(samples) / len(micro_batches)
                loss.backward()
            total += float(loss.detach())
        if self.dump_grads is not None and self.step == 0:
            grads = {n: p.grad.detach().cpu().clone() for n, p in D.unwrap(self.model).named_parameters() if p.grad is not None}
            if self.dist.main:
                torch.save(grads, self.dump_grads)
        gnorm = torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.cfg.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.sched.step()
        self.step += 1
        self._last_gnorm = float(gnorm)
        return D.mean(total, self.dist)

    # ---- the loop -----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        order = DeterministicOrder(len(self.train_set), cfg.global_batch, cfg.micro_batch, self.dist.world, self.dist.rank,
                                   cfg.seed, start_step=self.step, steps=cfg.steps)
        loader = torch.utils.data.DataLoader(self.train_set, batch_size=cfg.micro_batch, sampler=order, collate_fn=list,
                                             num_workers=cfg.num_workers, persistent_workers=False)
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, desc=f"{cfg.stage}", unit="step")
        losses: list[float] = []
        evals: list[dict[str, Any]] = []
        t0 = time.monotonic()
        samples_seen = 0
        pending: list[list[dict[str, Any]]] = []
        for micro in loader:
            pending.append(micro)
            if len(pending) < self.accum:
                continue
            loss = self.train_step(pending)
            samples_seen += sum(len(m) for m in pending) * self.dist.world
            pending = []
            losses.append(loss)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if self.tb is not None and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                self.tb.add_scalar("train/loss", loss, self.step)
                self.tb.add_scalar("train/lr", self.sched.get_last_lr()[0], self.step)
                self.tb.add_scalar("train/grad_norm", self._last_gnorm, self.step)
            if self.held_set is not None and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                evals.append({"step": self.step, **self.evaluate()})
            if self.step % cfg.save_every == 0 or self.step == cfg.steps:
                self.save()
        bar.close()
        seconds = time.monotonic() - t0
        summary = {"stage": cfg.stage, "steps": self.step, "losses": losses, "evaluations": evals, "seconds": round(seconds, 2),
                   "samples_per_second": round(samples_seen / seconds, 2) if seconds > 0 else 0.0, "world": self.dist.world,
                   "checkpoint": str(latest_checkpoint(self.out)) if self.dist.main else None}
        if self.dist.main:
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
            if self.tb is not None:
                self.tb.close()
        D.barrier(self.dist)
        return summary

    def evaluate(self) -> dict[str, Any]:
        model = D.unwrap(self.model)
        if D.is_sharded(self.model):  # evaluate a gathered full copy on the main process
            sd, _ = D.full_state(self.model, self.opt)
            if not self.dist.main:
                return {}
            model = Psi0Model(self.model_cfg).to(self.dist.device)
            model.load_state_dict(sd, strict=False)
        plot = self.out / "eval" / f"step_{self.step:07d}.png" if self.dist.main else None
        if self.cfg.stage == "pretrain":
            return self._evaluate_tokens(model)
        m = open_loop(model, self.pre, self.held_set, self.cfg.eval_chunks, self.cfg.seed, plot, self.dist.device)
        if self.tb is not None:
            for k, v in m.items():
                if k.startswith("mse/"):
                    self.tb.add_scalar(f"eval/{k}", v, self.step)
        return m

    @torch.no_grad()
    def _evaluate_tokens(self, model: Psi0Model) -> dict[str, Any]:
        """Held-out answer-token loss, and whether greedy generations decode to valid action chunks."""
        ds = self.held_set
        picks = list(range(0, len(ds), max(1, len(ds) // self.cfg.eval_chunks)))[: self.cfg.eval_chunks]
        samples = [ds.get(i, i) for i in picks]
        ids = pretrain.ActionIds.of(model)
        inputs, labels = pretrain.build_batch(self.pre, ids, [s["image"] for s in samples], [s["instruction"] for s in samples],
                                              pretrain.encode_answers(self.fast, torch.stack([s["actions"] for s in samples])))
        model.eval()
        dev = self.dist.device
        loss = float(pretrain.token_loss(model, {k: v.to(dev) for k, v in inputs.items()}, labels.to(dev)))
        valid = ended = 0
        for s in samples[:2]:
            tokens, end = pretrain.generate(model, self.pre, s["image"], s["instruction"],
                                            max_tokens=2 * self.cfg.horizon * self.fast.action_dim + 2, fast=self.fast,
                                            horizon=self.cfg.horizon)
            valid += self.fast.decode_one(tokens, self.cfg.horizon)[1]
            ended += end
        model.train()
        if self.tb is not None:
            self.tb.add_scalar("eval/token_loss", loss, self.step)
        return {"token_loss": loss, "valid_generations": valid, "ended_by_model": ended, "generated": min(2, len(samples))}

    # ---- checkpoints --------------------------------------------------------------------------
    def save(self) -> Path:
        model_sd, optim_sd = D.full_state(self.model, self.opt)
        folder = self.out / "checkpoints" / f"step_{self.step:07d}"
        if self.dist.main:
            save_weights(model_sd, self.model_cfg, folder, self.stats)
            if self.fast is not None:
                self.fast.save(folder / "fast_tokenizer")
            # the run's config beside the weights: export reads it without loading the optimiser state
            (folder / "train_config.json").write_text(json.dumps(self.cfg.to_dict(), indent=1))
            torch.save({"step": self.step, "optimizer": optim_sd, "scheduler": self.sched.state_dict(),
                        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
                        "config": self.cfg.to_dict()}, folder / "trainer.pt")
            for old in sorted((self.out / "checkpoints").glob("step_*"))[: -self.cfg.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        D.barrier(self.dist)
        return folder

    def _load(self, folder: Path) -> None:
        state = torch.load(folder / "trainer.pt", weights_only=False)
        from safetensors.torch import load_file

        D.load_full_state(self.model, self.opt, load_file(str(folder / "model.safetensors")), state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])

