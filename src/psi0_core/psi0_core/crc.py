"""The CRC-32 that Unitree's low-level frames carry (pure Python, no rclpy, no SDK).

Unitree computes it over the message's packed little-endian bytes, read as 32-bit words, each word
fed most-significant bit first into a CRC-32 with polynomial 0x04C11DB7, initial value 0xFFFFFFFF,
no reflection and no final XOR (the CRC-32/MPEG-2 parameters). The crc field itself (the last word)
is left out.

That equals CRC-32/MPEG-2 over the words' big-endian bytes. We compute it with zlib's reflected
CRC-32 in C: reversing the bits of every input byte and of the result maps one onto the other, so a
whole frame costs a few microseconds instead of a Python loop per bit.
"""

from __future__ import annotations

import zlib

import numpy as np

_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _reverse32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


def crc32_words(words: np.ndarray) -> int:
    """Unitree CRC over an array of uint32 words (all words given are covered)."""
    be = np.ascontiguousarray(words, dtype="<u4").astype(">u4").tobytes()
    # zlib: reflected CRC-32, init ~0, final ~. With bit-reversed bytes it runs the MSB-first register
    # mirrored; undo the final XOR and mirror the result back.
    reflected = zlib.crc32(be.translate(_BIT_REVERSED)) ^ 0xFFFFFFFF
    return _reverse32(reflected)


def crc32_bytes(packed: bytes) -> int:
    """Unitree CRC over a packed frame *without* its trailing crc word (length a multiple of 4)."""
    if len(packed) % 4:
        raise ValueError(f"frame length {len(packed)} is not a multiple of 4")
    return crc32_words(np.frombuffer(packed, dtype="<u4"))


def crc32_reference(words: np.ndarray) -> int:
    """Bit-by-bit definition (slow); the tests check `crc32_words` against it and against the SDK."""
    crc = 0xFFFFFFFF
    poly = 0x04C11DB7
    for w in np.asarray(words, dtype=np.uint32).tolist():
        for bit in range(31, -1, -1):
            top = (crc >> 31) & 1
            crc = (crc << 1) & 0xFFFFFFFF
            if top ^ ((w >> bit) & 1):
                crc ^= poly
    return crc
