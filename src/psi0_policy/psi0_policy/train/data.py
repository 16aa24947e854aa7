"""Training samples from LeRobot v3.0 datasets: (camera frame, instruction, state, action chunk).

Sample i = frame t of an episode: the image and state at t, and actions t..t+H−1 (past the episode's end
the last action repeats: the robot holds). Actions and states are normalised with the dataset's
statistics (min-max or q01/q99 to [−1, 1], clipped). Frames are decoded per episode at the model's
image size and kept in a per-process LRU cache (`frame_cache_episodes`).

Determinism: data order and every random draw depend only on (seed, epoch or step, sample position),
never on the process layout or on the worker that loads a sample — so a resumed run, or a run split
over more processes, sees exactly the same samples and noise (`DeterministicOrder`, `sample_rng`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from psi0_policy.data.lerobot_reader import LeRobotData
from psi0_policy.model.normalize import Normalizer
from psi0_policy.model.preprocess import resize_image


def sample_rng(seed: int, *keys: int) -> torch.Generator:
    """A generator keyed by (seed, keys…): the same draw for the same sample wherever it is computed."""
    h = np.random.SeedSequence([seed, *[int(k) for k in keys]]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(h) & ((1 << 63) - 1))


@dataclass(frozen=True)
class Item:
    dataset: int
    episode: int
    row: int  # absolute row of frame t in the dataset's tables


class ChunkDataset(torch.utils.data.Dataset):
    def __init__(self, roots: list[str | LeRobotData], horizon: int, image_size: tuple[int, int],
                 normalizer: tuple[Normalizer, Normalizer],
                 episodes: dict[int, list[int]] | None = None, camera: str = "", color_jitter: float = 0.0,
                 cache_episodes: int = 256, seed: int = 0, camera_resize: tuple[int, int] | None = None,
                 instruction_jitter: int = 0) -> None:
        self.sets = [r if isinstance(r, LeRobotData) else LeRobotData(r) for r in roots]  # loaded ones are shared
        dims = {(d.state.shape[1], d.action.shape[1]) for d in self.sets}
        if len(dims) != 1:
            raise ValueError(f"datasets differ in state/action dimensions: {sorted(dims)}")
        self.cameras = []
        for d in self.sets:
            if not d.camera_keys:
                raise ValueError(f"{d.root}: no camera stream")
            key = camera or d.camera_keys[0]
            if key not in d.camera_keys:
                raise ValueError(f"{d.root}: no camera {key!r} (has {d.camera_keys})")
            self.cameras.append(key)
        self.horizon, self.image_size = horizon, tuple(image_size)
        self.camera_resize = tuple(camera_resize) if camera_resize else None  # the official first resize (preprocess.py)
        self.action_norm, self.state_norm = normalizer
        self.jitter, self.seed = color_jitter, seed
        self.instruction_jitter = instruction_jitter
        self.items: list[Item] = []
        for k, d in enumerate(self.sets):
            for ep in (episodes or {}).get(k, range(len(d.episodes))):
                a, b = d.episode_span(ep)
                self.items += [Item(k, ep, r) for r in range(a, b)]
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_size = cache_episodes
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def frames(self, k: int, ep: int) -> np.ndarray:
        """(T, h, w, 3) uint8 frames of an episode at model resolution."""
        key = (k, ep)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        imgs = [(resize_image(f, self.image_size, self.camera_resize).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
                for f in self.sets[k].frames(ep, self.cameras[k])]
        arr = np.stack(imgs)
        self._cache[key] = arr
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arr

    def raw_chunk(self, k: int, ep: int, row: int) -> np.ndarray:
        d = self.sets[k]
        _, b = d.episode_span(ep)
        idx = np.minimum(np.arange(row, row + self.horizon), b - 1)
        return d.action[idx].astype(np.float64)

    def get(self, i: int, position: int) -> dict[str, Any]:
        """Sample i, drawn at global position `position` (keys its augmentation)."""
        it = self.items[i]
        d = self.sets[it.dataset]
        a, _ = d.episode_span(it.episode)
        img = self.frames(it.dataset, it.episode)[it.row - a]
        if self.jitter > 0:
            img = color_jitter(img, self.jitter, sample_rng(self.seed, 1, position))
        text = d.task(it.episode)
        if self.instruction_jitter > 0:
            text = jitter_instruction(text, self.instruction_jitter, sample_rng(self.seed, 2, position))
        return {
            "image": img,
            "instruction": text,
            "state": torch.as_tensor(self.state_norm.normalize(d.state[it.row].astype(np.float64)), dtype=torch.float32),
            "actions": torch.as_tensor(self.action_norm.normalize(self.raw_chunk(it.dataset, it.episode, it.row)),
                                       dtype=torch.float32),
            "position": position,
        }

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        return self.get(*key)


def color_jitter(img: np.ndarray, strength: float, g: torch.Generator) -> np.ndarray:
    """Brightness, contrast and saturation factors each in [1 − s, 1 + s]; (h, w, 3) uint8 → uint8."""
    b, c, s = (1 + strength * (2 * torch.rand(3, generator=g) - 1)).tolist()
    x = img.astype(np.float32) * b
    mean = x.mean()
    x = (x - mean) * c + mean
    gray = x.mean(axis=2, keepdims=True)
    x = (x - gray) * s + gray
    return np.clip(x, 0, 255).round().astype(np.uint8)


def jitter_instruction(text: str, extra: int, g: torch.Generator) -> str:
    """The same words with 0…extra spaces added, each at a random gap (before, between or after the words).

    A small policy trained from scratch on a few tasks reads the prompt's *length* instead of its words when the
    length alone tells the tasks apart (its state token's position code is the prompt length): the committed suite
    bundle acts on "qqqqqqqqqqqqqqqqqqqq" exactly as on "pick up the red cube" (same 20 characters) and does a pick
    when told "raise your left hand" (also 20). Drawing the length per sample leaves only the words to read."""
    n = int(torch.randint(0, extra + 1, (1,), generator=g))
    words = text.split(" ")
    pads = [0] * (len(words) + 1)
    for k in torch.randint(0, len(pads), (n,), generator=g).tolist():
        pads[k] += 1
    return " " * pads[0] + "".join(w + " " * (1 + p) for w, p in zip(words[:-1], pads[1:-1], strict=True)) \
        + words[-1] + " " * pads[-1]


class DeterministicOrder(torch.utils.data.Sampler):
    """Yields (dataset index, global position) for this process's share of each optimiser step.

    Global position p = step · global_batch + j (j = 0..global_batch−1) maps to a permutation of the data
    drawn per epoch from (seed, epoch). Process r takes, for accumulation round a, positions
    j ∈ [(a·world + r)·micro, …+micro): the union over processes is the whole global batch, in order.
    """

    def __init__(self, n: int, global_batch: int, micro_batch: int, world: int, rank: int, seed: int, start_step: int = 0,
                 steps: int | None = None) -> None:
        self.n, self.gb, self.mb, self.world, self.rank, self.seed = n, global_batch, micro_batch, world, rank, seed
        self.start, self.steps = start_step, steps
        self._perms: dict[int, np.ndarray] = {}

    def perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return self._perms[epoch]

    def index(self, position: int) -> int:
        epoch, k = divmod(position, self.n)
        return int(self.perm(epoch)[k])

    def positions(self, step: int) -> list[list[int]]:
        """This process's micro-batches (lists of global positions) for an optimiser step."""
        rounds = self.gb // (self.mb * self.world)
        return [[step * self.gb + (a * self.world + self.rank) * self.mb + j for j in range(self.mb)] for a in range(rounds)]

    def __iter__(self):
        step = self.start
        while self.steps is None or step < self.steps:
            for mb in self.positions(step):
                yield from ((self.index(p), p) for p in mb)
            step += 1

    def __len__(self) -> int:
        return 0 if self.steps is None else (self.steps - self.start) * self.gb // self.world


def split_episodes(sets: list[LeRobotData] | list[int], heldout: int) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(train, held-out) episode lists: the last `heldout` episodes of the first dataset are held out."""
    counts = [len(d.episodes) if isinstance(d, LeRobotData) else int(d) for d in sets]
    train = {k: list(range(n)) for k, n in enumerate(counts)}
    if heldout and counts[0] > heldout:
        held = {0: train[0][-heldout:]}
        train[0] = train[0][:-heldout]
    else:
        held = {}
    return train, held
