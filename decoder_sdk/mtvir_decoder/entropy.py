"""Entropy coding of integer tensors: a static model per tensor group and one constriction range-coder stream.

Each group (one tensor, or several sharing one model) is sent as its model and its symbols. A model is either
the group's exact histogram (lo, hi, counts) or, where that is cheaper, a two-sided geometric (discrete Laplace)
law: integer weights w(s) = W_|s - center| with W_0 = 2^24 and W_k+1 = max(1, floor(W_k * decay / 2^16)),
for s in [lo, hi], a few bytes instead of a count per symbol (wide, sparse alphabets such as bias deltas).
Either way the model is a list of integers, and the probabilities are weight / total, computed in float64 by
both sides from the same integers and given to ``Categorical(..., perfect=False)``: the model is identical on
both sides by construction. A group with a single possible value (an all-zero residue, say) costs its model only:
nothing enters the stream. The stream is a queue (RangeEncoder), so symbols are decoded in the order they were
encoded.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import constriction
import numpy as np

from .errors import FormatError, LimitError
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

    def model(self):
        p = self.weights.astype(np.float64)
        return constriction.stream.model.Categorical(p / p.sum(), perfect=False)

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


def encode(groups: list[np.ndarray], fit: bool = True) -> tuple[list[Histogram], bytes]:
    """Code each 1-D integer array with its own model into one stream: (models, coded bytes). ``fit``: choose
    per group the cheaper of exact counts and a geometric law; otherwise exact counts."""
    groups = [np.asarray(g).astype(np.int64).ravel() for g in groups]
    histograms = [Histogram.fit(g) if fit else Histogram.of(g) for g in groups]
    return histograms, code(histograms, groups)


def code(histograms: list[Histogram], groups: list[np.ndarray]) -> bytes:
    """The stream of these symbols under these models (the encoder's output, and the decoder's canonical check)."""
    encoder = constriction.stream.queue.RangeEncoder()
    for h, symbols in zip(histograms, groups):
        if not h.constant:
            encoder.encode((symbols - h.lo).astype(np.int32), h.model())
    return b"" if encoder.num_bits() == 0 else encoder.get_compressed().astype("<u4").tobytes()


def decode(histograms: list[Histogram], coded: bytes, sizes: list[int]) -> list[np.ndarray]:
    """Inverse of ``encode``; ``sizes`` are the group lengths the caller knows from the descriptor."""
    if len(histograms) != len(sizes):
        raise FormatError(f"{len(histograms)} histograms for {len(sizes)} coded tensor groups")
    if len(coded) % 4:
        raise FormatError(f"coded stream of {len(coded)} bytes is not whole 32-bit words")
    for h, n in zip(histograms, sizes):
        if h.kind == COUNTS and h.total != n:
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
            value = h.lo + int(np.flatnonzero(h.weights)[0]) if h.weights.any() else h.lo
            out.append(np.full(n, value, dtype=np.int64))
            continue
        try:
            symbols = decoder.decode(h.model(), n)
        except Exception as exc:  # constriction raises its own types on a damaged stream
            raise FormatError(f"range decoder failed: {exc}") from None
        symbols = np.asarray(symbols, dtype=np.int64) + h.lo
        if h.kind == COUNTS and not np.array_equal(np.bincount(symbols - h.lo, minlength=len(h.counts)),
                                                   np.asarray(h.counts)):
            raise FormatError("decoded symbols do not match their histogram (damaged stream)")
        out.append(symbols)
    if needs_stream and code(histograms, out) != coded:  # canonical: exactly the encoder's words, nothing after them
        raise FormatError("coded stream is not the canonical coding of its symbols (damaged or padded)")
    return out

