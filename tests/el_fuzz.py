"""Mutation fuzzing of the EL reader, shared by the tests (bounded) and ``bench/fuzz_el.py`` (long mode).

Seeds are real EL files (the conformance vectors, ELs the writer makes in every coding mode). Each case mutates
one seed: truncation, bit flips, bytes set to edge values, a parsed field set to its type's or the spec's limits,
a grown length or count field, inserted or deleted bytes, concatenation or splicing of two files. Most mutations
recompute the CRC so that the parser's deeper checks are reached, not only the CRC. A case passes when reading
ends in a valid EL or an ``MtvirError``, and (for valid ones) the EL also enhances a small frame.
"""
from __future__ import annotations

import time
import tracemalloc
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import mtvir_decoder as m
from mtvir_decoder import layout, tiers

ROOT = Path(__file__).resolve().parents[1]
LEAF = {"u8": 1, "u16": 2, "u32": 4, "i8": 1, "f32": 4, "uvar": 0, "svar": 0}
SIZE_WORDS = ("size", "count")


@dataclass
class Span:
    start: int
    end: int
    type: str
    name: str


def field_spans(data: bytes) -> list[Span]:
    """Where each numeric field of a (valid) EL lies, by running the reader with a recorder on ``Reader.read``."""
    spans: list[Span] = []
    original = layout.Reader.read

    def read(self, type_, what):
        start = self.pos
        value = original(self, type_, what)
        if type_ in LEAF:
            spans.append(Span(start, self.pos, type_, what))
        return value

    layout.Reader.read = read
    try:
        layout.Reader(data, version=data[4]).struct(layout.ROOTS[data[4]])
    finally:
        layout.Reader.read = original
    return spans


def with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def fix_tiered(data: bytes) -> bytes:
    """A tiered or colour EL's CRCs made valid again where its sizes still place them (the table's, each tier's or
    entry's EL's), so that a mutant reaches the checks behind them."""
    if len(data) >= 18 and data[:4] == layout.MAGIC and data[4] == layout.PLANAR_MAJOR:
        return _fix_colour(data)
    if len(data) < 17 or data[:4] != layout.MAGIC or data[4] != layout.TIERED_MAJOR:
        return data
    b, rows = bytearray(data), data[15]
    head = 16 + 15 * rows
    if head + 4 > len(b):
        return data
    b[head:head + 4] = zlib.crc32(bytes(b[:head])).to_bytes(4, "little")
    offset = head + 4
    for r in range(rows):
        size = int.from_bytes(b[16 + 15 * r + 11:16 + 15 * r + 15], "little")
        if 4 <= size and offset + size <= len(b):
            b[offset + size - 4:offset + size] = zlib.crc32(bytes(b[offset:offset + size - 4])).to_bytes(4, "little")
        offset += size
    return bytes(b)


def _fix_colour(data: bytes) -> bytes:
    b, pos, sizes = bytearray(data), 17, []
    for _ in range(data[16]):  # tier rows: kind, three figures (11 bytes), entry count, entries of 15 bytes
        if pos + 12 > len(b):
            return data
        count = b[pos + 11]
        sizes += [int.from_bytes(b[pos + 12 + 15 * e + 11:pos + 12 + 15 * e + 15], "little") for e in range(count)]
        pos += 12 + 15 * count
    if pos + 4 > len(b):
        return data
    b[pos:pos + 4] = zlib.crc32(bytes(b[:pos])).to_bytes(4, "little")
    offset = pos + 4
    for size in sizes:
        if 4 <= size and offset + size <= len(b):
            b[offset + size - 4:offset + size] = zlib.crc32(bytes(b[offset:offset + size - 4])).to_bytes(4, "little")
        offset += size
    return bytes(b)


def seeds() -> list[tuple[str, bytes, m.Reference | None]]:
    """(name, EL bytes, the reference to read it with) for every seed."""
    from conftest import perturbed, random_params

    vec = ROOT / "schemas" / "vectors"
    vref = m.Reference.load(vec / "reference_vec.mtvir")
    v1ref = m.Reference.load(vec / "v1" / "reference_vec.mtvir")
    out = [(p.stem, p.read_bytes(), vref) for p in sorted(vec.glob("v2_*.mtvir")) + sorted(vec.glob("v3_*.mtvir"))
           + sorted(vec.glob("v4_*.mtvir"))]
    out += [(p.stem, p.read_bytes(), v1ref) for p in sorted((vec / "v1").glob("v1_*.mtvir"))]
    out.append(("reference_vec", (vec / "reference_vec.mtvir").read_bytes(), None))
    arch = m.sefcnn()
    ref = m.Reference(arch, random_params(arch, 11), "fuzz")
    online = perturbed(ref.params, 12, 200)
    for name, groups, kw in (
            ("residue", [(0, 3, online, m.Coding())], {}),
            ("absolute", [(0, 2, online, m.Coding(weights="absolute"))], {}),
            ("float32", [(0, 1, online, m.Coding(None, None, None))], {}),
            ("shared_histogram", [(0, 1, online, m.Coding(shared_histogram=True))], {}),
            ("coarse_groups", [(0, 2, online, m.Coding(-7, -5, -7)), (4, 3, ref.params, m.Coding())], {}),
            ("inline_descriptor", [(0, 1, online, m.Coding())], {"inline_descriptor": True}),
            ("reference_only", [(0, 5, ref.params, m.Coding())], {})):
        out.append((name, m.write(arch, groups, ref, 48, 40, 8, 9, **kw), ref))
    light = m.descriptor.light(channels=8, convs=3)  # a tiered EL: a light tier beside the residue's full tier
    out.append(("tiered", tiers.write({"light": m.write(light, [(0, 4, random_params(light, 13), m.Coding())], None,
                                                        48, 40, 8, 9),
                                       "full": dict((n, d) for n, d, _ in out)["residue"]}), ref))
    return out


# --- mutators: (rng, data, spans, other seed) -> bytes ---------------------------------------------------------
def truncate(rng, d, spans, other):
    return d[: rng.integers(0, len(d))]


def flip_bits(rng, d, spans, other):
    b = bytearray(d)
    for _ in range(rng.integers(1, 9)):
        i = rng.integers(len(b) * 8)
        b[i // 8] ^= 1 << (i % 8)
    return bytes(b)


def edge_bytes(rng, d, spans, other):
    b = bytearray(d[:-4])
    for _ in range(rng.integers(1, 4)):
        b[rng.integers(4, len(b))] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFE, 0xFF]))
    return with_crc(bytes(b))


def field_at_limit(rng, d, spans, other):
    s = spans[rng.integers(len(spans))]
    if s.type in ("uvar", "svar"):
        edges = [0, 1, 127, 128, 1 << 14, 1 << 20, (1 << 21) - 1, 1 << 28, (1 << 35) - 1]
        new = layout.write_uvar(int(rng.choice(edges)))
    else:
        n = LEAF[s.type]
        top = (1 << (8 * n)) - 1
        v = int(rng.choice([0, 1, top, top - 1, top >> 1, (top >> 1) + 1, rng.integers(0, top + 1)]))
        new = v.to_bytes(n, "little")
    return with_crc(d[: s.start] + new + d[s.end:-4])


def grow_length(rng, d, spans, other):
    sized = [s for s in spans if any(w in s.name.rsplit(".", 1)[-1] for w in SIZE_WORDS)] or spans
    s = sized[rng.integers(len(sized))]
    old = int.from_bytes(d[s.start:s.end], "little") if s.type not in ("uvar", "svar") else 0
    grown = int(rng.choice([old + 1, old + 4, old * 2 + 1, old + 1000, 1 << 24]))
    if s.type in ("uvar", "svar"):
        new = layout.write_uvar(grown)
    else:
        new = min(grown, (1 << (8 * LEAF[s.type])) - 1).to_bytes(LEAF[s.type], "little")
    return with_crc(d[: s.start] + new + d[s.end:-4])


def insert_delete(rng, d, spans, other):
    i = rng.integers(4, len(d) - 4)
    body = d[:-4]
    if rng.random() < 0.5:
        body = body[:i] + bytes(rng.integers(0, 256, rng.integers(1, 9), dtype=np.uint8)) + body[i:]
    else:
        body = body[:i] + body[i + rng.integers(1, 9):]
    return with_crc(body)


def concatenate(rng, d, spans, other):
    choice = rng.integers(3)
    if choice == 0:
        return d + other
    if choice == 1:
        return with_crc(d[:-4] + other[rng.integers(0, len(other)):])
    cut = rng.integers(4, len(d))
    return with_crc(d[:cut] + other[rng.integers(4, len(other)):-4])


MUTATORS = {f.__name__: f for f in (truncate, flip_bits, edge_bytes, field_at_limit, grow_length, insert_delete,
                                    concatenate)}


@dataclass
class Stats:
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)  # (seed, mutator, exception) of cases that broke the contract
    slowest: tuple = (0.0, "", "")  # seconds, seed, mutator
    peak_bytes: int = 0
    peak_case: tuple = ("", "")

    def report(self) -> str:
        return (f"{self.cases:,} cases; outcomes: {dict(self.outcomes.most_common())}; "
                f"slowest {1000 * self.slowest[0]:.1f} ms ({self.slowest[1]}, {self.slowest[2]}); "
                f"peak traced allocation {self.peak_bytes / 2**20:.2f} MiB ({self.peak_case[0]}, {self.peak_case[1]}); "
                f"contract broken: {len(self.failures)}")


def check(data: bytes, reference) -> str:
    """The outcome's name, or raise what broke the contract (anything not an MtvirError). A tiered EL: each tier
    it may hold, and the automatic choice."""
    if tiers.is_tiered(data):
        outcomes = [_check_one(data, reference, name, plane) for name in tiers.NAMES
                    for plane in (tiers.PLANE_NAMES if tiers.version(data) == layout.PLANAR_MAJOR else "y")]
        try:
            with warnings.catch_warnings():  # a damaged tier passed over: its warning is expected
                warnings.simplefilter("ignore", m.errors.MtvirWarning)
                m.Enhancer(data, reference=reference, providers=["CPUExecutionProvider"], fps=1e9)
            outcomes.append("auto valid")
        except m.MtvirError as exc:
            outcomes.append("auto " + type(exc).__name__)
        return "tiers: " + ", ".join(outcomes)
    return _check_one(data, reference, None)


def _check_one(data: bytes, reference, tier: str | None, plane: str = "y") -> str:
    try:
        el = m.read(data, reference, tier=tier, plane=plane)
    except m.MtvirError as exc:
        return type(exc).__name__
    if el is None:
        return "no model"
    if el.groups:  # a valid mutant must also run
        h, w = el.height or 8, el.width or 8
        if h * w <= 1 << 16:
            luma = np.full((h, w), 100, np.uint8 if el.bit_depth in (0, 8) else np.uint16)
            try:
                with warnings.catch_warnings():  # a damaged chroma model passed over: its warning is expected
                    warnings.simplefilter("ignore", m.errors.MtvirWarning)
                    enh = m.Enhancer(data, reference=reference, providers=["CPUExecutionProvider"], tier=tier or "auto")
                (enh if plane == "y" else enh.chroma.get(plane, enh)).enhance(luma, el.groups[0].first_frame)
            except m.MtvirError as exc:
                return "valid, then " + type(exc).__name__
    return "valid"


def fuzz(cases: int, seed: int = 0, memory: bool = False, seconds: float | None = None) -> Stats:
    rng = np.random.default_rng(seed)
    pool = [(name, data, ref, field_spans(data)) for name, data, ref in seeds()]
    names = list(MUTATORS)
    stats = Stats()
    start = time.perf_counter()
    if memory:
        tracemalloc.start()
    try:
        while stats.cases < cases and (seconds is None or time.perf_counter() - start < seconds):
            name, data, ref, spans = pool[rng.integers(len(pool))]
            mutator = names[rng.integers(len(names))]
            other = pool[rng.integers(len(pool))][1]
            mutant = MUTATORS[mutator](rng, data, spans, other)
            if rng.random() < 0.8:  # mostly: past the CRCs of a tiered EL
                mutant = fix_tiered(mutant)
            if memory:
                tracemalloc.reset_peak()
            t0 = time.perf_counter()
            try:
                outcome = check(mutant, ref)
            except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
                stats.failures.append((name, mutator, repr(exc)))
                outcome = "CONTRACT BROKEN"
            dt = time.perf_counter() - t0
            if memory:
                peak = tracemalloc.get_traced_memory()[1]
                if peak > stats.peak_bytes:
                    stats.peak_bytes, stats.peak_case = peak, (name, mutator)
            if dt > stats.slowest[0]:
                stats.slowest = (dt, name, mutator)
            stats.outcomes[outcome] += 1
            stats.cases += 1
    finally:
        if memory:
            tracemalloc.stop()
    return stats
