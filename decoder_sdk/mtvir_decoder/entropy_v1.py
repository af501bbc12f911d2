"""EL v1's coder, kept so that v1 files keep decoding: constriction 0.5's queue range coder.

v1 gave each model to ``Categorical(weights / sum, perfect=False)`` in float64, so its exact arithmetic is
constriction's float-to-fixed-point conversion, not a spec (the reason for EL v2, ``rans``). Nothing writes v1.
"""
from __future__ import annotations

import constriction
import numpy as np

from .errors import FormatError


def _model(h):
    p = h.weights.astype(np.float64)
    return constriction.stream.model.Categorical(p / p.sum(), perfect=False)


def code(histograms, groups) -> bytes:
    encoder = constriction.stream.queue.RangeEncoder()
    for h, symbols in zip(histograms, groups):
        if not h.constant:
            encoder.encode((symbols - h.lo).astype(np.int32), _model(h))
    return b"" if encoder.num_bits() == 0 else encoder.get_compressed().astype("<u4").tobytes()


def decode(histograms, coded: bytes, sizes: list[int]) -> list[np.ndarray]:
    if len(coded) % 4:
        raise FormatError(f"coded stream of {len(coded)} bytes is not whole 32-bit words")
    needs_stream = any(not h.constant for h in histograms)
    if needs_stream and not coded:
        raise FormatError("coded stream missing")
    if not needs_stream and coded:
        raise FormatError("coded stream present but every group is constant")
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(coded, dtype="<u4").astype(np.uint32))
    out = []
    for h, n in zip(histograms, sizes):
        if h.constant:
            out.append(np.full(n, h.implied, dtype=np.int64))
            continue
        try:
            symbols = decoder.decode(_model(h), n)
        except Exception as exc:  # constriction raises its own types on a damaged stream
            raise FormatError(f"range decoder failed: {exc}") from None
        out.append(np.asarray(symbols, dtype=np.int64) + h.lo)
    if needs_stream and code(histograms, out) != coded:  # canonical: exactly the encoder's words, nothing after them
        raise FormatError("coded stream is not the canonical coding of its symbols (damaged or padded)")
    return out
