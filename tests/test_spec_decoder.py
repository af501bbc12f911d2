"""The spec-only decoder (schemas/spec_decoder.py, written from EL_v2.md) reproduces every vector without
constriction or the SDK, agrees with the SDK on ELs of every coding, and notices when a vector is wrong."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
from conftest import perturbed, random_params

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
_spec = importlib.util.spec_from_file_location("spec_decoder", SCHEMAS / "spec_decoder.py")
spec_decoder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(spec_decoder)

BLOCKED = """
import runpy, sys
for name in ("constriction", "mtvir_decoder", "onnxruntime", "torch"):
    sys.modules[name] = None  # any import of these now fails
sys.argv = ["spec_decoder.py", sys.argv[1]]
runpy.run_path(sys.argv[0].replace("spec_decoder.py", "") + {script!r}, run_name="__main__")
"""


def test_vectors_reproduce_without_constriction_or_the_sdk():
    code = BLOCKED.format(script=str(SCHEMAS / "spec_decoder.py"))
    done = subprocess.run([sys.executable, "-c", code, str(SCHEMAS / "vectors")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = json.loads((SCHEMAS / "vectors" / "vectors.json").read_text())
    assert done.stdout.count("ok  ") == len(listed["vectors"]) + len(listed["refused"])


def test_a_wrong_vector_fails(tmp_path):
    folder = tmp_path / "vectors"
    shutil.copytree(SCHEMAS / "vectors", folder)
    out = folder / "v2_residue_f0_out.npy"
    y = np.load(out)
    y[::3, ::3] ^= 4  # off by more than the tolerance on a ninth of the samples
    np.save(out, y)
    manifest = json.loads((folder / "vectors.json").read_text())
    manifest["vectors"][1]["groups"][0]["params_sha256"] = "0" * 64
    (folder / "vectors.json").write_text(json.dumps(manifest))
    failures = spec_decoder.check_vectors(folder)
    assert len(failures) == 2 and "v2_residue" in failures[0] and "rebuilt models differ" in failures[1]


@pytest.mark.parametrize("case", range(8))
def test_agrees_with_the_sdk_on_every_coding(case):
    rng = np.random.default_rng(case)
    arch = m.sefcnn() if case % 2 else m.sefcnn(channels=8, stages=2, convs_per_stage=2, window=5)
    ref = m.Reference(arch, random_params(arch, 100 + case), "spec")
    online = perturbed(ref.params, 200 + case, int(rng.integers(1, 400)))
    coding = m.Coding(*(None if rng.random() < 0.2 else int(rng.integers(-14, -4)) for _ in range(3)),
                      weights=str(rng.choice(["auto", "residue", "absolute"])),
                      shared_histogram=[None, True, False][case % 3], lanes=int(rng.choice([1, 2, 7, 64])))
    groups = [(0, 2, online, coding), (2, 1, ref.params, m.Coding()), (5, 3, perturbed(online, case, 30), coding)]
    data = m.write(arch, groups, ref, 40, 32, 8, 9, inline_descriptor=bool(case % 4 == 1))
    el, models = spec_decoder.decode(data, ref.to_bytes())
    sdk = m.read(data, ref)
    assert [(f, n, hashlib.sha256(spec_decoder.params_bytes(p)).digest()) for f, n, p in models] == \
        [(g.first_frame, g.frame_count, hashlib.sha256(g.params.hash_bytes()).digest()) for g in sdk.groups]
    luma = np.random.default_rng(case).integers(0, 256, (32, 40), dtype=np.uint8)
    want = m.Enhancer(data, reference=ref, providers=["CPUExecutionProvider"]).enhance(luma, 0)
    diff = np.abs(spec_decoder.run(el["descriptor"], models[0][2], luma, 8).astype(int) - want)
    assert diff.max() <= 1 and np.mean(diff > 0) <= 0.01


def test_refuses_a_damaged_stream():
    data = (SCHEMAS / "vectors" / "v2_self_contained.mtvir").read_bytes()
    fields = m.format.parse(data)["models"][0]["payload"]
    coded = fields["coded"]
    at = data.index(coded) + len(coded) // 2
    bad = bytearray(data[:-4])
    bad[at] ^= 0x10
    bad = bytes(bad) + m.format.zlib.crc32(bytes(bad)).to_bytes(4, "little")
    with pytest.raises(spec_decoder.SpecError):
        spec_decoder.decode(bad, None)
    with pytest.raises(m.FormatError):
        m.read(bad)


def _largest_s_among_ties(w):
    n, total = sum(1 for v in w if v), sum(w)
    f = [1 + v * (65536 - n) // total if v else 0 for v in w]
    f[len(w) - 1 - w[::-1].index(max(w))] += 65536 - sum(f)
    return f


def _binary32_scale(name, ref, q, e):
    if name != "scale":
        return ORIGINAL["delta_value"](name, ref, q, e)
    return (ref.astype(np.float32) * (np.float32(1) + q.astype(np.float32) * np.float32(2.0 ** e))).astype(np.float32)


def _binary32_fold(a, t, w, S):
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.float32(a) * (w.astype(np.float32) / np.float32(S)) + np.float32(t)).astype(np.float32)


def _unshuffle_as_space_to_depth(x, r):
    """ONNX SpaceToDepth's channel order, (i r + j) C + c, not the spec's c r^2 + i r + j."""
    ch, h, w = x.shape
    return x.reshape(ch, h // r, r, w // r, r).transpose(2, 4, 0, 1, 3).reshape(ch * r * r, h // r, w // r)


def _edge_extension(d, p, luma, bit_depth):
    """The plane extended to the block by repeating its last row and column instead of with zeros."""
    block = max(d["scales"])
    h, w = luma.shape
    big = np.pad(luma, ((0, -h % block), (0, -w % block)), mode="edge")
    return ORIGINAL["run"](d, p, big, bit_depth)[:h, :w]


def _residual_always(r, minor):
    d = ORIGINAL["descriptor"](r, minor)
    return {**d, "residual": 1}


ORIGINAL = {name: getattr(spec_decoder, name) for name in
            ("frequencies", "weight_table", "delta_value", "fold", "normalise", "to_samples", "end_of_struct",
             "same_descriptor", "descriptor", "check_frame", "unshuffle", "run")}
# (a reading the spec rules out: the function it replaces and how, the vector that must then fail)
WRONG_READINGS = {
    "s* the largest s among equal weights": ("frequencies", _largest_s_among_ties, "v2_tie_break"),
    "the geometric table as a floating-point power": (
        "weight_table", lambda decay, reach: [max(1, int(2 ** 24 * (decay / 65536) ** k)) for k in range(reach + 1)],
        "v2_geometric_deltas"),
    "scale deltas in binary32": ("delta_value", _binary32_scale, "v2_geometric_deltas"),
    "folding in binary32": ("fold", _binary32_fold, "folded weights differ"),
    "u = Y * (1/P)": ("normalise", lambda y, p: (y.astype(np.float32) * (np.float32(1) / p)).astype(np.float32),
                      "v2_exact_arithmetic"),
    "halves rounded away from zero": ("to_samples", lambda v, p, t: np.floor(np.clip(v, 0, 1) * p + np.float32(0.5))
                                      .astype(t), "v2_exact_arithmetic"),
    "the last product in binary64": ("to_samples", lambda v, p, t: np.rint(np.clip(v, 0, 1).astype(np.float64)
                                                                            * float(p)).astype(t),
                                     "v2_exact_arithmetic"),
    "trailing bytes refused under any minor version": ("end_of_struct", lambda r, minor: ORIGINAL["end_of_struct"](
        r, 0), "v2_minor2_trailing"),
    "appended descriptor fields compared": ("same_descriptor", lambda a, b: a == b, "v2_minor2_trailing"),
    "the global-residual flag ignored": ("descriptor", _residual_always, "v2_no_residual_constant"),
    "frames refused only for their size": ("check_frame", lambda *a: None, "enhanced, the spec refuses it"),
    "unshuffle in SpaceToDepth's channel order": ("unshuffle", _unshuffle_as_space_to_depth, "v2_1_blocks"),
    "the block extension repeating the edge": ("run", _edge_extension, "v2_1_blocks"),
}


@pytest.mark.parametrize("reading", WRONG_READINGS)
def test_a_wrong_reading_fails_its_vector(reading, monkeypatch):
    """Each reading that the spec rules out, swapped into the spec decoder, makes a vector fail: the vectors
    settle it."""
    name, wrong, fails = WRONG_READINGS[reading]  # (the right readings pass: the first test of this file)
    monkeypatch.setattr(spec_decoder, name, wrong)
    failures = spec_decoder.check_vectors(SCHEMAS / "vectors")
    assert any(fails in f for f in failures), failures


def test_bias_and_shift_deltas_round_once_in_either_arithmetic():
    """Why no vector settles binary64 against binary32 for bias and shift deltas: with |q| <= 32768 the two agree
    (the binary64 sum is exact, or the delta is too small to reach a binary32 rounding boundary), so the spec's
    binary64 rule costs a binary32 decoder nothing there. Scales differ, and v2_geometric_deltas shows it."""
    rng = np.random.default_rng(0)
    for e in range(-40, 9):
        ref = (rng.standard_normal(4000) * np.exp2(rng.integers(-60, 60, 4000))).astype(np.float32)
        q = rng.integers(-32768, 32769, 4000)
        spec = spec_decoder.delta_value("bias", ref, q.astype(np.float64), e)
        with np.errstate(over="ignore"):
            single = (ref + q.astype(np.float32) * np.float32(2.0 ** e)).astype(np.float32)
        finite = np.isfinite(spec)
        assert np.array_equal(spec[finite], single[finite])
