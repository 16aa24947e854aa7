"""Per-dimension statistics in one streaming pass with constant memory: min, max, mean, std, q01, q99.

min/max/mean/std are exact (float64; Chan et al.'s parallel update of mean and M2, so batches and
merges give the numpy result to rounding). Quantiles come from a per-dimension histogram of `bins`
equal bins over a range that grows by doubling whenever a value falls outside it (two neighbouring
bins merge, so no count is ever lost or moved across a value): each order statistic is located within
its bin, so a reported quantile lies within one bin width — (max − min)·3/bins at worst, after merges
the coarser accumulator's — of numpy's `quantile(..., method="linear")`. Memory: D × bins
counts, whatever the number of frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


class StreamingStats:
    def __init__(self, dim: int, bins: int = 4096) -> None:
        if bins < 16 or bins % 2:
            raise ValueError("bins must be an even number ≥ 16")
        self.dim, self.bins = dim, bins
        self.count = 0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)
        self.min = np.full(dim, np.inf)
        self.max = np.full(dim, -np.inf)
        self.lo = np.zeros(dim)  # histogram range [lo, lo + width·bins) per dimension
        self.width = np.zeros(dim)  # 0 until the first batch
        self.hist = np.zeros((dim, bins), dtype=np.int64)

    def update(self, x: np.ndarray) -> None:
        """x (N, D); NaN/Inf are rejected (they would poison every statistic)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        if len(x) == 0:
            return
        if not np.isfinite(x).all():
            raise ValueError("statistics: NaN or Inf in the data")
        mean = x.mean(axis=0)
        self._combine(len(x), mean, ((x - mean) ** 2).sum(axis=0), x.min(axis=0), x.max(axis=0))
        for d in range(self.dim):
            self._histogram(d, x[:, d])

    def _combine(self, n: int, mean: np.ndarray, m2: np.ndarray, vmin: np.ndarray, vmax: np.ndarray) -> None:
        """Fold n samples' moments in (Chan et al.'s parallel update)."""
        tot = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / tot
        self.m2 = self.m2 + m2 + delta**2 * self.count * n / tot
        self.count = tot
        self.min, self.max = np.minimum(self.min, vmin), np.maximum(self.max, vmax)

    def _histogram(self, d: int, v: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count values v (optionally weighted) into dimension d's histogram, growing its range first if needed."""
        vmin, vmax = float(v.min()), float(v.max())
        if self.width[d] == 0:  # first data: a range around what we see, with room to spare
            span = max(vmax - vmin, 1e-6)
            self.lo[d] = vmin - 0.25 * span
            self.width[d] = 1.5 * span / self.bins
        while vmin < self.lo[d] or vmax >= self.lo[d] + self.width[d] * self.bins:
            self._grow(d, extend_down=vmin < self.lo[d])
        idx = np.minimum(((v - self.lo[d]) / self.width[d]).astype(np.int64), self.bins - 1)
        self.hist[d] += np.bincount(idx, weights=weights, minlength=self.bins).astype(np.int64)

    def _grow(self, d: int, extend_down: bool) -> None:
        """Double the range: pairs of bins merge into the half that keeps the old range."""
        merged = self.hist[d].reshape(-1, 2).sum(axis=1)
        half = self.bins // 2
        h = np.zeros(self.bins, dtype=np.int64)
        if extend_down:
            h[half:] = merged
            self.lo[d] -= self.width[d] * self.bins
        else:
            h[:half] = merged
        self.hist[d] = h
        self.width[d] *= 2

    def merge(self, other: StreamingStats) -> None:
        """Fold another accumulator in (e.g. per-episode stats into the dataset's)."""
        if other.count == 0:
            return
        if self.count == 0:
            self.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in other.__dict__.items()})
            return
        self._combine(other.count, other.mean, other.m2, other.min, other.max)
        for d in range(self.dim):  # re-bin the other histogram's bin centres (error ≤ one bin of the coarser one)
            centres = other.lo[d] + (np.arange(self.bins) + 0.5) * other.width[d]
            live = other.hist[d] > 0
            self._histogram(d, centres[live], other.hist[d][live])

    def quantile(self, q: float) -> np.ndarray:
        """(D,) q-quantile as numpy's "linear" method: between the order statistics of ranks ⌊r⌋ and ⌊r⌋+1,
        r = q·(N−1), each located inside its histogram bin, so the result is within one bin width of numpy's."""
        r = q * (self.count - 1)
        j0 = int(np.floor(r))
        j1 = min(j0 + 1, self.count - 1)
        f = r - j0
        out = np.zeros(self.dim)
        for d in range(self.dim):
            cum = np.cumsum(self.hist[d])
            x0, x1 = (self._order_statistic(d, cum, j) for j in (j0, j1))
            out[d] = x0 + f * (x1 - x0)
        return np.clip(out, self.min, self.max)

    def _order_statistic(self, d: int, cum: np.ndarray, j: int) -> float:
        """Value of rank j (0-based): the bin holding it, the bin's count spread evenly across it."""
        k = min(int(np.searchsorted(cum, j, side="right")), self.bins - 1)
        before = cum[k - 1] if k else 0
        return float(self.lo[d] + (k + (j - before + 0.5) / max(self.hist[d][k], 1)) * self.width[d])

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))

    def bin_width(self) -> np.ndarray:
        return self.width.copy()

    def to_dict(self) -> dict[str, Any]:
        """LeRobot-style entry: lists per dimension, count as [N]."""
        if self.count == 0:
            raise ValueError("statistics of no data")
        out: dict[str, Any] = {"min": self.min.tolist(), "max": self.max.tolist(), "mean": self.mean.tolist(),
                               "std": self.std.tolist(), "count": [int(self.count)]}
        for name, q in QUANTILES.items():
            out[name] = self.quantile(q).tolist()
        return out


def policy_stats(dataset_stats: dict[str, Any]) -> dict[str, Any]:
    """A dataset's meta/stats.json → the stats.json of a policy bundle ({"action": …, "state": …}), which the
    policy node and training normalise with (psi0_policy.model.normalize)."""
    keys = ("min", "max", "mean", "std", "q01", "q99")
    return {"action": {k: dataset_stats["action"][k] for k in keys},
            "state": {k: dataset_stats["observation.state"][k] for k in keys}}
