"""Gain of each reference model alone (no online learning, no EL bytes beyond its id) on a clip it never saw.

    python bench/reference_gain.py [REFERENCE.mtvir ...] [--clip PATH] [--qps 22,27,32,37] [--config ra] [--frames N]
                                   [--plane y|u|v]

Without files: every shipped reference (the four QP bands, their camera references and default.mtvir). Default clip:
carphone, 120 frames.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import mtvir_decoder as m
from mtvir_encoder import bl, data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("references", nargs="*", type=Path)
    p.add_argument("--clip", type=Path, help="default: carphone")
    p.add_argument("--qps", default="22,27,32,37")
    p.add_argument("--config", default="ra")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--plane", choices=("y", "u", "v"), default="y", help="the plane each reference enhances")
    a = p.parse_args()
    refs = ([m.Reference.load(r) for r in a.references] if a.references
            else [*m.references.starting_points(), m.references.default()])
    clip = a.clip or data.carphone()
    video = bl.read_video(clip, a.frames)
    qps = [int(q) for q in a.qps.split(",")]
    print(f"{clip.stem}, {len(video)} frames {video.width}x{video.height}, x265 {a.config.upper()}: delta "
          f"PSNR-{a.plane.upper()} of each reference alone on that plane (the mean per-frame PSNR)\n")
    print("| reference | " + " | ".join(f"QP {q}" for q in qps) + " |")
    print("|---|" + "---|" * len(qps))
    columns = [alone(refs, video, qp, a.config, a.plane) for qp in qps]
    for i, ref in enumerate(refs):
        print(f"| {ref.name} | " + " | ".join(f"{gains[i]:+.3f} dB" for gains in columns) + " |")


def alone(refs: list[m.Reference], video: bl.Video, qp: int, config: str, plane: str = "y") -> list[float]:
    """Delta PSNR (of the mean per-frame PSNR) of ``plane`` with each reference sent alone for it, on the video's
    x265 BL at the QP."""
    with tempfile.TemporaryDirectory() as d:
        base = bl.code(video, Path(d) / "bl.mp4", "x265", qp, config)
    orig, decoded = getattr(video, plane), getattr(base.recon, plane)
    psnr = lambda frames: np.mean([bl.psnr(x, y, 255) for x, y in zip(frames, orig)])
    before, gains = psnr(decoded), []
    h, w = decoded[0].shape
    for ref in refs:
        el = m.write(ref.arch, [(0, len(video), ref.params, m.Coding())], ref, w, h, 8, len(video))
        gains.append(psnr(list(m.Enhancer(el, reference=ref).enhance_frames(decoded))) - before)
    return gains


if __name__ == "__main__":
    main()
