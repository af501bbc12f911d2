"""The base layer (BL): a standard bitstream through PyAV (libx265, libsvtav1, libx264) and its reconstruction.

Frames are YUV 4:2:0 planes as numpy arrays (uint8 for 8-bit, uint16 for 10-bit); the codecs need even sizes
(the EL itself takes any size). The BL is
written as an ordinary container file, decoded back with PyAV, and checked frame-exact against the input
(count and size); R_i, the bits of frame i, are the sizes of its packets in display order.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mtvir_decoder import video as video_io
from mtvir_decoder.metrics import psnr  # noqa: F401 - bl.psnr, as the encoder has always called it
from mtvir_decoder.video import VideoError

CODECS = {"x265": "libx265", "svtav1": "libsvtav1", "x264": "libx264"}
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

    @property
    def payload_bytes(self) -> int:
        return sum(self.bits) // 8

    def kbps(self) -> float:
        return sum(self.bits) * float(self.recon.fps) / len(self.bits) / 1000


def read_video(path: str | os.PathLike, frames: int | None = None) -> Video:
    """Every frame (or the first ``frames``) of anything PyAV opens, as 8- or 10-bit 4:2:0 planes."""
    info = video_io.probe(path)
    y, u, v = [], [], []
    for planes in video_io.frames(path, frames):
        y.append(planes[0]), u.append(planes[1]), v.append(planes[2])
    return Video(y, u, v, info.fps, 8 if y[0].dtype == np.uint8 else 10)


def _options(codec: str, qp: int, config: str, fps: Fraction) -> dict[str, str]:
    keyint = 1 if config == "ai" else max(8, int(round(float(fps) / 8)) * 8)  # intra period about 1 s
    if codec == "x265":
        params = f"qp={qp}:info=0:keyint={keyint}:min-keyint={keyint}:log-level=error"
        if config == "ai":
            params += ":bframes=0"
        return {"preset": "medium", "tune": "psnr", "x265-params": params}
    if codec == "x264":
        return {"preset": "medium", "tune": "psnr", "qp": str(qp),
                "x264-params": f"keyint={keyint}:min-keyint={keyint}" + (":bframes=0" if config == "ai" else "")}
    return {"preset": "8", "qp": str(qp), "svtav1-params": f"keyint={keyint}"}


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


def encode(video: Video, path: str | os.PathLike, codec: str = "x265", qp: int = 37, config: str = "ra") -> Path:
    """Write the BL file atomically (temporary file in the same folder, then rename)."""
    if codec not in CODECS:
        raise VideoError(f"codec {codec!r} unknown: one of {', '.join(CODECS)}")
    if config not in CONFIGS:
        raise VideoError(f"config {config!r} unknown: ra (random access) or ai (all intra)")
    if video.width % 2 or video.height % 2:  # 4:2:0 HEVC, AV1 and H.264 crop only in steps of 2 luma samples
        raise VideoError(f"{codec} cannot code a {video.width}x{video.height} 4:2:0 frame: sizes must be even "
                         "(crop or pad the input)")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".mp4", dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, "w", format="mp4" if (path.suffix or ".mp4") == ".mp4" else None) as out:
            stream = out.add_stream(CODECS[codec], rate=video.fps, options=_options(codec, qp, config, video.fps))
            stream.width, stream.height, stream.pix_fmt = video.width, video.height, video.pix_fmt
            if codec == "x265":
                stream.codec_tag = "hvc1"  # what players expect of HEVC in MP4
            last = [None]  # the previous packet's dts
            for i in range(len(video)):
                frame = video_io.to_frame((video.y[i], video.u[i], video.v[i]))
                frame.pts = i
                frame.time_base = 1 / video.fps
                out.mux(_sane_dts(stream.encode(frame), last))
            out.mux(_sane_dts(stream.encode(None), last))
        os.replace(tmp, path)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{codec} could not code the BL: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def decode(path: str | os.PathLike) -> tuple[Video, list[int]]:
    """The BL's reconstruction and the bits of each frame (packet sizes in display order)."""
    decoded, bits, fps = video_io.decode_with_bits(path)
    depth = 8 if decoded[0][0].dtype == np.uint8 else 10
    return Video([p[0] for p in decoded], [p[1] for p in decoded], [p[2] for p in decoded], fps, depth), bits


def code(video: Video, path: str | os.PathLike, codec: str = "x265", qp: int = 37, config: str = "ra") -> BaseLayer:
    """Encode, decode back and check the BL is frame-exact with the input."""
    encode(video, path, codec, qp, config)
    recon, bits = decode(path)
    if len(recon) != len(video) or (recon.height, recon.width) != (video.height, video.width):
        raise VideoError(f"BL decodes to {len(recon)} frames of {recon.width}x{recon.height}, "
                         f"expected {len(video)} of {video.width}x{video.height}")
    return BaseLayer(Path(path), codec, qp, config, bits, recon, [qp] * len(video))


