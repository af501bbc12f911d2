"""A minimal player loop: PyAV decodes the base layer, the SDK enhances each frame's planes, frames go out.

    python examples/player.py out/carphone.mp4 out/carphone.mtvir --frame 60 --reference ORIGINAL --png look.png

Headless: instead of a window it writes a picture of one frame to judge the EL by eye: the whole frame (BL,
BL+EL and, with --reference, the original) with the region where the EL changes most framed, and that region
magnified below, in colour, each labelled (with its PSNR-Y and PSNR-YUV against the original when given). Needs
matplotlib for the labels; without it the magnified luma regions alone go into the PNG. A missing or broken EL only costs a warning; the BL
frames then come out untouched.
"""
import argparse
import struct
import zlib

import numpy as np

from mtvir_decoder import video
from mtvir_decoder.fallback import SafeEnhancer
from mtvir_decoder.metrics import psnr


def most_changed(a, b, size: int) -> tuple[int, int]:
    """Top-left corner of the size x size window where the change between frames ``a`` and ``b`` (Y, U, V; chroma
    counted on the luma grid) sums highest (an integral image)."""
    h, w = a[0].shape
    d = np.abs(a[0].astype(np.int64) - b[0])
    for k in (1, 2):
        d += np.kron(np.abs(a[k].astype(np.int64) - b[k]), np.ones((2, 2), np.int64))[:h, :w]
    s = np.pad(d, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    h, w = d.shape
    size_y, size_x = min(size, h), min(size, w)
    sums = s[size_y:, size_x:] - s[:-size_y, size_x:] - s[size_y:, :-size_x] + s[:-size_y, :-size_x]
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    return int(y), int(x)


def write_png(path, grey: np.ndarray) -> None:
    """8-bit greyscale PNG with nothing but zlib (when matplotlib is missing)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + row.tobytes() for row in grey.astype(np.uint8))
    h, w = grey.shape
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def rgb(planes) -> np.ndarray:
    """A frame's planes as 8-bit RGB, as a player shows them (swscale, BT.601)."""
    return video.to_frame(planes).to_ndarray(format="rgb24")


def picture(path, panels: list[tuple[str, tuple]], peak: int, crop: int, zoom: int) -> None:
    """Whole frames on top with the most changed region framed; that region magnified below, labelled."""
    y0, x0 = most_changed(panels[0][1], panels[1][1], crop)
    box = (slice(y0, y0 + crop), slice(x0, x0 + crop))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        write_png(path, np.hstack([np.kron(p[0][box], np.ones((zoom, zoom))) * 255 / peak for _, p in panels]))
        print("(matplotlib is not installed: the PNG holds the magnified regions, unlabelled, left to right: "
              + ", ".join(label for label, _ in panels) + ")")
        return
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 8.4), squeeze=False)
    for k, (label, planes) in enumerate(panels):
        top, bottom = axes[0][k], axes[1][k]
        plane = rgb(planes)
        top.imshow(plane, interpolation="nearest")
        top.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), crop, crop, fill=False, edgecolor="red", lw=1.5))
        top.set_title(label, fontsize=11)
        bottom.imshow(plane[box], interpolation="nearest")
        bottom.set_title(f"{label.split('  ')[0]}: the {crop}x{crop} region at ({x0}, {y0}), magnified", fontsize=9)
        for ax in (top, bottom):
            ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=max(72, zoom * 16))
    plt.close(fig)


p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("bl", help="the base layer (MP4...)")
p.add_argument("el", nargs="?", help="its enhancement layer (.mtvir)")
p.add_argument("--frame", type=int, default=0, help="the frame shown")
p.add_argument("--reference", metavar="ORIGINAL", help="the original video: shown too, PSNR-Y and -YUV in the labels")
p.add_argument("--png", default="look.png")
p.add_argument("--crop", type=int, default=48, help="side of the magnified region, in pixels")
p.add_argument("--zoom", type=int, default=6, help="magnification of the region (in the PNG without labels)")
a = p.parse_args()

info = video.probe(a.bl)
enhancer = SafeEnhancer(a.el, width=info.width, height=info.height, bit_depth=info.bit_depth,
                        frame_count=info.frames)
peak = (1 << info.bit_depth) - 1
originals = video.frames(a.reference) if a.reference else None
for i, (y, u, v) in enumerate(video.frames(a.bl)):
    out = enhancer.enhance_frame(y, u, v, i)  # a real player hands these planes to its renderer here
    original = next(originals) if originals is not None else None
    if i == a.frame:
        panels = [("BL", (y, u, v)), ("BL+EL" if enhancer.active else "BL+EL (EL off)", out)]
        if original is not None:
            def label(name, planes):
                p = [psnr(x, o, peak) for x, o in zip(planes, original)]
                return f"{name}  Y {p[0]:.2f} dB, YUV {(6 * p[0] + p[1] + p[2]) / 8:.2f} dB"
            panels = [(label(name, planes), planes) for name, planes in panels]
            panels.append(("original", tuple(original)))
        picture(a.png, panels, peak, a.crop, a.zoom)
        print(f"frame {i}: {' | '.join(label for label, _ in panels)} written to {a.png}")
print(f"{i + 1} frames played")
