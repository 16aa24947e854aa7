"""Open-loop evaluation on held-out episodes: predicted chunks against the recorded actions.

For each held-out episode, chunks are predicted every H frames (up to `chunks` of them) from that frame's
image, instruction and state (no prefix, noise seeded per chunk), denormalised and compared with the
recorded actions in robot units: MSE per dimension group. The PNG shows, for the most-moving action
dimensions, the recorded trajectory and the stitched predicted chunks with chunk boundaries marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from psi0_policy.model.preprocess import Preprocessor
from psi0_policy.model.psi0 import Psi0Model
from psi0_policy.train.data import ChunkDataset, sample_rng

GROUPS_36 = {"hands": slice(0, 14), "arms": slice(14, 28), "torso_rpy": slice(28, 31), "height": slice(31, 32),
             "velocity": slice(32, 35), "yaw": slice(35, 36)}
GROUPS_48 = {"left_hand": slice(0, 24), "right_hand": slice(24, 48)}


def groups(dim: int) -> dict[str, slice]:
    return GROUPS_36 if dim == 36 else GROUPS_48 if dim == 48 else {"all": slice(0, dim)}


@torch.no_grad()
def open_loop(model: Psi0Model, pre: Preprocessor, ds: ChunkDataset, chunks: int = 8, seed: int = 0,
              plot_path: Path | None = None, device: torch.device | str = "cpu") -> dict[str, Any]:
    model.eval()
    h = ds.horizon
    recorded_all, predicted_all, plots = [], [], []
    episodes = sorted({(it.dataset, it.episode) for it in ds.items})
    for k, ep in episodes:
        d = ds.sets[k]
        a, b = d.episode_span(ep)
        frames = ds.frames(k, ep)
        rec_ep, pred_ep, starts = [], [], []
        for c, row in enumerate(range(a, b, h)):
            if c >= chunks:
                break
            inputs = {n: v.to(device) for n, v in pre([[frames[row - a]]], [d.task(ep)]).items()}
            state = torch.as_tensor(ds.state_norm.normalize(d.state[row].astype(np.float64)), dtype=torch.float32)[None]
            noise = torch.randn(1, h, d.action.shape[1], generator=sample_rng(seed, 3, k, ep, row))
            out = model.sample_actions(inputs, state.to(device), noise.to(device))[0].double().cpu().numpy()
            n = min(h, b - row)
            pred_ep.append(ds.action_norm.denormalize(out)[:n])
            rec_ep.append(d.action[row:row + n].astype(np.float64))
            starts.append(row - a)
        recorded_all += rec_ep
        predicted_all += pred_ep
        plots.append((np.concatenate(rec_ep), np.concatenate(pred_ep), starts, d.task(ep)))
    rec, pred = np.concatenate(recorded_all), np.concatenate(predicted_all)
    err = (pred - rec) ** 2
    metrics: dict[str, Any] = {f"mse/{g}": float(err[:, s].mean()) for g, s in groups(rec.shape[1]).items()}
    metrics["mse/all"] = float(err.mean())
    if plot_path is not None and plots:
        _plot(plot_path, plots[0], h)
        metrics["plot"] = str(plot_path)
    model.train()
    return metrics


def _plot(path: Path, data: tuple[np.ndarray, np.ndarray, list[int], str], horizon: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec, pred, starts, task = data
    dims = np.argsort(rec.std(axis=0))[::-1][:4]
    fig, axes = plt.subplots(len(dims), 1, figsize=(8, 1.8 * len(dims) + 0.6), sharex=True, squeeze=False)
    for ax, dim in zip(axes[:, 0], dims, strict=False):
        ax.plot(rec[:, dim], color="black", lw=1.2, label="recorded")
        ax.plot(pred[:, dim], color="tab:orange", lw=1.2, label="predicted chunks")
        for s in starts:
            ax.axvline(s, color="gray", lw=0.5, ls=":")
        ax.set_ylabel(f"dim {dim}")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[0, 0].set_title(f"open-loop evaluation: {task!r} (dotted: chunk starts, H = {horizon})", fontsize=9)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
