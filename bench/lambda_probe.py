"""What J's lambda probe costs (``bl.rd_slope``: the first frames coded again at QP - 2 and QP + 2, once per
export) against the BL encode of the same frames, in the same run, and the slope it finds against HM's lambda.
Frames: bigbuckbunny scaled as ``bench/export_scale.py`` does; x265 QP 37, 30 fps.

    python bench/lambda_probe.py [--sizes 720p,1080p] [--qp 37]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from export_scale import SIZES, write_clip

from mtvir_decoder import video as video_io
from mtvir_encoder import bl, export, select


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="720p,1080p")
    p.add_argument("--qp", type=int, default=37)
    a = p.parse_args()
    fps = Fraction(30)
    print("| size | config | frames | BL encode s | probe s | probe / BL | slope / HM's lambda |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.y4m"
        for size in a.sizes.split(","):
            width, height = SIZES[size]
            for config in bl.CONFIGS:
                n = export.probe_frames(config, fps, 1 << 30)
                write_clip(clip, width, height, n)
                frames = list(video_io.frames(clip, n))
                t0 = time.time()
                coder = bl.Coder(Path(tmp) / "bl.mp4", "x265", a.qp, config, fps, width, height, 8)
                try:
                    [r for planes in frames for r in coder.push(planes)] + coder.finish()
                finally:
                    coder.close()
                t_bl = time.time() - t0
                t0 = time.time()
                slope = bl.rd_slope(frames, "x265", a.qp, config, fps, 8)
                t_probe = time.time() - t0
                ratio = "none (flat)" if slope is None else f"{slope / select.lagrangian(a.qp):.2f}x"
                print(f"| {size} | {config.upper()} | {n} | {t_bl:.1f} | {t_probe:.1f} | {t_probe / t_bl:.2f}x | {ratio} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
