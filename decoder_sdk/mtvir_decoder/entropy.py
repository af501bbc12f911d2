"""Entropy coding of integer tensors: a static model per tensor group, all groups in one interleaved rANS stream.

Each group (one tensor, or several sharing one model) is sent as its model and its symbols. A model is either
the group's exact histogram (lo, hi, counts) or, where that is cheaper, a two-sided geometric (discrete Laplace)
law: integer weights w(s) = W_|s - center| with W_0 = 2^24 and W_k+1 = max(1, floor(W_k * decay / 2^16)),
for s in [lo, hi], a few bytes instead of a count per symbol (wide, sparse alphabets such as bias deltas).
Either way the model is a list of integers, turned into integer frequencies summing to 2^16 by one exact rule
(``rans.frequencies``): both sides build the same model with no floating point. A group with a single possible
value (an all-zero residue, say) costs its model only: nothing enters the stream. The coder itself is
``rans`` (EL v2); EL v1 files are decoded by ``entropy_v1`` (constriction's range coder).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import rans
from .errors import FormatError, LimitError, UnsupportedVersionError
from .layout import MAX_ALPHABET, MAX_SYMBOL, write as write_fields

COUNTS, GEOMETRIC = 0, 1
GEOMETRIC_ONE = 1 << 24
# decay values the encoder tries: mean |s - center| from about 0.2 to 4,000 symbols
_DECAYS = np.unique(np.clip(np.rint(65536 * np.exp(-1 / np.geomspace(0.2, 4000, 96))), 1, 65535).astype(int))


def geometric_weights(lo: int, hi: int, center: int, decay: int) -> np.ndarray:
    reach = max(center - lo, hi - center) + 1
    w = np.empty(reach, np.int64)
    w[0] = GEOMETRIC_ONE
    for k in range(1, reach):
        w[k] = max(1, (int(w[k - 1]) * decay) >> 16)
    return w[np.abs(np.arange(lo, hi + 1) - center)]


@dataclass(frozen=True)
class Histogram:
    lo: int
    hi: int
    counts: tuple[int, ...] = ()  # kind COUNTS: occurrences of lo..hi
    kind: int = COUNTS
    center: int = 0  # kind GEOMETRIC: the mode and the decay of the law
    decay: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts)

    @cached_property
    def weights(self) -> np.ndarray:
        """The integer weight of each symbol lo..hi: the model both sides build."""
        if self.kind == GEOMETRIC:
            return geometric_weights(self.lo, self.hi, self.center, self.decay)
        return np.asarray(self.counts, dtype=np.int64)

    @property
    def constant(self) -> bool:
        return int(np.count_nonzero(self.weights)) <= 1

    @cached_property
    def frequencies(self) -> np.ndarray:
        """The integer model of a coded (not constant) group: frequencies of lo..hi summing to 2^16."""
        return rans.frequencies(self.weights)

    @property
    def implied(self) -> int:
        """The value of every symbol of a constant group."""
        return self.lo + int(np.flatnonzero(self.weights)[0]) if self.weights.any() else self.lo

    @classmethod
    def of(cls, symbols: np.ndarray) -> "Histogram":
        if symbols.size == 0:
            return cls(0, 0, (0,))
        lo, hi = int(symbols.min()), int(symbols.max())
        if lo < -MAX_SYMBOL or hi > MAX_SYMBOL or hi - lo + 1 > MAX_ALPHABET:
            raise LimitError(f"symbols span [{lo}, {hi}]: beyond the coder's limits")
        return cls(lo, hi, tuple(int(c) for c in np.bincount(symbols - lo, minlength=hi - lo + 1)))

    @classmethod
    def fit(cls, symbols: np.ndarray) -> "Histogram":
        """The cheaper model for these symbols: exact counts, or the best geometric law (estimated bytes: the
        model's fields plus the symbols' cost under it)."""
        exact = cls.of(symbols)
        if exact.constant or symbols.size < 2:
            return exact
        counts = np.asarray(exact.counts, np.float64)
        seen = counts > 0
        best, best_bits = exact, 8 * exact.field_bytes() + empirical_entropy_bits(symbols)
        center = int(np.rint(np.median(symbols)))
        distance = np.abs(np.arange(exact.lo, exact.hi + 1) - center)
        model_bits = 8 * cls(exact.lo, exact.hi, (), GEOMETRIC, center, 1).field_bytes()
        for decay in _DECAYS:  # float estimate of each law's cost (the exact integer weights differ negligibly)
            w = np.maximum((decay / 65536.0) ** distance, 2.0**-24)
            bits = model_bits - float(np.sum(counts[seen] * np.log2(w[seen] / w.sum())))
            if bits < best_bits:
                best = cls(exact.lo, exact.hi, (), GEOMETRIC, center, int(decay))
                best_bits = bits
        return best

    def field_bytes(self) -> int:
        return len(write_fields("histogram", self.to_fields()))

    def to_fields(self) -> dict:
        if self.kind == GEOMETRIC:
            return {"kind": GEOMETRIC, "lo": self.lo, "hi": self.hi, "count_n": 0, "counts": [],
                    "center": [self.center], "decay": [self.decay]}
        return {"kind": COUNTS, "lo": self.lo, "hi": self.hi, "count_n": len(self.counts), "counts": list(self.counts),
                "center": [], "decay": []}

    @classmethod
    def from_fields(cls, f: dict) -> "Histogram":
        if f["hi"] - f["lo"] + 1 > MAX_ALPHABET:
            raise LimitError(f"histogram alphabet {f['hi'] - f['lo'] + 1} > {MAX_ALPHABET}")
        if f["hi"] < f["lo"]:
            raise FormatError(f"histogram range [{f['lo']}, {f['hi']}] is empty")
        if f["kind"] == GEOMETRIC:
            center, decay = f["center"][0], f["decay"][0]
            if f["count_n"] or not f["lo"] <= center <= f["hi"]:
                raise FormatError("geometric model with counts, or a centre outside its range")
            return cls(f["lo"], f["hi"], (), GEOMETRIC, center, decay)
        if f["count_n"] != f["hi"] - f["lo"] + 1:
            raise FormatError(f"{f['count_n']} counts for the symbols {f['lo']}..{f['hi']}")
        h = cls(f["lo"], f["hi"], tuple(f["counts"]))
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


def encode(groups: list[np.ndarray], fit: bool = True, lanes: int = 1) -> tuple[list[Histogram], int, bytes]:
    """Code each 1-D integer array with its own model into one stream: (models, lanes, coded bytes). ``fit``:
    choose per group the cheaper of exact counts and a geometric law; otherwise exact counts. ``lanes``: the
    rANS lanes, at most the coded symbols (one is smallest; more only serve parallel decoders)."""
    groups = [np.asarray(g).astype(np.int64).ravel() for g in groups]
    histograms = [Histogram.fit(g) if fit else Histogram.of(g) for g in groups]
    lanes = min(lanes, sum(g.size for h, g in zip(histograms, groups) if not h.constant))
    return histograms, lanes, code(histograms, groups, lanes)


def code(histograms: list[Histogram], groups: list[np.ndarray], lanes: int = 1) -> bytes:
    """The stream of these symbols under these models."""
    freq, start = [], []
    for h, symbols in zip(histograms, groups):
        if not h.constant:
            f = h.frequencies
            k = np.asarray(symbols, np.int64) - h.lo
            freq.append(f[k])
            start.append((np.cumsum(f) - f)[k])
    if not freq:
        return b""
    return rans.encode(np.concatenate(freq).tolist(), np.concatenate(start).tolist(), lanes)


def decode(histograms: list[Histogram], coded: bytes, sizes: list[int], lanes: int = 0,
           version: int = 2) -> list[np.ndarray]:
    """Inverse of ``encode``; ``sizes`` are the group lengths the caller knows from the descriptor. ``version``:
    the EL major version, which fixes the coder (1: constriction's range coder, 2: interleaved rANS)."""
    if len(histograms) != len(sizes):
        raise FormatError(f"{len(histograms)} histograms for {len(sizes)} coded tensor groups")
    for h, n in zip(histograms, sizes):
        if h.kind == COUNTS and h.total != n:
            raise FormatError(f"histogram counts {h.total} symbols, the tensor group has {n}")
    if version == 1:
        try:
            from . import entropy_v1
        except ImportError as exc:  # constriction is a dependency, but an environment may lack it
            raise UnsupportedVersionError(f"reading an EL v1 needs constriction 0.5: {exc}") from None
        out = entropy_v1.decode(histograms, coded, sizes)
    else:
        runs = [(rans.Model.of(h.frequencies, h.lo), n) for h, n in zip(histograms, sizes) if not h.constant]
        symbols = iter(rans.decode(coded, lanes, runs))
        out = [np.full(n, h.implied, np.int64) if h.constant else next(symbols) for h, n in zip(histograms, sizes)]
    for h, symbols in zip(histograms, out):
        if h.kind == COUNTS and not h.constant and not np.array_equal(
                np.bincount(symbols - h.lo, minlength=len(h.counts)), np.asarray(h.counts)):
            raise FormatError("decoded symbols do not match their histogram (damaged stream)")
    return out
