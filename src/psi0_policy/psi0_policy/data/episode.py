"""One demonstration as every reader produces it and the LeRobot writer consumes it.

Frames are produced lazily (a callable returning an iterator per camera), so an episode of 480×640
video never sits in memory whole: readers decode, the writer encodes, one frame at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

FrameSource = Callable[[], Iterator[np.ndarray]]  # → iterator of (H, W, 3) uint8 RGB frames


class EpisodeError(ValueError):
    """A malformed episode: the converter reports it (with this message) and skips it."""


@dataclass
class Episode:
    name: str  # stable identifier of the source (used for resuming and in reports)
    task: str  # language instruction
    capture_time: np.ndarray  # (T,) float64 seconds, real capture times relative to the first frame
    state: np.ndarray  # (T, S) float32
    action: np.ndarray  # (T, A) float32
    cameras: dict[str, FrameSource] = field(default_factory=dict)  # camera key → frames (T of them)
    fps: float = 30.0

    def __post_init__(self) -> None:
        self.state = np.asarray(self.state, dtype=np.float32)
        self.action = np.asarray(self.action, dtype=np.float32)
        self.capture_time = np.asarray(self.capture_time, dtype=np.float64)
        t = len(self.capture_time)
        if t == 0:
            raise EpisodeError(f"{self.name}: no frames")
        if self.state.ndim != 2 or self.action.ndim != 2 or len(self.state) != t or len(self.action) != t:
            raise EpisodeError(f"{self.name}: state {self.state.shape} / action {self.action.shape} do not match {t} frames")
        if not (np.isfinite(self.state).all() and np.isfinite(self.action).all()):
            raise EpisodeError(f"{self.name}: NaN or Inf in state/action")
        if not self.task:
            raise EpisodeError(f"{self.name}: empty task string")

    def __len__(self) -> int:
        return len(self.capture_time)
