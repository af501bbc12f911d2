"""Online learning: fine-tune the reference on the very video, taking candidate snapshots along the way.

Training starts from the reference with W_L at the bin centres (W_Q / S), so a weight changes level only under a
consistent gradient. Adam, MSE on random patches of (BL luma, original luma). What adapts: ``bias_affine`` (the
biases and each CQB's affine scale and shift: 381 numbers, no integer residue) or ``all`` (the default: also W_L,
through the straight-through rounding), or ``auto``: both, one after the other, and rate-utility selection picks
among all their snapshots for each group (``families``). Each family has its own measured learning rates
(``FAMILY_RATES``): a step budget of a few hundred iterations on 2 cores is far from the paper's 30,000 GPU steps.

The loss can know the rate: J = D + lambda R_model, divided by the segment's pixels and peak^2, is the patches'
MSE plus ``lambda / (peak^2 * pixels)`` times the model's bits (``OnlineConfig.rate_weight`` scales it). The bits
are estimated as the coder spends them: each group (biases, relative scales, shifts, the integer residue before
rounding) takes a two-sided geometric law fitted to it, about n log2(mean |delta| / step) + const bits for n
numbers, whatever the coding step chosen later (it only shifts the constant). A weight then leaves its
reference level only where the MSE pays for the bits: every weight adapting, with this term, beat the biases
alone in J on carphone, and without it lost to them; J's lambda itself is another matter (docs/journal/).
"""
from __future__ import annotations

import copy
import ctypes
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from mtvir_decoder import Coding, Params, Reference, write

from .network import Network, resolve_precision, training_layout, training_step_context


@dataclass
class OnlineConfig:
    iterations: int = 600
    seconds: float | None = None
    lr: float | None = None  # Adam's rate of W_L; None: the family's own (``FAMILY_RATES``)
    affine_lr_factor: float | None = None  # biases and affine parameters learn at lr times this; None: the family's
    # all | bias_affine | auto (both, J picks): every weight matched or beat the biases and affine parameters alone
    # in BD-rate at 1.04x the cost per step (docs/journal/, 2026-12-03)
    adapt: str = "all"
    batch: int = 64
    patch: int = 35
    snapshot_every: int = 100
    seed: int = 0
    patience: int = 2  # snapshots without a lower J before a segment's learning stops (0: run every iteration)
    # snapshots of an exponential moving average of the parameters, this decay per step (0: the parameters as
    # trained): Adam at these rates moves the model by more between snapshots than the snapshots gain, so patience
    # tripped on noise. Warmed up (``ema_decay``): early snapshots do not lag by the whole window. Matched or beat
    # the weights themselves on carphone and bigbuckbunny, RA and AI, at the same cost (docs/journal/, 2026-12-04)
    ema: float = 0.99
    size_cap: int = 13824  # bytes of coded model: stop when a snapshot passes it (13.5 KB)
    device: str = "cpu"  # torch device of the training steps ("cuda" on a GPU machine)
    precision: str = "auto"  # the training steps' convolutions: fp32, bf16 (autocast), auto (network.resolve_precision)
    # the model's estimated bits in the loss, times J's own Lagrangian (0: MSE alone); None: on where the integer
    # residue is learned (adapt "all": it is what makes that family pay on carphone), off for bias_affine (no gain)
    rate_weight: float | None = None
    # J's Lagrangian, in selection and in the rate term: "slope", the BL's own RD slope measured on its first frames
    # (``bl.rd_slope``: what a bit of EL is worth on the BD-rate curve; HM's where the content has none), or "hm",
    # HM's mode-decision lambda for the QP, which is 3-8x below that slope in random access and 0.3-0.8x of it in
    # all intra (docs/journal/); times ``lambda_scale``
    lambda_source: str = "slope"
    lambda_scale: float = 1.0

    @property
    def bit_weight(self) -> float:
        return self.rate_weight if self.rate_weight is not None else float(self.adapt == "all")

    @property
    def step_budget(self) -> int:
        """Most training steps of a segment, all its learning runs together."""
        return self.iterations * len(self.families())

    @property
    def rates(self) -> tuple[float, float]:
        """(lr of W_L, lr of the biases and affine parameters): as set, else the family's own."""
        lr, factor = FAMILY_RATES[self.adapt]
        lr = self.lr if self.lr is not None else lr
        return lr, lr * (self.affine_lr_factor if self.affine_lr_factor is not None else factor)

    def families(self) -> list["OnlineConfig"]:
        """The learning runs of a segment: this one, or with ``auto`` the biases and affine parameters, then every
        weight, each at its own rates unless they are set."""
        if self.adapt != "auto":
            return [self]
        return [replace(self, adapt="bias_affine"), replace(self, adapt="all")]


# Each family's learning rates, measured (docs/journal/): (lr of W_L, factor of the biases and affine parameters).
# With every weight, W_L learns at 2e-3 and the biases and affine parameters at 4e-3 (at 1e-2 they switched the
# filter off within 100 steps at QP 22): under the moving average, twice the earlier 1e-3 / 2e-3 gained on carphone
# and bigbuckbunny, RA and AI, in the same steps (docs/journal/, 2026-12-04).
FAMILY_RATES = {"bias_affine": (2e-4, 10.0), "all": (2e-3, 2.0)}


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


# Below these mean |delta| the bits estimate flattens: for the float deltas the middle rung of the coding ladder
# (select.CODINGS), where a group of deltas this small rounds mostly to zero; for the integer residue a quarter of
# a level (a weight that has not left its level costs nothing more; set by hand, measured only at this value)
RATE_FLOOR = {"bias": 2.0 ** -10, "scale": 2.0 ** -8, "shift": 2.0 ** -10, "weights": 0.25}


class DeltaBits:
    """Bits of a network's bias and affine deltas (and with ``weights`` its integer residue) against the reference,
    as a differentiable estimate: per group n log2(mean |delta| + floor), up to a constant (the coder's geometric
    law fitted to the group)."""

    def __init__(self, reference: Params, device: torch.device, weights: bool = False):
        as_tensor = lambda a: torch.from_numpy(np.asarray(a, np.float32)).to(device)
        self.bias, self.scale, self.shift = (as_tensor(reference.flat(k)) for k in ("bias", "scale", "shift"))
        self.weights = [as_tensor(w) for w in reference.weights] if weights else None

    def deltas(self, net: Network) -> dict[str, torch.Tensor]:
        out = {"bias": torch.cat([c.bias for c in net.convs]) - self.bias,
               "scale": torch.stack([c.scale for c in net.convs]) / self.scale - 1,  # coded relative to the scale
               "shift": torch.stack([c.shift for c in net.convs]) - self.shift}
        if self.weights is not None:  # the integer residue before rounding, as one group (the writer shares one model when smaller)
            out["weights"] = torch.cat([(c.weight * c.S - w).flatten() for c, w in zip(net.convs, self.weights)])
        return out

    def __call__(self, net: Network) -> torch.Tensor:
        return sum(d.numel() * torch.log2(d.abs().mean() + RATE_FLOOR[k]) for k, d in self.deltas(net).items())


def learn(reference: Reference, recon: list[np.ndarray], orig: list[np.ndarray], bit_depth: int,
          cfg: OnlineConfig, progress=None, start: Params | None = None, lam: float = 0.0) -> list[Snapshot]:
    """Snapshots (step 0 is the starting model) of the model fine-tuned on these frames."""
    return list(snapshots(reference, recon, orig, bit_depth, cfg, progress, start, lam))


def snapshots(reference: Reference, recon: list[np.ndarray], orig: list[np.ndarray], bit_depth: int,
              cfg: OnlineConfig, progress=None, start: Params | None = None, lam: float = 0.0
              ) -> Iterator[Snapshot]:
    """Snapshots as training goes, from ``start`` (default: the reference) at step 0; the caller may stop early.
    Every model is coded as a residue to the reference, whatever it started from. ``lam``: J's Lagrangian per bit
    of model (the mean of the frames' lambda_i, SSE units): with ``cfg.bit_weight`` it prices the model's bits in
    the loss (0: MSE alone)."""
    if cfg.adapt not in ("bias_affine", "all"):
        raise ValueError(f"adapt must be bias_affine or all, not {cfg.adapt!r}")
    if not 0.0 <= cfg.ema < 1.0:
        raise ValueError(f"ema must be in [0, 1), not {cfg.ema}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    peak = float((1 << bit_depth) - 1)
    dev = torch.device(cfg.device)
    layout, precision = training_layout(dev), resolve_precision(cfg.precision, dev)  # once: not per step
    net = Network(reference.arch).load_params(start or reference.params).to(dev, memory_format=layout)
    affine = [p for c in net.convs for p in (c.bias, c.log_scale, c.rel_shift)]
    lr, affine_lr = cfg.rates
    groups = [{"params": affine, "lr": affine_lr}]
    if cfg.adapt == "all":
        groups.append({"params": [c.weight for c in net.convs], "lr": lr})
    else:
        for c in net.convs:
            c.weight.requires_grad_(False)
    opt = torch.optim.Adam(groups)
    average = copy.deepcopy(net).requires_grad_(False) if cfg.ema else None  # what snapshots take, if averaged
    # J / (peak^2 pixels) = MSE + lam R / (peak^2 pixels): the price of a bit in units of the loss
    bit_price = cfg.bit_weight * lam / (peak ** 2 * len(recon) * recon[0].size)
    delta_bits = DeltaBits(reference.params, dev, weights=cfg.adapt == "all") if bit_price > 0 else None
    yield Snapshot(0, 0.0, net.to_params(), float("nan"))
    t0, losses = time.time(), []
    patch, batch = patch_shape(cfg, reference.arch)
    for step in range(1, cfg.iterations + 1):
        x, y = (t.to(dev, memory_format=layout) for t in _patches(rng, recon, orig, batch, patch, peak))
        with training_step_context(dev, precision):
            pred = net(x)
        mse = torch.mean((pred.float() - y) ** 2)
        loss = mse + bit_price * delta_bits(net) if delta_bits is not None else mse
        opt.zero_grad()
        loss.backward()
        opt.step()
        if average is not None:
            with torch.no_grad():
                weight = 1.0 - ema_decay(cfg.ema, step)
                for a, p in zip(average.parameters(), net.parameters()):
                    a.lerp_(p, weight)
        losses.append(mse.item())
        if progress:
            progress(1)
        elapsed = time.time() - t0
        out_of_time = cfg.seconds is not None and elapsed >= cfg.seconds
        if step % cfg.snapshot_every == 0 or step == cfg.iterations or out_of_time:
            params = (net if average is None else average).to_params()
            yield Snapshot(step, elapsed, params, float(np.mean(losses[-cfg.snapshot_every:])))
            if cfg.adapt == "all" and _coded_size(reference, params) > cfg.size_cap:
                return
        if out_of_time:
            return


def patch_shape(cfg: OnlineConfig, arch) -> tuple[int, int]:
    """(patch side, patches per step). A network that unshuffles (the light tier) takes patches of at least 64,
    a multiple of its block, in fewer per step (the same pixels): for the first light network (unshuffle by 4,
    19-pixel receptive radius) 35x35 patches were mostly zero extension and halo, and it learned nothing on carphone."""
    if arch.block == 1:
        return cfg.patch, cfg.batch
    patch = -(-max(cfg.patch, 64) // arch.block) * arch.block
    return patch, max(1, round(cfg.batch * cfg.patch ** 2 / patch ** 2))


def ema_decay(decay: float, step: int) -> float:
    """The moving average's decay at this step: ``decay``, but at most (1 + step) / (10 + step), a window of about
    step / 9 steps until it reaches ``decay``'s (step 890 for 0.99). Without the warm-up the average lagged the
    weights by its whole window from the start and missed carphone's best early snapshots (docs/journal/)."""
    return min(decay, (1.0 + step) / (10.0 + step))


def _coded_size(reference: Reference, params: Params) -> int:
    return len(write(reference.arch, [(0, 1, params, Coding())], reference))


def release_memory() -> None:
    """Hand the heap that training freed back to the system (glibc's ``malloc_trim``; elsewhere nothing): torch's
    freed activations otherwise stay in the process, and the Enhancer's full run at 1080p came on top of them."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass
