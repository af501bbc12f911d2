"""Capacity on camera content (issue 39, item 3): what a wider or deeper network gains per MAC/px, each started
from the shipped QP band reference (grown, its function unchanged) and trained on the camera corpus for the same
steps, then judged alone on clips no reference trained on.

    python bench/capacity.py [--clip CLIP ...] [--qp 37] [--shapes 16x3,16x5,24x3,32x3]
                             [--float-steps 1000] [--qat-steps 500] [--lr 1e-3] [--device auto] [-o runs/capacity]

Each shape CxS (C channels, S stages) is `mtvir-pretrain --corpus camera --qps QP --channels C --stages S --init
x265-qpQP.mtvir --float-steps F --qat-steps Q --lr LR --qat-lr QLR` (the first shape, 16x3 by default, the shipped
one, is the control: the same steps from the same start). A shape whose reference is in the output folder is not
trained again, and an interrupted one resumes. Then each reference alone on the first --frames of each clip (x265
at the QP): delta PSNR-Y (of the mean per-frame PSNR) and delta per 10 kMAC/px beyond the control. On 2 cores (bf16)
1,500 steps take about 11 min at 16x3, 18 at 16x5 and 30 at 32x3: fine-tuning, a lower bound of what training
a heavier network from the start gives (docs/journal/2026-12-03-a-32-channel-band-reference-trained.md); a GPU
runs more steps (--device cuda). Needs `make corpus`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import mtvir_decoder as m
from mtvir_encoder import bl, data
from mtvir_encoder.cli import _device
from mtvir_encoder.pretrain import PretrainConfig, pretrain
from reference_gain import alone  # bench/, beside this script


def train(shape: str, a: argparse.Namespace) -> m.Reference:
    channels, stages = (int(v) for v in shape.split("x"))
    out = a.output / f"x265-qp{a.qp}-{shape}.mtvir"
    if out.exists():
        return m.Reference.load(out)
    cfg = PretrainConfig(float_steps=a.float_steps, qat_steps=a.qat_steps, batch=a.batch, lr=a.lr, qat_lr=a.qat_lr,
                         qps=(a.qp,), channels=channels, stages=stages, corpus="camera", device=_device(a.device),
                         init=str(m.references.PACKAGE_DIR / f"x265-qp{a.qp}.mtvir"))
    return pretrain(out, a.output / shape, cfg, cache=a.cache or a.output / "cache")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", type=Path, action="append", help="a clip to judge on (repeat; default: carphone)")
    p.add_argument("--qp", type=int, default=37)
    p.add_argument("--config", default="ra")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--shapes", default="16x3,16x5,24x3,32x3", help="CxS: channels x stages, comma-separated")
    p.add_argument("--float-steps", type=int, default=1000)
    p.add_argument("--qat-steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=1e-3, help="the float steps' first (decaying to a fifth; "
                   "docs/journal/2026-12-06-capacity-on-camera-content.md)")
    p.add_argument("--qat-lr", type=float, default=2e-4, help="the quantization-aware steps'")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("-o", "--output", type=Path, default=Path("runs/capacity"))
    p.add_argument("--cache", type=Path, help="the coded training pairs (default: OUTPUT/cache; `make pretrain` left "
                   "them in runs/pretrain_camera/qpQP/cache)")
    a = p.parse_args()
    shapes = a.shapes.split(",")
    refs = [train(s, a) for s in shapes]
    clips = a.clip or [data.carphone()]
    table = [alone(refs, bl.read_video(clip, a.frames), a.qp, a.config) for clip in clips]
    print(f"\neach alone, x265 {a.config.upper()} QP {a.qp}, first {a.frames} frames; {a.float_steps} float steps "
          f"(lr {a.lr:g} decaying to a fifth) and {a.qat_steps} quantization-aware ones (lr {a.qat_lr:g}) from "
          f"x265-qp{a.qp} on the camera corpus\n")
    print("| channels x stages | MAC/px | parameters | " + " | ".join(c.stem for c in clips) + " |")
    print("|---|---|---|" + "---|" * len(clips))
    control = refs[0].arch.macs_per_pixel
    for i, (shape, ref) in enumerate(zip(shapes, refs)):
        cells = []
        for row in table:
            extra = (ref.arch.macs_per_pixel - control) / 1e4
            per = f" ({(row[i] - row[0]) / extra:+.3f} per 10 kMAC/px)" if i and extra > 0 else ""
            cells.append(f"{row[i]:+.3f} dB{per}")
        print(f"| {shape} | {ref.arch.macs_per_pixel:,} | {ref.arch.param_count:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
