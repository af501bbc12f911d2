"""A minimal player loop: PyAV decodes the base layer, the SDK enhances each luma plane, frames go out.

    python examples/player.py out/carphone.mp4 out/carphone.mtvir --frame 60 --png side_by_side.png

Headless: instead of a window it writes BL | BL+EL of one frame side by side as a grey PNG. A missing or broken
EL only costs a warning; the BL frames then come out untouched.
"""
import argparse
import struct
import zlib

import numpy as np

from mtvir_decoder import video
from mtvir_decoder.fallback import SafeEnhancer


def write_png(path, grey: np.ndarray) -> None:
    """8-bit greyscale PNG with nothing but zlib (no imaging library needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + row.tobytes() for row in grey.astype(np.uint8))
    h, w = grey.shape
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("bl"), p.add_argument("el", nargs="?")
p.add_argument("--frame", type=int, default=0, help="the frame shown side by side")
p.add_argument("--png", default="side_by_side.png")
a = p.parse_args()

info = video.probe(a.bl)
enhancer = SafeEnhancer(a.el, width=info.width, height=info.height, bit_depth=info.bit_depth,
                        frame_count=info.frames)
for i, (y, u, v) in enumerate(video.frames(a.bl)):
    out = enhancer.enhance(y, i)  # a real player hands (out, u, v) to its renderer here
    if i == a.frame:
        shift = info.bit_depth - 8
        write_png(a.png, np.hstack([y >> shift, out >> shift]))
        print(f"frame {i}: BL | BL+EL written to {a.png} (EL {'on' if enhancer.active else 'off'})")
print(f"{i + 1} frames played")
