"""Video files through PyAV (the optional ``mtvir[video]`` extra): 4:2:0 planes out, in display order.

The ``Enhancer`` never needs this module; ``mtvir-decode``, the examples and the encoder do.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import MtvirError

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


class VideoError(MtvirError):
    """A video file cannot be opened or decoded."""


def reason(exc: Exception) -> str:
    """FFmpeg's words for an error, without the errno number that means nothing to a person."""
    return getattr(exc, "strerror", None) or str(exc)


def _av():
    try:
        import av
    except ImportError:
        raise VideoError("reading video files needs PyAV: pip install 'mtvir[video]'") from None
    return av


@contextmanager
def pyav_errors(what: str):
    """PyAV's failures on a damaged or unreadable file as one ``VideoError`` saying ``what`` failed: FFmpeg's own
    errors, and the Python ones PyAV raises on damaged containers (a ``UnicodeDecodeError`` for metadata that is
    not UTF-8, a ``ValueError`` for a field out of range)."""
    av = _av()
    try:
        yield av
    except (av.error.FFmpegError, ValueError, OverflowError) as exc:
        raise VideoError(f"{what}: {reason(exc)}") from None


@dataclass
class StreamInfo:
    width: int
    height: int
    bit_depth: int
    fps: Fraction
    frames: int  # as the container declares it; 0 when unknown


def depth_of(pix_fmt: str) -> int:
    """The bit depth this module delivers a stream of ``pix_fmt`` at: 8, or 10 for every deeper format."""
    return 10 if any(t in pix_fmt for t in ("10", "12", "16")) else 8


def sample_depth(plane: np.ndarray) -> int:
    """The bit depth of a plane from this module (``planes``, ``frames``): 8 for uint8, 10 for uint16. The one
    place that knows it: deeper sources are delivered at 10 bits, and nothing else may guess a depth from a
    dtype (the EL format itself carries any depth from 8 to 16)."""
    return 8 if plane.dtype == np.uint8 else 10


def planes(frame) -> Planes:
    """A PyAV frame as 4:2:0 planes: uint8 at 8 bits, uint16 holding 10-bit values above (a 12 or 16-bit source is
    converted to 10 bits)."""
    target = "yuv420p" if depth_of(frame.format.name) == 8 else "yuv420p10le"
    if frame.format.name != target:
        frame = frame.reformat(format=target)
    dtype = np.dtype(np.uint8) if target == "yuv420p" else np.dtype("<u2")
    out = []
    for plane in frame.planes:
        row = plane.line_size // dtype.itemsize
        arr = np.frombuffer(plane, dtype=dtype).reshape(-1, row)[: plane.height, : plane.width]
        out.append(arr.astype(np.uint8 if dtype == np.uint8 else np.uint16))
    return tuple(out)


def to_frame(planes: Planes):
    """4:2:0 planes (uint8, or uint16 holding 10-bit values) as a PyAV frame to encode."""
    av = _av()
    y = planes[0]
    frame = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p" if y.dtype == np.uint8 else "yuv420p10le")
    for plane, data in zip(frame.planes, planes):
        dtype = np.dtype(np.uint8) if data.dtype == np.uint8 else np.dtype("<u2")
        row = plane.line_size // dtype.itemsize
        np.frombuffer(plane, dtype=dtype).reshape(-1, row)[: data.shape[0], : data.shape[1]] = data
    return frame


def probe(path: str | os.PathLike) -> StreamInfo:
    """Size, bit depth, rate and declared frame count of the first video stream."""
    av = _av()
    container = _open(av, path)
    with container:
        s = container.streams.video[0]
        fmt = s.codec_context.pix_fmt or "yuv420p"
        fps = Fraction(s.average_rate) if s.average_rate else Fraction(30)
        return StreamInfo(s.codec_context.width, s.codec_context.height, depth_of(fmt), fps, s.frames or 0)


def _open(av, path):
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"no such video file: {path}")
    with pyav_errors(f"cannot open {path} as a video"):
        container = av.open(str(path))
    video = container.streams.video
    if not video or video[0].codec_context is None:  # a damaged header can leave a stream without a codec
        container.close()
        raise VideoError(f"{path} has no decodable video stream")
    return container


def frames(path: str | os.PathLike, limit: int | None = None) -> Iterator[Planes]:
    """Stream the frames of anything PyAV opens (decoders return them in display order)."""
    av = _av()
    container = _open(av, path)
    with container:
        count = 0
        with pyav_errors(f"cannot decode {path}"):
            for frame in container.decode(container.streams.video[0]):
                yield planes(frame)
                count += 1
                if limit is not None and count >= limit:
                    return
        if not count:
            raise VideoError(f"{path} holds no decodable frame")


def packet_bits(path: str | os.PathLike) -> list[int]:
    """The bits of each frame of the first video stream (its packets' sizes in display order), without decoding."""
    av = _av()
    container = _open(av, path)
    with container, pyav_errors(f"cannot read {path}"):
        packets = [(p.pts, 8 * p.size) for p in container.demux(container.streams.video[0]) if p.size]
    return [b for _, b in sorted(packets)]


def decode_with_bits(path: str | os.PathLike) -> tuple[list[Planes], list[int], Fraction]:
    """Every frame and the bits of each (its packet's size), both in display order: R_i of a BL."""
    decoded, bits = list(frames(path)), packet_bits(path)
    if len(bits) != len(decoded):
        raise VideoError(f"{path} has {len(bits)} packets for {len(decoded)} frames")
    return decoded, bits, probe(path).fps
