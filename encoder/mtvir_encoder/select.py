"""Rate-utility optimisation: every candidate is written with the decoder SDK, read back and run by the SDK's own
Enhancer, so D is what decoders will see and R_model its real size.

    J = sum_i [ D_i + lambda_i (R_i + R_model / N) ]

D_i: SSE of enhanced frame i (luma, in samples of the video's bit depth); R_i: BL bits of frame i; N frames in
the group. lambda_i is HM's mode-decision Lagrangian for the frame's QP, 0.57 * 2^((QP - 12) / 3) for SSE of
8-bit samples against bits, times 4^(bit_depth - 8) for deeper samples (SSE grows by 4 per extra bit): the EL
is judged with the rate-distortion trade-off an HEVC encoder applies to its own decisions at that QP. Since R_i
does not depend on the candidate, it only shifts every J by the same amount.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtvir_decoder import Coding, Enhancer, Params, Reference, write

# Coding of the biases and affine parameters tried for each snapshot: steps 2^e (bias and shift 2^e, relative
# scale 2^(e + 2)). On carphone the quality barely moves from 2^-13 to 2^-9 while the bytes halve at each step
# (the coded histograms of wide alphabets dominate), so the ladder runs coarse.
CODINGS = {f"2^{e}": Coding(bias_step=e, scale_step=e + 2, shift_step=e) for e in range(-12, -6)}


def lagrangian(qp: float, bit_depth: int = 8) -> float:
    return 0.57 * 2.0 ** ((qp - 12) / 3.0) * 4.0 ** (bit_depth - 8)


@dataclass
class Candidate:
    name: str
    step: int  # training iterations behind it (-1: no EL)
    model_bytes: int  # R_model / 8: the single-group EL as written
    sse: np.ndarray  # D_i per frame
    J: float = 0.0
    params: Params | None = None
    coding: Coding | None = None
    seconds: float = 0.0

    @property
    def no_el(self) -> bool:
        return self.params is None


def sse_per_frame(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    return np.array([np.sum((x.astype(np.float64) - y.astype(np.float64)) ** 2) for x, y in zip(a, b)])


def evaluate(reference: Reference, params: Params, coding: Coding, recon: list[np.ndarray],
             orig: list[np.ndarray], bit_depth: int) -> tuple[int, np.ndarray]:
    """(bytes, SSE per frame) of a model as decoders rebuild it: written, read back, run by the Enhancer."""
    h, w = recon[0].shape
    data = write(reference.arch, [(0, len(recon), params, coding)], reference, w, h, bit_depth, len(recon))
    enhancer = Enhancer(data, reference=reference)
    enhanced = [enhancer.enhance(f, i) for i, f in enumerate(recon)]
    return len(data), sse_per_frame(enhanced, orig)


def cost(c: Candidate, bl_bits: np.ndarray, lambdas: np.ndarray) -> float:
    n = len(c.sse)
    return float(np.sum(c.sse + lambdas * (bl_bits + 8.0 * c.model_bytes / n)))


def choose(candidates: list[Candidate], bl_bits, lambdas) -> Candidate:
    """Fill in J for every candidate and return the least (ties go to the cheaper one)."""
    for c in candidates:
        c.J = cost(c, np.asarray(bl_bits, np.float64), np.asarray(lambdas, np.float64))
    return min(candidates, key=lambda c: (c.J, c.model_bytes))
