"""Entropy coding of integer tensors: a coded histogram per tensor group and one constriction range-coder stream.

Each group (one tensor, or several sharing one model) is sent as its histogram (lo, hi, exact counts) and its
symbols. The probabilities are count / total, computed in float64 by both sides from the same integers, and given
to ``Categorical(..., perfect=False)``: the model is identical on both sides by construction. A group with a
single symbol value (an all-zero residue, say) costs its histogram only: nothing enters the stream. The stream is
a queue (RangeEncoder), so symbols are decoded in the order they were encoded.

The cost of a group is its empirical entropy plus its histogram (a few bytes) plus a share of the coder's flush
(at most 8 bytes per stream).
"""
from __future__ import annotations

from dataclasses import dataclass

import constriction
import numpy as np

from .errors import FormatError, LimitError
from .layout import MAX_ALPHABET, MAX_SYMBOL


@dataclass(frozen=True)
class Histogram:
    lo: int
    counts: tuple[int, ...]

    @property
    def hi(self) -> int:
        return self.lo + len(self.counts) - 1

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def constant(self) -> bool:
        return sum(1 for c in self.counts if c) <= 1

    def model(self):
        p = np.asarray(self.counts, dtype=np.float64)
        return constriction.stream.model.Categorical(p / p.sum(), perfect=False)

    @classmethod
    def of(cls, symbols: np.ndarray) -> "Histogram":
        if symbols.size == 0:
            return cls(0, (0,))
        lo, hi = int(symbols.min()), int(symbols.max())
        if lo < -MAX_SYMBOL or hi > MAX_SYMBOL or hi - lo + 1 > MAX_ALPHABET:
            raise LimitError(f"symbols span [{lo}, {hi}]: beyond the coder's limits")
        return cls(lo, tuple(int(c) for c in np.bincount(symbols - lo, minlength=hi - lo + 1)))

    def to_fields(self) -> dict:
        return {"lo": self.lo, "hi": self.hi, "counts": list(self.counts)}

    @classmethod
    def from_fields(cls, f: dict) -> "Histogram":
        if f["hi"] - f["lo"] + 1 > MAX_ALPHABET:
            raise LimitError(f"histogram alphabet {f['hi'] - f['lo'] + 1} > {MAX_ALPHABET}")
        h = cls(f["lo"], tuple(f["counts"]))
        if h.total == 0 and len(h.counts) > 1:
            raise FormatError("histogram with no symbols")
        return h


def empirical_entropy_bits(symbols: np.ndarray) -> float:
    """Shannon entropy of the symbols' own histogram, times their count: the bound a static model approaches."""
    if symbols.size == 0:
        return 0.0
    counts = np.unique(symbols, return_counts=True)[1].astype(np.float64)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def encode(groups: list[np.ndarray]) -> tuple[list[Histogram], bytes]:
    """Code each 1-D integer array with its own histogram into one stream: (histograms, coded bytes)."""
    histograms = []
    encoder = constriction.stream.queue.RangeEncoder()
    for symbols in groups:
        symbols = np.asarray(symbols).astype(np.int64).ravel()
        h = Histogram.of(symbols)
        histograms.append(h)
        if not h.constant:
            encoder.encode((symbols - h.lo).astype(np.int32), h.model())
    coded = b"" if encoder.num_bits() == 0 else encoder.get_compressed().astype("<u4").tobytes()
    return histograms, coded


def decode(histograms: list[Histogram], coded: bytes, sizes: list[int]) -> list[np.ndarray]:
    """Inverse of ``encode``; ``sizes`` are the group lengths the caller knows from the descriptor."""
    if len(histograms) != len(sizes):
        raise FormatError(f"{len(histograms)} histograms for {len(sizes)} coded tensor groups")
    if len(coded) % 4:
        raise FormatError(f"coded stream of {len(coded)} bytes is not whole 32-bit words")
    for h, n in zip(histograms, sizes):
        if h.total != n:
            raise FormatError(f"histogram counts {h.total} symbols, the tensor group has {n}")
    needs_stream = any(not h.constant for h in histograms)
    if needs_stream and not coded:
        raise FormatError("coded stream missing")
    if not needs_stream and coded:
        raise FormatError("coded stream present but every group is constant")
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(coded, dtype="<u4").astype(np.uint32))
    out = []
    for h, n in zip(histograms, sizes):
        if h.constant:
            value = h.lo + next((i for i, c in enumerate(h.counts) if c), 0)
            out.append(np.full(n, value, dtype=np.int64))
            continue
        try:
            symbols = decoder.decode(h.model(), n)
        except Exception as exc:  # constriction raises its own types on a damaged stream
            raise FormatError(f"range decoder failed: {exc}") from None
        symbols = np.asarray(symbols, dtype=np.int64) + h.lo
        if not np.array_equal(np.bincount(symbols - h.lo, minlength=len(h.counts)), np.asarray(h.counts)):
            raise FormatError("decoded symbols do not match their histogram (damaged stream)")
        out.append(symbols)
    if needs_stream and encode(out)[1] != coded:  # canonical: exactly the encoder's words, nothing after them
        raise FormatError("coded stream is not the canonical coding of its symbols (damaged or padded)")
    return out
