"""YUV4MPEG2 (Y4M) reading and writing in plain numpy: the raw format players and the C example exchange.

4:2:0 only (``C420jpeg``/``C420``/``C420mpeg2``/``C420paldv`` at 8 bits, ``C420p10``/``C420p12`` above), samples
of more than 8 bits as little-endian uint16, as FFmpeg writes them.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .errors import FormatError

MAX_SIDE = 16384  # refuse absurd headers before allocating a frame
_DEPTHS = {"420jpeg": 8, "420": 8, "420mpeg2": 8, "420paldv": 8, "420p10": 10, "420p12": 12}


@dataclass
class Y4mHeader:
    width: int
    height: int
    bit_depth: int = 8
    fps: str = "30:1"

    def line(self) -> bytes:
        c = "420jpeg" if self.bit_depth == 8 else f"420p{self.bit_depth}"
        return f"YUV4MPEG2 W{self.width} H{self.height} F{self.fps} Ip A1:1 C{c}\n".encode()

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bit_depth == 8 else np.dtype("<u2")

    def shapes(self) -> list[tuple[int, int]]:
        cw, ch = (self.width + 1) // 2, (self.height + 1) // 2
        return [(self.height, self.width), (ch, cw), (ch, cw)]


def parse_header(line: bytes) -> Y4mHeader:
    words = line.decode("ascii", "replace").split()
    if not words or words[0] != "YUV4MPEG2":
        raise FormatError("not a Y4M stream (no YUV4MPEG2 signature)")
    fields = {w[0]: w[1:] for w in words[1:] if w}
    try:
        width, height = int(fields["W"]), int(fields["H"])
    except (KeyError, ValueError):
        raise FormatError("Y4M header without a valid W and H") from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise FormatError(f"Y4M frame size {width}x{height} out of range")
    colour = fields.get("C", "420jpeg")
    if colour not in _DEPTHS:
        raise FormatError(f"Y4M colour space C{colour} not supported (4:2:0 only)")
    return Y4mHeader(width, height, _DEPTHS[colour], fields.get("F", "30:1"))


def read(stream: BinaryIO) -> tuple[Y4mHeader, Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """The header and an iterator over (Y, U, V) planes."""
    header = parse_header(stream.readline(256))
    shapes = header.shapes()
    size = sum(h * w for h, w in shapes) * header.dtype.itemsize

    def frames():
        while True:
            tag = stream.readline(256)
            if not tag:
                return
            if not tag.startswith(b"FRAME"):
                raise FormatError("Y4M frame without its FRAME marker")
            data = stream.read(size)
            if len(data) != size:
                raise FormatError("Y4M stream ends inside a frame")
            planes, at = [], 0
            for h, w in shapes:
                n = h * w * header.dtype.itemsize
                plane = np.frombuffer(data, header.dtype, h * w, at).reshape(h, w)
                planes.append(plane.astype(np.uint8 if header.bit_depth == 8 else np.uint16))  # native order
                at += n
            yield tuple(planes)

    return header, frames()


def read_file(path: str | os.PathLike) -> tuple[Y4mHeader, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    with open(path, "rb") as f:
        header, frames = read(f)
        return header, list(frames)


class Writer:
    """``with Writer(stream, header) as w: w.write(y, u, v)``."""

    def __init__(self, stream: BinaryIO, header: Y4mHeader):
        self.stream, self.header = stream, header
        stream.write(header.line())

    def write(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        self.stream.write(b"FRAME\n")
        for plane, shape in zip((y, u, v), self.header.shapes()):
            if plane.shape != shape:
                raise FormatError(f"plane of shape {plane.shape} in a Y4M stream of {shape}")
            self.stream.write(np.ascontiguousarray(plane, self.header.dtype).tobytes())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.flush()
