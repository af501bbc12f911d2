"""The network in torch, built from the decoder SDK's descriptor, every conv a Conv Quantization Block (CQB).

CQB: W_Q = round(S * W_L) (straight-through gradient), W_conv = scale * W_Q / S + shift, one affine scale and
shift per layer. With ``quantize`` off the same module is a plain float conv (W_conv = scale * W_L + shift), which
is how training starts: rounding from the first step blocks learning.

The affine pair is learned as log(scale) and shift / scale: Adam's steps are then relative to the layer's own
magnitude (layer scales differ by orders of magnitude, and a shift moves every weight of the layer at once).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mtvir_decoder import Architecture, MtvirError, Params, sefcnn
from mtvir_decoder.descriptor import ADD, CONV, SE, SHUFFLE, UNSHUFFLE


class CQBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, quant_scale: int):
        super().__init__()
        self.S = quant_scale
        self.kernel = kernel
        self.weight = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))  # W_L
        self.bias = nn.Parameter(torch.zeros(cout))
        self.log_scale = nn.Parameter(torch.zeros(()))
        self.rel_shift = nn.Parameter(torch.zeros(()))  # shift / scale
        self.quantize = False
        # the coded (scale, shift) it was loaded from, and the parameters they became
        self.loaded: tuple[np.float32, np.float32, float, float] | None = None

    @property
    def scale(self) -> torch.Tensor:
        return torch.exp(self.log_scale)

    @property
    def shift(self) -> torch.Tensor:
        return self.scale * self.rel_shift

    def set_affine(self, scale: float, shift: float) -> None:
        if not scale > 0:
            raise ValueError(f"affine scale {scale} is not positive")
        with torch.no_grad():
            self.log_scale.fill_(float(np.log(np.float64(scale))))
            self.rel_shift.fill_(float(np.float64(shift) / np.float64(scale)))

    def affine_values(self) -> tuple[np.float32, np.float32]:
        """The float32 (scale, shift) to code; exactly the loaded ones while the parameters have not moved."""
        if self.loaded is not None and self.loaded[2:] == (self.log_scale.item(), self.rel_shift.item()):
            return self.loaded[0], self.loaded[1]
        return np.float32(self.scale.item()), np.float32(self.shift.item())

    def integer_weight(self) -> torch.Tensor:
        return torch.round(self.weight.detach() * self.S)

    def conv_weight(self) -> torch.Tensor:
        w = self.weight * self.S
        if self.quantize:
            w = w + (torch.round(w) - w).detach()  # straight-through estimator
        return self.scale * w / self.S + self.shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The affine map stays inside the conv weight even with the weights frozen: applying it after the conv
        # (no weight gradient) was 1.2x faster per step on one 2-core machine, 1.36x slower on another, and always
        # holds two more full-size tensors per layer (about 200 MB more at a step's peak; bench/online_speed.py)
        return F.conv2d(x, self.conv_weight(), self.bias, padding=self.kernel // 2)


def box_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """The mean over a k x k window, zeros beyond the edges counted (ONNX ``AveragePool``, count_include_pad):
    as a vertical then a horizontal depthwise conv, 8x faster forward and backward than torch's ``avg_pool2d``
    with a 9x9 window on CPU (which took a third of a training step)."""
    c = x.shape[1]
    tap = x.new_full((c, 1, k, 1), 1.0 / k)
    x = F.conv2d(x, tap, padding=(k // 2, 0), groups=c)
    return F.conv2d(x, tap.view(c, 1, 1, k), padding=(0, k // 2), groups=c)


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """fp32 or bf16 for the training steps. auto: bf16 where the CPU computes it natively (AVX512-BF16 or AMX), where
    online learning ran 1.5x faster to the same J (docs/journal/); float32 elsewhere (emulated bf16 is slow, and
    on a GPU it is not measured)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    native = any(getattr(torch.cpu, probe, lambda: False)()  # private probes: absent in another torch, then fp32
                 for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return "bf16" if device.type == "cpu" and native else "fp32"


def training_step_context(device: torch.device, precision: str):
    """Where a training step's forward runs, for a resolved precision: float32, or bfloat16 under autocast (the
    parameters, the loss and Adam stay float32; only the convolutions' arithmetic drops to bf16). The model coded
    is the same either way: its integers are rounded from the float32 W_L, and J judges each snapshot through the
    SDK's float32 Enhancer."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def training_layout(device: torch.device) -> torch.memory_format:
    """channels_last on CPU, where oneDNN's convolutions ran a 16-channel online step 1.35x faster than NCHW
    (docs/journal/); NCHW elsewhere (not measured)."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


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
        """x: N x 1 x H x W luma in [0, 1]; returns the enhanced luma (not clipped). A plane that the network's
        block does not divide is extended at the bottom and right by samples equal to the input offset (zeros
        after centring), as decoders do, and the output cropped."""
        h, w, block = x.shape[-2], x.shape[-1], self.arch.block
        if h % block or w % block:
            padded = F.pad(x, (0, -w % block, 0, -h % block), value=self.arch.input_offset)
            return self.forward(padded)[..., :h, :w]
        outs = [x - self.arch.input_offset]
        for n in self.arch.nodes:
            if n.op == CONV:
                y = self.convs[n.b](outs[n.a])
                outs.append(F.relu_(y) if n.c else y)
            elif n.op == ADD:
                y = outs[n.a] + outs[n.b]
                outs.append(F.relu_(y) if n.c else y)
            elif n.op == SE:
                src = outs[n.a]
                outs.append(src * torch.sigmoid(self.convs[n.b](box_mean(src, n.c))))
            elif n.op == UNSHUFFLE:  # channel c * r^2 + i * r + j: torch's order, the descriptor's
                outs.append(F.pixel_unshuffle(outs[n.a], n.b))
            elif n.op == SHUFFLE:
                outs.append(F.pixel_shuffle(outs[n.a], n.b))
        return x + outs[-1] if self.arch.global_residual else outs[-1]

    # --- exchange with the decoder SDK ---------------------------------------------------------------
    def to_params(self) -> Params:
        """The integers and floats a decoder rebuilds (W_Q rounded from W_L)."""
        affine = [c.affine_values() for c in self.convs]
        return Params(
            [c.integer_weight().cpu().numpy().astype(np.int32) for c in self.convs],
            [c.bias.detach().cpu().numpy().astype(np.float32).copy() for c in self.convs],
            np.array([a for a, _ in affine], np.float32),
            np.array([s for _, s in affine], np.float32),
        )

    def load_params(self, p: Params) -> "Network":
        """Start from a coded model: W_L at the bin centres W_Q / S, so no weight sits at a rounding boundary."""
        with torch.no_grad():
            for c, w, b, a, s in zip(self.convs, p.weights, p.biases, p.scale, p.shift):
                c.weight.copy_(torch.from_numpy(w.astype(np.float32)) / c.S)
                c.bias.copy_(torch.from_numpy(b))
                c.set_affine(float(a), float(s))
                c.loaded = (np.float32(a), np.float32(s), c.log_scale.item(), c.rel_shift.item())
        self.quantize = True
        return self

    def init_identity(self, seed: int = 0, tail_scale: float = 0.1) -> "Network":
        """Kaiming-normal weights (float mode), the tail zero: the network starts as exactly the identity.
        The tail's affine scale starts at ``tail_scale``: the correction is a hundredth of the signal, and at scale 1
        Adam's first steps on the tail throw noise at the output and training collapses to the identity."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for c, l in zip(self.convs, self.arch.layers):
                c.weight.normal_(0, float(np.sqrt(2.0 / (l.cin * l.kernel ** 2))), generator=g)
                c.bias.zero_()
                c.set_affine(1.0, 0.0)
            last = self.convs[next(n.b for n in reversed(self.arch.nodes) if n.op == CONV)]  # the tail
            last.weight.zero_()
            last.set_affine(tail_scale, 0.0)
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
                c.set_affine(a, 0.0)
        self.quantize = True
        return self

    def grown(self, arch: Architecture, seed: int = 0) -> "Network":
        """This network as a float model computing the same function, made wider or deeper when ``arch`` is a
        sefcnn of more channels or stages than this one (a sefcnn too): the new channels' weights into existing
        ones are zero and each new stage (after the existing ones) ends on a zero convolution, so nothing changes
        until they learn. Each layer keeps its affine pair (a new stage's layers take those of the last stage's), so
        Adam's steps stay relative to each layer's magnitude as in the reference's own training: at 1e-3 with
        unit affines, a grown 32-channel network collapsed to the identity within 250 steps. A heavier network starts
        from a shipped reference this way, not from nothing."""
        same = arch.canonical_bytes() == self.arch.canonical_bytes()  # any network: its float copy
        (c0, s0), (c1, s1) = ((0, 0), (0, 0)) if same else (sefcnn_shape(self.arch), sefcnn_shape(arch))
        if c1 < c0 or s1 < s0 or arch.quant_scale != self.arch.quant_scale:
            raise MtvirError(f"a {c0}-channel, {s0}-stage network grows into one of as many or more, not {c1} "
                             f"channels and {s1} stages")
        per = 0 if same else len(arch.layers[2:-2]) // s1  # layers of one stage: its convolutions and its SE
        # new layer -> (layer of this network, whether its weights are copied or only its affine pair is taken)
        source = {i if i < 2 + per * s0 else i + per * (s1 - s0): (i, True) for i in range(len(self.convs))}
        for k in range(s0, s1):  # a new stage: the affine pairs of the last existing stage's layers
            source.update({2 + per * k + j: (2 + per * (s0 - 1) + j, False) for j in range(per)})
        net = Network(arch).init_identity(seed)  # Kaiming weights where nothing is copied
        with torch.no_grad():
            for k in range(s0, s1):
                net.convs[2 + per * k + per - 2].weight.zero_()  # the new stage's last convolution
            for i, new in enumerate(net.convs):
                j, copy = source[i]
                old = self.convs[j]
                w = new.conv_weight()  # the conv weight wanted: init_identity's, or this network's where it has one
                if copy:
                    theirs = old.conv_weight()
                    co, ci = theirs.shape[:2]
                    w[:, ci:] = 0
                    w[:co, :ci] = theirs
                    new.bias.zero_()
                    new.bias[:co] = old.bias
                scale, shift = float(old.scale), float(old.shift)
                new.set_affine(scale, shift)
                new.weight.copy_((w - shift) / scale)
        return net


def sefcnn_shape(arch: Architecture) -> tuple[int, int]:
    """(channels, stages) of a network that ``descriptor.sefcnn`` makes with its other defaults, else MtvirError."""
    channels, stages = arch.layers[0].cout, sum(n.op == SE for n in arch.nodes)
    if stages < 1 or arch.canonical_bytes() != sefcnn(channels, stages,
                                                      quant_scale=arch.quant_scale).canonical_bytes():
        raise MtvirError("not a SEFCNN network (descriptor.sefcnn): only those grow")
    return channels, stages
