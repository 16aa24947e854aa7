"""Raw G1 teleoperation episodes (the layout of Ψ0's own recordings) → 36-D Ψ0 state/action.

Input: `episode_N/data.json` and `episode_N/color/*.jpg`. data.json is a list of frames (or an object
with the list under "data" and optional "task"/"instruction"/"text"); each frame:

    time                      UNIX seconds (capture time); missing → k / fps
    states.hand_state (14)    measured Dex3 joints, left 7 then right 7
    states.arm_state (14)     measured arm joints, left 7 then right 7 (G1 motors 15–28)
    actions.left_angles (7), actions.right_angles (7)   commanded Dex3 joints
    actions.sol_q (29, or 14)  commanded body joints (the IK solution; arms are motors 15–28); 14 values: arms only
    actions.torso_rpy (3), torso_height               the operator's torso command (rad, m)
    actions.torso_vx, torso_vy, torso_vyaw, target_yaw   the operator's locomotion command (m/s, rad/s, rad)
    image / colors.{name}     relative JPEG path(s); missing → color/*.jpg in name order
Other fields (legs, IMU, odometry, torso_dyaw) are not read.

Per frame k, as the official converter (scripts/data/raw_to_lerobot.py) builds them — dims 28–35 are the
operator's *commands*, never measurements:
    action 0:14 left_angles + right_angles · 14:28 sol_q arms · 28:31 torso_rpy · 31 torso_height ·
           32 torso_vx · 33 torso_vy · 34 torso_vyaw · 35 target_yaw                        (all of frame k)
    state  0:14 hand_state · 14:28 arm_state (measured at k) · 28:32 the torso_rpy and torso_height
           commanded at frame k − 1 (0, 0, 0, 0.75 m before the first) · 32:36 zeros
A frame without one of these fields is an EpisodeError naming it (nothing is guessed from measurements).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from psi0_core.g1_adapter import ACTION_DIM, ARMS, HANDS, WBC, G1Adapter
from psi0_core.robot import ARM_MOTORS, BODY_MOTORS
from psi0_policy.data.episode import Episode, EpisodeError

COMMAND_SCALARS = ("torso_height", "torso_vx", "torso_vy", "torso_vyaw", "target_yaw")  # after torso_rpy (3)


def _vec(frame: dict[str, Any], path: str, n: int, where: str) -> np.ndarray:
    cur: Any = frame
    for key in path.split("."):
        if not isinstance(cur, dict) or key not in cur:
            raise EpisodeError(f"{where}: missing {path}")
        cur = cur[key]
    v = np.asarray(cur, dtype=np.float64).ravel()
    if v.shape != (n,):
        raise EpisodeError(f"{where}: {path} has {v.size} values, expected {n}")
    return v


def _opt(frame: dict[str, Any], *paths: tuple[str, int]) -> np.ndarray | None:
    """First of the given (path, size) alternatives present in the frame; tuples of paths are concatenated."""
    for path, n in paths:
        parts = path.split("+")
        try:
            return np.concatenate([_vec(frame, p, n // len(parts), "") for p in parts])
        except EpisodeError:
            continue
    return None


def _image_paths(ep: Path, frames: list[dict[str, Any]]) -> dict[str, list[Path]]:
    if all("image" in f for f in frames):
        return {"head": [ep / f["image"] for f in frames]}
    if all(isinstance(f.get("colors"), dict) for f in frames):
        keys = sorted(frames[0]["colors"])
        return {("head" if i == 0 else k): [ep / f["colors"][k] for f in frames] for i, k in enumerate(keys)}
    files = sorted((ep / "color").glob("*.jpg"))
    if len(files) != len(frames):
        raise EpisodeError(f"{ep}: {len(files)} JPEGs in color/ for {len(frames)} frames")
    return {"head": files}


def _jpegs(paths: list[Path]):
    from PIL import Image

    for p in paths:
        with Image.open(p) as im:
            yield np.asarray(im.convert("RGB"))


def read_teleop(episode_dir: str | Path, task: str | None = None, fps: float = 30.0) -> Episode:
    ep = Path(episode_dir)
    f = ep / "data.json"
    if not f.exists():
        raise EpisodeError(f"{ep}: no data.json")
    try:
        doc = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise EpisodeError(f"{f}: invalid JSON ({e})") from e
    frames = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(frames, list) or not frames:
        raise EpisodeError(f"{f}: no frames")
    meta = doc if isinstance(doc, dict) else {}
    text = meta.get("text")
    task = task or meta.get("task") or meta.get("instruction") or (text.get("goal") if isinstance(text, dict) else text) \
        or ep.parent.name.replace("_", " ")
    n = len(frames)
    arm, hand, cmd_hand, cmd_arm = (np.zeros((n, 14)) for _ in range(4))
    cmd_wbc = np.zeros((n, 8))  # torso rpy, height, vx, vy, yaw rate, target yaw
    t = np.zeros(n)
    for k, fr in enumerate(frames):
        where = f"{f} frame {k}"
        if not isinstance(fr, dict):
            raise EpisodeError(f"{where}: not an object")
        arm[k] = _vec(fr, "states.arm_state", 14, where)
        hand[k] = _vec(fr, "states.hand_state", 14, where)
        cmd_hand[k] = np.r_[_vec(fr, "actions.left_angles", 7, where), _vec(fr, "actions.right_angles", 7, where)]
        body = _opt(fr, ("actions.sol_q", BODY_MOTORS))
        cmd_arm[k] = body[ARM_MOTORS] if body is not None else _vec(fr, "actions.sol_q", 14, where)
        cmd_wbc[k] = np.concatenate([_vec(fr, "actions.torso_rpy", 3, where)]
                                    + [_vec(fr, f"actions.{key}", 1, where) for key in COMMAND_SCALARS])
        t[k] = float(fr["time"]) if "time" in fr else k / fps
    if np.any(np.diff(t) <= 0):
        raise EpisodeError(f"{f}: capture times are not strictly increasing")
    action = np.zeros((n, ACTION_DIM))
    action[:, HANDS], action[:, ARMS], action[:, WBC] = cmd_hand, cmd_arm, cmd_wbc
    previous = np.vstack([G1Adapter.default_commanded(), G1Adapter.commanded(action[:-1])])  # (n, 4)
    state = G1Adapter.state(hand, arm, previous)
    paths = _image_paths(ep, frames)
    for key, ps in paths.items():
        missing = [p for p in ps if not p.exists()]
        if missing:
            raise EpisodeError(f"{ep}: camera {key}: {len(missing)} image files missing, e.g. {missing[0]}")
    cameras = {key: (lambda ps=ps: _jpegs(ps)) for key, ps in paths.items()}
    return Episode(name=str(ep), task=str(task), capture_time=t - t[0], state=state, action=action,
                   cameras=cameras, fps=fps)


def find_episodes(root: str | Path) -> list[Path]:
    """Every folder holding a data.json under root (itself included), in a stable (natural) order."""
    root = Path(root)
    if (root / "data.json").exists():
        return [root]

    def key(p: Path) -> tuple:
        digits = "".join(ch for ch in p.name if ch.isdigit())
        return (str(p.parent), int(digits) if digits else -1, p.name)

    return sorted((p.parent for p in root.rglob("data.json")), key=key)
