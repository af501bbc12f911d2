"""Online-learning throughput: iterations/s of the real training step (CQB with straight-through rounding, the
affine parameters, Adam, patches from the BL) against a plain PyTorch loop of the same network without
quantization (nn.Conv2d layers, same graph, same batch), against the step as it was before 2026-12-02 (the
squeeze-excitation's 9x9 mean by torch's ``avg_pool2d``), against the same function with the affine map
applied after the conv when the weights are frozen (``split_forward``: no weight gradient, but two more
full-size tensors per layer; which is faster depends on the machine, so it is measured, not assumed), and the
default family (every weight) in the layouts and precisions it can run in: NCHW float32 (until 2026-12-03),
channels_last float32 (the default on CPU since) and channels_last under bf16 autocast (``--precision bf16``).
All run in this process, interleaved, so the machine's noise hits them alike; the figures that matter are the
ratios.

    python bench/online_speed.py [--steps 60] [--batch 64] [--patch 35] [--threads 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mtvir_decoder import references
from mtvir_decoder.descriptor import ADD, CONV
from mtvir_encoder import bl, data
from mtvir_encoder.network import Network, training_step_context
from mtvir_encoder.online import OnlineConfig, _patches


class Before(Network):
    """The step before 2026-12-02: ``avg_pool2d`` for the 9x9 mean."""

    def forward(self, x):
        outs = [x - self.arch.input_offset]
        for n in self.arch.nodes:
            if n.op == CONV:
                y = self.convs[n.b](outs[n.a])
            elif n.op == ADD:
                y = outs[n.a] + outs[n.b]
            else:
                pooled = F.avg_pool2d(outs[n.a], n.c, stride=1, padding=n.c // 2, count_include_pad=True)
                outs.append(outs[n.a] * torch.sigmoid(self.convs[n.b](pooled)))
                continue
            outs.append(F.relu(y) if n.c else y)
        return x + outs[-1]


def split_forward(c):
    """With W_L frozen, conv(x, scale * W + shift) as scale * conv(x, W) + shift * (3x3 box sum of x over
    channels): the same function with no weight gradient (``main`` checks it against the default first)."""
    def forward(x):
        pad = c.kernel // 2
        w = c.integer_weight() / c.S if c.quantize else c.weight
        box = F.conv2d(x.sum(1, keepdim=True), x.new_ones(1, 1, c.kernel, c.kernel), padding=pad)
        return (F.conv2d(x, w, None, padding=pad) * c.scale).add_(c.shift * box).add_(c.bias.view(1, -1, 1, 1))
    return forward


def frozen(net: Network) -> tuple[Network, list]:
    """The network with W_L frozen, and the parameters the default family adapts (biases and affine)."""
    for c in net.convs:
        c.weight.requires_grad_(False)
    return net, [q for c in net.convs for q in (c.bias, c.log_scale, c.rel_shift)]


def plain(arch) -> Network:
    net = Network(arch)
    net.convs = nn.ModuleList(nn.Conv2d(l.cin, l.cout, l.kernel, padding=l.kernel // 2) for l in arch.layers)
    return net


def timed(net, params, batches, steps, layout=torch.contiguous_format, precision="fp32") -> float:
    opt = torch.optim.Adam(params, lr=2e-4)
    batches = [(x.contiguous(memory_format=layout), y.contiguous(memory_format=layout)) for x, y in batches]
    t0 = time.perf_counter()
    for i in range(steps):
        x, y = batches[i % len(batches)]
        with training_step_context(x.device, precision):
            pred = net(x)
        loss = torch.mean((pred.float() - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=OnlineConfig.batch)
    p.add_argument("--patch", type=int, default=OnlineConfig.patch)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    ref = references.default()
    video = bl.read_video(data.carphone(), 30)
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        base = bl.code(video, Path(d) / "bl.mp4", "x265", 37, "ra")
    rng = np.random.default_rng(0)
    batches = [_patches(rng, base.recon.y, video.y, a.batch, a.patch, 255.0) for _ in range(8)]

    cqb_all = Network(ref.arch).load_params(ref.params)
    last = Network(ref.arch).load_params(ref.params).to(memory_format=torch.channels_last)
    last_bf16 = Network(ref.arch).load_params(ref.params).to(memory_format=torch.channels_last)
    cqb_affine, affine = frozen(Network(ref.arch).load_params(ref.params))
    before, before_affine = frozen(Before(ref.arch).load_params(ref.params))
    split, split_affine = frozen(Network(ref.arch).load_params(ref.params))
    for c in split.convs:
        c.forward = split_forward(c)
    x = batches[0][0]
    if torch.abs(split(x) - cqb_affine(x)).max() > 1e-5:
        raise SystemExit("the split form is not the default's function")
    base_net = plain(ref.arch)
    cl = torch.channels_last
    runs = {"plain float conv, all weights": (base_net, list(base_net.parameters())),
            "before: CQB, biases and affine": (before, before_affine),
            "split: affine after the conv, biases and affine": (split, split_affine),
            "CQB + STE, biases and affine": (cqb_affine, affine),
            "CQB + STE, every weight, NCHW fp32": (cqb_all, list(cqb_all.parameters())),
            "every weight, channels_last fp32 (default)": (last, list(last.parameters()), cl),
            "every weight, channels_last bf16": (last_bf16, list(last_bf16.parameters()), cl, "bf16")}
    rates = {k: [] for k in runs}
    for run in runs.values():
        timed(run[0], run[1], batches, 3, *run[2:])  # warm-up
    for _ in range(a.rounds):
        for name, run in runs.items():
            rates[name].append(timed(run[0], run[1], batches, a.steps, *run[2:]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {a.batch} x {a.patch}x{a.patch}, "
          f"{a.rounds} interleaved rounds of {a.steps} steps (median)")
    baseline = float(np.median(rates["plain float conv, all weights"]))
    nchw = float(np.median(rates["CQB + STE, every weight, NCHW fp32"]))
    for name, r in rates.items():
        med = float(np.median(r))
        print(f"{name:48s} {med:6.2f} it/s  {med / baseline:5.2f}x the plain loop  {med / nchw:5.2f}x NCHW fp32")


if __name__ == "__main__":
    main()
