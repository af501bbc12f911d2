"""Entropy coding: exact round trips, near the empirical entropy, constant tensors nearly free."""
from __future__ import annotations

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import entropy, layout


def hist_bytes(hs):
    return sum(len(layout.write("histogram", h.to_fields())) for h in hs)


@pytest.mark.parametrize("seed", range(5))
def test_round_trip(seed):
    rng = np.random.default_rng(seed)
    groups = [np.rint(rng.laplace(0, s, n)).astype(np.int64) for s, n in ((0.3, 2304), (3.0, 144), (0, 16), (40, 5))]
    hs, coded = entropy.encode(groups)
    out = entropy.decode(hs, coded, [len(g) for g in groups])
    assert all(np.array_equal(a, b) for a, b in zip(groups, out))


def test_size_near_empirical_entropy():
    rng = np.random.default_rng(0)
    residue = np.rint(rng.laplace(0, 0.8, 40224)).astype(np.int64)
    hs, coded = entropy.encode([residue])
    bound = entropy.empirical_entropy_bits(residue) / 8
    assert len(coded) <= bound * 1.005 + 8  # within 0.5 % plus the coder's flush
    assert hist_bytes(hs) < 40


def test_constant_tensors_cost_only_their_histogram():
    hs, coded = entropy.encode([np.zeros(40224, np.int64), np.full(16, 3)])
    assert coded == b"" and hist_bytes(hs) <= 14  # kind, lo, hi, one count each
    out = entropy.decode(hs, coded, [40224, 16])
    assert not out[0].any() and (out[1] == 3).all()


def test_damaged_streams_raise_format_errors():
    rng = np.random.default_rng(1)
    g = np.rint(rng.laplace(0, 2, 3000)).astype(np.int64)
    hs, coded = entropy.encode([g])
    for bad in (coded[:-4], coded + b"\0\0\0\0", coded[:-1], b""):
        try:
            out = entropy.decode(hs, bad, [3000])
        except m.MtvirError:
            continue
        assert not np.array_equal(out[0], g) or bad == coded
    with pytest.raises(m.FormatError):
        entropy.decode(hs, coded, [2999])


def test_geometric_law_for_wide_sparse_alphabets():
    rng = np.random.default_rng(3)
    deltas = np.rint(rng.laplace(10, 40, 337)).astype(np.int64)  # like 337 bias deltas at a fine step
    hs, coded = entropy.encode([deltas])
    assert hs[0].kind == entropy.GEOMETRIC and hist_bytes(hs) <= 10
    exact, exact_coded = entropy.encode([deltas], fit=False)
    assert hist_bytes(hs) + len(coded) < 0.7 * (hist_bytes(exact) + len(exact_coded))
    assert np.array_equal(entropy.decode(hs, coded, [337])[0], deltas)
    bimodal = rng.choice([-3, 0, 3], 5000, p=[0.45, 0.1, 0.45])  # not Laplace-shaped: exact counts win
    assert entropy.encode([bimodal])[0][0].kind == entropy.COUNTS


def test_geometric_weights_are_exact_integers():
    w = entropy.geometric_weights(-2, 40, 0, 32768)  # ratio 1/2
    assert w[2] == 1 << 24 and w[0] == w[4] == 1 << 22 and w[3] == 1 << 23
    assert w[-1] == 1  # floored at 1: every symbol in range stays codable
    assert w.dtype == np.int64


def test_geometric_fields_are_checked():
    good = {"kind": 1, "lo": -5, "hi": 5, "count_n": 0, "counts": [], "center": [0], "decay": [60000]}
    assert entropy.Histogram.from_fields(good).kind == entropy.GEOMETRIC
    for bad in ({**good, "center": [6]}, {**good, "count_n": 1, "counts": [1]}, {**good, "lo": 6}):
        with pytest.raises(m.FormatError):
            entropy.Histogram.from_fields(bad)
    with pytest.raises(m.FormatError):
        entropy.Histogram.from_fields({"kind": 0, "lo": 0, "hi": 3, "count_n": 2, "counts": [1, 1],
                                       "center": [], "decay": []})
