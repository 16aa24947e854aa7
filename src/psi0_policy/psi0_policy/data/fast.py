"""FAST action tokenizer (Pertsch et al. 2025): DCT over time → scale → round → BPE.

Encoding an action chunk a (T, D):
    c = DCT-II(a, axis=time, orthonormal)            (T, D) coefficients
    q = round(c · scale)                             integers
    s = "".join(chr(max(q − min_token, 0)) for q in q.flatten())   time-major: all D of frequency 0 first
    tokens = BPE(s)                                  ids in [0, vocab_size)
Decoding inverts each step (the BPE is lossless): a' = IDCT(q / scale); |a' − a| ≤ 0.5/scale per
coefficient before the (orthonormal, norm-preserving) inverse transform. A token sequence that does
not decode to exactly T·D coefficients (a model's bad guess) is reported invalid.

Files (the layout of the released Ψ0 EgoDex tokenizer, ../shared/reference/psi0/fast_tokenizer):
    tokenizer.json          Hugging Face `tokenizers` BPE with a ByteLevel pre-tokenizer/decoder
    tokenizer_config.json   PreTrainedTokenizerFast metadata
    special_tokens_map.json {}
    processor_config.json   action_dim, time_horizon, scale, min_token, vocab_size
The released one is 48-D, horizon 1, vocabulary 2048, scale 100, min token −100.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers


def dct(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Orthonormal DCT-II along `axis` (matrix form: T is small)."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    return np.moveaxis(np.tensordot(dct_matrix(x.shape[0]), x, axes=(1, 0)), 0, axis)


def idct(c: np.ndarray, axis: int = 0) -> np.ndarray:
    c = np.moveaxis(np.asarray(c, dtype=np.float64), axis, 0)
    return np.moveaxis(np.tensordot(dct_matrix(c.shape[0]).T, c, axes=(1, 0)), 0, axis)


def dct_matrix(n: int) -> np.ndarray:
    """(n, n) orthonormal DCT-II matrix M: c = M @ x, x = Mᵀ @ c."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


@dataclass
class FastTokenizer:
    bpe: Tokenizer
    action_dim: int
    time_horizon: int
    scale: float = 10.0
    min_token: int = 0
    vocab_size: int = 1024

    # ---- encode / decode ------------------------------------------------------------------------
    def _string(self, chunk: np.ndarray) -> str:
        q = np.around(dct(chunk, axis=0) * self.scale).astype(np.int64).ravel()
        return "".join(map(chr, np.maximum(q - self.min_token, 0)))

    def encode(self, actions: np.ndarray) -> list[list[int]]:
        """(T, D) or (B, T, D) → one token list per chunk."""
        a = np.asarray(actions, dtype=np.float64)
        a = a[None] if a.ndim == 2 else a
        if a.ndim != 3 or a.shape[-1] != self.action_dim:
            raise ValueError(f"actions of shape {np.shape(actions)}: expected (B, T, {self.action_dim})")
        return [self.bpe.encode(self._string(c)).ids for c in a]

    def decode_one(self, tokens: Sequence[int], time_horizon: int | None = None) -> tuple[np.ndarray, bool]:
        """→ ((T, D) actions, valid). Invalid sequences (wrong coefficient count, unknown ids) give zeros."""
        t = time_horizon or self.time_horizon
        try:
            text = self.bpe.decode(list(map(int, tokens)))
            q = np.array([ord(ch) for ch in text], dtype=np.int64) + self.min_token
        except Exception:
            return np.zeros((t, self.action_dim)), False
        if q.size != t * self.action_dim:
            return np.zeros((t, self.action_dim)), False
        return idct(q.reshape(t, self.action_dim) / self.scale, axis=0), True

    def decode(self, tokens: Iterable[Sequence[int]], time_horizon: int | None = None) -> np.ndarray:
        """Token lists → (B, T, D) (invalid ones as zeros; use decode_one to tell)."""
        return np.stack([self.decode_one(tok, time_horizon)[0] for tok in tokens])

    def max_error(self, time_horizon: int | None = None) -> float:
        """Largest per-value round-trip error: rounding ≤ 0.5/scale per coefficient, through the orthonormal
        inverse DCT (each output is a unit-norm combination of T coefficients): ≤ 0.5·√T / scale."""
        return 0.5 * np.sqrt(time_horizon or self.time_horizon) / self.scale

    # ---- fit / files ----------------------------------------------------------------------------
    @classmethod
    def fit(cls, chunks: Iterable[np.ndarray], scale: float = 10.0, vocab_size: int = 1024,
            show_progress: bool = False) -> FastTokenizer:
        """Fit on action chunks (each (T, D), same T and D) — the released tokenizer's recipe."""
        coeffs = [np.around(dct(np.asarray(c, dtype=np.float64), axis=0) * scale).astype(np.int64) for c in chunks]
        if not coeffs:
            raise ValueError("no chunks to fit the tokenizer on")
        t, d = coeffs[0].shape
        if any(c.shape != (t, d) for c in coeffs):
            raise ValueError("all chunks must share (T, D)")
        flat = np.stack([c.ravel() for c in coeffs])
        lo, hi = int(flat.min()), int(flat.max())
        if hi - lo >= vocab_size:
            raise ValueError(f"coefficient range {hi - lo + 1} exceeds the vocabulary {vocab_size}: lower `scale`")
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        bpe.decoder = decoders.ByteLevel()
        bpe.post_processor = processors.ByteLevel(trim_offsets=False)
        alphabet = sorted(set(pre_tokenizers.ByteLevel.alphabet()) | {chr(i) for i in range(hi - lo + 1)})
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=show_progress,
                                      min_frequency=2, special_tokens=[])
        bpe.train_from_iterator(("".join(map(chr, row - lo)) for row in flat), trainer=trainer, length=len(flat))
        return cls(bpe, action_dim=d, time_horizon=t, scale=scale, min_token=lo, vocab_size=vocab_size)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.bpe.save(str(folder / "tokenizer.json"))
        (folder / "processor_config.json").write_text(json.dumps({
            "action_dim": self.action_dim, "min_token": self.min_token, "processor_class": "UniversalActionProcessor",
            "scale": self.scale, "time_horizon": self.time_horizon, "vocab_size": self.vocab_size}, indent=2))
        (folder / "tokenizer_config.json").write_text(json.dumps({
            "added_tokens_decoder": {}, "clean_up_tokenization_spaces": False, "extra_special_tokens": {},
            "processor_class": "UniversalActionProcessor", "tokenizer_class": "PreTrainedTokenizerFast"}, indent=2))
        (folder / "special_tokens_map.json").write_text("{}\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> FastTokenizer:
        folder = Path(folder)
        for f in ("tokenizer.json", "processor_config.json"):
            if not (folder / f).exists():
                raise FileNotFoundError(f"{folder}: no {f} (a FAST tokenizer folder holds tokenizer.json and "
                                        "processor_config.json)")
        cfg = json.loads((folder / "processor_config.json").read_text())
        bpe = Tokenizer.from_file(str(folder / "tokenizer.json"))
        return cls(bpe, action_dim=int(cfg["action_dim"]), time_horizon=int(cfg["time_horizon"]), scale=float(cfg["scale"]),
                   min_token=int(cfg["min_token"]), vocab_size=int(cfg["vocab_size"]))
