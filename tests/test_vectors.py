"""Conformance vectors: real EL files, the rebuilt models' hashes and the expected outputs within the tolerance."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m

VECTORS = Path(__file__).resolve().parents[1] / "schemas" / "vectors"
MANIFEST = json.loads((VECTORS / "vectors.json").read_text())
CASES = [(VECTORS, e) for e in MANIFEST["vectors"]] + [  # v1: frozen, still decoded
    (VECTORS / "v1", e) for e in json.loads((VECTORS / "v1" / "vectors.json").read_text())["vectors"]]


def _id(c):
    return "".join([c["file"]] + [f":{c[k]}" for k in ("tier", "plane") if c.get(k)]) if isinstance(c, dict) \
        else c.name


@pytest.mark.parametrize("folder, entry", CASES, ids=_id)
def test_vector(folder, entry):
    data = (folder / entry["file"]).read_bytes()
    ref = m.Reference.load(folder / entry["reference"]) if entry["reference"] else None
    tier, plane = entry.get("tier"), entry.get("plane", "y")
    el = m.read(data, ref, tier=tier, plane=plane)
    assert [(g.first_frame, g.frame_count, hashlib.sha256(g.params.hash_bytes()).hexdigest()) for g in el.groups] \
        == [(g["first_frame"], g["frame_count"], g["params_sha256"]) for g in entry["groups"]]
    if "folded_sha256" in entry["groups"][0]:  # v2 vectors: the folded weights too, to the bit
        assert [hashlib.sha256(b"".join(w.astype("<f4").tobytes() for w, _ in g.params.folded(el.arch))).hexdigest()
                for g in el.groups] == [g["folded_sha256"] for g in entry["groups"]]
    enh = m.Enhancer(data, reference=ref, tier=tier or "auto")
    assert enh.tier == (tier or "full")
    enh = enh if plane == "y" else enh.chroma[plane]  # a chroma plane runs through its own model's Enhancer
    tol = entry.get("tolerance", MANIFEST["tolerance"])
    for f in entry["frames"]:
        x = np.load(folder / f["input"])
        if f.get("refused"):
            with pytest.raises(m.InputMismatchError):
                enh.enhance(x, f["frame_index"], bit_depth=f["bit_depth"])
            continue
        want = np.load(folder / f["expected"])
        got = enh.enhance(x, f["frame_index"], bit_depth=f.get("bit_depth"))
        diff = np.abs(got.astype(np.int64) - want)
        assert got.dtype == want.dtype and diff.max() <= tol["max_abs_diff"]
        assert np.mean(diff > 0) <= tol["max_fraction_differing"]


@pytest.mark.parametrize("entry", MANIFEST["refused"], ids=lambda e: e["file"])
def test_refused_file(entry):
    """Each file breaking one rule of the spec is refused with an MtvirError (a tiered EL's: that tier)."""
    ref = m.Reference.load(VECTORS / entry["reference"]) if entry["reference"] else None
    with pytest.raises(m.MtvirError):
        m.read((VECTORS / entry["file"]).read_bytes(), ref, tier=entry.get("tier"), plane=entry.get("plane", "y"))


def test_a_damaged_tier_costs_that_tier_only():
    data = (VECTORS / "refused_v3_damaged_light.mtvir").read_bytes()
    assert m.read(data, tier="full").tier == "full"
    with pytest.warns(m.errors.MtvirWarning, match="light tier is not used"):
        enh = m.Enhancer(data, fps=1e9)  # auto: nothing is fast enough, the lightest readable tier is taken
    assert enh.tier == "full" and enh.tiers == ["light", "full"]


def test_a_damaged_chroma_model_costs_chroma_only():
    """v4_colour with a bit flipped in its U/V model: luma still enhances as v4_colour's does, chroma plays as
    decoded (one warning), and a player that wants luma alone never reads the chroma bytes."""
    data = (VECTORS / "refused_v4_damaged_chroma.mtvir").read_bytes()
    entry = next(e for e in MANIFEST["vectors"] if e["file"] == "v4_colour.mtvir" and e["plane"] == "y")
    with pytest.warns(m.errors.MtvirWarning, match="UV model is not used"):
        enh = m.Enhancer(data)
    assert enh.planes == "y" and enh.chroma == {}
    f = entry["frames"][0]
    y = np.load(VECTORS / f["input"])
    u = v = np.full((19, 23), 300, np.uint16)
    out_y, out_u, out_v = enh.enhance_frame(y, u, v, f["frame_index"])
    assert np.abs(out_y.astype(np.int64) - np.load(VECTORS / f["expected"])).max() <= 1
    assert out_u is u and out_v is v
    assert m.read(data, plane="y").groups  # the luma entry alone is read: intact
    with pytest.raises(m.FormatError):
        m.read(data, plane="u")


def test_colour_enhancer_whole_frame_and_refusals():
    """enhance_frame runs each plane through its own model (the vectors' outputs), refuses chroma of another size
    or type, and an EL without chroma models gives chroma back as given."""
    data = (VECTORS / "v4_colour.mtvir").read_bytes()
    enh = m.Enhancer(data)
    assert enh.planes == "yuv" and enh.chroma_format == "4:2:0" and enh.chroma["u"] is enh.chroma["v"]
    assert enh.macs_per_pixel == m.tiers.table(data).tiers[0].macs_per_pixel
    frames = {e["plane"]: e["frames"] for e in MANIFEST["vectors"] if e["file"] == "v4_colour.mtvir"}
    f0 = {p: next(f for f in frames[p] if f["frame_index"] == 0) for p in "yu"}
    y, u = (np.load(VECTORS / f0[p]["input"]) for p in "yu")
    v = u[::-1].copy()
    out = enh.enhance_frame(y, u, v, 0)
    assert np.abs(out[0].astype(np.int64) - np.load(VECTORS / f0["y"]["expected"])).max() <= 1
    assert np.abs(out[1].astype(np.int64) - np.load(VECTORS / f0["u"]["expected"])).max() <= 1
    assert np.array_equal(out[2], enh.chroma["v"].enhance(v, 0))
    for bad_u in (u[:-1], u.astype(np.uint8), np.zeros((37, 45), np.uint16)):
        with pytest.raises(m.InputMismatchError):
            enh.enhance_frame(y, bad_u, v, 0)
    luma_only = m.Enhancer((VECTORS / "v2_residue.mtvir").read_bytes(),
                           reference=m.Reference.load(VECTORS / "reference_vec.mtvir"))
    x = np.load(VECTORS / "v2_residue_f0_in.npy")
    odd = np.zeros((3, 5), np.uint8)  # chroma the EL does not cover: untouched, whatever its size
    assert luma_only.planes == "y" and luma_only.enhance_frame(x, odd, odd, 0)[1] is odd


def test_a_tier_without_luma_passes_luma_through():
    data = (VECTORS / "v4_chroma_only.mtvir").read_bytes()
    enh = m.Enhancer(data)
    assert enh.planes == "v" and enh.tier == "light"
    y, u, v = np.full((32, 40), 90, np.uint8), np.full((16, 20), 100, np.uint8), np.load(
        VECTORS / "v4_chroma_only_light_v_f0_in.npy")
    out = enh.enhance_frame(y, u, v, 0)
    assert np.array_equal(out[0], y) and out[1] is u
    assert np.abs(out[2].astype(np.int64) - np.load(VECTORS / "v4_chroma_only_light_v_f0_out.npy")).max() <= 1


def test_vectors_regenerate_identically(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS.parent / "make_vectors.py")
    mv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mv)
    mv.main(tmp_path)
    ours = sorted(p.name for p in VECTORS.iterdir() if p.is_file())
    assert sorted(p.name for p in tmp_path.iterdir()) == ours
    for name in ours:  # outputs may differ within the tolerance on another CPU (summation order)
        if not name.endswith("_out.npy"):
            assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), name
    for entry in MANIFEST["vectors"]:
        tol = entry.get("tolerance", MANIFEST["tolerance"])
        for f in entry["frames"]:
            if "expected" in f:
                diff = np.abs(np.load(tmp_path / f["expected"]).astype(np.int64) - np.load(VECTORS / f["expected"]))
                assert diff.max() <= tol["max_abs_diff"], f["expected"]


def test_v1_files_read_back_into_the_same_models_in_v2():
    """Nothing writes v1 any more; a v1 EL read and written again is a v2 EL of the very same models."""
    folder = VECTORS / "v1"
    ref = m.Reference.load(folder / "reference_vec.mtvir")
    old = m.read((folder / "v1_groups_10bit.mtvir").read_bytes(), ref)
    assert old.version_major == 1
    new = m.read(m.write(old.arch, [(g.first_frame, g.frame_count, g.params, g.coding) for g in old.groups], ref,
                         old.width, old.height, old.bit_depth, old.frame_count), ref)
    assert new.version_major == 2
    assert [g.params.hash_bytes() for g in new.groups] == [g.params.hash_bytes() for g in old.groups]


def test_v2_needs_no_constriction_and_v1_says_what_it_needs():
    """Without constriction, v2 files decode and enhance; a v1 file gets a clear UnsupportedVersionError."""
    import subprocess
    import sys
    code = f"""
import sys
sys.modules["constriction"] = None  # any import of it now fails
import numpy as np, mtvir_decoder as m
v = {str(VECTORS)!r}
ref = m.Reference.load(v + "/reference_vec.mtvir")
data = open(v + "/v2_residue.mtvir", "rb").read()
m.Enhancer(data, reference=ref).enhance(np.load(v + "/v2_residue_f0_in.npy"), 0)
try:
    m.read(open(v + "/v1/v1_self_contained.mtvir", "rb").read())
except m.UnsupportedVersionError as exc:
    print("v1:", exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "v1: reading an EL v1 needs constriction" in done.stdout
