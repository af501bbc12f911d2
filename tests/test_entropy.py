"""Entropy coding (EL v2: integer models, rANS): exact round trips, near the empirical entropy, constant tensors
nearly free, damaged streams refused, the integer model rule exact."""
from __future__ import annotations

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import entropy, layout, rans


def hist_bytes(hs):
    return sum(len(layout.write("histogram", h.to_fields())) for h in hs)


GROUPS = ((0.3, 2304), (3.0, 144), (0, 16), (40, 5))


@pytest.mark.parametrize("seed, lanes", [(s, k) for s in range(4) for k in (1, 3, 64)])
def test_round_trip(seed, lanes):
    rng = np.random.default_rng(seed)
    groups = [np.rint(rng.laplace(0, s, n)).astype(np.int64) for s, n in GROUPS]
    hs, k, coded = entropy.encode(groups, lanes=lanes)
    assert k == lanes and len(coded) >= 4 * lanes
    out = entropy.decode(hs, coded, [len(g) for g in groups], k)
    assert all(np.array_equal(a, b) for a, b in zip(groups, out))


def test_size_near_empirical_entropy():
    rng = np.random.default_rng(0)
    residue = np.rint(rng.laplace(0, 0.8, 40224)).astype(np.int64)
    hs, lanes, coded = entropy.encode([residue])
    bound = entropy.empirical_entropy_bits(residue) / 8
    assert len(coded) <= bound * 1.005 + 4  # within 0.5 % plus the lane's 4-byte state
    assert hist_bytes(hs) < 40


def test_constant_tensors_cost_only_their_histogram():
    hs, lanes, coded = entropy.encode([np.zeros(40224, np.int64), np.full(16, 3)])
    assert coded == b"" and lanes == 0 and hist_bytes(hs) <= 14  # kind, lo, hi, one count each
    out = entropy.decode(hs, coded, [40224, 16], lanes)
    assert not out[0].any() and (out[1] == 3).all()


def test_damaged_streams_raise_format_errors():
    rng = np.random.default_rng(1)
    g = np.rint(rng.laplace(0, 2, 3000)).astype(np.int64)
    hs, lanes, coded = entropy.encode([g], lanes=2)
    for bad in (coded[:-2], coded + b"\0\0", coded[:-1], b"", coded[2:], bytes(4) + coded[4:]):
        with pytest.raises(m.FormatError):
            entropy.decode(hs, bad, [3000], lanes)
    for wrong_lanes in (0, 1, 3, 65):
        with pytest.raises(m.FormatError):
            entropy.decode(hs, coded, [3000], wrong_lanes)
    with pytest.raises(m.FormatError):
        entropy.decode(hs, coded, [2999], lanes)


@pytest.mark.parametrize("seed", range(3))
def test_any_stream_that_decodes_is_the_canonical_one(seed):
    """The end check (every lane back at 2^16, every word read) leaves no second stream for the same symbols:
    random and mutated streams either fail or re-encode to exactly themselves."""
    rng = np.random.default_rng(seed)
    g = rng.choice([-1, 0, 1, 2], 40, p=[0.2, 0.5, 0.2, 0.1])
    hs, lanes, coded = entropy.encode([g], fit=False, lanes=2)
    decoded = 0
    for trial in range(3000):
        bad = bytearray(coded if trial % 2 else rng.bytes(len(coded)))
        for _ in range(rng.integers(1, 3)):
            bad[rng.integers(len(bad))] = rng.integers(256)
        try:
            out = entropy.decode(hs, bytes(bad), [40], lanes)
        except m.FormatError:
            continue
        decoded += 1
        assert entropy.code(hs, out, lanes) == bytes(bad)
    assert decoded >= 1  # the unchanged stream, at least


def test_integer_frequencies_follow_the_rule():
    f = rans.frequencies(np.array([5, 0, 1, 1000, 3]))
    n, rest = 4, rans.TOTAL - 4
    want = np.array([1 + 5 * rest // 1009, 0, 1 + rest // 1009, 1 + 1000 * rest // 1009, 1 + 3 * rest // 1009])
    want[3] += rans.TOTAL - want.sum()  # the first largest weight takes the remainder
    assert np.array_equal(f, want) and f.sum() == rans.TOTAL
    geometric = entropy.Histogram(-4096 // 2, 4096 // 2 - 1, (), entropy.GEOMETRIC, 0, 65535)
    f = geometric.frequencies  # the widest alphabet: every symbol keeps a frequency of at least 1
    assert f.sum() == rans.TOTAL and f.min() >= 1 and f.size == 4096


def test_geometric_law_for_wide_sparse_alphabets():
    rng = np.random.default_rng(3)
    deltas = np.rint(rng.laplace(10, 40, 337)).astype(np.int64)  # like 337 bias deltas at a fine step
    hs, lanes, coded = entropy.encode([deltas])
    assert hs[0].kind == entropy.GEOMETRIC and hist_bytes(hs) <= 10
    exact, _, exact_coded = entropy.encode([deltas], fit=False)
    assert hist_bytes(hs) + len(coded) < 0.7 * (hist_bytes(exact) + len(exact_coded))
    assert np.array_equal(entropy.decode(hs, coded, [337], lanes)[0], deltas)
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
