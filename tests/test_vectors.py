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
    return (c["file"] + (f":{c['tier']}" if c.get("tier") else "")) if isinstance(c, dict) else c.name


@pytest.mark.parametrize("folder, entry", CASES, ids=_id)
def test_vector(folder, entry):
    data = (folder / entry["file"]).read_bytes()
    ref = m.Reference.load(folder / entry["reference"]) if entry["reference"] else None
    tier = entry.get("tier")
    el = m.read(data, ref, tier=tier)
    assert [(g.first_frame, g.frame_count, hashlib.sha256(g.params.hash_bytes()).hexdigest()) for g in el.groups] \
        == [(g["first_frame"], g["frame_count"], g["params_sha256"]) for g in entry["groups"]]
    if "folded_sha256" in entry["groups"][0]:  # v2 vectors: the folded weights too, to the bit
        assert [hashlib.sha256(b"".join(w.astype("<f4").tobytes() for w, _ in g.params.folded(el.arch))).hexdigest()
                for g in el.groups] == [g["folded_sha256"] for g in entry["groups"]]
    enh = m.Enhancer(data, reference=ref, tier=tier or "auto")
    assert enh.tier == (tier or "full")
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
        m.read((VECTORS / entry["file"]).read_bytes(), ref, tier=entry.get("tier"))


def test_a_damaged_tier_costs_that_tier_only():
    data = (VECTORS / "refused_v3_damaged_light.mtvir").read_bytes()
    assert m.read(data, tier="full").tier == "full"
    with pytest.warns(m.errors.MtvirWarning, match="light tier is not used"):
        enh = m.Enhancer(data, fps=1e9)  # auto: nothing is fast enough, the lightest readable tier is taken
    assert enh.tier == "full" and enh.tiers == ["light", "full"]


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
