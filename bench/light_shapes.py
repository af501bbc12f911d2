"""Light network shapes: what each gains fitted to a video in float (the online step's upper bound), per kMAC/px.

    python bench/light_shapes.py [CLIP] [--frames 32] [--qp 37] [--steps 1500]

Codes CLIP (default: carphone) with x265 at the QP (random access), then fits each candidate network, from the
identity (last layer zero), in plain float (no integer grid, bytes not counted) for ``--steps`` Adam steps at 2e-3
on 16 random 96x96 crops (whole frames when smaller), and prints its delta PSNR-Y (PSNR of the mean MSE over the
frames), MAC/px and gain per kMAC/px. The candidates are the descriptor's own networks (the SDK runs each): narrow
ones at full resolution, and unshuffled ones (EL 2.1) whose convolutions run at 1 / block^2 of the pixels.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mtvir_decoder.descriptor import CONV, Architecture, Layer, Node, light
from mtvir_encoder import bl, data
from mtvir_encoder.network import Network


def plain(channels: int, convs: int) -> Architecture:
    """``convs`` 3x3 convolutions of ``channels`` at full resolution (ReLU between), global residual."""
    layers = [Layer(1, channels, 3)] + [Layer(channels, channels, 3)] * (convs - 2) + [Layer(channels, 1, 3)]
    nodes = [Node(CONV, i, i, 1 if i < convs - 1 else 0) for i in range(convs)]
    return Architecture(tuple(layers), tuple(nodes))


SHAPES = {
    "plain 8 x 5": plain(8, 5),
    "plain 12 x 5": plain(12, 5),
    "unshuffle 2, 16 x 3 (the light tier)": light(16, 3, 2),
    "unshuffle 2, 16 x 5": light(16, 5, 2),
    "unshuffle 4, 16 x 6": light(16, 6, 4),
    "unshuffle 4, 16 x 10": light(16, 10, 4),
    "unshuffle 4, 32 x 4": light(32, 4, 4),
    "unshuffle 4, 32 x 6": light(32, 6, 4),
    "unshuffle 4, 48 x 4": light(48, 4, 4),
}


def fit(arch: Architecture, recon: np.ndarray, orig: np.ndarray, steps: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Network(arch).init_identity(seed)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    n, h, w = recon.shape
    side = min(96, h, w) // arch.block * arch.block
    for _ in range(steps):
        idx, ys, xs = rng.integers(0, n, 16), rng.integers(0, h - side + 1, 16), rng.integers(0, w - side + 1, 16)
        x = np.stack([recon[i, y:y + side, c:c + side] for i, y, c in zip(idx, ys, xs)])[:, None]
        y = np.stack([orig[i, y:y + side, c:c + side] for i, y, c in zip(idx, ys, xs)])[:, None]
        loss = torch.mean((net(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        se = sum(float(torch.sum((net(torch.from_numpy(recon[i:i + 1, None])).clamp(0, 1) - torch.from_numpy(
            orig[i:i + 1, None])) ** 2)) for i in range(n))
    base = float(np.sum((recon - orig) ** 2))
    return 10 * np.log10(base / se)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", nargs="?", type=Path)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--qp", type=int, default=37)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--only", default="", help="fit only the shapes whose name contains this (e.g. 'unshuffle 4')")
    a = p.parse_args()
    clip = a.clip or data.carphone()
    video = bl.read_video(clip, a.frames)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        base = bl.code(video, Path(d) / "bl.mp4", "x265", a.qp, "ra")
    recon = np.stack(base.recon.y).astype(np.float32) / 255
    orig = np.stack(video.y).astype(np.float32) / 255
    print(f"{clip.name}: {len(video)} frames {video.width}x{video.height}, x265 QP {a.qp} RA; {a.steps} float steps")
    print(f"{'network':>38} {'MAC/px':>7} {'params':>7} {'delta PSNR-Y':>13} {'dB per kMAC/px':>15} {'fit s':>6}")
    for name, arch in SHAPES.items():
        if a.only not in name:
            continue
        t0 = time.time()
        gain = fit(arch, recon, orig, a.steps)
        print(f"{name:>38} {arch.macs_per_pixel:7,} {arch.param_count:7,} {gain:+12.3f} "
              f"{gain / arch.macs_per_pixel * 1000:+15.3f} {time.time() - t0:6.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
