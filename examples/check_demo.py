"""Decode the demo's BL + EL the way a player would and compare with the encoder's own report.

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
out = list(enhancer.enhance_frames(recon.y))
psnr_bl = np.mean([bl.psnr(a, b, 255) for a, b in zip(recon.y, orig.y)])
psnr_el = np.mean([bl.psnr(a, b, 255) for a, b in zip(out, orig.y)])
print(f"player check ({enhancer.provider}): BL {psnr_bl:.3f} dB, BL+EL {psnr_el:.3f} dB ({psnr_el - psnr_bl:+.3f} dB); "
      f"BL {sum(bits) // 8:,} B, EL {stem.with_suffix('.mtvir').stat().st_size:,} B")
assert abs(psnr_el - report["psnr_el"]) < 1e-6, "the decoder does not reproduce the encoder's figure"
print("the decoder reproduces the encoder's figure exactly")
