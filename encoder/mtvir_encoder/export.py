"""The whole encoder, streamed: frames flow through the BL encoder and, segment by segment, learning and
rate-utility selection (``segment.code_segment``); the EL file collects one model per group of segments.

Memory follows one segment (its luma, original and BL reconstruction, plus the encoder's lookahead), not the
video: a segment ends at an intra point of the BL, every ``segment`` seconds (default 5).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from mtvir_decoder import MtvirError, Reference, carriage, layout, references, write
from mtvir_decoder import tiers as tiered
from mtvir_decoder import video as video_io
from mtvir_decoder.files import partial_name
from mtvir_decoder.metrics import SSE_FLOOR, psnr_from_sse

from . import bl
from .network import PRECISIONS, resolve_precision
from .online import OnlineConfig
from .segment import MEASURES, SHARED, Model, SegmentResult, code_segment
from .select import lagrangian, sse_per_frame

SEGMENT_SECONDS = 5.0
SAMPLE_PIXELS = 1 << 20
TIER_ORDER = ("light", "full")  # the tiers an export can send (shipped references exist for these)
# what an export enhances: "yuv", luma and one model for U and V (each plane on its own: one learning run on both
# planes' frames, the model a shader can run on either chroma plane); "y,u,v", a model per plane; "y", luma alone
# (an EL of version 2 or 3, as before colour)
PLANE_CHOICES = ("yuv", "y,u,v", "y")
CHROMA_MODELS = {"yuv": ("uv",), "y,u,v": ("u", "v"), "y": ()}
# J's weights of the planes' distortion, as PSNR-YUV weighs their PSNRs (JVET's 6:1:1). A plane's change of SSE
# moves its PSNR by 10 / ln 10 times its relative change, so to rank by PSNR-YUV a chroma plane's SSE counts
# W_C / W_Y * SSE_Y / SSE_C luma SSE (both of the segment's BL): its lambda is luma's divided by that.
W_Y, W_C = 6, 1
CHROMA_FORMAT = "4:2:0"  # what the BL is coded in (video.planes converts every input to it)
# what a colour EL spends beyond a luma EL v2, in J's count of every chroma model's bytes: a row per chroma model, and
# the table (its frame facts, a tier row, the luma model's row, its CRC) shared by the chroma models
ENTRY_BYTES = layout.min_size("plane_entry", layout.PLANAR)
TABLE_BYTES = len(layout.MAGIC) + sum(layout.min_size(s, layout.PLANAR) for s in ("planar_file", "planar_tier")) \
    + ENTRY_BYTES


@dataclass
class GroupResult:
    first_frame: int
    frame_count: int
    chosen: str  # the candidate's name; SHARED: this segment joins the previous one's group
    candidates: list[dict]  # name, step, bytes, J, delta PSNR-Y, sampled; the winner: also sample_J, sample_delta_psnr
    steps: int = 0  # training steps run on this segment


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
    reference: str = ""  # the reference the EL names: its name and id
    lagrangian: float = 0.0  # J's lambda (luma SSE per bit), before OnlineConfig.lambda_scale
    lagrangian_source: str = ""  # how it was set
    precision: str = ""  # of the learning steps: fp32 or bf16
    frames_estimated: int = 0  # frames whose EL figures are their segment's sample estimate (``segment.MEASURES``)
    psnr_el_error: float = 0.0  # one standard error of psnr_el from those estimates, in dB
    tiers: list[dict] = field(default_factory=list)  # per tier sent: name, MAC/px, its EL's bytes, PSNR-Y, reference
    # per chroma model of the summary's tier ("uv", or "u" and "v"): its EL's bytes, reference, lambda, the chosen
    # candidate and every candidate of each segment; empty when luma alone was enhanced
    chroma: dict = field(default_factory=dict)
    psnr_u_bl: float = 0.0  # mean over frames, as psnr_bl
    psnr_v_bl: float = 0.0
    psnr_u_el: float = 0.0
    psnr_v_el: float = 0.0
    chroma_frames_estimated: int = 0  # frames whose chroma PSNR is its model's sample estimate (each plane's share)

    @property
    def delta_psnr(self) -> float:
        return self.psnr_el - self.psnr_bl

    def psnr_plane(self, plane: str, enhanced: bool = True) -> float:
        """PSNR of ``plane`` ("y", "u", "v") with or without the EL (the mean over frames)."""
        return getattr(self, f"psnr_{plane}_{'el' if enhanced else 'bl'}" if plane != "y" else
                       ("psnr_el" if enhanced else "psnr_bl"))

    def psnr_yuv(self, enhanced: bool = True) -> float:
        """(6 PSNR-Y + PSNR-U + PSNR-V) / 8, JVET's weighting."""
        return (W_Y * self.psnr_plane("y", enhanced) + W_C * self.psnr_plane("u", enhanced)
                + W_C * self.psnr_plane("v", enhanced)) / (W_Y + 2 * W_C)

    def report(self) -> str:
        lines = [
            f"BL  {self.codec} QP {self.qp} {self.config.upper()}: {self.frames} frames {self.width}x{self.height}, "
            f"{self.bl_bytes:,} B payload ({self.bl_kbps:.1f} kbit/s), PSNR-Y {self.psnr_bl:.3f} dB",
            f"EL  {self.el_bytes:,} B ({100 * self.el_bytes / max(1, self.bl_bytes):.2f} % of the BL), "
            f"PSNR-Y {self.psnr_el:.3f} dB ({self.delta_psnr:+.3f} dB" + (
                f" +- {self.psnr_el_error:.3f}, estimated on each segment's sample for {self.frames_estimated} of "
                f"{self.frames} frames; --measure all: on every frame)" if self.frames_estimated else ")"),
        ]
        for g in self.groups:
            no_el = next(c for c in g.candidates if c["name"] == "no EL")
            best = next(c for c in g.candidates if c["name"] == g.chosen)
            lines.append(f"segment frames {g.first_frame}-{g.first_frame + g.frame_count - 1}: chose {g.chosen!r}, "
                         f"J {best['J']:.4g} vs no EL {no_el['J']:.4g} ({100 * (best['J'] / no_el['J'] - 1):+.3f} %), "
                         f"{g.steps} steps")
        if self.chroma:
            models = ", ".join(f"{name.upper()} {c['el_bytes']:,} B ({', '.join(c['chosen'])})"
                               for name, c in self.chroma.items())
            lines.append("colour: " + ", ".join(
                f"PSNR-{p.upper()} {self.psnr_plane(p, False):.3f} -> {self.psnr_plane(p):.3f} dB "
                f"({self.psnr_plane(p) - self.psnr_plane(p, False):+.3f})" for p in "uv")
                + (f" (estimated on each segment's sample for {self.chroma_frames_estimated} of {self.frames} frames)"
                   if self.chroma_frames_estimated else "")
                + f"; PSNR-YUV 6:1:1 {self.psnr_yuv(False):.3f} -> {self.psnr_yuv():.3f} dB "
                f"({self.psnr_yuv() - self.psnr_yuv(False):+.3f}); chroma models {models}")
        for t in self.tiers if len(self.tiers) > 1 else []:
            lines.append(f"tier {t['name']:5s} {t['macs_per_pixel']:6,} MAC/px: {t['el_bytes']:,} B, PSNR-Y "
                         f"{t['psnr_el']:.3f} dB ({t['psnr_el'] - self.psnr_bl:+.3f} dB), reference {t['reference']}")
        lines.append(f"reference {self.reference}")
        lines.append(f"J's lambda {self.lagrangian:.4g}: {self.lagrangian_source}")
        lines.append(f"time: BL {self.seconds_bl:.1f} s, learning {self.seconds_learning:.1f} s "
                     f"({self.precision or 'fp32'} steps), selection {self.seconds_selection:.1f} s")
        return "\n".join(lines)


def output_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """OUT (with or without .mtvir) -> (OUT.mtvir, OUT.mp4)."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".mtvir" else out
    return stem.with_name(stem.name + ".mtvir"), stem.with_name(stem.name + ".mp4")


def _publish(data: bytes, el_path: Path, bl_tmp: Path, bl_path: Path) -> None:
    """Give both outputs their names, or neither: a half pair (a BL without its EL) is never left behind."""
    el_tmp = partial_name(el_path)
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


def probe_frames(config: str, fps: Fraction, seg_len: int) -> int:
    """Frames on which J's lambda is measured, all in the first segment (so that the serial and the independent
    segments' exports measure the same): one intra period in random access (its whole GOP structure), 8 pictures
    in all intra."""
    return min(max(8, bl.keyint(config, fps)), seg_len)


def segment_length(config: str, fps: Fraction, seconds: float) -> int:
    """Frames per segment: a whole number of intra periods closest to ``seconds`` (at least one)."""
    period = bl.keyint(config, fps)
    return period * max(1, round(seconds * float(fps) / period))


def export(input_path: str | os.PathLike, out: str | os.PathLike, codec: str = "x265", qp: int = 37,
           config: str = "ra", frames: int | None = None, group: int | None = None,
           online: OnlineConfig | None = None, reference: Reference | None = None, progress: bool = True,
           ablations: bool = False, segment: float = SEGMENT_SECONDS, sample_pixels: int = SAMPLE_PIXELS,
           workers: int | None = None, ray_address: str | None = None, threads: int | None = None,
           in_band: bool = False, measure: str = "auto", tiers: tuple[str, ...] = ("full",),
           planes: str = "yuv") -> Summary:
    """Code ``input_path`` as BL + EL: writes OUT.mp4 and OUT.mtvir (both or neither) and returns the summary.
    ``segment``: seconds per segment (cut at the BL's intra points); ``group``: frames per segment instead.
    ``workers`` / ``ray_address``: code the segments independently (``parallel``): on a local Ray with that many
    workers, on a Ray cluster, or (``workers=0``) one after another here; ``threads``: of ONNX Runtime per
    segment's task there (default: the cores shared by the workers), and of ONNX Runtime here otherwise (default:
    every core; torch's are the caller's).
    ``in_band``: one file, OUT.mp4, whose bitstream carries the EL (SEI messages: HEVC and H.264; metadata OBUs:
    AV1).
    ``measure``: how each segment's chosen model is measured (``segment.MEASURES``): on every frame, or on the
    sample it was ranked on where the sample is sure of it.
    ``tiers``: the complexity tiers to send (``light``, ``full``): each learned from its own band references and
    chosen by J per segment on its own ("no EL" included); with more than ``full`` the EL is a tiered EL (EL 3),
    and the summary's main figures are its most complex tier's. ``reference`` is the full tier's.
    ``planes``: "yuv" (default) learns one model for U and V beside luma's (``CHROMA_MODELS``), "y,u,v" one per
    plane, each from the tier's chroma references (then its luma ones) and chosen by J with "no EL" among its
    candidates (J weighs the planes as PSNR-YUV does, ``W_Y``, ``W_C``); the EL is then of version 4 unless every
    chroma model chose "no EL". "y": luma alone."""
    from mtvir_decoder.cli import progress_bar

    online = online or OnlineConfig()
    el_path, bl_path = output_paths(out)
    if not el_path.parent.is_dir():
        raise MtvirError(f"output folder {el_path.parent} does not exist")
    if group is not None and group < 1:
        raise MtvirError("--group must be at least 1 frame")
    if segment <= 0:
        raise MtvirError("--segment must be a positive number of seconds")
    if workers is not None and workers < 0:
        raise MtvirError("--workers must be 0 (no Ray) or more")
    if online.lambda_source not in ("slope", "hm"):
        raise MtvirError(f"lambda source {online.lambda_source!r}: slope or hm")
    if online.precision not in PRECISIONS:
        raise MtvirError(f"precision {online.precision!r}: {', '.join(PRECISIONS)}")
    online = replace(online, precision=resolve_precision(online.precision, torch.device(online.device)))
    if measure not in MEASURES:
        raise MtvirError(f"--measure {measure!r}: {', '.join(MEASURES)}")
    if in_band and codec not in ("x265", "x264", "svtav1"):
        raise MtvirError(f"--in-band: no carriage for {codec} (x265 and x264: SEI messages; svtav1: metadata OBUs)")
    if not tiers or any(t not in TIER_ORDER for t in tiers):
        raise MtvirError(f"--tiers {','.join(tiers)}: one or more of {', '.join(TIER_ORDER)}")
    tiers = tuple(sorted(set(tiers), key=TIER_ORDER.index))
    if tiers != ("full",) and (workers is not None or ray_address is not None):
        raise MtvirError("--tiers with more than full runs in the serial export (leave out --workers/--ray-address)")
    if planes not in PLANE_CHOICES:
        raise MtvirError(f"--planes {planes!r}: one of {', '.join(PLANE_CHOICES)}")
    if planes != "y" and (workers is not None or ray_address is not None):
        raise MtvirError("colour runs in the serial export: leave out --workers/--ray-address, or give --planes y")
    runs = {}
    for name in tiers:
        choices = ([reference] if reference and name == "full" else references.starting_points(name)
                   or ([references.default()] if name == "full" else []))
        if not choices:
            raise MtvirError(f"no {name} tier references are installed (mtvir-pretrain --tier {name})")
        runs[name, "y"] = _Run(choices, online, ablations, sample_pixels, threads or 0, measure)
        for model in CHROMA_MODELS[planes]:
            chroma_choices = references.starting_points(name, plane="chroma") or choices
            runs[name, model] = _Run(chroma_choices, online, ablations, sample_pixels, threads or 0, measure, model,
                                     ENTRY_BYTES + TABLE_BYTES // len(CHROMA_MODELS[planes]))
    run = runs[tiers[-1], "y"]  # the most complex tier: the summary's main figures
    info = video_io.probe(input_path)
    seg_len = group or segment_length(config, info.fps, segment)
    total = min(info.frames, frames) if info.frames and frames else (info.frames or frames or 0)
    bl_tmp = partial_name(bl_path)
    bar = None
    try:  # whatever stops the export (an error, Ctrl-C, SIGTERM), the finally leaves no partial file
        bar = progress_bar(None, progress, total=max(1, -(-total // seg_len)) * online.step_budget * len(runs),
                           unit="step", desc="online learning")
        source = video_io.frames(input_path, frames)
        if workers is None and ray_address is None:
            width, height, depth = _streamed(source, bl_tmp, codec, qp, config, info.fps, seg_len, list(runs.values()),
                                             bar)
        else:
            width, height, depth = _parallel(source, bl_tmp, codec, qp, config, info.fps, seg_len, run, bar,
                                             workers or 0, ray_address, threads)
        bar.close()
        count = run.next_frame
        bits = video_io.packet_bits(bl_tmp)  # R_i as stored in the file
        if len(bits) != count:
            raise bl.VideoError(f"the BL holds {len(bits)} frames, {count} were coded")
        bodies: dict[str, dict[str, bytes]] = {}
        for (name, model), r in runs.items():
            if model == "y" or r.groups:  # a chroma model that no segment chose sends nothing: chroma as decoded
                w, h = tiered.plane_size(width, height, tiered.CHROMA_FORMATS[CHROMA_FORMAT], model[0])
                bodies.setdefault(name, {})[model] = write(r.reference.arch, r.groups, r.reference, w, h, depth,
                                                           count)
        colour = any(set(b) != {"y"} for b in bodies.values())
        data = (bodies["full"]["y"] if tiers == ("full",) and not colour else
                tiered.write(bodies, CHROMA_FORMAT if colour else 0))
        reference = run.reference
        if in_band:
            carried = bl_tmp.with_name(bl_tmp.name + ".el.mp4")
            try:
                carriage.embed(bl_tmp, data, carried, reference)
                el_bytes = (sum(video_io.packet_bits(carried)) - sum(bits)) // 8  # what the messages add
                os.replace(carried, bl_tmp)
            finally:
                carried.unlink(missing_ok=True)
            os.replace(bl_tmp, bl_path)
            el_path = None
        else:
            el_bytes = len(data)
            _publish(data, el_path, bl_tmp, bl_path)
    finally:
        if bar is not None:
            bar.close()
        bl_tmp.unlink(missing_ok=True)
    npx, peak = width * height, (1 << depth) - 1
    psnr = lambda sse, n=npx: float(np.mean(psnr_from_sse(np.asarray(sse), n, peak)))
    seconds = count / float(info.fps)
    top = tiers[-1]
    cpx = int(np.prod(tiered.plane_size(width, height, tiered.CHROMA_FORMATS[CHROMA_FORMAT], "u")))
    chroma_runs = {model: r for (name, model), r in runs.items() if name == top and model != "y"}
    chroma = {model: {"el_bytes": len(bodies[top].get(model, b"")), "lagrangian": r.lam,
                      "reference": f"{r.reference.name} {r.reference.id.hex()}",
                      "chosen": [g.chosen for g in r.results], "groups": [asdict(g) for g in r.results]}
              for model, r in chroma_runs.items()}
    chroma_el = {p: r.plane_sse[p] for r in chroma_runs.values() for p in r.plane}  # enhanced chroma, per frame
    return Summary(str(bl_path), str(el_path or bl_path), codec, qp, config, count, width, height, depth,
                   sum(bits) // 8, bl_path.stat().st_size, sum(bits) / seconds / 1000, el_bytes, psnr(run.bl_sse),
                   psnr(run.el_sse), run.seconds_bl, sum(r.seconds_learning for r in runs.values()),
                   sum(r.seconds_selection for r in runs.values()), run.results,
                   f"{reference.name or '(given)'} {reference.id.hex()}", run.lam, run.lam_source, online.precision,
                   run.frames_estimated, float(np.sqrt(np.sum(np.square(run.psnr_errors))) / max(1, count)),
                   [{"name": name, "macs_per_pixel": r.reference.arch.macs_per_pixel,
                     "el_bytes": sum(map(len, bodies[name].values())), "psnr_el": psnr(r.el_sse),
                     "reference": f"{r.reference.name} {r.reference.id.hex()}",
                     "chosen": [g.chosen for g in r.results]} for (name, plane), r in runs.items() if plane == "y"],
                   chroma, *(psnr(run.chroma_bl_sse[p], cpx) if run.chroma_bl_sse[p] else 0.0 for p in "uv"),
                   *(psnr(chroma_el.get(p, run.chroma_bl_sse[p]), cpx) if run.chroma_bl_sse[p] else 0.0
                     for p in "uv"), max((r.frames_estimated for r in chroma_runs.values()), default=0))


def _shape(planes) -> tuple[int, int, int]:
    return planes[0].shape[1], planes[0].shape[0], video_io.sample_depth(planes[0])


def _streamed(source, bl_tmp, codec, qp, config, fps, seg_len, runs: list["_Run"], bar) -> tuple[int, int, int]:
    """The serial export: one BL stream, coded and decoded back as frames arrive; each segment in turn, warm-started
    from the last model and free to share it, for each tier (``runs``). Returns (width, height, bit depth)."""
    coder, shape = None, None
    main = [r for r in runs if r.plane == "y"][-1]  # the BL's figures go with the summary's (most complex) tier
    orig: dict[int, tuple] = {}  # original planes waiting for their reconstruction
    recon: list[tuple] = []  # reconstructed planes of the segment being filled
    head: list | None = []  # the first frames whole, until J's lambda is measured on them

    def measure_lambda():
        nonlocal head
        if head is not None:
            t0 = time.time()
            main.measure_lambda(head, codec, qp, config, fps, shape[2])
            for run in runs:  # one price of a bit: the BL's, whatever the tier (chroma's weighed per segment)
                run.lam, run.lam_source = main.lam, main.lam_source
            main.seconds_bl += time.time() - t0
            head = None

    def segment(recon):
        first = main.next_frame
        originals = [orig.pop(i) for i in range(first, first + len(recon))]
        plane = lambda frames, k: [f[k] for f in frames]
        sse_y = float(np.sum(sse_per_frame(plane(recon, 0), plane(originals, 0))))
        for k in (1, 2):  # the BL's chroma, measured whatever the EL enhances
            main.chroma_bl_sse["yuv"[k]] += list(sse_per_frame(plane(recon, k), plane(originals, k)))
        for run in runs:
            ks = ["yuv".index(p) for p in run.plane]  # a model of U and V learns from both planes' frames, U first
            if ks != [0]:  # chroma's price of a bit: luma's over its planes' weight in PSNR-YUV on this segment's BL
                sse = np.mean([np.sum(main.chroma_bl_sse["yuv"[k]][-len(recon):]) for k in ks])
                run.lam = main.lam * W_Y / W_C * max(float(sse), SSE_FLOOR) / max(sse_y, SSE_FLOOR)
            run.segment([f for k in ks for f in plane(recon, k)], [f for k in ks for f in plane(originals, k)],
                        coder.bits, shape[2], bar)

    try:
        for i, planes in enumerate(source):
            if coder is None:
                shape = _shape(planes)
                coder = bl.Coder(bl_tmp, codec, qp, config, fps, *shape)
            orig[i] = tuple(planes[:3])
            if head is not None:
                head.append(planes)
                if len(head) == probe_frames(config, fps, seg_len):
                    measure_lambda()
            t0 = time.time()
            recon += [tuple(r[:3]) for r in coder.push(planes)]
            main.seconds_bl += time.time() - t0
            while len(recon) >= seg_len:
                measure_lambda()
                segment(recon[:seg_len])
                recon = recon[seg_len:]
        t0 = time.time()
        recon += [tuple(r[:3]) for r in coder.finish()]
        main.seconds_bl += time.time() - t0
        while recon:
            measure_lambda()
            segment(recon[:seg_len])
            recon = recon[seg_len:]
    finally:
        if coder is not None:
            coder.close()
    return shape


def _parallel(source, bl_tmp, codec, qp, config, fps, seg_len, run: "_Run", bar, workers, address, threads
              ) -> tuple[int, int, int]:
    """Independent segments (``parallel``): each a closed BL chunk and a model learned from the reference."""
    from . import parallel

    threads = threads or parallel.default_threads(workers, address)
    shape, joiner = [], bl.Joiner(bl_tmp, fps)

    def tasks():
        batch, first = [], 0
        for planes in source:
            if not shape:
                shape.append(_shape(planes))
            batch.append(planes)
            if len(batch) == seg_len:
                yield task(first, batch)
                first, batch = first + len(batch), []
        if batch:
            yield task(first, batch)

    def task(first, batch):
        stacked = tuple(np.stack([p[k] for p in batch]) for k in range(3))
        if run.lam is None:  # one lambda and one reference for the whole EL, set here before any worker learns
            run.measure_lambda(batch[:probe_frames(config, fps, seg_len)], codec, qp, config, fps, shape[0][2])
        if run.reference is None:
            run.reference = parallel.pick_reference(stacked, fps, codec, qp, config, run.choices, run.lam,
                                                    run.sample_pixels, run.online.seed)
        return parallel.Task(first, stacked, fps, codec, qp, config, run.reference, run.online, run.lam,
                             run.sample_pixels, run.ablations, threads, run.measure)

    def take(chunk):
        if joiner.add(chunk.bl) != chunk.result.sse.size:
            raise bl.VideoError(f"the BL chunk at frame {chunk.first} lost frames")
        run.seconds_bl += chunk.seconds_bl
        run.add(chunk.result)
        bar.update(run.online.step_budget)

    try:
        parallel.run(tasks(), workers, address, take)
    finally:
        joiner.close()
    return shape[0]


class _Run:
    """What the export carries from segment to segment: the groups of the EL, the last model, the figures."""

    def __init__(self, choices: list[Reference], online: OnlineConfig, ablations: bool, sample_pixels: int,
                 threads: int = 0, measure: str = "auto", plane: str = "y", extra_bytes: int = 0):
        self.choices, self.online, self.ablations, self.sample_pixels = choices, online, ablations, sample_pixels
        self.plane = plane  # "y", "u", "v", or "uv": the planes this run's model enhances, each on its own
        self.extra_bytes = extra_bytes  # what the EL's container spends on this run's model beyond its own EL
        self.chroma_bl_sse: dict[str, list[float]] = {"u": [], "v": []}  # of the BL, per frame (the serial export)
        self.plane_sse: dict[str, list[float]] = {p: [] for p in plane}  # enhanced, per frame and plane
        self.measure = measure
        self.threads = threads  # of ONNX Runtime in the serial export (0: every core)
        self.reference: Reference | None = choices[0] if len(choices) == 1 else None  # picked on the first segment
        self.groups: list[list] = []  # [first, count, params, coding] of each group of the EL
        self.previous: Model | None = None  # the last model sent
        self.shareable = False  # the segment just before sent it (its group can grow)
        self.next_frame = 0
        self.bl_sse: list[float] = []
        self.el_sse: list[float] = []
        self.frames_estimated = 0
        self.psnr_errors: list[float] = []  # each segment's standard error of its PSNR-Y in dB, times its frames
        self.results: list[GroupResult] = []
        self.seconds_bl = self.seconds_learning = self.seconds_selection = 0.0
        self.lam: float | None = None  # J's lambda, set on the first frames (``measure_lambda``)
        self.lam_source = ""

    def measure_lambda(self, frames: list, codec: str, qp: int, config: str, fps: Fraction, depth: int) -> None:
        """J's lambda for the whole EL, as ``OnlineConfig.lambda_source`` says, from the video's first frames: one
        price of a bit everywhere, as the BD-rate of the whole video has (its slope varies within a video)."""
        hm = lagrangian(qp, depth)
        slope = bl.rd_slope(frames, codec, qp, config, fps, depth) if self.online.lambda_source == "slope" else None
        if slope is not None:
            self.lam = slope
            self.lam_source = f"the BL's RD slope on its first {len(frames)} frames ({slope / hm:.2f}x HM's)"
        else:
            self.lam = hm
            self.lam_source = ("HM's for the QP" if self.online.lambda_source == "hm" else
                               f"HM's for the QP (no RD slope on the first {len(frames)} frames)")

    def segment(self, recon: list[np.ndarray], orig: list[np.ndarray], bits: dict[int, int], depth: int,
                bar) -> None:
        """Learn and choose for the next segment, from the last model, and record it."""
        frames = range(self.next_frame, self.next_frame + len(recon) // len(self.plane))
        rates = [bits.get(i, 0) for i in frames] + [0] * (len(recon) - len(frames))  # stacked planes: bits once
        r = code_segment(self.reference or self.choices, recon, orig, depth,
                         np.array(rates, float), np.full(len(recon), self.lam), self.online,
                         self.previous, self.shareable, self.sample_pixels, self.ablations, progress=bar.update,
                         threads=self.threads, measure=self.measure, extra_bytes=self.extra_bytes,
                         planes=len(self.plane))
        bar.update(max(0, self.online.step_budget - r.steps))  # learning stopped early: the bar moves on
        self.add(r)

    def add(self, r: SegmentResult) -> None:
        """Record the next segment's outcome: a new group, the previous group grown, or a gap ("no EL")."""
        stack = len(self.plane)
        first, count = self.next_frame, r.sse.size // stack
        r.stack = stack
        self.reference = r.reference
        if r.chosen.name == SHARED:
            self.groups[-1][1] += count
        elif r.model is not None:
            self.groups.append([first, count, r.model.params, r.model.coding])
            self.previous = r.model
        self.shareable = r.model is not None
        self.next_frame += count
        self.bl_sse += list(r.no_el_sse.reshape(stack, count).sum(axis=0))
        self.el_sse += list(r.sse.reshape(stack, count).sum(axis=0))
        for p, sse in zip(self.plane, r.sse.reshape(stack, count)):
            self.plane_sse[p] += list(sse)
        self.frames_estimated += count if r.estimated else 0
        self.psnr_errors.append(count * r.psnr_error)
        self.seconds_learning += r.seconds_learning
        self.seconds_selection += r.seconds_selection
        self.results.append(GroupResult(first, count, r.chosen.name, r.rows(), r.steps))
