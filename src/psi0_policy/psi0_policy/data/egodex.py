"""EgoDex (Apple's egocentric manipulation dataset) → the 48-D hand action of Ψ0 pre-training.

Input per episode: `<task>/<k>.hdf5` with `transforms/<joint>` (T, 4, 4) world poses of the camera
(`camera`) and of the hand joints, `camera/intrinsic` (3, 3), language attributes on the root
(`llm_description`, else `description`, else the task folder's name), and `<task>/<k>.mp4` (30 Hz,
frame k ↔ transform row k).

Output, with frame stride s (kept frames i·s, fps 30/s), per kept frame t and next kept frame t' = t + s,
everything expressed in the camera frame C_t of the *current* frame:

    per hand (left, then right), 24 values:
      wrist xyz   p(t') − p(t)                      where p(τ) = (C_t⁻¹ · W(τ)).xyz
      wrist rpy   rpy(R(t') · R(t)ᵀ)                where R(τ) = rotation of C_t⁻¹ · W(τ): the turn from t to t'
                                                    about the camera's axes, as the official reader computes it
      3 zeros     (reserved; keeps the released 48-D layout)
      5 fingertips (thumb, index, middle, ring, little) xyz deltas, as the wrist xyz
    action (T', 48); state (T', 48) = the same layout with absolute values at t (rpy of R(t), xyz of p(t)).

The last kept frame has no successor and is dropped. Statistics of the released Ψ0 EgoDex stats
(../shared/reference/psi0/stats/egodex_stat_all.json) have this shape: centimetre-scale xyz deltas,
zero columns 6:9 and 30:33.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from psi0_policy.data import video
from psi0_policy.data.episode import Episode, EpisodeError
from psi0_policy.data.geometry import invert, rpy_from_matrix

FINGERTIPS = ("ThumbTip", "IndexFingerTip", "MiddleFingerTip", "RingFingerTip", "LittleFingerTip")
SIDES = ("left", "right")
SOURCE_FPS = 30.0
ACTION_DIM = 48


def joint_names(side: str) -> list[str]:
    return [f"{side}Hand"] + [f"{side}{tip}" for tip in FINGERTIPS]


def hand_features(camera: np.ndarray, joints: dict[str, np.ndarray], stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """camera (T, 4, 4), joints name → (T, 4, 4) world poses → (state, action), each (T', 48),
    T' = len(range(0, T − stride, stride))."""
    t_now = np.arange(0, len(camera) - stride, stride)
    if len(t_now) == 0:
        raise EpisodeError(f"{len(camera)} frames: too short for stride {stride}")
    t_next = t_now + stride
    to_cam = invert(camera[t_now])  # (T', 4, 4): world → C_t
    state = np.zeros((len(t_now), ACTION_DIM))
    action = np.zeros((len(t_now), ACTION_DIM))
    for h, side in enumerate(SIDES):
        names = joint_names(side)
        now = {n: to_cam @ joints[n][t_now] for n in names}  # (T', 4, 4) in C_t
        nxt = {n: to_cam @ joints[n][t_next] for n in names}
        o = 24 * h
        wrist = names[0]
        state[:, o:o + 3] = now[wrist][:, :3, 3]
        state[:, o + 3:o + 6] = rpy_from_matrix(now[wrist][:, :3, :3])
        action[:, o:o + 3] = nxt[wrist][:, :3, 3] - now[wrist][:, :3, 3]
        rel = nxt[wrist][:, :3, :3] @ np.swapaxes(now[wrist][:, :3, :3], -1, -2)  # R(t')·R(t)ᵀ, camera axes
        action[:, o + 3:o + 6] = rpy_from_matrix(rel)
        for k, tip in enumerate(names[1:]):
            c = o + 9 + 3 * k
            state[:, c:c + 3] = now[tip][:, :3, 3]
            action[:, c:c + 3] = nxt[tip][:, :3, 3] - now[tip][:, :3, 3]
    return state, action


def _description(f: h5py.File, path: Path) -> str:
    for key in ("llm_description", "description", "task"):
        if key in f.attrs:
            v = f.attrs[key]
            v = v.decode() if isinstance(v, bytes) else str(v)
            if v.strip():
                return v.strip()
    return path.parent.name.replace("_", " ")


def read_egodex(h5_path: str | Path, stride: int = 1, mp4_path: str | Path | None = None) -> Episode:
    """One EgoDex episode (HDF5 + MP4 beside it) → Episode with 48-D state/action and camera `ego`."""
    h5_path = Path(h5_path)
    mp4 = Path(mp4_path) if mp4_path else h5_path.with_suffix(".mp4")
    if stride < 1:
        raise ValueError("stride must be ≥ 1")
    try:
        with h5py.File(h5_path, "r") as f:
            if "transforms" not in f or "camera" not in f["transforms"]:
                raise EpisodeError(f"{h5_path}: no transforms/camera")
            tf = f["transforms"]
            missing = [n for s in SIDES for n in joint_names(s) if n not in tf]
            if missing:
                raise EpisodeError(f"{h5_path}: missing joints {missing}")
            camera = tf["camera"][()]
            joints = {n: tf[n][()] for s in SIDES for n in joint_names(s)}
            task = _description(f, h5_path)
    except OSError as e:
        raise EpisodeError(f"{h5_path}: unreadable HDF5 ({e})") from e
    if any(j.shape != camera.shape for j in joints.values()) or camera.shape[1:] != (4, 4):
        raise EpisodeError(f"{h5_path}: transforms must all be (T, 4, 4) of one length")
    state, action = hand_features(camera, joints, stride)
    n = len(state)
    cameras = {}
    if mp4.exists():
        frames = video.probe(mp4)["frames"]
        if frames < len(camera):
            raise EpisodeError(f"{mp4}: {frames} video frames for {len(camera)} transform rows")
        cameras["ego"] = lambda: video.decode(mp4, 0, (n - 1) * stride + 1, stride)
    return Episode(name=str(h5_path), task=task, capture_time=np.arange(n) * stride / SOURCE_FPS,
                   state=state, action=action, cameras=cameras, fps=SOURCE_FPS / stride)


def find_episodes(root: str | Path) -> list[Path]:
    """Every `*.hdf5` under root (EgoDex: <task>/<k>.hdf5), in a stable order."""
    root = Path(root)
    return [root] if root.is_file() else sorted(root.rglob("*.hdf5"))
