"""rANS, the EL v2 entropy coder, in integers only (``schemas/EL_v2.md``, "Entropy coding").

Every model is a list of integer frequencies summing to 2^16. The coder runs K lanes (K = 1 unless asked), each
a state in [2^16, 2^32); symbol i belongs to lane i mod K, so a SIMD or GPU decoder may advance the lanes
together. The stream is the K lanes' initial decoder states (u32) followed by the 16-bit renormalisation words
in the order a decoder reads them. A decoder must end with every lane back at 2^16, the encoder's starting
state, having read every word: rANS steps are bijections, so this alone makes the stream canonical (damaged,
padded or re-ordered streams are refused) without re-encoding. Plain Python integers: a scalar loop decodes
the 40,224 weights of a whole model in about 15 ms, faster than numpy's per-call overhead allows.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from .errors import FormatError

PRECISION = 16
TOTAL = 1 << PRECISION  # every model's frequencies sum to this
LOW = 1 << 16  # states live in [LOW, 2^32); every lane starts (encoder) and ends (decoder) at LOW
MAX_LANES = 64


def frequencies(weights: np.ndarray) -> np.ndarray:
    """Integer frequencies summing to TOTAL from integer weights with at least two non-zero ones: each non-zero
    weight w gets 1 + floor(w * (TOTAL - n) / sum), n the non-zero count; the first largest weight takes what
    is left."""
    w = np.asarray(weights, np.int64)
    nonzero = w > 0
    n, total = int(np.count_nonzero(nonzero)), int(w.sum())
    if n < 2 or n > TOTAL:
        raise ValueError(f"a coded model needs 2..{TOTAL} non-zero weights, not {n}")
    f = np.where(nonzero, 1 + w * (TOTAL - n) // total, 0)
    f[int(np.argmax(w))] += TOTAL - int(f.sum())
    return f


def encode(freq: list[int], start: list[int], lanes: int = 1) -> bytes:
    """The stream for symbols given by their frequency and cumulative start (one of each per symbol)."""
    n = len(freq)
    if n == 0:
        return b""
    if not 1 <= lanes <= min(n, MAX_LANES):
        raise ValueError(f"{lanes} lanes for {n} symbols")
    x = [LOW] * lanes
    emitted = []  # in reverse reading order: rANS codes the last symbol first
    for i in range(n - 1, -1, -1):
        j, f = i % lanes, freq[i]
        s = x[j]
        if s >= f << 16:
            emitted.append(s & 0xFFFF)
            s >>= 16
        x[j] = ((s // f) << PRECISION) + s % f + start[i]
    return np.array(x, "<u4").tobytes() + np.array(emitted[::-1], "<u2").tobytes()


@dataclass
class Model:
    """One model as a decoder searches it: the symbols with a non-zero frequency, by cumulative start."""
    starts: list[int]
    freqs: list[int]
    values: list[int]

    @classmethod
    def of(cls, freq: np.ndarray, lo: int) -> "Model":
        used = np.flatnonzero(freq)
        return cls((np.cumsum(freq) - freq)[used].tolist(), freq[used].tolist(), (lo + used).tolist())


def decode(coded: bytes, lanes: int, runs: list[tuple[Model, int]]) -> list[np.ndarray]:
    """The symbols of a stream holding, in order, ``count`` symbols of each (model, count) run."""
    n = sum(count for _, count in runs)
    if n == 0 or lanes == 0:
        if n or lanes or coded:
            raise FormatError("coded stream, lane count and symbol count disagree")
        return [np.zeros(0, np.int64) for _ in runs]
    if not 1 <= lanes <= min(n, MAX_LANES):
        raise FormatError(f"{lanes} lanes for {n} coded symbols")
    if len(coded) < 4 * lanes or len(coded) % 2:
        raise FormatError(f"coded stream of {len(coded)} bytes for {lanes} lanes")
    x = np.frombuffer(coded, "<u4", lanes).tolist()
    words = np.frombuffer(coded, "<u2", offset=4 * lanes).tolist()
    if min(x) < LOW:
        raise FormatError("a lane starts below 2^16 (damaged stream)")
    out, read, j = [], 0, 0
    try:
        for model, count in runs:
            starts, freqs = model.starts, model.freqs
            found = [0] * count  # index of each symbol in the model's lists
            for i in range(count):  # the hot loop: locals and literals only (2^16 - 1, 16)
                s = x[j]
                slot = s & 0xFFFF
                k = bisect_right(starts, slot) - 1
                found[i] = k
                s = freqs[k] * (s >> 16) + slot - starts[k]
                if s < LOW:
                    s = (s << 16) | words[read]  # IndexError past the end: a stream that ends early
                    read += 1
                x[j] = s
                j += 1
                if j == lanes:
                    j = 0
            out.append(np.asarray(model.values, np.int64)[found])
    except IndexError:
        raise FormatError("coded stream ends early (truncated or damaged)") from None
    if read != len(words) or any(s != LOW for s in x):
        raise FormatError("coded stream does not end where its symbols do (damaged or padded)")
    return out
