"""Fuzzing of the EL reader (bounded here; `python bench/fuzz_el.py` is the long mode): every mutant of a real
EL ends in a valid EL or an MtvirError, each within 1 s, in bounded memory."""
from __future__ import annotations

import zlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mtvir_decoder as m
import el_fuzz
from mtvir_decoder import layout, tiers

SEEDS = el_fuzz.seeds()
SPANS = [el_fuzz.field_spans(data) for _, data, _ in SEEDS]


def test_mutation_fuzzing_thousands_of_cases():
    stats = el_fuzz.fuzz(3000, seed=1)
    assert not stats.failures, stats.failures[:5]
    assert stats.slowest[0] < 1.0, stats.report()
    assert {"FormatError", "LimitError", "valid"} <= set(stats.outcomes)  # the mutators reach deep checks too
    tiered = [k for k in stats.outcomes if k.startswith("tiers:")]  # tiered ELs: past their table, into tiers
    assert any("valid" in k.split(", ")[0] or "valid" in k.split(", ")[1] for k in tiered), tiered
    traced = el_fuzz.fuzz(300, seed=2, memory=True)  # apart: tracing allocations slows the Python coder 10x or more
    assert not traced.failures, traced.failures[:5]
    assert traced.peak_bytes < 64 << 20, traced.report()  # far below what the file limits would allow (16 MiB+)


@settings(max_examples=400, deadline=1000, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                          min_size=1, max_size=6), fix_crc=st.booleans())
def test_hypothesis_byte_edits(which, edits, fix_crc):
    _, data, ref = SEEDS[which]
    body = bytearray(data[:-4])
    for pos, value in edits:
        body[pos % len(body)] = value
    mutant = el_fuzz.with_crc(bytes(body)) if fix_crc else bytes(body) + data[-4:]
    el_fuzz.check(mutant, ref)  # raises only when the contract breaks


@settings(max_examples=300, deadline=1000, database=None)
@given(which=st.integers(0, len(SEEDS) - 1), field=st.integers(0, 10**6),
       value=st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 255, 256, 65535, 65536, 2**31, 2**32 - 1])))
def test_hypothesis_fields_at_any_value(which, field, value):
    _, data, ref = SEEDS[which]
    span = SPANS[which][field % len(SPANS[which])]
    if span.type in ("uvar", "svar"):
        new = layout.write_uvar(value)
    else:
        n = el_fuzz.LEAF[span.type]
        new = (value % (1 << (8 * n))).to_bytes(n, "little")
    el_fuzz.check(el_fuzz.with_crc(data[: span.start] + new + data[span.end:-4]), ref)


@given(st.binary(max_size=512))
@settings(max_examples=300, deadline=1000, database=None)
def test_hypothesis_arbitrary_bytes(blob):
    for data in (blob, b"MTVR\x02\x00" + blob, el_fuzz.with_crc(b"MTVR\x02\x00" + blob), b"MTVR\x03\x00" + blob,
                 el_fuzz.fix_tiered(b"MTVR\x03\x00" + blob), el_fuzz.fix_tiered(b"MTVR\x04\x00" + blob),
                 el_fuzz.with_crc(b"MTVR\x01\x00" + blob)):
        with pytest.raises(m.MtvirError):
            m.read(data)


def test_crc_detects_every_single_bit_flip_of_every_seed():
    for _, data, ref in SEEDS:
        for i in range(0, len(data) * 8, max(1, len(data) * 8 // 4000)):
            bad = bytearray(data)
            bad[i // 8] ^= 1 << (i % 8)
            assert zlib.crc32(bytes(bad[:-4])) != int.from_bytes(bad[-4:], "little")
            tier, plane = _model_at(data, i // 8)
            with pytest.raises(m.MtvirError):  # a tiered EL: the model holding the flip (a flip in the table: any)
                m.read(bytes(bad), ref, tier=tier, plane=plane)


def _model_at(data: bytes, pos: int) -> tuple[str | None, str]:
    """(tier, plane) of the model whose bytes hold ``pos``; (None, "y") outside every model."""
    if not tiers.is_tiered(data):
        return None, "y"
    return next(((t.name, e.planes[0]) for t in tiers.table(data).tiers for e in t.entries
                 if e.offset <= pos < e.offset + e.size), (None, "y"))
