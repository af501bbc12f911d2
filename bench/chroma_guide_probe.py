"""Probe, before building it: does a chroma network gain more when it reads the co-located luma (JVET's filters)?

    python bench/chroma_guide_probe.py [--qp 37] [--steps 12000] [--convs 3] [--guides none,luma,highpass]
                                       [--frames 16] [--online 600] [--clips CLIP ...] [--shape light|full]

Trains, on the same patches and steps, networks for U and V (one model for both planes, as ``--planes yuv``) that
work at half the chroma resolution (chroma unshuffled by 2: 4 channels) with 16 channels, ``convs`` 3x3
convolutions, a global residual; guided ones also take the decoded luma unshuffled by 4 onto the same grid (16 more
input channels: only the first convolution grows), as it is or each 4x4 block less its mean (``highpass``). Float
training from near the identity on the camera corpus of ``mtvir-pretrain --corpus camera`` (x265 at the QP, the U
and V planes of its frames against the originals); then each network alone on clips it never saw, and after
``online`` steps on each clip's own frames (what the EL's online learning does, its bytes not counted): delta
PSNR-U and -V (of the mean per-frame PSNR), x265 RA at the QP. What it says is a guide's worth at equal training,
not a shippable model's gain (no quantization, no rate).

``--shape full``: the full tier's chroma network instead, started from the shipped chroma reference of the QP's band
(float, at the chroma grid), each network fine-tuned ``steps`` steps on the corpus (lr 1e-4); a guided one adds to
its first convolution a 3x3 convolution (zero at the start) of the luma's high-pass (the luma less its 5x5 mean)
unshuffled by 2 onto the chroma grid (4 channels): what a guide could add to the default tier.
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mtvir_decoder import references
from mtvir_decoder.descriptor import CONV
from mtvir_encoder import bl, data
from mtvir_encoder.network import Network, box_mean

MARGIN = 4  # loss on the patch minus this border (at the half-chroma grid)


class ChromaNet(torch.nn.Module):
    def __init__(self, convs: int, guide: str = "", channels: int = 16):
        super().__init__()
        cin = 4 + (16 if guide else 0)
        self.guide = guide
        self.convs = torch.nn.ModuleList(
            [torch.nn.Conv2d(cin if i == 0 else channels, channels if i < convs - 1 else 4, 3, padding=1)
             for i in range(convs)])
        torch.nn.init.normal_(self.convs[-1].weight, std=1e-3)  # starts near the identity (zeros: the ReLUs die)
        torch.nn.init.zeros_(self.convs[-1].bias)

    def forward(self, c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(c - 0.5, 2)
        if self.guide:
            g = F.pixel_unshuffle(y - 0.5, 4)
            if self.guide == "highpass":  # each 4x4 block of luma minus its mean: edges and texture, no level
                g = g - g.mean(1, keepdim=True)
            x = torch.cat([x, g], 1)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return c + F.pixel_shuffle(x, 2)


class GuidedConv(torch.nn.Module):
    """A convolution plus a 3x3 one (zero at the start) of the guide set before each forward."""

    def __init__(self, conv: torch.nn.Module, cout: int):
        super().__init__()
        self.conv, self.inject, self.guide = conv, torch.nn.Conv2d(4, cout, 3, padding=1), None
        torch.nn.init.zeros_(self.inject.weight)
        torch.nn.init.zeros_(self.inject.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.inject(self.guide)


class FullChromaNet(torch.nn.Module):
    """The shipped full chroma reference of the band (float), its first convolution guided (or not)."""

    def __init__(self, qp: int, guide: str = ""):
        super().__init__()
        ref = next(r for r in references.starting_points("full", classes=False, plane="chroma")
                   if r.name.endswith(f"qp{qp}"))
        self.net = Network(ref.arch).load_params(ref.params)
        self.net.quantize = False
        self.guide = guide
        first = next(n for n in ref.arch.nodes if n.op == CONV and n.a == 0).b
        self.inject = GuidedConv(self.net.convs[first], ref.arch.layers[first].cout) if guide else None
        if guide:
            self.net.convs[first] = self.inject

    def forward(self, c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.guide:  # the luma less its 5x5 mean, unshuffled by 2 onto the chroma grid
            self.inject.guide = F.pixel_unshuffle(y - box_mean(y, 5), 2)
        return self.net(c)


def aligned(recon: bl.Video, video: bl.Video) -> list[tuple[np.ndarray, ...]]:
    """(decoded Y, U, V, original U, V) of each frame, cut to multiples of 8 luma samples so that both grids align."""
    h, w = video.height // 8 * 8, video.width // 8 * 8
    return [(y[:h, :w], *(p[:h // 2, :w // 2] for p in (u, v, ou, ov)))
            for y, u, v, ou, ov in zip(recon.y, recon.u, recon.v, video.u, video.v)]


def frames(qp: int) -> list[tuple[np.ndarray, ...]]:
    """The camera corpus's frames (``aligned``), x265 at ``qp`` in each source's configuration."""
    out = []
    with tempfile.TemporaryDirectory() as d:
        for _, video, config, _ in data.pretraining_sources("camera"):
            out += aligned(bl.code(video, Path(d) / "bl.mp4", "x265", qp, config).recon, video)
    return out


def batch(pairs, rng: np.random.Generator, n: int, patch: int):
    ys, cs, os_ = [], [], []
    for _ in range(n):
        dy, du, dv, ou, ov = pairs[rng.integers(len(pairs))]
        h, w = du.shape
        if h < patch or w < patch:
            continue
        r, c = rng.integers(0, (h - patch) // 2 + 1) * 2, rng.integers(0, (w - patch) // 2 + 1) * 2
        d, o = (du, ou) if rng.random() < 0.5 else (dv, ov)
        cs.append(d[r:r + patch, c:c + patch])
        os_.append(o[r:r + patch, c:c + patch])
        ys.append(dy[2 * r:2 * r + 2 * patch, 2 * c:2 * c + 2 * patch])
    t = lambda a: torch.from_numpy(np.stack(a)[:, None].astype(np.float32) / 255)
    return t(cs), t(ys), t(os_)


def train(net: ChromaNet, pairs, steps: int, patch: int = 64, batch_size: int = 32, seed: int = 0,
          lr: float = 1e-3) -> float:
    rng, opt = np.random.default_rng(seed), torch.optim.Adam(net.parameters(), lr=lr)
    m = 2 * MARGIN
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * 0.2 ** (step / steps)
        c, y, o = batch(pairs, rng, batch_size, patch)
        loss = F.mse_loss(net(c, y)[..., m:-m, m:-m], o[..., m:-m, m:-m])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def coded(video: bl.Video, qp: int) -> list[tuple[np.ndarray, ...]]:
    """A clip's frames (``aligned``), x265 RA at ``qp``."""
    with tempfile.TemporaryDirectory() as d:
        return aligned(bl.code(video, Path(d) / "bl.mp4", "x265", qp, "ra").recon, video)


def gain(net: ChromaNet, clip: list[tuple[np.ndarray, ...]]) -> tuple[float, float]:
    """Delta PSNR-U and -V (of the mean per-frame PSNR) of the network on the clip's decoded frames."""
    out = []
    for k in (1, 2):
        before, after = [], []
        for f in clip:
            y, c, o = f[0], f[k], f[k + 2]
            t = lambda a: torch.from_numpy(a.astype(np.float32)[None, None] / 255)
            with torch.no_grad():
                e = net(t(c), t(y))[0, 0].numpy()
            e = np.clip(np.round(e * 255), 0, 255).astype(np.uint8)
            before.append(bl.psnr(c, o, 255))
            after.append(bl.psnr(e, o, 255))
        out.append(float(np.mean(after) - np.mean(before)))
    return out[0], out[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qp", type=int, default=37)
    p.add_argument("--steps", type=int, default=12000)
    p.add_argument("--convs", default="3")
    p.add_argument("--guides", default="none,luma,highpass", help="what of the luma each network reads: none, luma "
                   "(the decoded luma unshuffled by 4), highpass (each 4x4 block of it minus its mean)")
    p.add_argument("--frames", type=int, default=16, help="frames of each evaluation clip")
    p.add_argument("--clips", nargs="*", type=Path, help="evaluation clips (default: carphone and bigbuckbunny)")
    p.add_argument("--shape", choices=("light", "full"), default="light",
                   help="the light shape trained from near the identity, or the full chroma reference fine-tuned")
    p.add_argument("--online", type=int, default=600, help="then steps of learning on each clip's own frames, as "
                   "the EL's online learning does (0: none)")
    a = p.parse_args()
    torch.manual_seed(0)
    t = time.time()
    pairs = frames(a.qp)
    print(f"{len(pairs)} training frames (camera corpus, x265 QP {a.qp}) in {time.time() - t:.0f} s", flush=True)
    paths = a.clips or [data.carphone(), data.held_out()]
    clips = [coded(bl.read_video(c, a.frames), a.qp) for c in paths]
    names = [Path(c).stem for c in paths]
    head = [f"{n} U / V" for n in names] + ([f"{n} U / V, {a.online} steps on it" for n in names] if a.online else [])
    print("\n| network | MAC per chroma sample | parameters | " + " | ".join(head) + " | train s |")
    print("|---|---|---|" + "---|" * len(head) + "---|")
    for convs in map(int, a.convs.split(",")) if a.shape == "light" else [0]:
        for guide in a.guides.split(","):
            guide = "" if guide == "none" else guide
            if a.shape == "full":
                net = FullChromaNet(a.qp, guide)
                macs = net.net.arch.macs_per_pixel + (net.inject.inject.weight.numel() if guide else 0)
            else:
                net = ChromaNet(convs, guide)
                macs = sum(c.weight.numel() for c in net.convs) // 4
            t = time.time()
            if a.shape == "full":
                train(net, pairs, a.steps, patch=48, batch_size=16, lr=1e-4)
            else:
                train(net, pairs, a.steps)
            seconds = time.time() - t
            gains = [gain(net, c) for c in clips]
            for c in clips if a.online else []:
                fitted = copy.deepcopy(net)
                train(fitted, c, a.online, patch=32, lr=2e-4)
                gains.append(gain(fitted, c))
            label = f"{convs} convs" if a.shape == "light" else "the full chroma reference"
            print(f"| {label}{'' if not guide else ', guided by ' + guide} | {macs:,} | "
                  f"{sum(x.numel() for x in net.parameters()):,} | "
                  + " | ".join(f"{u:+.3f} / {v:+.3f} dB" for u, v in gains) + f" | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
