"""Decode the demo's BL + EL the way a player would and compare with the encoder's own report, plane by plane.

    python examples/check_demo.py out/carphone
"""
import json
import sys
from pathlib import Path

import numpy as np

from mtvir_decoder import Enhancer
from mtvir_encoder import bl, data

stem = Path(sys.argv[1])
report = json.loads(stem.with_suffix(".json").read_text())
recon, bits = bl.decode(stem.with_suffix(".mp4"))
orig = bl.read_video(data.carphone(), len(recon))
enhancer = Enhancer(stem.with_suffix(".mtvir"))
out = [enhancer.enhance_frame(y, u, v, i) for i, (y, u, v) in enumerate(zip(recon.y, recon.u, recon.v))]
figures = {}
for k, p in enumerate("yuv"):
    before, original = getattr(recon, p), getattr(orig, p)
    figures[p] = (np.mean([bl.psnr(a, b, 255) for a, b in zip(before, original)]),
                  np.mean([bl.psnr(f[k], b, 255) for f, b in zip(out, original)]))
yuv = [(6 * figures["y"][i] + figures["u"][i] + figures["v"][i]) / 8 for i in (0, 1)]
print(f"player check ({enhancer.provider}, planes {enhancer.planes.upper()}): " + ", ".join(
    f"PSNR-{p.upper()} {a:.3f} -> {b:.3f} dB ({b - a:+.3f})" for p, (a, b) in figures.items())
    + f"; PSNR-YUV 6:1:1 {yuv[0]:.3f} -> {yuv[1]:.3f} dB ({yuv[1] - yuv[0]:+.3f}); BL {sum(bits) // 8:,} B, "
      f"EL {stem.with_suffix('.mtvir').stat().st_size:,} B")
for p, key in (("y", "psnr_el"), ("u", "psnr_u_el"), ("v", "psnr_v_el")):
    assert abs(figures[p][1] - report[key]) < 1e-6, f"the decoder does not reproduce the encoder's PSNR-{p.upper()}"
print("the decoder reproduces the encoder's figures exactly, every plane")
