"""Online learning: fine-tune the reference on the very video, taking candidate snapshots along the way.

Training starts from the reference with W_L at the bin centres (W_Q / S), so a weight changes level only under a
consistent gradient. Adam, MSE on random patches of (BL luma, original luma). What adapts: ``bias_affine`` (the
biases and each CQB's affine scale and shift: 381 numbers, no integer residue) or ``all`` (also W_L, through the
straight-through rounding). Biases and affine parameters learn at ``lr * affine_lr_factor``: a step budget of a
few hundred iterations on 2 cores is far from the paper's 30,000 GPU steps.
"""
from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from mtvir_decoder import Coding, Params, Reference, write

from .network import Network


@dataclass
class OnlineConfig:
    iterations: int = 600
    seconds: float | None = None
    lr: float = 2e-4
    affine_lr_factor: float = 10.0
    adapt: str = "bias_affine"  # bias_affine | all
    batch: int = 64
    patch: int = 35
    snapshot_every: int = 100
    seed: int = 0
    patience: int = 2  # snapshots without a lower J before a segment's learning stops (0: run every iteration)
    size_cap: int = 13824  # bytes of coded model: stop when a snapshot passes it (13.5 KB)
    device: str = "cpu"  # torch device of the training steps ("cuda" on a GPU machine)


@dataclass
class Snapshot:
    step: int
    seconds: float
    params: Params
    train_mse: float


def _patches(rng, recon, orig, n, patch, peak):
    xs, ys = [], []
    h, w = recon[0].shape
    ph, pw = min(patch, h), min(patch, w)
    for i in rng.integers(0, len(recon), n):
        y0, x0 = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
        xs.append(recon[i][y0:y0 + ph, x0:x0 + pw])
        ys.append(orig[i][y0:y0 + ph, x0:x0 + pw])
    f = np.float32(1.0 / peak)
    return (torch.from_numpy(np.stack(xs)[:, None].astype(np.float32) * f),
            torch.from_numpy(np.stack(ys)[:, None].astype(np.float32) * f))


def learn(reference: Reference, recon: list[np.ndarray], orig: list[np.ndarray], bit_depth: int,
          cfg: OnlineConfig, progress=None, start: Params | None = None) -> list[Snapshot]:
    """Snapshots (step 0 is the starting model) of the model fine-tuned on these frames."""
    return list(snapshots(reference, recon, orig, bit_depth, cfg, progress, start))


def snapshots(reference: Reference, recon: list[np.ndarray], orig: list[np.ndarray], bit_depth: int,
              cfg: OnlineConfig, progress=None, start: Params | None = None) -> Iterator[Snapshot]:
    """Snapshots as training goes, from ``start`` (default: the reference) at step 0; the caller may stop early.
    Every model is coded as a residue to the reference, whatever it started from."""
    if cfg.adapt not in ("bias_affine", "all"):
        raise ValueError(f"adapt must be bias_affine or all, not {cfg.adapt!r}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    peak = float((1 << bit_depth) - 1)
    dev = torch.device(cfg.device)
    net = Network(reference.arch).load_params(start or reference.params).to(dev)
    affine = [p for c in net.convs for p in (c.bias, c.log_scale, c.rel_shift)]
    groups = [{"params": affine, "lr": cfg.lr * cfg.affine_lr_factor}]
    if cfg.adapt == "all":
        groups.append({"params": [c.weight for c in net.convs], "lr": cfg.lr})
    else:
        for c in net.convs:
            c.weight.requires_grad_(False)
    opt = torch.optim.Adam(groups)
    yield Snapshot(0, 0.0, net.to_params(), float("nan"))
    t0, losses = time.time(), []
    for step in range(1, cfg.iterations + 1):
        x, y = (t.to(dev) for t in _patches(rng, recon, orig, cfg.batch, cfg.patch, peak))
        loss = torch.mean((net(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if progress:
            progress(1)
        elapsed = time.time() - t0
        out_of_time = cfg.seconds is not None and elapsed >= cfg.seconds
        if step % cfg.snapshot_every == 0 or step == cfg.iterations or out_of_time:
            params = net.to_params()
            yield Snapshot(step, elapsed, params, float(np.mean(losses[-cfg.snapshot_every:])))
            if cfg.adapt == "all" and _coded_size(reference, params) > cfg.size_cap:
                return
        if out_of_time:
            return


def _coded_size(reference: Reference, params: Params) -> int:
    return len(write(reference.arch, [(0, 1, params, Coding())], reference))


def release_memory() -> None:
    """Hand the heap that training freed back to the system (glibc's ``malloc_trim``; elsewhere nothing): torch's
    freed activations otherwise stay in the process, and the Enhancer's full run at 1080p came on top of them."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass
