"""Gain of each reference model alone (no online learning, no EL bytes beyond its id) on a clip it never saw.

    python bench/reference_gain.py [REFERENCE.mtvir ...] [--clip PATH] [--qps 22,27,32,37] [--config ra] [--frames N]

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
    a = p.parse_args()
    refs = ([m.Reference.load(r) for r in a.references] if a.references
            else [*m.references.starting_points(), m.references.default()])
    clip = a.clip or data.carphone()
    video = bl.read_video(clip, a.frames)
    qps = [int(q) for q in a.qps.split(",")]
    print(f"{clip.stem}, {len(video)} frames {video.width}x{video.height}, x265 {a.config.upper()}: delta PSNR-Y "
          f"of each reference alone (PSNR-Y of the mean per-frame PSNR)\n")
    print("| reference | " + " | ".join(f"QP {q}" for q in qps) + " |")
    print("|---|" + "---|" * len(qps))
    columns = [alone(refs, video, qp, a.config) for qp in qps]
    for i, ref in enumerate(refs):
        print(f"| {ref.name} | " + " | ".join(f"{gains[i]:+.3f} dB" for gains in columns) + " |")


def alone(refs: list[m.Reference], video: bl.Video, qp: int, config: str) -> list[float]:
    """Delta PSNR-Y (of the mean per-frame PSNR) of each reference sent alone, on the video's x265 BL at the QP."""
    with tempfile.TemporaryDirectory() as d:
        base = bl.code(video, Path(d) / "bl.mp4", "x265", qp, config)
    psnr = lambda frames: np.mean([bl.psnr(x, y, 255) for x, y in zip(frames, video.y)])
    before, gains = psnr(base.recon.y), []
    for ref in refs:
        el = m.write(ref.arch, [(0, len(video), ref.params, m.Coding())], ref, video.width, video.height, 8, len(video))
        gains.append(psnr(list(m.Enhancer(el, reference=ref).enhance_frames(base.recon.y))) - before)
    return gains


if __name__ == "__main__":
    main()
