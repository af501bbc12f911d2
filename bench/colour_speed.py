"""What a player's call costs per tier: ``Enhancer.enhance`` (luma) and ``Enhancer.enhance_frame`` (Y, U, V of a
4:2:0 frame) against the bare session on the same plane, interleaved in one process (ratios, not absolutes).

    python bench/colour_speed.py [--sizes 1280x720,1920x1080] [--rounds 25] [--tiers light,full]

Each tier's EL: its QP 37 band reference for luma and its QP 37 chroma reference (the luma one where none is
installed) as one model for U and V, sent alone (an EL 4, as `mtvir-export` writes). Per size: the bare ONNX
Runtime session on the whole luma plane (``run_float`` with no tiling: what the bench of the network measures),
``enhance`` on the uint8 luma plane, and ``enhance_frame`` on the frame; medians of ``rounds`` rounds, the three
calls taking turns in a random order within each round; the whole frame's time against luma's (colour's cost).
Baselines in the same run: "no bands", the frame with each plane in one run of a session on ONNX Runtime's own
threads (as the SDK ran before 2026-12-08); "before", that and the graph without its strided convolutions
(``graph.build(strided=False)``: the unshuffle and the last convolution's few outputs as the descriptor says them).
"""
from __future__ import annotations

import argparse
import functools
import random
import time
from pathlib import Path
import sys

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mtvir_decoder as m  # noqa: E402
from decoder_speed import picture  # noqa: E402


def colour_el(tier: str, w: int, h: int) -> bytes:
    luma = next(r for r in m.references.starting_points(tier, classes=False) if r.name.endswith("qp37"))
    chroma = next(r for r in m.references.starting_points(tier, classes=False, plane="chroma")
                  if r.name.endswith("qp37"))
    y = m.write(luma.arch, [(0, 1, luma.params, m.Coding())], luma, w, h, 8, 1)
    uv = m.write(chroma.arch, [(0, 1, chroma.params, m.Coding())], chroma, (w + 1) // 2, (h + 1) // 2, 8, 1)
    return m.tiers.write({tier: {"y": y, "uv": uv}}, "4:2:0")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--tiers", default="light,full")
    a = p.parse_args()
    print(f"onnxruntime {m.enhance.ort.__version__}; medians of {a.rounds} interleaved rounds, ms per frame")
    print(f"{'tier':>6} {'size':>10} {'MAC/px Y / YUV':>15} {'session':>8} {'enhance':>8} {'of session':>11} "
          f"{'frame':>8} {'fps':>6} {'frame / luma':>13} {'no bands':>9} {'before':>8} {'frame / before':>15}")
    for tier in a.tiers.split(","):
        for size in a.sizes.split(","):
            w, h = map(int, size.split("x"))
            el = colour_el(tier, w, h)
            enh = m.Enhancer(el, providers=["CPUExecutionProvider"], tier=tier)
            build, cores = m.graph.build, m.enhance._cores
            m.enhance._cores = lambda: 1  # one worker: sessions on ONNX Runtime's threads, no bands
            whole = m.Enhancer(el, providers=["CPUExecutionProvider"], tier=tier)
            m.graph.build = functools.partial(build, strided=False)  # an Enhancer builds (and keeps) its sessions
            before = m.Enhancer(el, providers=["CPUExecutionProvider"], tier=tier)  # from the start
            before.enhance_frame(*(picture(*s) for s in ((h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2))))
            m.graph.build, m.enhance._cores = build, cores
            y = picture(h, w)
            u, v = picture((h + 1) // 2, (w + 1) // 2), picture((h + 1) // 2, (w + 1) // 2)[::-1].copy()
            x = y.astype(np.float32) / 255
            calls = {"session": lambda: enh.run_float(x, tile=1 << 16), "enhance": lambda: enh.enhance(y, 0),
                     "frame": lambda: enh.enhance_frame(y, u, v, 0), "no bands": lambda: whole.enhance_frame(y, u, v, 0),
                     "before": lambda: before.enhance_frame(y, u, v, 0)}
            times = {k: [] for k in calls}
            for f in calls.values():
                f()  # warm-up
            for _ in range(a.rounds):
                for k, f in random.sample(list(calls.items()), len(calls)):
                    t = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t)
            ms = {k: 1000 * float(np.median(t)) for k, t in times.items()}
            print(f"{tier:>6} {size:>10} {enh.el.arch.macs_per_pixel:>7,} / {enh.macs_per_pixel:<6,} "
                  f"{ms['session']:8.1f} {ms['enhance']:8.1f} {ms['enhance'] / ms['session']:10.2f}x "
                  f"{ms['frame']:8.1f} {1000 / ms['frame']:6.1f} {ms['frame'] / ms['enhance']:12.2f}x "
                  f"{ms['no bands']:9.1f} {ms['before']:8.1f} {ms['frame'] / ms['before']:14.2f}x")


if __name__ == "__main__":
    main()
