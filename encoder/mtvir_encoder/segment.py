"""One segment of the export: learn a model on its frames and choose, by rate-utility, what the EL sends for it.

A segment is a run of frames between intra points of the BL. Its learning starts from the previous segment's
model (for the first, from the reference: when several are offered, the one whose model alone has the lowest J
on the segment's sample, ``pick_reference``; the EL names one reference for all its groups) and stops when no
snapshot has lowered the segment's best J (learning's or not) for ``OnlineConfig.patience`` snapshots.
Candidates are "no EL", the reference alone, the previous segment's model shared (its group simply grows: no
bytes), and every snapshot in the codings of ``CODINGS`` around its best (``_ladder``); they are ranked on a
fixed sample of the segment (``select.Sample``), then the winner is run on every frame, and kept only if its
exact J still beats "no EL" (``measure``: or, where that run would cost more than judging a few candidates, kept on
the sample's word when the sample is sure of it). Every candidate is written, read back and run by the SDK's own
Enhancer.

This is the unit of work a parallel driver hands to a worker; it holds nothing of other segments but the model
it starts from.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mtvir_decoder import Coding, Params, Reference
from mtvir_decoder.metrics import SSE_FLOOR

from .online import OnlineConfig, release_memory, snapshots
from .select import CODINGS, Candidate, cost, estimate_d, evaluate, plan_sample, sample_sse, sse_per_frame

SHARED = "previous model (shared)"

# Ablations (``ablations=True``), judged on the last snapshot on every frame and never chosen: the model sent
# uncompressed (float32, size counted, not written), its integers coded absolute instead of as a residue to the
# reference, and the default coding without rate-utility selection. The reference alone is then measured on every
# frame too.
ABLATIONS = {"ablation: float32": Coding(None, None, None, "auto"),
             "ablation: no residue": Coding(weights="absolute"),
             "ablation: no RUO": Coding()}
# With ``adapt="auto"`` and ablations, each family alone: what rate-utility selection picks when only that family's
# snapshots (and the candidates without learning) are offered, measured on every frame, never chosen
FAMILY_LABELS = {"bias_affine": "biases and affine", "all": "every weight"}


# How the winner is measured: "all" runs it on every frame (exact J and PSNR-Y: what a player's decoding costs,
# 1.05 s a 1080p frame on 2 cores, most of a 1080p segment's selection); "sample" keeps the sample's estimate when
# the sample is sure the winner beats "no EL" (``_Judge.sure``), and runs every frame only when it is not; "auto":
# "all" where the segment holds at most MEASURE_ALL_UP_TO samples' pixels (a QCIF clip), else "sample"
MEASURES = ("auto", "all", "sample")
MEASURE_ALL_UP_TO = 4
# Standard errors of the sample's estimate by which the winner's J must beat "no EL" to be kept unmeasured
SURE_Z = 4.0


def measures_all(measure: str, frames: int, height: int, width: int, sample_pixels: int) -> bool:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    return measure == "all" or (measure == "auto" and frames * height * width <= MEASURE_ALL_UP_TO * sample_pixels)


def family_ablation(adapt: str) -> str:
    return f"ablation: {FAMILY_LABELS[adapt]} alone"


@dataclass
class Model:
    params: Params
    coding: Coding


@dataclass
class SegmentResult:
    chosen: Candidate
    candidates: list[Candidate]
    sse: np.ndarray  # D_i of the chosen candidate on every frame (``estimated``: its sample's estimate, spread)
    no_el_sse: np.ndarray
    no_el_box_sse: np.ndarray  # of "no EL" on each box of the sample
    seconds_learning: float
    seconds_selection: float
    steps: int  # training steps run
    reference: Reference  # the one its models are residues against
    estimated: bool = False  # the chosen model was kept on its sample's estimate, not run on every frame
    psnr_error: float = 0.0  # then: one standard error of its PSNR-Y gain, in dB
    stack: int = 1  # planes stacked in the frame list (a model of U and V: U's frames, then V's)

    @property
    def model(self) -> Model | None:
        c = self.chosen
        return None if c.no_el else Model(c.params, c.coding)

    def drop_unchosen_params(self) -> None:
        """Forget every model but the chosen one (what a worker sends back)."""
        for c in self.candidates:
            if c is not self.chosen:
                c.params = None

    def rows(self) -> list[dict]:
        """Every candidate: name, step, bytes, J, delta PSNR-Y (on the sample when ``sampled``)."""
        def gain(c: Candidate) -> float:
            if c.estimated_d is None:
                ref = np.maximum(self.no_el_sse, SSE_FLOOR)
                return float(np.mean(10 * np.log10(ref / np.maximum(c.sse, SSE_FLOOR))))
            ref = max(float(np.sum(self.no_el_box_sse)), SSE_FLOOR)  # the sample's PSNR change
            return float(10 * np.log10(ref / max(float(np.sum(c.sse)), SSE_FLOOR)))

        out = []
        for c in self.candidates:
            row = {"name": c.name, "step": c.step, "bytes": c.model_bytes, "J": c.J, "seconds": c.seconds,
                   "delta_psnr": gain(c), "sampled": c.estimated_d is not None}
            if self.stack > 1 and c.estimated_d is None:  # each stacked plane's own gain
                ref = np.maximum(self.no_el_sse, SSE_FLOOR).reshape(self.stack, -1)
                got = np.maximum(c.sse, SSE_FLOOR).reshape(self.stack, -1)
                row["delta_psnr_planes"] = [float(x) for x in np.mean(10 * np.log10(ref / got), axis=1)]
            if c.ranked_as is not None:  # so that curves of the sample's figures can stay on the sample
                row.update(sample_J=c.ranked_as.J, sample_delta_psnr=gain(c.ranked_as))
            out.append(row)
        return out


class _Judge:
    """Candidates written, read back and run by the SDK's Enhancer: on the sample (J estimated) or on every frame
    (J exact), against "no EL" of the same segment."""

    def __init__(self, recon, orig, bit_depth, bits, lambdas, sample_pixels, seed, threads, extra_bytes=0):
        h, w = recon[0].shape
        self.extra_bytes = extra_bytes  # what sending any model costs beyond its own EL (a colour EL's table rows)
        self.recon, self.orig, self.bit_depth, self.bits, self.lambdas = recon, orig, bit_depth, bits, lambdas
        self.threads, self.seconds = threads, 0.0
        self.sample = plan_sample(len(recon), h, w, sample_pixels, seed=seed)
        self.no_el = Candidate("no EL", -1, 0, sse_per_frame(recon, orig))
        self.no_el.J = cost(self.no_el, bits, lambdas)
        self.no_el_box_sse = sample_sse(recon, orig, self.sample)

    def __call__(self, reference, name, step, params, coding, seconds=0.0, model_bytes=None, full=False):
        t = time.time()
        sample = None if full else self.sample
        nbytes, sse = evaluate(reference, params, coding, self.recon, self.orig, self.bit_depth, sample, self.threads)
        c = Candidate(name, step, nbytes + self.extra_bytes if model_bytes is None else model_bytes, sse, params=params,
                      coding=coding,
                      seconds=seconds,
                      estimated_d=None if full else estimate_d(sample, sse, self.no_el_box_sse, self.no_el.sse))
        c.J = cost(c, self.bits, self.lambdas)
        self.seconds += time.time() - t
        return c

    def error(self, c: Candidate) -> float:
        """One standard error of a candidate's estimated D (the boxes taken as a random sample of the segment's:
        scale sqrt(n) sd of the boxes' changes); inf where it cannot be told, 0 where D is measured."""
        if c.estimated_d is None:
            return 0.0
        change = c.sse - self.no_el_box_sse
        return float(self.sample.scale * np.sqrt(change.size) * np.std(change, ddof=1)) if change.size > 1 else np.inf

    def sure(self, c: Candidate) -> bool:
        """Whether the sample says, beyond doubt, that ``c`` beats "no EL": by more than SURE_Z standard errors."""
        return c.estimated_d is not None and self.no_el.J - c.J > SURE_Z * self.error(c)

    def spread(self, c: Candidate, planes: int = 1) -> np.ndarray:
        """D_i per frame of a candidate judged on the sample: "no EL"'s, scaled to the estimated sum; with
        ``planes`` stacked (equal runs of frames: U's, then V's), each plane's frames to its own share of the
        estimate (the sample's change in its boxes), so that a chroma model reports each plane's gain, not both
        planes' together. The shares add up to the estimate."""
        n = self.no_el.sse.size // planes
        frames = np.array([box[0] for box in self.sample.boxes])
        change = c.sse - self.no_el_box_sse
        out = np.empty(self.no_el.sse.shape, np.float64)
        for k in range(planes):
            base, boxes = self.no_el.sse[k * n:(k + 1) * n], (frames >= k * n) & (frames < (k + 1) * n)
            d = float(np.sum(base)) + self.sample.scale * float(np.sum(change[boxes]))
            out[k * n:(k + 1) * n] = base * (max(d, 0.0) / max(float(np.sum(base)), SSE_FLOOR))
        return out


def _ladder(judge_coding, start: int) -> tuple[list[Candidate], int]:
    """One snapshot's candidates along the ladder of ``CODINGS``, from rung ``start`` (the last snapshot's best)
    downhill in J until both neighbours of the best are worse: (the candidates judged, the best rung). J is
    unimodal along the ladder (finer steps cost bytes, coarser ones distortion): on the 16 points of the carphone
    and bigbuckbunny evaluations this found the all-rungs best 14 times and came within 0.05 % of its J twice,
    judging 55 % of the candidates."""
    names = list(CODINGS)
    tried = {start: judge_coding(names[start])}
    best = start
    while True:
        for rung in (best - 1, best + 1):
            if 0 <= rung < len(names) and rung not in tried:
                tried[rung] = judge_coding(names[rung])
        lowest = min(tried, key=lambda r: (tried[r].J, r))
        if lowest == best:
            return [tried[r] for r in sorted(tried)], best
        best = lowest


REFERENCE_CODING = CODINGS["2^-12"]  # a reference alone sends no numbers: any coding gives the same bytes


def _rank_references(judge: _Judge, refs: Sequence[Reference]) -> tuple[Reference, Candidate, list[Candidate]]:
    """(the reference with the lowest J alone, its candidate "reference", the others' candidates)."""
    alone = [judge(r, "reference", 0, r.params, REFERENCE_CODING) for r in refs]
    best = min(range(len(refs)), key=lambda i: (alone[i].J, i))
    for i, c in enumerate(alone):
        if i != best:
            c.name, c.params = f"reference {refs[i].name or refs[i].id.hex()[:8]} (not chosen)", None
    return refs[best], alone[best], [c for i, c in enumerate(alone) if i != best]


def pick_reference(refs: Sequence[Reference], recon: list[np.ndarray], orig: list[np.ndarray], bit_depth: int,
                   bits: np.ndarray, lambdas: np.ndarray, sample_pixels: int = 1 << 20, seed: int = 0,
                   threads: int = 0) -> Reference:
    """Of several references, the one whose model alone has the lowest J on these frames' sample."""
    judge = _Judge(recon, orig, bit_depth, bits, lambdas, sample_pixels, seed, threads)
    return _rank_references(judge, refs)[0]


def code_segment(reference: Reference | Sequence[Reference], recon: list[np.ndarray], orig: list[np.ndarray],
                 bit_depth: int, bits: np.ndarray, lambdas: np.ndarray, online: OnlineConfig,
                 previous: Model | None = None, shareable: bool = False, sample_pixels: int = 1 << 20,
                 ablations: bool = False, progress=None, threads: int = 0, measure: str = "auto",
                 extra_bytes: int = 0, planes: int = 1) -> SegmentResult:
    """Learn and choose for one segment. ``reference``: one, or several to pick from (``pick_reference``: only
    before the EL's first model); ``previous``: the last model sent (learning starts from it); ``shareable``: it is
    the model of the segment just before, whose group this one may join for free; ``threads``: of ONNX Runtime
    (0: its default); ``measure``: how the winner is measured (``MEASURES``); ``extra_bytes``: added to every model's
    bytes (what the EL's container spends on it beyond the model's own EL v2: a chroma model's table rows);
    ``planes``: how many planes' frames ``recon`` stacks (U's, then V's: one model for both)."""
    lambdas = np.asarray(lambdas, np.float64) * online.lambda_scale
    every_frame = measures_all(measure, len(recon), *recon[0].shape, sample_pixels)
    judge = _Judge(recon, orig, bit_depth, bits, lambdas, sample_pixels, online.seed, threads, extra_bytes)
    no_el = judge.no_el
    t0 = time.time()
    refs = [reference] if isinstance(reference, Reference) else list(reference)
    if len(refs) > 1 and previous is not None:
        raise ValueError("the reference is chosen before the EL's first model, not after")
    reference, alone, others = _rank_references(judge, refs)
    candidates = [no_el, alone]
    if previous is not None and shareable:
        candidates.append(judge(reference, SHARED, 0, previous.params, previous.coding, model_bytes=0))
    # each learning run must beat what the segment has without learning ("no EL", the reference, the previous model
    # shared): a warm-started segment that gains nothing stops after ``patience`` snapshots
    without, steps, last, families = list(candidates), 0, None, online.families()
    learned_by = {f.adapt: [] for f in families}
    for family in families:
        best_so_far, stale, rung, run_steps = min(c.J for c in without), 0, len(CODINGS) // 2 - 1, 0
        prefix = f"{family.adapt}: " if len(families) > 1 else ""
        for snap in snapshots(reference, recon, orig, bit_depth, family, progress,
                              previous.params if previous is not None else None, float(np.mean(lambdas))):
            if snap.step == 0:
                continue  # the starting model: already a candidate (the reference, or the previous model shared)
            last, run_steps = snap, snap.step
            learned, rung = _ladder(lambda name: judge(reference, f"{prefix}step {snap.step} {name}", snap.step,
                                                       snap.params, CODINGS[name], snap.seconds), rung)
            candidates += learned
            learned_by[family.adapt] += learned
            best = min(c.J for c in learned)
            stale = 0 if best < best_so_far else stale + 1
            best_so_far = min(best_so_far, best)
            if family.patience and stale >= family.patience:
                break
        steps += run_steps
    seconds_learning = time.time() - t0 - judge.seconds
    release_memory()

    def exact(c: Candidate) -> Candidate:
        """Measured on every frame (as it is, where it was)."""
        if c.estimated_d is None:
            return c
        return replace(judge(reference, c.name, c.step, c.params, c.coding, c.seconds, c.model_bytes, full=True),
                       ranked_as=replace(c, params=None))

    def lowest(offered: list[Candidate]) -> Candidate:
        return min(offered, key=lambda c: (c.J, c.model_bytes))

    def kept(best: Candidate) -> Candidate:
        return best if best.no_el or best.J < no_el.J else no_el  # a winner that loses on every frame: "no EL"

    best = lowest(candidates)
    estimated = not every_frame and judge.sure(best)
    if not estimated:
        best = exact(best)
        candidates[next(i for i, c in enumerate(candidates) if c.name == best.name)] = best  # reported: exact
    chosen = kept(best)
    sse = judge.spread(chosen, planes) if estimated else chosen.sse
    psnr_error = 10 / np.log(10) * judge.error(chosen) / max(float(np.sum(sse)), SSE_FLOOR) if estimated else 0.0
    candidates[2:2] = others  # reported, never chosen: the EL holds models against one reference
    if ablations and last is not None:  # measured on every frame, never chosen
        candidates = [exact(c) if c.name == "reference" else c for c in candidates]
        candidates += [judge(reference, name, last.step, last.params, coding, last.seconds, full=True,
                             model_bytes=4 * reference.arch.param_count if name == "ablation: float32" else None)
                       for name, coding in ABLATIONS.items()]  # float32: folded conv weights + biases, counted
        if len(families) > 1:
            candidates += [replace(kept(exact(lowest(without + learned_by[f.adapt]))), name=family_ablation(f.adapt))
                           for f in families]
    return SegmentResult(chosen, candidates, sse, no_el.sse, judge.no_el_box_sse, seconds_learning, judge.seconds,
                         steps, reference, estimated, psnr_error)
