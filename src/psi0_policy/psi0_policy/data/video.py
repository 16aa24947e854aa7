"""MP4 streams through PyAV: H.264 (yuv420p) encoding frame by frame, decoding to RGB.

H.264 is lossy: a decoded frame equals its source within the codec's error (PSNR ≥ 35 dB at the
default crf 18), never shifted: frame k of the file is source frame k (constant frame rate,
pts = k, no B-frame reordering surprises because we decode in presentation order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CODEC = "h264"


class Writer:
    """An MP4 written frame by frame (the stream opens on the first frame, which fixes the size)."""

    def __init__(self, path: str | Path, fps: float, crf: int = 18, preset: str = "veryfast") -> None:
        self.out = av.open(str(path), mode="w")
        self.rate = Fraction(fps).limit_denominator(1001)
        self.crf, self.preset = crf, preset
        self.stream = None
        self.frames = 0

    def add(self, rgb: np.ndarray) -> None:
        if self.stream is None:
            h, w = rgb.shape[:2]
            if h % 2 or w % 2:
                raise ValueError(f"frame size {w}x{h}: H.264 yuv420p needs even width and height")
            self.stream = self.out.add_stream("libx264", rate=self.rate)
            self.stream.width, self.stream.height, self.stream.pix_fmt = w, h, "yuv420p"
            self.stream.options = {"crf": str(self.crf), "preset": self.preset, "bf": "0"}
            self.stream.time_base = 1 / self.rate
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        for packet in self.stream.encode(frame):
            self.out.mux(packet)
        self.frames += 1

    def close(self) -> int:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.out.mux(packet)
        self.out.close()
        return self.frames


def encode(path: str | Path, frames: Iterable[np.ndarray], fps: float, crf: int = 18, preset: str = "veryfast") -> int:
    """Write (H, W, 3) uint8 RGB frames as an MP4; returns the number of frames. Sizes must be even."""
    w = Writer(path, fps, crf, preset)
    try:
        for rgb in frames:
            w.add(rgb)
    finally:
        n = w.close()
    return n


def decode(path: str | Path, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
    """Yield RGB frames [start:stop:step] of an MP4 in order. A later start seeks to the keyframe before it (by
    timestamp: constant frame rate, frame k at k / fps) instead of decoding everything before it."""
    with av.open(str(path)) as f:
        stream = f.streams.video[0]
        stream.thread_type = "AUTO"
        rate, base = stream.average_rate or stream.base_rate, stream.time_base
        seekable = start > 0 and rate is not None and base is not None
        if seekable:
            f.seek(int(start / float(rate) / float(base)), stream=stream, backward=True, any_frame=False)
        for n, frame in enumerate(f.decode(stream)):
            k = round(float(frame.pts * base * rate)) if seekable and frame.pts is not None else n
            if stop is not None and k >= stop:
                break
            if k >= start and (k - start) % step == 0:
                yield frame.to_ndarray(format="rgb24")


def probe(path: str | Path) -> dict:
    """Frame count, size and codec of a video (counts by decoding headers of every packet)."""
    with av.open(str(path)) as f:
        s = f.streams.video[0]
        frames = sum(1 for p in f.demux(s) if p.size)
        return {"frames": frames, "width": s.codec_context.width, "height": s.codec_context.height,
                "codec": s.codec_context.name, "pix_fmt": s.codec_context.pix_fmt,
                "fps": float(s.average_rate or s.base_rate or 0)}
