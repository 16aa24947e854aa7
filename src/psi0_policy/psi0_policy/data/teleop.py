"""Raw G1 teleoperation episodes (the layout of Ψ0's and Humanoid Everyday's recordings) → 36-D Ψ0 state/action.

Input: `episode_N/data.json` and `episode_N/color/*.jpg`. data.json is a list of frames (or an object
with the list under "data" and optional "task"/"instruction"/"text"); each frame:

    time                      UNIX seconds (capture time); missing → k / fps
    states.arm_state (14)     left 7 then right 7 (G1 motors 15–28)
    states.leg_state (15)     G1 motors 0–14 (legs 12, waist yaw, roll, pitch)
    states.hand_state (14)    Dex3 left 7 then right 7
    states.imu.{quaternion, gyroscope, accelerometer, rpy}
    states.odometry.{position, velocity, rpy, quat}   (world frame)
    actions.sol_q (14) or actions.left_angles + right_angles (7 + 7)   commanded arm joints
    actions.hand_angles (14) or left_hand_angles + right_hand_angles   commanded hands (optional)
    image / colors.{name}     relative JPEG path(s); missing → color/*.jpg in name order

36-D action (DESIGN.md §6) per frame k; where the recording holds no command, the next frame's
measurement stands for it (the target the robot reached), the last frame repeating its own:
    0:14   hands: commanded, else hand_state[k+1]
    14:28  arms: sol_q / left+right angles
    28:31  torso roll, pitch, yaw: waist joints (leg_state 13, 14, 12) at k+1
    31     base height: odometry z at k+1
    32:35  vx, vy in the heading frame (odometry velocity rotated by −yaw), yaw rate (imu gyroscope z), at k
    35     target yaw: odometry yaw at k+1
State: hand_state 14, arm_state 14, torso rpy + height measured at k (4), zeros (4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from psi0_policy.data.episode import Episode, EpisodeError


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
    arm = np.zeros((n, 14))
    hand = np.zeros((n, 14))
    leg = np.zeros((n, 15))
    pos = np.zeros((n, 3))
    vel = np.zeros((n, 3))
    rpy = np.zeros((n, 3))
    gyro = np.zeros((n, 3))
    cmd_arm = np.zeros((n, 14))
    cmd_hand = np.full((n, 14), np.nan)
    t = np.zeros(n)
    for k, fr in enumerate(frames):
        where = f"{f} frame {k}"
        if not isinstance(fr, dict):
            raise EpisodeError(f"{where}: not an object")
        arm[k] = _vec(fr, "states.arm_state", 14, where)
        hand[k] = _vec(fr, "states.hand_state", 14, where)
        leg[k] = _vec(fr, "states.leg_state", 15, where)
        pos[k] = _vec(fr, "states.odometry.position", 3, where)
        vel[k] = _vec(fr, "states.odometry.velocity", 3, where)
        rpy[k] = _vec(fr, "states.odometry.rpy", 3, where)
        gyro[k] = _vec(fr, "states.imu.gyroscope", 3, where)
        a = _opt(fr, ("actions.sol_q", 14), ("actions.left_angles+actions.right_angles", 14))
        if a is None:
            raise EpisodeError(f"{where}: no arm command (actions.sol_q or actions.left_angles/right_angles)")
        cmd_arm[k] = a
        h = _opt(fr, ("actions.hand_angles", 14), ("actions.left_hand_angles+actions.right_hand_angles", 14))
        if h is not None:
            cmd_hand[k] = h
        t[k] = float(fr["time"]) if "time" in fr else k / fps
    if np.any(np.diff(t) <= 0):
        raise EpisodeError(f"{f}: capture times are not strictly increasing")
    nxt = np.r_[np.arange(1, n), n - 1]
    torso = leg[:, [13, 14, 12]]  # waist roll, pitch, yaw
    yaw = rpy[:, 2]
    c, s = np.cos(yaw), np.sin(yaw)
    action = np.zeros((n, 36))
    action[:, 0:14] = np.where(np.isnan(cmd_hand), hand[nxt], cmd_hand)
    action[:, 14:28] = cmd_arm
    action[:, 28:31] = torso[nxt]
    action[:, 31] = pos[nxt, 2]
    action[:, 32] = c * vel[:, 0] + s * vel[:, 1]
    action[:, 33] = -s * vel[:, 0] + c * vel[:, 1]
    action[:, 34] = gyro[:, 2]
    action[:, 35] = yaw[nxt]
    state = np.zeros((n, 36))
    state[:, 0:14] = hand
    state[:, 14:28] = arm
    state[:, 28:31] = torso
    state[:, 31] = pos[:, 2]
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
