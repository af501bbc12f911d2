"""The whole encoder: BL, online learning per group, candidates, rate-utility selection, the EL file."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mtvir_decoder import Coding, MtvirError, Reference, references, write
from mtvir_decoder.metrics import SSE_FLOOR, psnr_from_sse

from . import bl
from .online import OnlineConfig, learn
from .select import CODINGS, Candidate, choose, evaluate, lagrangian, sse_per_frame


# Ablations (``export(..., ablations=True)``), judged on the last snapshot and never chosen: the model sent
# uncompressed (float32, size counted, not written), its integers coded absolute instead of as a residue to the
# reference, and the default coding without rate-utility selection. "reference" is always a candidate.
ABLATIONS = {"ablation: float32": Coding(None, None, None, "auto"),
             "ablation: no residue": Coding(weights="absolute"),
             "ablation: no RUO": Coding()}


@dataclass
class GroupResult:
    first_frame: int
    frame_count: int
    chosen: str
    candidates: list[dict]  # name, step, bytes, J, delta PSNR-Y


@dataclass
class Summary:
    bl_path: str
    el_path: str
    codec: str
    qp: int
    config: str
    frames: int
    width: int
    height: int
    bit_depth: int
    bl_bytes: int  # payload (sum of R_i / 8)
    bl_file_bytes: int
    bl_kbps: float
    el_bytes: int
    psnr_bl: float
    psnr_el: float
    seconds_bl: float
    seconds_learning: float
    seconds_selection: float
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def delta_psnr(self) -> float:
        return self.psnr_el - self.psnr_bl

    def report(self) -> str:
        lines = [
            f"BL  {self.codec} QP {self.qp} {self.config.upper()}: {self.frames} frames {self.width}x{self.height}, "
            f"{self.bl_bytes:,} B payload ({self.bl_kbps:.1f} kbit/s), PSNR-Y {self.psnr_bl:.3f} dB",
            f"EL  {self.el_bytes:,} B ({100 * self.el_bytes / max(1, self.bl_bytes):.2f} % of the BL), "
            f"PSNR-Y {self.psnr_el:.3f} dB ({self.delta_psnr:+.3f} dB)",
        ]
        for g in self.groups:
            no_el = next(c for c in g.candidates if c["name"] == "no EL")
            best = next(c for c in g.candidates if c["name"] == g.chosen)
            lines.append(f"group frames {g.first_frame}-{g.first_frame + g.frame_count - 1}: chose {g.chosen!r}, "
                         f"J {best['J']:.4g} vs no EL {no_el['J']:.4g} ({100 * (best['J'] / no_el['J'] - 1):+.3f} %)")
        lines.append(f"time: BL {self.seconds_bl:.1f} s, learning {self.seconds_learning:.1f} s, "
                     f"selection {self.seconds_selection:.1f} s")
        return "\n".join(lines)


def output_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """OUT (with or without .mtvir) -> (OUT.mtvir, OUT.mp4)."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".mtvir" else out
    return stem.with_name(stem.name + ".mtvir"), stem.with_name(stem.name + ".mp4")


def _publish(data: bytes, el_path: Path, bl_tmp: Path, bl_path: Path) -> None:
    """Give both outputs their names, or neither: a half pair (a BL without its EL) is never left behind."""
    el_tmp = el_path.with_name(f".{el_path.name}.{os.getpid()}.partial")
    renamed_bl = done = False
    try:
        el_tmp.write_bytes(data)
        os.replace(bl_tmp, bl_path)
        renamed_bl = True
        os.replace(el_tmp, el_path)
        done = True
    finally:
        el_tmp.unlink(missing_ok=True)
        if renamed_bl and not done:
            bl_path.unlink(missing_ok=True)


def export(input_path: str | os.PathLike, out: str | os.PathLike, codec: str = "x265", qp: int = 37,
           config: str = "ra", frames: int | None = None, group: int | None = None,
           online: OnlineConfig | None = None, reference: Reference | None = None, progress: bool = True,
           ablations: bool = False) -> Summary:
    """Code ``input_path`` as BL + EL: writes OUT.mp4 and OUT.mtvir (both or neither) and returns the summary."""
    from tqdm import tqdm

    online = online or OnlineConfig()
    el_path, bl_path = output_paths(out)
    if not el_path.parent.is_dir():
        raise MtvirError(f"output folder {el_path.parent} does not exist")
    video = bl.read_video(input_path, frames)
    reference = reference or references.default()
    if group is not None and group < 1:
        raise MtvirError("--group must be at least 1 frame")
    peak = (1 << video.bit_depth) - 1
    size = group or len(video)
    spans = [(f, min(size, len(video) - f)) for f in range(0, len(video), size)]
    chosen_models, results, enhanced_sse = [], [], np.zeros(len(video))
    t_learn = t_select = 0.0
    bl_tmp = bl_path.with_name(f".{bl_path.name}.{os.getpid()}.partial.mp4")
    bar = None
    try:  # whatever stops the export (an error, Ctrl-C, SIGTERM), the finally leaves no partial file
        t0 = time.time()
        base = bl.code(video, bl_tmp, codec, qp, config)
        seconds_bl = time.time() - t0
        bar = tqdm(total=len(spans) * online.iterations, disable=not progress, unit="step", desc="online learning",
                   dynamic_ncols=True)
        for first, count in spans:
            recon, orig = base.recon.y[first:first + count], video.y[first:first + count]
            t1 = time.time()
            snaps = learn(reference, recon, orig, video.bit_depth, online, progress=bar.update)
            t_learn += time.time() - t1
            t1 = time.time()
            candidates = [Candidate("no EL", -1, 0, sse_per_frame(recon, orig))]
            todo = [(s, cname, coding) for s in snaps
                    for cname, coding in ({"ref": CODINGS["2^-12"]} if s.step == 0 else CODINGS).items()]
            for s, cname, coding in tqdm(todo, disable=not progress, unit="candidate", desc="selection",
                                         dynamic_ncols=True, leave=False):
                nbytes, sse = evaluate(reference, s.params, coding, recon, orig, video.bit_depth)
                name = "reference" if s.step == 0 else f"step {s.step} {cname}"
                candidates.append(Candidate(name, s.step, nbytes, sse, params=s.params, coding=coding,
                                            seconds=s.seconds))
            bits = np.asarray(base.bits[first:first + count], np.float64)
            lambdas = np.array([lagrangian(q, video.bit_depth) for q in base.qps[first:first + count]])
            best = choose(candidates, bits, lambdas)
            if ablations:
                extra = []
                for name, coding in ABLATIONS.items():
                    nbytes, sse = evaluate(reference, snaps[-1].params, coding, recon, orig, video.bit_depth)
                    if name == "ablation: float32":
                        nbytes = 4 * reference.arch.param_count  # folded conv weights + biases
                    extra.append(Candidate(name, snaps[-1].step, nbytes, sse, params=snaps[-1].params,
                                           coding=coding, seconds=snaps[-1].seconds))
                choose(extra, bits, lambdas)  # fills in their J only
                candidates += extra
            t_select += time.time() - t1
            if not best.no_el:
                chosen_models.append((first, count, best.params, best.coding))
            enhanced_sse[first:first + count] = best.sse
            no_el = np.maximum(candidates[0].sse, SSE_FLOOR)
            results.append(GroupResult(first, count, best.name, [
                {"name": c.name, "step": c.step, "bytes": c.model_bytes, "J": c.J, "seconds": c.seconds,
                 "delta_psnr": float(np.mean(10 * np.log10(no_el / np.maximum(c.sse, SSE_FLOOR))))}
                for c in candidates]))
        bar.close()
        data = write(reference.arch, chosen_models, reference, video.width, video.height, video.bit_depth,
                     len(video))
        _publish(data, el_path, bl_tmp, bl_path)
    finally:
        if bar is not None:
            bar.close()
        bl_tmp.unlink(missing_ok=True)
    npx = video.width * video.height
    bl_sse = sse_per_frame(base.recon.y, video.y)
    psnr = lambda sse: float(np.mean(psnr_from_sse(sse, npx, peak)))
    return Summary(str(bl_path), str(el_path), codec, qp, config, len(video), video.width, video.height,
                   video.bit_depth, sum(base.bits) // 8, bl_path.stat().st_size, base.kbps(), len(data),
                   psnr(bl_sse), psnr(enhanced_sse), seconds_bl, t_learn, t_select, results)
