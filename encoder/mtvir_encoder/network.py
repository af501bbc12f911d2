"""The network in torch, built from the decoder SDK's descriptor, every conv a Conv Quantization Block (CQB).

CQB: W_Q = round(S * W_L) (straight-through gradient), W_conv = scale * W_Q / S + shift, one affine scale and
shift per layer. With ``quantize`` off the same module is a plain float conv (W_conv = scale * W_L + shift), which
is how training starts: rounding from the first step blocks learning.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mtvir_decoder import Architecture, Params
from mtvir_decoder.descriptor import ADD, CONV, SE


class CQBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, quant_scale: int):
        super().__init__()
        self.S = quant_scale
        self.kernel = kernel
        self.weight = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))  # W_L
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = nn.Parameter(torch.ones(()))
        self.shift = nn.Parameter(torch.zeros(()))
        self.quantize = False

    def integer_weight(self) -> torch.Tensor:
        return torch.round(self.weight.detach() * self.S)

    def conv_weight(self) -> torch.Tensor:
        w = self.weight * self.S
        if self.quantize:
            w = w + (torch.round(w) - w).detach()  # straight-through estimator
        return self.scale * w / self.S + self.shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.conv_weight(), self.bias, padding=self.kernel // 2)


class Network(nn.Module):
    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        self.convs = nn.ModuleList(CQBConv(l.cin, l.cout, l.kernel, arch.quant_scale) for l in arch.layers)

    @property
    def quantize(self) -> bool:
        return self.convs[0].quantize

    @quantize.setter
    def quantize(self, on: bool) -> None:
        for c in self.convs:
            c.quantize = on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 1 x H x W luma in [0, 1]; returns the enhanced luma (not clipped)."""
        outs = [x - self.arch.input_offset]
        for n in self.arch.nodes:
            if n.op == CONV:
                y = self.convs[n.b](outs[n.a])
                outs.append(F.relu(y) if n.c else y)
            elif n.op == ADD:
                y = outs[n.a] + outs[n.b]
                outs.append(F.relu(y) if n.c else y)
            elif n.op == SE:
                src = outs[n.a]
                pooled = F.avg_pool2d(src, n.c, stride=1, padding=n.c // 2, count_include_pad=True)
                outs.append(src * torch.sigmoid(self.convs[n.b](pooled)))
        return x + outs[-1] if self.arch.global_residual else outs[-1]

    # --- exchange with the decoder SDK ---------------------------------------------------------------
    def to_params(self) -> Params:
        """The integers and floats a decoder rebuilds (W_Q rounded from W_L)."""
        return Params(
            [c.integer_weight().numpy().astype(np.int32) for c in self.convs],
            [c.bias.detach().numpy().astype(np.float32).copy() for c in self.convs],
            np.array([c.scale.item() for c in self.convs], np.float32),
            np.array([c.shift.item() for c in self.convs], np.float32),
        )

    def load_params(self, p: Params) -> "Network":
        """Start from a coded model: W_L at the bin centres W_Q / S, so no weight sits at a rounding boundary."""
        with torch.no_grad():
            for c, w, b, a, s in zip(self.convs, p.weights, p.biases, p.scale, p.shift):
                c.weight.copy_(torch.from_numpy(w.astype(np.float32)) / c.S)
                c.bias.copy_(torch.from_numpy(b))
                c.scale.fill_(float(a))
                c.shift.fill_(float(s))
        self.quantize = True
        return self

    def init_identity(self, seed: int = 0) -> "Network":
        """Kaiming-normal weights (float mode), the tail zero: the network starts as exactly the identity."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for c, l in zip(self.convs, self.arch.layers):
                c.weight.normal_(0, float(np.sqrt(2.0 / (l.cin * l.kernel ** 2))), generator=g)
                c.bias.zero_()
                c.scale.fill_(1.0)
                c.shift.zero_()
            last = self.convs[self.arch.nodes[-1].b]
            last.weight.zero_()
        self.quantize = False
        return self

    def to_grid(self, std_levels: float = 10.0) -> "Network":
        """Move a float-trained model onto the integer grid without changing its function: per layer, the scale
        takes the weights' magnitude so that W_Q has about ``std_levels`` levels of spread."""
        with torch.no_grad():
            for c in self.convs:
                w = c.scale * c.weight + c.shift
                std = float(w.std()) or 1.0
                a = std * c.S / std_levels
                c.weight.copy_(w / a)
                c.scale.fill_(a)
                c.shift.zero_()
        self.quantize = True
        return self
