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


@pytest.mark.parametrize("entry", MANIFEST["vectors"], ids=lambda e: e["file"])
def test_vector(entry):
    data = (VECTORS / entry["file"]).read_bytes()
    ref = m.Reference.load(VECTORS / entry["reference"]) if entry["reference"] else None
    el = m.read(data, ref)
    assert [(g.first_frame, g.frame_count, hashlib.sha256(g.params.hash_bytes()).hexdigest()) for g in el.groups] \
        == [(g["first_frame"], g["frame_count"], g["params_sha256"]) for g in entry["groups"]]
    enh = m.Enhancer(data, reference=ref)
    tol = MANIFEST["tolerance"]
    for f in entry["frames"]:
        x, want = np.load(VECTORS / f["input"]), np.load(VECTORS / f["expected"])
        got = enh.enhance(x, f["frame_index"])
        diff = np.abs(got.astype(np.int64) - want)
        assert got.dtype == want.dtype and diff.max() <= tol["max_abs_diff"]
        assert np.mean(diff > 0) <= tol["max_fraction_differing"]


def test_vectors_regenerate_identically():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS.parent / "make_vectors.py")
    mv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mv)
    arch = m.sefcnn()
    ref = m.Reference(arch, mv.params(arch, 11))
    assert ref.to_bytes() == (VECTORS / "reference_vec.mtvir").read_bytes()
    again = m.write(arch, [(0, 1, mv.nudged(ref.params, 1), m.Coding())], ref, 48, 40, 8, 1)
    assert again == (VECTORS / "v1_residue.mtvir").read_bytes()
