"""EL v2 (and v1 reading): exact round trips, the schema, and every damaged or hostile file ending in an MtvirError."""
from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import layout
from conftest import perturbed, random_params

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_integers_exact(arch, reference, online_params, el_bytes):
    el = m.read(el_bytes, reference)
    assert [g.frames for g in el.groups] == [range(0, 4), range(6, 8)]
    for w, v in zip(el.groups[0].params.weights, online_params.weights):
        assert np.array_equal(w, v)
    for w, v in zip(el.groups[1].params.weights, reference.params.weights):
        assert np.array_equal(w, v)
    b = np.concatenate(el.groups[0].params.biases) - np.concatenate(online_params.biases)
    assert np.abs(b).max() <= 2.0 ** -13 + 1e-7  # half a step of 2^-12


def test_read_then_write_gives_the_same_bytes(arch, reference, el_bytes):
    el = m.read(el_bytes, reference)
    again = m.write(arch, [(g.first_frame, g.frame_count, g.params, g.coding) for g in el.groups], reference,
                    el.width, el.height, el.bit_depth, el.frame_count)
    assert again == el_bytes


def test_absolute_and_float32_modes(arch, reference, online_params):
    data = m.write(arch, [(0, 1, online_params, m.Coding(None, None, None, weights="absolute"))], reference)
    p = m.read(data, reference).groups[0].params
    assert all(np.array_equal(a, b) for a, b in zip(p.weights, online_params.weights))
    assert all(np.array_equal(a, b) for a, b in zip(p.biases, online_params.biases))
    assert np.array_equal(p.scale, online_params.scale) and np.array_equal(p.shift, online_params.shift)


def test_reference_alone_costs_a_few_bytes(arch, reference):
    data = m.write(arch, [(0, 120, reference.params, m.Coding())], reference, 176, 144, 8, 120)
    assert len(data) < 80
    assert m.read(data, reference).groups[0].params.hash_bytes() == reference.params.hash_bytes()


def test_reference_file_round_trip_keeps_id(reference):
    again = m.Reference.from_bytes(reference.to_bytes())
    assert again.id == reference.id and again.arch == reference.arch


def test_unknown_and_mismatched_reference(arch, reference, el_bytes):
    with pytest.raises(m.UnknownReferenceError):
        m.read(el_bytes)  # the test reference is not installed
    other = m.Reference(arch, random_params(arch, 99))
    with pytest.raises(m.ReferenceMismatchError):
        m.read(el_bytes, other)


def test_descriptor_inline_or_from_reference(arch, reference, online_params):
    inline = m.write(arch, [(0, 1, online_params, m.Coding())], reference, inline_descriptor=True)
    short = m.write(arch, [(0, 1, online_params, m.Coding())], reference)
    assert len(inline) > len(short)
    assert m.read(inline, reference).arch == m.read(short, reference).arch == arch


def test_complexity_fields(arch, el_bytes):
    f = m.format.parse(el_bytes)
    assert (f["param_count"], f["macs_per_pixel"], f["receptive_radius"]) == (
        40224 + 337, arch.macs_per_pixel, arch.receptive_radius)


def test_sefcnn_is_the_papers_network(arch):
    assert len(arch.layers) == 22 and arch.weight_count == 40224 and arch.bias_count == 337
    kinds = [(l.cin, l.cout, l.kernel) for l in arch.layers]
    assert kinds.count((16, 16, 3)) == 17 and kinds.count((16, 16, 1)) == 3
    assert kinds[0] == (1, 16, 3) and kinds[-1] == (16, 1, 3)


# --- the schema -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", sorted(layout.TABLES))
def test_schema_file_is_the_parser_table(version):
    committed = json.loads((ROOT / "schemas" / f"el_v{version}.schema.json").read_text())
    assert committed == json.loads(json.dumps(layout.schema(version)))


def _schema_parse(schema: dict, data: bytes, whole: bool = True):
    """An independent reader driven by the JSON schema alone (no code shared with the SDK's reader); with
    ``whole`` False, (the root struct, where it ends)."""
    pos = 0

    def uvar():
        nonlocal pos
        v = shift = 0
        while True:
            b = data[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    fixed = {"u8": "<B", "u16": "<H", "u32": "<I", "i8": "<b", "f32": "<f"}

    def one(t):
        nonlocal pos
        if t in fixed:
            v = struct.unpack_from(fixed[t], data, pos)[0]
            pos += struct.calcsize(fixed[t])
            return v
        if t == "uvar":
            return uvar()
        if t == "svar":
            z = uvar()
            return (z >> 1) ^ -(z & 1)
        return struct_(t)

    def count(expr, out):
        if isinstance(expr, int):
            return expr
        if expr in out:
            return out[expr]
        a, _, b, _, c = expr.split()
        return out[a] - out[b] + int(c)

    def struct_(name):
        nonlocal pos
        out = {}
        for f in schema["structs"][name]:
            if f["type"] == "bytes":
                n = count(f["size"], out)
                out[f["name"]] = data[pos:pos + n]
                pos += n
            elif "size" in f:
                n = count(f["size"], out)
                end = pos + n
                out[f["name"]] = struct_(f["type"]) if n else None
                pos = end
            elif "count" in f:
                out[f["name"]] = [one(f["type"]) for _ in range(count(f["count"], out))]
            else:
                out[f["name"]] = one(f["type"])
        return out

    result = struct_(schema["root"])
    if not whole:
        return result, pos
    assert pos == len(data)
    return result


def _strip(d):
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k != "_trailing"}
    if isinstance(d, list):
        return [_strip(v) for v in d]
    return d


def test_schema_drives_an_independent_parser(arch, reference, el_bytes):
    vectors = (ROOT / "schemas" / "vectors").rglob("*.mtvir")
    valid = [p.read_bytes() for p in vectors if not p.name.startswith("refused_")]
    for data in (el_bytes, reference.to_bytes(), *valid):
        schema = json.loads((ROOT / "schemas" / f"el_v{data[4]}.schema.json").read_text())
        if data[4] not in (3, 4):
            assert _schema_parse(schema, data) == _strip(m.format.parse(data))
            continue
        # a tiered or colour EL: the table, then each tier's (each plane entry's) EL v2
        table, pos = _schema_parse(schema, data, whole=False)
        sizes = [row["el_size"] for row in table["tiers"]] if data[4] == 3 else \
            [e["el_size"] for row in table["tiers"] for e in row["entries"]]
        assert len(sizes) >= 1 + (data[4] == 3)
        for size in sizes:
            body = data[pos:pos + size]
            pos += size
            v2 = json.loads((ROOT / "schemas" / "el_v2.schema.json").read_text())
            assert _schema_parse(v2, body) == _strip(m.format.parse(body))
        assert pos == len(data)


# --- damage -----------------------------------------------------------------------------------------------------
def test_every_truncation_fails_cleanly(el_bytes, reference):
    for n in range(len(el_bytes)):
        with pytest.raises(m.MtvirError):
            m.read(el_bytes[:n], reference)


def test_every_single_bit_flip_is_detected(reference):
    data = m.write(reference.arch, [(0, 1, perturbed(reference.params, 5, 20), m.Coding())], reference)
    for i in range(len(data) * 8):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(m.MtvirError):
            m.read(bytes(bad), reference)


def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def test_hostile_fields_with_valid_crc(el_bytes, reference):
    rng = np.random.default_rng(0)
    body = bytearray(el_bytes[:-4])
    t0 = time.time()
    for trial in range(3000):
        bad = bytearray(body)
        for _ in range(rng.integers(1, 4)):
            pos = rng.integers(4, len(bad))
            bad[pos] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.integers(256)])
        try:
            m.read(_with_crc(bytes(bad)), reference)
        except m.MtvirError:
            pass
    assert time.time() - t0 < 120


def test_version_and_magic(el_bytes, reference):
    with pytest.raises(m.UnsupportedVersionError):
        m.read(_with_crc(el_bytes[:4] + b"\x05" + el_bytes[5:-4]), reference)
    with pytest.raises(m.FormatError):
        m.read(b"XXXX" + el_bytes[4:], reference)
    with pytest.raises(m.FormatError):
        m.read(b"", reference)


def test_huge_size_refused_before_parsing():
    with pytest.raises(m.LimitError):
        m.format.parse(b"MTVR" + bytes(layout.MAX_FILE_SIZE))
