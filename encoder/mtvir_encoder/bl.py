"""The base layer (BL): a standard bitstream through PyAV (libx265, libsvtav1, libx264) and its reconstruction.

Frames are YUV 4:2:0 planes as numpy arrays (uint8 for 8-bit, uint16 for 10-bit); the codecs need even sizes
(the EL itself takes any size). The BL is
written as an ordinary container file, decoded back with PyAV, and checked frame-exact against the input
(count and size); R_i, the bits of frame i, are the sizes of its packets in display order.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mtvir_decoder import video as video_io
from mtvir_decoder.metrics import psnr  # noqa: F401 - bl.psnr, as the encoder has always called it
from mtvir_decoder.files import partial_name
from mtvir_decoder.video import VideoError

CODECS = {"x265": "libx265", "svtav1": "libsvtav1", "x264": "libx264"}
QP_RANGES = {"x265": (0, 51), "svtav1": (1, 63), "x264": (0, 51)}
CONFIGS = ("ra", "ai")


@dataclass
class Video:
    y: list[np.ndarray]
    u: list[np.ndarray]
    v: list[np.ndarray]
    fps: Fraction = Fraction(30)
    bit_depth: int = 8

    def __len__(self) -> int:
        return len(self.y)

    @property
    def height(self) -> int:
        return self.y[0].shape[0]

    @property
    def width(self) -> int:
        return self.y[0].shape[1]

    @property
    def pix_fmt(self) -> str:
        return "yuv420p" if self.bit_depth == 8 else f"yuv420p{self.bit_depth}le"


@dataclass
class BaseLayer:
    path: Path
    codec: str
    qp: int
    config: str
    bits: list[int]  # R_i per frame, display order
    recon: Video
    qps: list[int] = field(default_factory=list)  # per-frame QP (the fixed QP, offset for B frames where known)


def read_video(path: str | os.PathLike, frames: int | None = None) -> Video:
    """Every frame (or the first ``frames``) of anything PyAV opens, as 8- or 10-bit 4:2:0 planes."""
    info = video_io.probe(path)
    y, u, v = [], [], []
    for planes in video_io.frames(path, frames):
        y.append(planes[0]), u.append(planes[1]), v.append(planes[2])
    return Video(y, u, v, info.fps, video_io.sample_depth(y[0]))


def keyint(config: str, fps: Fraction) -> int:
    """Frames from one intra picture to the next: 1 (all intra) or about one second, a multiple of 8."""
    return 1 if config == "ai" else max(8, int(round(float(fps) / 8)) * 8)


def _options(codec: str, qp: int, config: str, fps: Fraction) -> dict[str, str]:
    period = keyint(config, fps)
    if codec == "x265":
        params = f"qp={qp}:info=0:keyint={period}:min-keyint={period}:log-level=error"
        if config == "ai":
            params += ":bframes=0"
        return {"preset": "medium", "tune": "psnr", "x265-params": params}
    if codec == "x264":
        return {"preset": "medium", "tune": "psnr", "qp": str(qp),
                "x264-params": f"keyint={period}:min-keyint={period}" + (":bframes=0" if config == "ai" else "")}
    return {"preset": "8", "qp": str(qp), "svtav1-params": f"keyint={period}"}


def _sane_dts(packets, last: list):
    """FFmpeg's libx265 wrapper sometimes gives a packet flushed at the end an uninitialised dts (seen with a
    one-frame clip: dts -4.6e18, or pts < dts), which the MP4 muxer refuses. Such a dts (after pts, not after the
    previous one, or further back than any reorder delay) is replaced by the smallest valid one."""
    for p in packets:
        if p.pts is not None and (p.dts is None or p.dts > p.pts or p.dts < p.pts - 64
                                  or (last[0] is not None and p.dts <= last[0])):
            p.dts = p.pts if last[0] is None else min(p.pts, last[0] + 1)
        last[0] = p.dts
    return packets


DECODERS = {"libx265": "hevc", "libx264": "h264", "libsvtav1": "libdav1d"}


@contextlib.contextmanager
def scheduling_kept():
    """The calling thread's scheduling policy as it was, whatever an encoder does to it. SVT-AV1, run as root, makes
    the thread that opens it real-time (SCHED_FIFO, priority 99), and every thread and process started from it
    afterwards inherits that: learning's torch threads, ONNX Runtime's, a browser a test starts. Threads that
    spin-wait then starve the ones they wait for on 2 cores: playbacks in Chromium hung at 100 % CPU."""
    try:
        before = os.sched_getscheduler(0), os.sched_getparam(0)
    except (AttributeError, OSError):  # no such call on this system (macOS, Windows)
        yield
        return
    try:
        yield
    finally:
        if (os.sched_getscheduler(0), os.sched_getparam(0)) != before:
            os.sched_setscheduler(0, *before)


class Coder:
    """A BL coded as frames stream in: each frame is encoded, muxed into ``path`` and decoded back at once, so
    neither the input nor the reconstruction is ever held whole. ``push`` and ``finish`` return the
    reconstructions that became available, in display order (after the encoder's lookahead delay);
    ``bits[i]`` is the size of frame i's packet as the encoder gave it (the file may store it a few bytes longer
    or shorter: ``video.packet_bits`` reads those). The caller owns ``path`` (a temporary, renamed when done)."""

    def __init__(self, path: str | os.PathLike, codec: str, qp: int, config: str, fps: Fraction, width: int,
                 height: int, bit_depth: int):
        if codec not in CODECS:
            raise VideoError(f"codec {codec!r} unknown: one of {', '.join(CODECS)}")
        if config not in CONFIGS:
            raise VideoError(f"config {config!r} unknown: ra (random access) or ai (all intra)")
        if width % 2 or height % 2:  # 4:2:0 HEVC, AV1 and H.264 crop only in steps of 2 luma samples
            raise VideoError(f"{codec} cannot code a {width}x{height} 4:2:0 frame: sizes must be even "
                             "(crop or pad the input)")
        self.codec, self.fps, self.bit_depth = codec, fps, bit_depth
        self.bits: dict[int, int] = {}
        self._count, self._last_dts, self._decoder = 0, [None], None
        path = Path(path)
        try:
            self._out = av.open(str(path), "w", format="mp4" if (path.suffix or ".mp4") == ".mp4" else None)
            self._stream = self._out.add_stream(CODECS[codec], rate=fps, options=_options(codec, qp, config, fps))
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p" if bit_depth == 8 else f"yuv420p{bit_depth}le"
            if codec == "x265":
                self._stream.codec_tag = "hvc1"  # what players expect of HEVC in MP4
        except av.error.FFmpegError as exc:
            raise VideoError(f"{codec} could not start the BL: {video_io.reason(exc)}") from None

    def push(self, planes: video_io.Planes) -> list[video_io.Planes]:
        frame = video_io.to_frame(planes)
        frame.pts = self._count
        frame.time_base = 1 / self.fps
        self._count += 1
        return self._emit(frame)

    def finish(self) -> list[video_io.Planes]:
        """Flush the encoder and the decoder, close the file: the last reconstructions."""
        out = self._emit(None)
        try:
            out += [video_io.planes(f) for f in self._decoder.decode(None)] if self._decoder else []
            self._out.close()
        except av.error.FFmpegError as exc:
            raise VideoError(f"{self.codec} could not finish the BL: {video_io.reason(exc)}") from None
        return out

    def close(self) -> None:
        """Release the file on an early exit (``finish`` closes it otherwise)."""
        try:
            self._out.close()
        except Exception:  # already closed, or half-written: the caller deletes it
            pass

    def _emit(self, frame) -> list[video_io.Planes]:
        try:
            with scheduling_kept():  # the first frame opens the encoder
                packets = _sane_dts(self._stream.encode(frame), self._last_dts)
            out = []
            for p in packets:
                self.bits[int(p.pts)] = 8 * p.size
                if self._decoder is None:  # the decoder takes the headers the muxer keeps out of the packets
                    self._decoder = av.CodecContext.create(DECODERS[CODECS[self.codec]], "r")
                    self._decoder.extradata = self._stream.codec_context.extradata
                out += [video_io.planes(f) for f in self._decoder.decode(p)]
            self._out.mux(packets)
        except av.error.FFmpegError as exc:
            raise VideoError(f"{self.codec} could not code the BL: {video_io.reason(exc)}") from None
        return out


class Joiner:
    """One MP4 file from closed BL chunks (each a self-contained MP4 starting with an intra picture, coded with the
    same settings), in order: their packets are copied with timestamps moved to where each chunk starts. The
    result is one ordinary stream; chunks whose parameter sets differ cannot share one and are refused."""

    def __init__(self, path: str | os.PathLike, fps: Fraction):
        self.path, self.fps, self._stream, self._extradata, self._frames = Path(path), fps, None, None, 0
        self._out = av.open(str(self.path), "w", format="mp4")

    def add(self, chunk: bytes) -> int:
        """Append a chunk; returns the frames it holds."""
        count = 0
        try:
            with av.open(io.BytesIO(chunk)) as c:
                s = c.streams.video[0]
                if self._stream is None:
                    self._stream, self._extradata = self._out.add_stream_from_template(s), s.codec_context.extradata
                elif s.codec_context.extradata != self._extradata:
                    raise VideoError("BL chunks with different parameter sets cannot be joined into one stream")
                offset = int(Fraction(self._frames) / self.fps / s.time_base)
                for p in c.demux(s):
                    if p.size:
                        p.pts, p.dts, p.stream = p.pts + offset, p.dts + offset, self._stream
                        self._out.mux(p)
                        count += 1
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot join a BL chunk: {video_io.reason(exc)}") from None
        self._frames += count
        return count

    def close(self) -> None:
        self._out.close()


def encode(video: Video, path: str | os.PathLike, codec: str = "x265", qp: int = 37, config: str = "ra") -> Path:
    """Write the BL file atomically (temporary file in the same folder, then rename)."""
    return _code(video, path, codec, qp, config)[0]


def _code(video: Video, path, codec, qp, config) -> tuple[Path, list[video_io.Planes]]:
    path = Path(path)
    # created by the muxer (so it gets the permissions the umask gives), which picks the container by the suffix
    tmp = partial_name(path if path.suffix else path.with_suffix(".mp4"))
    coder = None
    try:
        coder = Coder(tmp, codec, qp, config, video.fps, video.width, video.height, video.bit_depth)
        recon = []
        for i in range(len(video)):
            recon += coder.push((video.y[i], video.u[i], video.v[i]))
        recon += coder.finish()
        os.replace(tmp, path)
    finally:
        if coder is not None:
            coder.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path, recon


def rd_slope(frames: list[video_io.Planes], codec: str, qp: int, config: str, fps: Fraction, bit_depth: int,
             delta: int = 2) -> float | None:
    """The BL's own rate-distortion slope at ``qp`` on these frames, -dD/dR in luma SSE per bit: the secant between
    QP - ``delta`` and QP + ``delta``, each a fresh encode of the frames with the BL's settings. This is what a bit
    of EL is worth on the BD-rate curve of BL+EL against the BL (rate of all planes, PSNR of luma). None where
    there is no slope (content so flat that a coarser QP saves no bits or costs no distortion)."""
    lo, hi = max(qp - delta, QP_RANGES[codec][0]), min(qp + delta, QP_RANGES[codec][1])
    height, width = frames[0][0].shape
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for q in (lo, hi):
            coder = Coder(Path(tmp) / f"probe{q}.mp4", codec, q, config, fps, width, height, bit_depth)
            try:
                recon = [r for planes in frames for r in coder.push(planes)] + coder.finish()
            finally:
                coder.close()
            sse = sum(int(np.sum((r[0].astype(np.int64) - f[0]) ** 2)) for r, f in zip(recon, frames))
            points.append((sum(coder.bits.values()), sse))
    (rate_lo, sse_lo), (rate_hi, sse_hi) = points
    if rate_lo <= rate_hi or sse_hi <= sse_lo:
        return None
    return (sse_hi - sse_lo) / (rate_lo - rate_hi)


def decode(path: str | os.PathLike) -> tuple[Video, list[int]]:
    """The BL's reconstruction and the bits of each frame (packet sizes in display order)."""
    decoded, bits, fps = video_io.decode_with_bits(path)
    depth = video_io.sample_depth(decoded[0][0])
    return Video([p[0] for p in decoded], [p[1] for p in decoded], [p[2] for p in decoded], fps, depth), bits


def code(video: Video, path: str | os.PathLike, codec: str = "x265", qp: int = 37, config: str = "ra") -> BaseLayer:
    """Encode, decode back and check the BL is frame-exact with the input."""
    path, recon = _code(video, path, codec, qp, config)
    bits = video_io.packet_bits(path)  # the payload as stored (the muxer may rewrite start codes)
    if len(recon) != len(video) or len(bits) != len(video):
        raise VideoError(f"BL decodes to {len(recon)} frames ({len(bits)} packets), expected {len(video)}")
    rv = Video([p[0] for p in recon], [p[1] for p in recon], [p[2] for p in recon], video.fps, video.bit_depth)
    return BaseLayer(path, codec, qp, config, bits, rv, [qp] * len(video))
