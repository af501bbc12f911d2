"""``Enhancer``: an EL turned into ONNX Runtime sessions that enhance decoded planes (luma, and chroma where the EL
has models for it), whole or in tiles."""
from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import graph, layout, tiers
from .errors import (FormatError, InputMismatchError, MtvirError, MtvirWarning, RuntimeProviderError,
                     UnreadableFileError)
from .references import Reference

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@lru_cache(maxsize=None)
def cuda_works() -> bool:
    """True when the CUDA provider really loads: onnxruntime-gpu lists it even without CUDA libraries."""
    if CUDA not in ort.get_available_providers():
        return False
    from . import onnx_writer as w
    m = w.model([w.node("Relu", ["x"], ["y"])], "probe", [w.value_info("x", w.FLOAT, [1])],
                [w.value_info("y", w.FLOAT, [1])], [], graph.OPSET, graph.IR_VERSION)
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    previous = 2
    ort.set_default_logger_severity(4)  # the failed library loads log errors; a probe stays quiet
    try:
        if hasattr(ort, "preload_dlls"):  # finds CUDA/cuDNN shipped in wheels (torch's); prints what it misses
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                try:
                    ort.preload_dlls()
                except Exception:
                    pass
        s = ort.InferenceSession(m, opts, providers=[CUDA, CPU])
        return s.get_providers()[0] == CUDA
    except Exception:
        return False
    finally:
        ort.set_default_logger_severity(previous)


def default_providers() -> list[str]:
    return [CUDA, CPU] if cuda_works() else [CPU]


class Enhancer:
    """Enhance decoded planes with an EL.

    ``Enhancer(path_or_bytes, providers=None, precision="fp32", reference=None, tile=1024, tier="auto",
    fps=None)``: frames larger than a tile plus its halo run in tiles (memory stays bounded; the result is the
    same). ``tier`` takes one tier of a tiered EL: ``light``, ``full``, ``heavy``, or ``auto``: the most complex
    tier this machine runs in real time at ``fps`` (default 30) on the EL's frame size, timed once per process,
    else the lightest; a damaged tier is then passed over with a warning.
    ``threads``: threads a plane's work spreads over (0: one per core this process may use). On the CPU a plane
    that runs whole is cut into bands of rows, each with the halo (the same result), run at once on
    single-threaded sessions; other work, and all of it on a GPU, runs on ONNX Runtime's threads (0: its choice).
    ``enhance(luma, frame_index=None)``: uint8 (8-bit) or uint16 (10-bit..16-bit) H x W in, same out.
    ``enhance_frame(y, u, v, frame_index=None)``: the whole frame, each plane by its own model (EL 4); planes the
    tier has no model for, and every chroma plane of an EL of version 1-3, come back as given. Frames outside every
    group of a plane's model pass through untouched.
    """

    def __init__(self, source: str | os.PathLike | bytes, providers: list[str] | None = None,
                 precision: str = "fp32", reference: Reference | None = None, tile: int = 1024,
                 threads: int = 0, tier: str = "auto", fps: float | None = None):
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise UnreadableFileError(f"cannot read EL {source}: {exc.strerror or exc}") from None
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be fp32 or fp16, not {precision!r}")
        if tier not in ("auto",) + tiers.NAMES:
            raise ValueError(f"tier must be auto or one of {', '.join(tiers.NAMES)}, not {tier!r}")
        self.precision = precision
        self.providers = list(providers) if providers is not None else default_providers()
        if CUDA in self.providers and not cuda_works():
            self.providers = [p for p in self.providers if p != CUDA] or [CPU]
        self.tile = max(16, int(tile))
        self._threads = threads
        # bands of rows at once, each session single-threaded: ONNX Runtime's own threads in one run of the light
        # tier's 1080p plane gave 1.63x one thread on 2 cores, two bands at once 1.9x. A GPU runs one piece.
        self._workers = 1 if CUDA in self.providers else max(1, threads or _cores())
        self._beside = 1  # planes whose jobs share the workers with this one's (a chroma model's: U and V, 2)
        self.chroma: dict[str, Enhancer] = {}  # plane ("u", "v") -> the Enhancer of its model
        if not tiers.is_tiered(data):  # an EL v1/v2: read once, its own table
            self._use(tiers.read(data, reference, None if tier == "auto" else tier))
            self.table = tiers.Table.of(self.el)
            return
        self.table = tiers.table(data)
        if tier != "auto" or len(self.table.tiers) == 1:
            self._use_tier(data, reference, self.table.get(tier) if tier != "auto" else self.table.tiers[-1])
        else:
            self._auto(data, reference, 30.0 if fps is None else float(fps))

    def _use_tier(self, data: bytes, reference: Reference | None, tier: tiers.Tier) -> None:
        """Take ``tier``: its luma model (an error when it is damaged), and each chroma model that can be read (a
        damaged one costs its planes only, with a warning)."""
        el = tiers.read(data, reference, tier.name)
        self.chroma = {}
        for plane in "uv":
            entry = tier.entry(plane)
            if entry is None or plane in self.chroma:
                continue
            try:
                child = self._plane(tiers.read(data, reference, tier.name, plane))
            except MtvirError as exc:
                warnings.warn(f"the {tier.name} tier's {entry.planes.upper()} model is not used, those planes play "
                              f"as decoded: {exc}", MtvirWarning, stacklevel=4)
                continue
            self.chroma.update({p: child for p in entry.planes})
        if el is None:  # a tier without a luma model: luma passes through (no group)
            any_model = next(iter(self.chroma.values()), None)
            if any_model is None:
                raise FormatError(f"no model of the {tier.name} tier can be read")
            t = self.table
            el = replace(any_model.el, groups=[], width=t.width, height=t.height, tier=tier.name)
        self._use(el)

    def _plane(self, el) -> "Enhancer":
        """An Enhancer of one chroma model, sharing this one's settings."""
        child = object.__new__(Enhancer)
        child.precision, child.providers, child.tile, child._threads, child._workers = (
            self.precision, self.providers, self.tile, self._threads, self._workers)
        child.table, child.chroma, child._beside = self.table, {}, 2
        child._use(el)
        return child

    def _use(self, el) -> None:
        self.el = el
        self.block = el.arch.block  # tiles start on multiples of it, so they cut the frame's blocks
        self.halo = -(-el.arch.receptive_radius // self.block) * self.block
        # (group, bit depth or 0 for floats, whether planes are multiples of the strided tail's block, whether
        # runs are single-threaded, shared out with others): a player's frames take one or two of them
        self._sessions: dict[tuple[int, int, bool, bool], ort.InferenceSession] = {}
        self._tail_block = graph.tail_block(el.arch)
        if el.groups:  # ready to run when the constructor returns: the session the EL's frames will take
            h, w = el.height, el.width
            if h and w and self._as_is(h, w):
                self._bands(0, el.bit_depth, h, w, self._beside)
            else:
                self._session(0)

    def _auto(self, data: bytes, reference: Reference | None, fps: float) -> None:
        """The most complex tier that runs one frame in 1 / fps here, else the lightest that can be read."""
        h, w = self.table.height or 1080, self.table.width or 1920
        usable = []
        for t in reversed(self.table.tiers):
            try:
                self._use_tier(data, reference, t)
            except MtvirError as exc:  # a damaged tier costs that tier only
                warnings.warn(f"the {t.name} tier is not used: {exc}", MtvirWarning, stacklevel=3)
                continue
            usable.append((self.el, self.chroma))
            if self.whole_frame_seconds(h, w) <= 1.0 / fps:
                return
        if not usable:
            raise FormatError("no tier of this EL can be read")
        if usable[-1][0] is not self.el:
            self._use(usable[-1][0])
            self.chroma = usable[-1][1]

    def frame_seconds(self, height: int, width: int) -> float:
        """Seconds this machine takes to enhance one frame of this size with group 0's model: timed on at most a
        512 x 512 plane and scaled by area (the network's work is per pixel), once per process and model."""
        arch = self.el.arch
        h, w = min(height, 512), min(width, 512)
        key = (arch.canonical_bytes(), h, w, tuple(self.providers), self.precision, self._threads)
        if key not in _SECONDS:
            x = np.full((h, w), 0.5, np.float32)
            self.run_float(x)  # warm-up: the first run allocates
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                self.run_float(x)
                runs.append(time.perf_counter() - start)
            _SECONDS[key] = min(runs)
        return _SECONDS[key] * (height * width) / (h * w)

    def whole_frame_seconds(self, height: int, width: int) -> float:
        """``frame_seconds`` of every plane this tier enhances, for a frame of this luma size."""
        seconds = self.frame_seconds(height, width) if self.el.groups else 0.0
        for plane, child in self.chroma.items():
            if child.el.groups:
                seconds += child.frame_seconds(*reversed(tiers.plane_size(width, height, self.table.chroma_format,
                                                                          plane)))
        return seconds

    @classmethod
    def from_video(cls, path: str | os.PathLike, **options) -> "Enhancer":
        """The Enhancer of the EL that the video file ``path`` carries in band (SEI messages of its BL); an
        ``MtvirError`` when it carries none. Messages left out (damaged, another video's) each cost a warning."""
        from . import carriage
        data = carriage.in_band(path, options.get("reference"))
        if data is None:
            raise MtvirError(f"{Path(path).name} carries no EL in band")
        return cls(data, **options)

    # --- facts a player asks for --------------------------------------------------------------------
    @property
    def provider(self) -> str:
        if not self._sessions:
            return self.providers[0]
        return next(iter(self._sessions.values())).get_providers()[0]

    @property
    def tier(self) -> str:
        """The tier in use: ``light``, ``full`` or ``heavy`` (an EL of version 1 or 2 is its own ``full``)."""
        return self.el.tier

    @property
    def tiers(self) -> list[str]:
        """The tiers the EL carries, lightest first."""
        return self.table.names

    @property
    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per luma pixel of the tier in use, for every plane it enhances (the table's)."""
        return self.table.get(self.tier).macs_per_pixel if self.tier in self.table.names else \
            self.el.arch.macs_per_pixel

    @property
    def planes(self) -> str:
        """The planes this Enhancer changes: "y", "yuv", "uv"... (chroma only from an EL of version 4)."""
        return ("y" if self.el.groups else "") + "".join(p for p in "uv" if p in self.chroma)

    @property
    def chroma_format(self) -> str:
        """The chroma sampling its chroma models apply to ("4:2:0"...); "4:0:0" when it has none."""
        return layout.CHROMA_FORMATS[self.table.chroma_format]

    @property
    def width(self) -> int:
        return self.el.width

    @property
    def height(self) -> int:
        return self.el.height

    @property
    def bit_depth(self) -> int:
        return self.el.bit_depth

    # --- running ------------------------------------------------------------------------------------
    def _session(self, index: int, bit_depth: int = 0, shape: tuple[int, int] = (0, 0),
                 shared: bool = False) -> ort.InferenceSession:
        """Group ``index``'s session: on float planes, or (``bit_depth``) on samples of that depth; for planes of
        ``shape``'s alignment (a shape the strided tail's block divides runs without a crop); ``shared``: for runs
        made at once with others, single-threaded."""
        key = (index, bit_depth, not any(v % self._tail_block for v in shape) and 0 not in shape, shared)
        if key not in self._sessions:
            group = self.el.groups[index]
            folded = group.params.folded(self.el.arch)
            onnx_model = graph.build(self.el.arch, folded, self.precision, bit_depth=bit_depth, aligned=key[2])
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            # ENABLE_ALL turns on the blocked NCHWc convolutions on x86: about 2x the default's speed here
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # no pre-planned block for the whole graph: the arena reuses freed activations instead (a 1024 tile of
            # 1080p: 404 MiB peak against 689, at the same speed)
            opts.enable_mem_pattern = False
            # the pool's threads sleep when a run ends instead of spinning: a frame runs one session per plane (and a
            # process may hold several Enhancers), and spinning threads of one session slowed the next one's run (the
            # light tier's 1080p frame, luma then chroma: 96-105 ms spinning, 50 ms not; each alone the same)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if shared:
                opts.intra_op_num_threads = 1  # the Enhancer's jobs are the parallelism (_at_once)
            elif self._threads:
                opts.intra_op_num_threads = self._threads
            try:
                self._sessions[key] = ort.InferenceSession(onnx_model, opts, providers=self.providers)
            except Exception as exc:  # onnxruntime's errors share no public base class
                raise RuntimeProviderError(f"ONNX Runtime could not build the session: {exc}") from None
        return self._sessions[key]

    def _group_index(self, frame_index: int | None) -> int | None:
        if frame_index is None:
            if len(self.el.groups) > 1:
                raise InputMismatchError("this EL has several groups: pass frame_index")
            return 0 if self.el.groups else None
        return self.el.group_index(frame_index)

    def enhance(self, luma: np.ndarray, frame_index: int | None = None, bit_depth: int | None = None) -> np.ndarray:
        """The enhanced plane (a new array). ``bit_depth`` of a uint16 plane defaults to the EL's (or 10)."""
        return self._enhance(luma, frame_index, bit_depth, None)

    def enhance_frame(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, frame_index: int | None = None,
                      bit_depth: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Y, U, V) enhanced, each plane by its own model; chroma that no model of this tier covers comes back as
        given. Chroma of another size than the EL's chroma format gives (for this luma), or of another sample type
        than luma, is an ``InputMismatchError``."""
        y = np.asarray(y)
        return tuple(self._run([self._plan(y, frame_index, bit_depth, None),
                                *self._chroma_plans(y, u, v, frame_index, bit_depth)]))

    def enhance_chroma(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, frame_index: int | None = None,
                       bit_depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(U, V) of ``enhance_frame`` alone: ``y``, the decoded luma, says what size chroma must have."""
        return tuple(self._run(self._chroma_plans(y, u, v, frame_index, bit_depth)))

    def _chroma_plans(self, y, u, v, frame_index, bit_depth) -> list:
        if not self.chroma:
            return [(u, [], False), (v, [], False)]
        y, fmt, plans = np.asarray(y), self.table.chroma_format, []
        for name, plane in (("u", np.asarray(u)), ("v", np.asarray(v))):
            want = tiers.plane_size(y.shape[1], y.shape[0], fmt, name)[::-1] if y.ndim == 2 else None
            if plane.shape != want or plane.dtype != y.dtype:
                raise InputMismatchError(f"the {name.upper()} plane is {plane.shape[::-1]} {plane.dtype}; the EL's "
                                         f"{layout.CHROMA_FORMATS[fmt]} chroma of this luma is "
                                         f"{want[::-1] if want else '?'} {y.dtype}")
            child = self.chroma.get(name)
            plans.append(child._plan(plane, frame_index, bit_depth, None) if child is not None else (plane, [], False))
        return plans

    def enhance_region(self, luma: np.ndarray, box: tuple[int, int, int, int], frame_index: int | None = None,
                       bit_depth: int | None = None) -> np.ndarray:
        """``enhance(luma, frame_index)[y0:y1, x0:x1]`` for ``box = (y0, y1, x0, x1)``, computed on the box and
        its halo only: the network sees there what it sees in the whole frame (an encoder judges a model this way
        on part of a frame)."""
        h, w = np.shape(luma)[:2]
        y0, y1, x0, x1 = (int(v) for v in box)
        if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
            raise InputMismatchError(f"box {box} is not inside the {w}x{h} frame")
        return self._enhance(luma, frame_index, bit_depth, (y0, y1, x0, x1))

    def _enhance(self, luma, frame_index, bit_depth, box) -> np.ndarray:
        return self._run([self._plan(luma, frame_index, bit_depth, box)])[0]

    def _run(self, plans: list) -> list[np.ndarray]:
        """The planes of ``plans`` ((plane, its jobs, whether they are shared out) each): jobs on ONNX Runtime's
        threads one after another, then every single-threaded job of every plane at once on the workers (one frame's
        luma bands, U and V share the cores to the end: plane after plane, each waiting for its last band, took
        1.04x as long)."""
        alone = [job() for _, jobs, shared in plans if not shared for job in jobs]
        if not all(alone + _at_once([job for _, jobs, shared in plans if shared for job in jobs], self._workers)):
            # a degenerate (hostile) model overflowing float32: never a garbage frame
            raise FormatError("the EL's model gives non-finite values on this frame")
        return [plane for plane, _, _ in plans]

    def _plan(self, luma, frame_index, bit_depth, box) -> tuple[np.ndarray, list, bool]:
        """The enhanced plane (or ``box`` of it) to be, the jobs that fill it, each answering whether its values
        were finite, and whether they are single-threaded runs to share out; bands of rows of the plane, each run
        with the halo and finishing its own rows."""
        luma = np.asarray(luma)
        bit_depth = _bit_depth(luma, bit_depth or self.el.bit_depth)
        self.el.check_frame(luma.shape[0], luma.shape[1], bit_depth)
        if frame_index is not None and self.el.frame_count and not 0 <= frame_index < self.el.frame_count:
            raise InputMismatchError(f"frame {frame_index} beyond the EL's {self.el.frame_count} frames")
        index = self._group_index(frame_index)
        y0, y1, x0, x1 = box or (0, luma.shape[0], 0, luma.shape[1])
        if index is None:
            return luma[y0:y1, x0:x1].copy(), [], False
        ry0, rx0 = (max(0, v - self.halo) // self.block * self.block for v in (y0, x0))
        region = luma[ry0:min(luma.shape[0], y1 + self.halo), rx0:min(luma.shape[1], x1 + self.halo)]
        peak = np.float32((1 << bit_depth) - 1)
        out = np.empty((y1 - y0, x1 - x0), luma.dtype)

        def to_samples(v, o) -> bool:  # the spec's step 5, in place on this call's own float array
            if not _finite(v):
                return False
            np.clip(v, 0, 1, out=v)
            np.multiply(v, peak, out=v)
            np.copyto(o, np.rint(v, out=v), casting="unsafe")
            return True
        if self._as_is(*region.shape):
            # the samples themselves to the session, divided there (the same float32 values): a quarter of the bytes
            # in, no float plane to write here (the light tier's 1080p frame, calls in random order: 1.03-1.06x the
            # bare session against 1.05-1.07x with numpy's division)
            source, depth = region, bit_depth
        elif self._whole(*region.shape):  # floats, extended to the block with the input offset (step 2's zeros)
            h, w = region.shape
            source, depth = np.full((-(-h // self.block) * self.block, -(-w // self.block) * self.block),
                                    self.el.arch.input_offset, np.float32), 0
            np.divide(region, peak, out=source[:h, :w], dtype=np.float32)
        else:  # tiles that bound the memory, one job: each tile in turn on ONNX Runtime's threads
            def tiles() -> bool:
                x = np.divide(region, peak, dtype=np.float32)
                return all(_in_halves(to_samples, self.run_float(x, index)[y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0],
                                      out))
            return out, [tiles], False
        spans, session, shared = self._bands(index, depth, *source.shape, self._beside)

        def band(b0: int, b1: int, r0: int, r1: int) -> bool:  # rows b0..b1 of the region, run on r0..r1
            v = _run(session, np.ascontiguousarray(source[r0:r1])[None, None])[0, 0]
            top, bottom = max(ry0 + b0, y0), min(ry0 + b1, y1)  # the box's rows among them, in the plane
            return top >= bottom or to_samples(v[top - ry0 - r0:bottom - ry0 - r0, x0 - rx0:x1 - rx0],
                                               out[top - y0:bottom - y0])
        return out, [partial(band, *span) for span in spans], shared

    def enhance_frames(self, frames: Iterable[np.ndarray], start: int = 0) -> Iterator[np.ndarray]:
        """Each frame enhanced by its group's model (frame numbers count from ``start``)."""
        for i, frame in enumerate(frames, start):
            yield self.enhance(frame, i)

    def _tiles(self, h: int, w: int, tile: int | None = None) -> tuple[list, list]:
        """The tiling of an h x w plane (multiples of the block). ``tile`` bounds the memory of the full network's
        16 channels a pixel: a network that holds fewer values a pixel (the light tier: 16 channels at a quarter of
        the pixels, 4) takes tiles as much larger in area, so that a 1080p plane runs whole (in two tiles it took
        39 ms, against 31 ms whole)."""
        tile = int(self.tile * max(1.0, (16 / self.el.arch.values_per_pixel) ** 0.5)) if tile is None else max(1, tile)
        return _tiling(h, w, -(-tile // self.block) * self.block, self.halo, self.block)

    def _as_is(self, h: int, w: int) -> bool:
        """Whether an h x w plane goes to a session as it is: in one piece, a multiple of the block (else run_float
        extends or tiles it). Such planes go as samples, the rest as floats."""
        return not (h % self.block or w % self.block) and self._whole(h, w)

    def _whole(self, h: int, w: int) -> bool:
        """Whether an h x w plane runs in one piece."""
        spans_y, spans_x = self._tiles(-(-h // self.block) * self.block, -(-w // self.block) * self.block)
        return len(spans_y) == 1 and len(spans_x) == 1

    def run_float(self, x: np.ndarray, group: int = 0, tile: int | None = None) -> np.ndarray:
        """The network on a float32 plane in [0, 1]. A plane of more than (``tile`` + 2 halo)^2 pixels is cut
        into equal tiles, each run with a halo of the receptive radius in a region of one fixed shape (so one
        shape, one cuDNN search) of at most that many pixels; the halo makes the result equal to the whole
        frame's. A plane that the network's block does not divide is extended at the bottom and right with the
        input offset (zeros after centring, as the spec says) and the output cropped."""
        h, w = x.shape
        if h % self.block or w % self.block:
            x = np.pad(x, ((0, -h % self.block), (0, -w % self.block)),
                       constant_values=np.float32(self.el.arch.input_offset))
        spans_y, spans_x = self._tiles(*x.shape, tile)
        out = np.empty_like(x)
        if len(spans_y) == 1 and len(spans_x) == 1:
            spans, session, _ = self._bands(group, 0, *x.shape, 1)

            def band(y0: int, y1: int, r0: int, r1: int) -> bool:
                out[y0:y1] = _run(session, np.ascontiguousarray(x[None, None, r0:r1]))[0, 0, y0 - r0:y1 - r0]
                return True
            _at_once([partial(band, *span) for span in spans], self._workers)
            return out[:h, :w]
        # tiles one after another, each on ONNX Runtime's threads: the tile bounds the memory of one run
        session = self._session(group, 0, (spans_y[0][3] - spans_y[0][2], spans_x[0][3] - spans_x[0][2]))
        for y0, y1, ry0, ry1 in spans_y:
            for x0, x1, rx0, rx1 in spans_x:
                y = _run(session, np.ascontiguousarray(x[None, None, ry0:ry1, rx0:rx1]))
                out[y0:y1, x0:x1] = y[0, 0, y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0]
        return out[:h, :w]

    def _bands(self, index: int, bit_depth: int, h: int, w: int, beside: int
               ) -> tuple[list, ort.InferenceSession, bool]:
        """The bands of rows an h x w plane runs in, their session, and whether it is single-threaded (its runs
        share the workers with each other or, ``beside`` > 1, with other planes'). Bands pay for light networks,
        whose thin convolutions and shuffles ONNX Runtime's threads share out poorly (the light tier's 1080p luma:
        1.63x one thread on 2 cores, two bands at once 1.9x); on the full network's wide ones its threads reach
        1.88x and two bands, each with its halo of 31 rows, were slower (768x576: 239 against 219 ms). A band's
        halo is work done twice: a plane is cut only where each band keeps 8 halos' rows. U and V (a quarter of a
        4:2:0 frame each) run whole beside each other on 2 cores: 0.97x the time in bands."""
        cheap = self._workers > 1 and self.el.arch.macs_per_pixel <= BANDS_UP_TO_MACS
        count = min(self._workers // beside, h // max(MIN_BAND_ROWS, 8 * self.halo)) if cheap else 1
        spans = _spans(h, max(1, count), self.halo, self.block * self._tail_block)
        shared = cheap and (len(spans) > 1 or beside > 1)
        return spans, self._session(index, bit_depth, (spans[0][3] - spans[0][2], w), shared), shared


MIN_BAND_ROWS = 128  # no band has fewer rows (a QCIF plane ran 1.3x slower in two bands of 72)
BANDS_UP_TO_MACS = 4096  # networks of at most this many MAC a pixel run in bands (the light tier's: 864)
_SECONDS: dict[tuple, float] = {}  # frame_seconds' timings, per process


@lru_cache(maxsize=None)
def _helper(pid: int) -> ThreadPoolExecutor:  # per process: a forked child inherits no worker thread
    return ThreadPoolExecutor(1, thread_name_prefix="mtvir-convert")


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=None)
def _pool(pid: int, size: int) -> ThreadPoolExecutor:  # per process: a forked child inherits no worker thread
    return ThreadPoolExecutor(size, thread_name_prefix="mtvir-band")


def _at_once(jobs: list, workers: int) -> list:
    """Each job's answer, the jobs shared out to ``workers`` threads (this one among them), each taking the next
    job as it ends one; every job has ended when this returns or raises (the first error). Jobs never wait for
    other jobs, so one pool shared by every Enhancer cannot deadlock."""
    if workers <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    answers, lock, todo = [None] * len(jobs), threading.Lock(), iter(enumerate(jobs))

    def drain() -> None:
        while True:
            with lock:
                i, job = next(todo, (None, None))
            if job is None:
                return
            answers[i] = job()
    helpers = [_pool(os.getpid(), workers - 1).submit(drain) for _ in range(min(workers, len(jobs)) - 1)]
    try:
        drain()
    finally:
        wait(helpers)
    for h in helpers:
        h.result()  # a helper's error
    return answers


def _in_halves(fn, *arrays: np.ndarray) -> list:
    """``fn(*arrays)`` on the top and the bottom half of the rows at once (numpy releases the GIL): around the
    session, a large plane's conversions would otherwise run on one core while ONNX Runtime's threads sleep."""
    rows = arrays[0].shape[0]
    if arrays[0].size < 1 << 18:
        return [fn(*arrays)]
    job = _helper(os.getpid()).submit(fn, *(a[rows // 2:] for a in arrays))
    return [fn(*(a[:rows // 2] for a in arrays)), job.result()]


def _finite(y: np.ndarray) -> bool:
    """Whether every value is finite: a dot product (one fast pass) is, unless a value is NaN or infinite or the
    squares overflow, and only then are the extremes looked at."""
    flat = y.reshape(-1) if y.flags.c_contiguous else np.ravel(y)
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.dot(flat, flat)
    return bool(np.isfinite(squares)) or bool(np.isfinite(y.min()) and np.isfinite(y.max()))


def _run(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    """One run of the session, its failures (ONNX Runtime's own exceptions: a CUDA out-of-memory, a provider that
    fails mid-stream) as a ``RuntimeProviderError``, so that a player's fallback catches every one."""
    try:
        return session.run(None, {"luma" if x.dtype == np.float32 else "samples": x})[0]
    except Exception as exc:  # onnxruntime's pybind errors share no public base class
        raise RuntimeProviderError(f"ONNX Runtime failed on a frame ({session.get_providers()[0]}): "
                                   f"{exc}") from None


@lru_cache(maxsize=64)
def _tiling(h: int, w: int, tile: int, halo: int, block: int = 1) -> tuple[list, list]:
    """The spans along each dimension of the tiling whose regions, each at most (tile + 2 halo)^2 pixels (the
    memory bound), add up to the fewest pixels: the halos are work done twice. A 1280x720 frame runs whole (cut
    to at most ``tile`` on each side it took two regions of 702x720: 1.10x the work), 1920x1080 in two regions of
    1022x1080. With a ``block`` (dividing h, w, tile and halo), tiles are multiples of it."""
    limit = (tile + 2 * halo) ** 2

    def region(n: int, count: int) -> int:
        return n if count == 1 else _size(n, count, block) + 2 * halo

    def counts(n: int) -> int:  # tiles of at most ``tile`` on this side: always within the bound
        return 1 if n <= tile + 2 * halo else -(-n // tile)

    most_rows, side_cx = counts(h), counts(w)
    best = (most_rows * side_cx * region(h, most_rows) * region(w, side_cx), most_rows * side_cx, most_rows, side_cx)
    for cy in range(1, most_rows + 1):
        ry = region(h, cy)
        if cy > 1 and ry > h:
            continue  # no smaller than the plane: one span does better
        room = limit // ry - 2 * halo  # the widest tile beside a region this tall
        cx = 1 if ry * w <= limit else (-(-w // room) if room >= 1 else 0)
        if cx and (cx == 1 or region(w, cx) <= w):
            best = min(best, (cy * cx * ry * region(w, cx), cy * cx, cy, cx))
    return _spans(h, best[2], halo, block), _spans(w, best[3], halo, block)


def _size(n: int, count: int, block: int) -> int:
    """Length of each of ``count`` tiles along ``n``, a multiple of ``block``."""
    return -(-(-(-n // count)) // block) * block


def _spans(n: int, count: int, halo: int, block: int = 1) -> list[tuple[int, int, int, int]]:
    """(start, end, region start, region end) along one dimension: ``count`` equal tiles, regions of one fixed
    length (tile + 2 halo) placed inside the frame; a region edge is either a frame edge or at least ``halo``
    away."""
    if count == 1:
        return [(0, n, 0, n)]
    size = _size(n, count, block)
    region = size + 2 * halo
    spans = []
    for start in range(0, n, size):
        end = min(start + size, n)
        r0 = min(max(start - halo, 0), n - region)
        spans.append((start, end, r0, r0 + region))
    return spans


def _bit_depth(luma: np.ndarray, declared: int) -> int:
    if luma.ndim != 2 or luma.shape[0] < 1 or luma.shape[1] < 1:
        raise InputMismatchError(f"expected an H x W luma plane, got shape {luma.shape}")
    if luma.dtype == np.uint8:
        if declared not in (0, 8):
            raise InputMismatchError(f"a uint8 plane for a {declared}-bit EL")
        return 8
    if luma.dtype == np.uint16:
        depth = declared or 10
        if depth <= 8:
            raise InputMismatchError("a uint16 plane for an 8-bit EL")
        if luma.size and int(luma.max()) >= (1 << depth):
            raise InputMismatchError(f"sample values beyond {depth} bits")
        return depth
    raise InputMismatchError(f"luma must be uint8 or uint16, not {luma.dtype}")
