"""Bag-replay regression: re-infer every chunk of a recorded run and compare with the recorded chunks.

A golden bag holds the policy node's outputs (`action_chunk`), the exact inputs of each inference
(`policy/input`: state, committed prefix length, noise seed, instruction, and the capture stamp of the
images used) and the camera images. For each recorded chunk the harness finds its input and images,
runs the policy (the same code the node runs, same engine, same seed) and compares the new chunk with
the recorded one per step and per joint. The run passes when every value is within `tolerance`; the
report names the first divergence (chunk, step, joint, recorded vs replayed value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from psi0_core.bag_types import typestore
from psi0_policy.policy import Policy


@dataclass
class Divergence:
    chunk_id: int
    step: int
    joint: str
    recorded: float
    replayed: float

    def __str__(self) -> str:
        return (f"chunk {self.chunk_id}, step {self.step}, joint {self.joint}: recorded {self.recorded:.6f}, "
                f"replayed {self.replayed:.6f} (|Δ| {abs(self.recorded - self.replayed):.2e})")


@dataclass
class Report:
    chunks: int = 0
    max_abs_diff: float = 0.0
    first: Divergence | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.first is None and self.chunks > 0

    def __str__(self) -> str:
        head = f"{self.chunks} chunks compared, max |Δ| {self.max_abs_diff:.2e}"
        return f"PASS: {head}" if self.passed else f"FAIL: {head}; first divergence: {self.first}"


def _stamp(t) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def load_golden(path: str | Path) -> tuple[dict, dict, dict]:
    """→ chunks {id: msg}, inputs {id: msg}, images {(topic, stamp_ns): rgb}."""
    from psi0_core.image_codec import image_to_numpy

    chunks, inputs, images = {}, {}, {}
    with AnyReader([Path(path)], default_typestore=typestore()) as r:
        for c, _, raw in r.messages():
            m = r.deserialize(raw, c.msgtype)
            if c.msgtype == "psi0_msgs/msg/ActionChunk":
                chunks[int(m.chunk_id)] = m
            elif c.msgtype == "psi0_msgs/msg/PolicyInput":
                inputs[int(m.chunk_id)] = m
            elif c.msgtype == "sensor_msgs/msg/Image":
                from sensor_msgs.msg import Image

                img = Image(height=m.height, width=m.width, encoding=m.encoding, is_bigendian=m.is_bigendian,
                            step=m.step)
                img.data = bytes(m.data)
                images[(c.topic.lstrip("/"), _stamp(m.header.stamp))] = image_to_numpy(img, "rgb8")
    return chunks, inputs, images


def compare(policy: Policy, golden: str | Path, tolerance: float = 1e-5) -> Report:
    chunks, inputs, images = load_golden(golden)
    rep = Report()
    for cid in sorted(chunks):
        c, inp = chunks[cid], inputs.get(cid)
        if inp is None:
            rep.skipped.append(f"chunk {cid}: no policy/input recorded")
            continue
        stamp = _stamp(inp.obs_stamp)
        try:
            imgs = [images[(t.lstrip("/"), stamp)] for t in inp.image_topics]
        except KeyError:
            rep.skipped.append(f"chunk {cid}: image at {stamp} ns not in the bag")
            continue
        recorded = np.asarray(c.data, dtype=np.float64).reshape(c.horizon, c.dim)
        d = int(inp.prefix_len)
        replayed = policy.infer(imgs, inp.instruction, np.asarray(inp.state), recorded[:d] if d else None, d,
                                seed=int(inp.seed)).astype(np.float32).astype(np.float64)
        diff = np.abs(replayed - recorded)
        rep.chunks += 1
        rep.max_abs_diff = max(rep.max_abs_diff, float(diff.max()))
        if rep.first is None and diff.max() > tolerance:
            step, j = np.unravel_index(int(np.argmax(diff > tolerance)), diff.shape)
            rep.first = Divergence(cid, int(step), str(c.names[j]), float(recorded[step, j]), float(replayed[step, j]))
    return rep
