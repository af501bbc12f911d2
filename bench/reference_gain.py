"""Gain of a reference model alone (no online learning, no EL bytes beyond its id) on carphone, which it never saw.

    python bench/reference_gain.py [REFERENCE.mtvir] [--qps 22,27,32,37] [--config ra] [--frames 120]
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
    p.add_argument("reference", nargs="?", type=Path)
    p.add_argument("--qps", default="22,27,32,37")
    p.add_argument("--config", default="ra")
    p.add_argument("--frames", type=int, default=120)
    a = p.parse_args()
    ref = m.Reference.load(a.reference) if a.reference else m.references.default()
    video = bl.read_video(data.carphone(), a.frames)
    print(f"reference {ref.id.hex()} on carphone, {len(video)} frames, x265 {a.config.upper()}")
    with tempfile.TemporaryDirectory() as d:
        for qp in map(int, a.qps.split(",")):
            base = bl.code(video, Path(d) / "bl.mp4", "x265", qp, a.config)
            el = m.write(ref.arch, [(0, len(video), ref.params, m.Coding())], ref, video.width, video.height, 8,
                         len(video))
            enh = m.Enhancer(el, reference=ref)
            out = list(enh.enhance_frames(base.recon.y))
            before = np.mean([bl.psnr(x, y, 255) for x, y in zip(base.recon.y, video.y)])
            after = np.mean([bl.psnr(x, y, 255) for x, y in zip(out, video.y)])
            print(f"QP {qp}: BL {base.kbps():7.1f} kbit/s {before:.3f} dB -> {after:.3f} dB ({after - before:+.3f} dB)"
                  f", EL {len(el)} B")


if __name__ == "__main__":
    main()
