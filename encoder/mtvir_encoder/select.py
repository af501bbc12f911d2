"""Rate-utility optimisation: every candidate is written with the decoder SDK, read back and run by the SDK's own
Enhancer, so D is what decoders will see and R_model its real size.

    J = sum_i [ D_i + lambda_i (R_i + R_model / N) ]

D_i: SSE of enhanced frame i (luma, in samples of the video's bit depth); R_i: BL bits of frame i; N frames in
the group. lambda_i is, by default, the BL's own RD slope (``bl.rd_slope``: luma SSE per bit between QP - 2 and
QP + 2 on the video's first frames), so that J ranks candidates as the BD-rate of BL+EL against the BL does; or
HM's mode-decision Lagrangian for the QP (``lagrangian``: 0.57 * 2^((QP - 12) / 3) for SSE of 8-bit samples
against bits, times 4^(bit_depth - 8) for deeper samples), the trade-off an HEVC encoder applies to its own
decisions, which prices the EL's bits 3-8x too low in random access and 1.2-4x too high in all intra
(docs/journal/). Since R_i does not depend on the candidate, it only shifts every J by the same amount.

Sampled selection: so that judging a candidate costs the same whatever the segment's length and frame size,
candidates are ranked on a fixed ``Sample`` of the segment (a pixel budget spread over frames evenly placed in
time, a box of each at a seeded place when the frame is larger than its share), still written, read back and run
by the Enhancer there (``Enhancer.enhance_region``: exactly the whole frame's output on those pixels). The
segment's D is then estimated from the exact D of "no EL" on every frame plus the sample's change, scaled by the
pixel ratio. Only the winner is then run on every frame, and its figures are the full ones, unless the export
keeps the sample's estimate at real sizes (``segment.MEASURES``), where the summary says so.
"""
from __future__ import annotations

from collections.abc import Iterable
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
    model_bytes: int  # R_model / 8: the single-group EL as written (0: the previous segment's model, shared)
    sse: np.ndarray  # D_i per frame, or per box of the sample when ``estimated_d`` is set
    J: float = 0.0
    params: Params | None = None
    coding: Coding | None = None
    seconds: float = 0.0
    estimated_d: float | None = None  # sum of D_i estimated from a sample (None: measured on every frame)
    ranked_as: "Candidate | None" = None  # measured on every frame after ranking: the sample's figures it had

    @property
    def no_el(self) -> bool:
        return self.params is None


Box = tuple[int, int, int, int, int]  # frame in the segment, y0, y1, x0, x1


@dataclass(frozen=True)
class Sample:
    boxes: list[Box]
    scale: float  # pixels of the segment / pixels of the sample


def plan_sample(frames: int, height: int, width: int, pixels: int = 1 << 20, min_frames: int = 16,
                seed: int = 0) -> Sample:
    """A fixed sample of about ``pixels`` pixels: at least ``min_frames`` frames (all when fewer) at even
    intervals, so that every frame type and the whole segment's span are seen, and of each frame the whole frame
    or one box of its share at a seeded random place, so that the sample covers the picture across frames."""
    area = height * width
    count = min(frames, max(min_frames, pixels // area))
    share = max(1, pixels // count)
    rng = np.random.default_rng(seed)
    boxes = []
    for k in range(count):
        f = (2 * k + 1) * frames // (2 * count)
        if area <= share:
            boxes.append((f, 0, height, 0, width))
            continue
        bh = min(height, max(1, int(np.sqrt(share))))
        bw = min(width, max(1, share // bh))
        y0, x0 = int(rng.integers(0, height - bh + 1)), int(rng.integers(0, width - bw + 1))
        boxes.append((f, y0, y0 + bh, x0, x0 + bw))
    sampled = sum((b[2] - b[1]) * (b[4] - b[3]) for b in boxes)
    return Sample(boxes, frames * area / sampled)


def sse_per_frame(a: Iterable[np.ndarray], b: Iterable[np.ndarray]) -> np.ndarray:
    return np.array([np.sum((x.astype(np.float64) - y.astype(np.float64)) ** 2) for x, y in zip(a, b)])


def sample_sse(recon: list[np.ndarray], orig: list[np.ndarray], sample: Sample, enhancer: Enhancer | None = None
               ) -> np.ndarray:
    """SSE of each box of the sample: of the BL alone, or enhanced by ``enhancer``."""
    out = []
    for f, y0, y1, x0, x1 in sample.boxes:
        got = recon[f][y0:y1, x0:x1] if enhancer is None else enhancer.enhance_region(recon[f], (y0, y1, x0, x1), f)
        out.append(np.sum((got.astype(np.float64) - orig[f][y0:y1, x0:x1]) ** 2))
    return np.array(out)


def evaluate(reference: Reference, params: Params, coding: Coding, recon: list[np.ndarray],
             orig: list[np.ndarray], bit_depth: int, sample: Sample | None = None, threads: int = 0
             ) -> tuple[int, np.ndarray]:
    """(bytes, SSE per frame, or per box of ``sample``) of a model as decoders rebuild it: written, read back,
    run by the Enhancer."""
    h, w = recon[0].shape
    data = write(reference.arch, [(0, len(recon), params, coding)], reference, w, h, bit_depth, len(recon))
    enhancer = Enhancer(data, reference=reference, threads=threads)
    if sample is not None:
        return len(data), sample_sse(recon, orig, sample, enhancer)
    enhanced = (enhancer.enhance(f, i) for i, f in enumerate(recon))  # one frame at a time, never the segment
    return len(data), sse_per_frame(enhanced, orig)


def estimate_d(sample: Sample, box_sse: np.ndarray, no_el_box_sse: np.ndarray, no_el_sse: np.ndarray) -> float:
    """The segment's sum of D_i from a sample: "no EL"'s exact sum plus the sample's change, scaled."""
    return float(np.sum(no_el_sse) + sample.scale * (np.sum(box_sse) - np.sum(no_el_box_sse)))


def cost(c: Candidate, bl_bits: np.ndarray, lambdas: np.ndarray) -> float:
    d = float(np.sum(c.sse)) if c.estimated_d is None else c.estimated_d
    return float(d + np.sum(lambdas * (bl_bits + 8.0 * c.model_bytes / len(bl_bits))))


def choose(candidates: list[Candidate], bl_bits, lambdas) -> Candidate:
    """Fill in J for every candidate and return the least (ties go to the cheaper one)."""
    for c in candidates:
        c.J = cost(c, np.asarray(bl_bits, np.float64), np.asarray(lambdas, np.float64))
    return min(candidates, key=lambda c: (c.J, c.model_bytes))
