"""A second EL v2 decoder, written from EL_v2.md alone: plain Python and numpy, no mtvir_decoder, no constriction.

    python schemas/spec_decoder.py schemas/vectors

decodes every vector listed in vectors.json, checks the rebuilt models' and folded weights' SHA-256 and the
outputs within each vector's tolerance, checks that every frame and file the vectors mark as refused is refused,
and exits 0 only when all of them reproduce. It exists to show that the spec is complete: each reading the spec
settles is one function here (``frequencies``, ``weight_table``, ``delta_value``, ``fold``, ``normalise``,
``to_samples``), so that a test can swap in another reading and watch a vector fail.
"""
from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from fractions import Fraction
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np


class SpecError(Exception):
    pass


class Bytes:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None):
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def raw(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise SpecError("truncated")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def fixed(self, fmt: str):
        return struct.unpack("<" + fmt, self.raw(struct.calcsize(fmt)))[0]

    def uvar(self) -> int:
        value = 0
        for i in range(5):
            byte = self.raw(1)[0]
            value |= (byte & 0x7F) << (7 * i)
            if byte < 0x80:
                if (i and byte == 0) or value >= 1 << 32:
                    raise SpecError("non-canonical or oversized uvar")
                return value
        raise SpecError("uvar longer than 5 bytes")

    def svar(self) -> int:
        z = self.uvar()
        return (z >> 1) ^ -(z & 1)


# --- file structure (EL_v2.md, "Layout") -----------------------------------------------------------------------
def parse(data: bytes) -> dict:
    if len(data) > 1 << 24 or len(data) < 10 or data[:4] != b"MTVR" or data[4] != 2:
        raise SpecError("not an EL v2 file")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise SpecError("CRC mismatch")
    r = Bytes(data, 0, len(data) - 4)
    r.raw(5)
    minor = r.fixed("B")
    el = {"minor": minor, "width": r.fixed("H"), "height": r.fixed("H"), "bit_depth": r.fixed("B"),
          "frame_count": r.fixed("I"), "reference_id": r.raw(16), "complexity": (r.fixed("I"), r.fixed("I"),
                                                                                 r.fixed("H"))}
    if el["width"] > 16384 or el["height"] > 16384 or el["bit_depth"] not in (0, *range(8, 17)) \
            or el["frame_count"] > 1 << 30 or el["complexity"][0] > 1 << 20:
        raise SpecError("a header field beyond its limit")
    size = r.fixed("H")
    if size > 4096:
        raise SpecError("descriptor_size beyond its limit")
    el["descriptor"] = descriptor(Bytes(data, r.pos, r.pos + size), minor) if size else None
    r.raw(size)
    el["models"] = []
    for _ in range(r.fixed("B")):
        first, count, size = r.fixed("I"), r.fixed("I"), r.fixed("I")
        if first > 1 << 30 or not 1 <= count <= 1 << 30 or not 1 <= size <= 1 << 22:
            raise SpecError("a model's frames or payload size beyond its limits")
        el["models"].append((first, count, Bytes(data, r.pos, r.pos + size)))
        r.raw(size)
    if r.pos != r.end:
        raise SpecError("bytes before the CRC left over")
    return el


KNOWN_MINOR = 1  # minor 1 adds the unshuffle and shuffle ops


def end_of_struct(r: Bytes, minor: int) -> None:
    """Versioning: a later minor version may append fields that this reader skips; minors 0 and 1 allow none."""
    if r.pos != r.end and minor <= KNOWN_MINOR:
        raise SpecError("a length-delimited struct with trailing bytes")


def descriptor(r: Bytes, minor: int) -> dict:
    d = {"S": r.fixed("H"), "offset": r.fixed("f"), "residual": r.fixed("B")}  # flags: bit 0, the rest 0
    d["layers"] = [(r.fixed("B"), r.fixed("B"), r.fixed("B")) for _ in range(r.fixed("B"))]  # (cin, cout, k)
    d["nodes"] = [(r.fixed("B"), r.fixed("B"), r.fixed("B"), r.fixed("B")) for _ in range(r.fixed("B"))]
    end_of_struct(r, minor)
    check_network(d)
    if minor == 0 and any(op in (4, 5) for op, _, _, _ in d["nodes"]):
        raise SpecError("unshuffle or shuffle in a minor-0 file")
    d["appended"] = r.data[r.pos:r.end]  # fields of a later minor version: kept, never compared
    return d


def check_network(d: dict) -> None:
    """The descriptor's rules ("Layout", "The network"): every field in range, every operand and channel count
    consistent, every layer used by exactly one node, one output channel."""
    layers, nodes = d["layers"], d["nodes"]
    if not 1 <= d["S"] <= 1024 or not -1 <= d["offset"] <= 1 or d["residual"] not in (0, 1) \
            or not 1 <= len(layers) <= 64 or not 1 <= len(nodes) <= 128:
        raise SpecError("a descriptor field beyond its limits (or a NaN input offset)")
    if any(not (1 <= ci <= 64 and 1 <= co <= 64 and k in (1, 3, 5, 7)) for ci, co, k in layers):
        raise SpecError("a layer beyond its limits")
    channels, scales, used = [1], [1], []
    for i, (op, a, b, c) in enumerate(nodes, 1):
        if op == 1 and a < i and b < len(layers) and c in (0, 1) and channels[a] == layers[b][0]:
            channels.append(layers[b][1])
        elif op == 2 and a < i and b < i and c in (0, 1) and channels[a] == channels[b] and scales[a] == scales[b]:
            channels.append(channels[a])
        elif op == 3 and a < i and b < len(layers) and c % 2 == 1 and c <= 31 \
                and layers[b][2] == 1 and layers[b][0] == layers[b][1] == channels[a]:
            channels.append(channels[a])
        elif op == 4 and a < i and 2 <= b <= 8 and c == 0 and channels[a] * b * b <= 64 and scales[a] * b <= 64:
            channels.append(channels[a] * b * b)
            scales.append(scales[a] * b)
            continue
        elif op == 5 and a < i and 2 <= b <= 8 and c == 0 and channels[a] % (b * b) == 0 and scales[a] % b == 0:
            channels.append(channels[a] // (b * b))
            scales.append(scales[a] // b)
            continue
        else:
            raise SpecError(f"node {i}: an op, operand or channel count the spec does not allow")
        scales.append(scales[a])
        used += [b] if op in (1, 3) else []
    if sorted(used) != list(range(len(layers))) or channels[-1] != 1 or scales[-1] != 1:
        raise SpecError("a layer not used exactly once, or an output of more than one channel or not at scale 1")
    d["scales"] = scales


def descriptor_bytes(d: dict) -> bytes:
    out = struct.pack("<HfBB", d["S"], d["offset"], d["residual"], len(d["layers"]))
    out += b"".join(struct.pack("<BBB", *l) for l in d["layers"]) + struct.pack("<B", len(d["nodes"]))
    return out + b"".join(struct.pack("<BBBB", *n) for n in d["nodes"])


def complexity(d: dict) -> tuple[int, int, int]:
    """(param_count, macs_per_pixel, receptive_radius): MACs of a node at scale s count 1 / s^2, the exact sum
    rounded up."""
    layers, scales = d["layers"], d["scales"]
    weights = sum(ci * co * k * k for ci, co, k in layers)
    macs = sum(Fraction(layers[b][0] * layers[b][1] * layers[b][2] ** 2 + (layers[b][1] if op == 3 else 0),
                        scales[i] ** 2) for i, (op, a, b, c) in enumerate(d["nodes"], 1) if op in (1, 3))
    radius = [0]
    for i, (op, a, b, c) in enumerate(d["nodes"], 1):
        s = scales[i]
        radius.append(radius[a] + layers[b][2] // 2 * s if op == 1 else max(radius[a], radius[b]) if op == 2 else
                      radius[a] + c // 2 * s if op == 3 else radius[a] + (b - 1) * scales[a] if op == 4 else
                      radius[a])
    return weights + sum(co for _, co, _ in layers), math.ceil(macs), radius[-1]


# --- entropy coding (EL_v2.md, "Integer models", "Entropy coding (rANS)") --------------------------------------
def weight_table(decay: int, reach: int) -> list[int]:
    """G[0..reach] of a kind-1 histogram: the integer recurrence (not a power computed in floating point)."""
    g = [1 << 24]
    while len(g) <= reach:
        g.append(max(1, g[-1] * decay // 65536))
    return g


def model_weights(h: dict) -> list[int]:
    if h["kind"] == 0:
        return h["counts"]
    g = weight_table(h["decay"], max(h["center"] - h["lo"], h["hi"] - h["center"]))
    return [g[abs(s - h["center"])] for s in range(h["lo"], h["hi"] + 1)]


def frequencies(w: list[int]) -> list[int]:
    n, total = sum(1 for v in w if v), sum(w)
    f = [1 + v * (65536 - n) // total if v else 0 for v in w]
    f[w.index(max(w))] += 65536 - sum(f)  # s*: list.index finds the smallest s among equal largest weights
    return f


def rans_decode(coded: bytes, lanes: int, sequence: list[tuple[list[int], list[int], int]]) -> list[int]:
    """``sequence``: (frequencies f(s), cumulative starts c(s) for s = lo..hi, lo) of each coded symbol."""
    if not sequence:
        if lanes or coded:
            raise SpecError("a stream without coded symbols")
        return []
    if not 1 <= lanes <= min(len(sequence), 64) or len(coded) % 2 or len(coded) < 4 * lanes:
        raise SpecError("lane count or stream size")
    state = list(struct.unpack(f"<{lanes}I", coded[:4 * lanes]))
    words = list(struct.unpack(f"<{(len(coded) - 4 * lanes) // 2}H", coded[4 * lanes:]))
    if min(state) < 1 << 16:
        raise SpecError("a lane state below 2^16")
    out, read = [], 0
    for i, (f, c, lo) in enumerate(sequence):
        j = i % lanes
        x = state[j]
        slot = x % 65536
        s = bisect_right(c, slot) - 1  # the last s with c(s) <= slot: never one of frequency 0
        out.append(lo + s)
        x = f[s] * (x // 65536) + slot - c[s]
        if x < 1 << 16:
            if read == len(words):
                raise SpecError("stream ends early")
            x = x * 65536 + words[read]
            read += 1
        state[j] = x
    if read != len(words) or any(x != 1 << 16 for x in state):
        raise SpecError("stream does not end with its symbols")
    return out


# --- model payload (EL_v2.md, "Rebuilding a model") --------------------------------------------------------------
def delta_value(name: str, ref: np.ndarray, q: np.ndarray, e: int) -> np.ndarray:
    """A mode-1 float parameter: binary64 arithmetic in the spec's order, one rounding to binary32."""
    base, step = ref.astype(np.float32).astype(np.float64), 2.0 ** e
    with np.errstate(over="ignore"):
        return (base * (1.0 + q * step) if name == "scale" else base + q * step).astype(np.float32)


def histogram(r: Bytes) -> dict:
    h = {"kind": r.fixed("B"), "lo": r.svar(), "hi": r.svar()}
    n = r.uvar()
    if h["kind"] > 1 or max(abs(h["lo"]), abs(h["hi"])) > 32768 or not 0 <= h["hi"] - h["lo"] < 4096 \
            or n != (h["hi"] - h["lo"] + 1 if h["kind"] == 0 else 0):
        raise SpecError("a histogram's kind, range or count beyond the rules")
    h["counts"] = [r.uvar() for _ in range(n)]
    if any(c > 1 << 20 for c in h["counts"]):
        raise SpecError("a histogram count beyond 2^20")
    if h["kind"] == 1:
        h["center"], h["decay"] = r.svar(), r.fixed("H")
        if not h["lo"] <= h["center"] <= h["hi"] or h["decay"] < 1:
            raise SpecError("a geometric histogram's centre or decay beyond the rules")
    return h


def rebuild(r: Bytes, d: dict, ref: dict | None, minor: int = 0) -> dict:
    modes = r.fixed("B")
    wmode, fmodes = modes & 3, [(modes >> s) & 3 for s in (2, 4, 6)]
    exps = [r.fixed("b") for _ in range(3)]
    mask = r.raw(r.fixed("B"))
    hists = [histogram(r) for _ in range(r.fixed("B"))]
    n_raw = r.uvar()
    if n_raw > 8192:
        raise SpecError("raw_count beyond 8192")
    raw = [r.fixed("f") for _ in range(n_raw)]
    lanes = r.fixed("B")
    coded = r.raw(r.uvar())
    end_of_struct(r, minor)
    if 3 in (wmode, *fmodes):
        raise SpecError("a reserved mode")
    if any(not -40 <= e <= 8 or (e and m != 1) for e, m in zip(exps, fmodes)):
        raise SpecError("a step exponent beyond -40..8, or set for a kind not in mode 1")
    if ref is None and (wmode != 2 or fmodes != [2, 2, 2]):
        raise SpecError("a self-contained model must be absolute")
    L = len(d["layers"])
    sizes = [co * ci * k * k for ci, co, k in d["layers"]]
    if len(mask) != ((L + 7) // 8 if wmode == 1 else 0) \
            or any(mask[l // 8] >> (l % 8) & 1 for l in range(L, 8 * len(mask))):
        raise SpecError("a layer mask of the wrong size, or marking layers that do not exist")
    present = [l for l in range(L) if wmode == 2 or (wmode == 1 and mask[l // 8] >> (l % 8) & 1)]
    kinds = [k for k in range(3) if fmodes[k] == 1]
    counts = {0: sum(co for _, co, _ in d["layers"]), 1: L, 2: L}
    n_weight_groups = len(hists) - len(kinds)
    if not present and n_weight_groups == 0:
        groups = []
    elif present and n_weight_groups == 1:
        groups = [sum(sizes[l] for l in present)]
    elif n_weight_groups == len(present):
        groups = [sizes[l] for l in present]
    else:
        raise SpecError("histogram count")
    groups += [counts[k] for k in kinds]
    sequence, values = [], []
    for h, n in zip(hists, groups):
        w = model_weights(h)
        nonzero = [s for s, v in enumerate(w) if v]
        if h["kind"] == 0 and sum(w) != n:
            raise SpecError("counts do not sum to the group size")
        values.append(("constant", h["lo"] + nonzero[0]) if len(nonzero) == 1 else ("coded", None))
        if len(nonzero) > 1:
            f = frequencies(w)
            sequence += [(f, [sum(f[:s]) for s in range(len(f))], h["lo"])] * n
    decoded = iter(rans_decode(coded, lanes, sequence))
    ints = [[v] * n if kind == "constant" else [next(decoded) for _ in range(n)]
            for (kind, v), n in zip(values, groups)]
    for h, g in zip(hists, ints):
        if h["kind"] == 0 and any(g.count(h["lo"] + i) != c for i, c in enumerate(h["counts"]) if c):
            raise SpecError("decoded symbols do not match their counts")
    weight_ints = [v for g in ints[:len(ints) - len(kinds)] for v in g]
    deltas = dict(zip(kinds, ints[len(ints) - len(kinds):]))
    # integer weights
    weights, pos = [], 0
    for l, (ci, co, k) in enumerate(d["layers"]):
        w = np.array(ref["weights"][l], np.int64) if wmode != 2 else np.zeros((co, ci, k, k), np.int64)
        if l in present:
            w = w + np.array(weight_ints[pos:pos + sizes[l]], np.int64).reshape(co, ci, k, k)
            pos += sizes[l]
        if np.abs(w).max() > 32767:
            raise SpecError("a rebuilt integer weight beyond -32767..32767")
        weights.append(w)
    # float parameters: binary64 arithmetic, one rounding to binary32
    out = {"weights": weights}
    raw_pos = 0
    for k, name in enumerate(("biases", "scale", "shift")):
        if fmodes[k] == 0:
            v = np.array(ref[name], np.float32)
        elif fmodes[k] == 2:
            v = np.array(raw[raw_pos:raw_pos + counts[k]], np.float32)
            raw_pos += counts[k]
        else:
            v = delta_value(name, np.array(ref[name], np.float32), np.array(deltas[k], np.float64), exps[k])
        if not np.isfinite(v).all():
            raise SpecError(f"a non-finite {name}")
        out[name] = v
    if raw_pos != len(raw):
        raise SpecError("raw values left over")
    return out


def params_bytes(p: dict) -> bytes:
    return b"".join([w.astype("<i2").tobytes() for w in p["weights"]] + [p["biases"].astype("<f4").tobytes(),
                    p["scale"].astype("<f4").tobytes(), p["shift"].astype("<f4").tobytes()])


def fold(scale: np.float32, shift: np.float32, w: np.ndarray, S: int) -> np.ndarray:
    """W_conv = binary32((a * (W_Q / S)) + t), each operation in binary64."""
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.float64(scale) * (w.astype(np.float64) / S) + np.float64(shift)).astype(np.float32)


def same_descriptor(a: dict, b: dict) -> bool:
    """Every field equal (``input_offset`` as a number); bytes a later minor version appended do not count."""
    return all(a[k] == b[k] for k in ("S", "offset", "residual", "layers", "nodes"))


TIER_KINDS = {1: "light", 2: "full", 3: "heavy"}


def tiers(data: bytes) -> dict:
    """The table of a tiered EL ("Tiered ELs"): frame facts and, per tier name, (complexity, body bytes)."""
    if len(data) > 1 << 24 or len(data) < 20 or data[:4] != b"MTVR" or data[4] != 3:
        raise SpecError("not a tiered EL")
    r = Bytes(data, 6, len(data))
    facts = (r.fixed("H"), r.fixed("H"), r.fixed("B"), r.fixed("I"))
    count = r.fixed("B")
    if facts[0] > 16384 or facts[1] > 16384 or facts[2] > 16 or facts[3] > 1 << 30 or not 1 <= count <= 8:
        raise SpecError("a tier table field beyond its limit")
    rows = [(r.fixed("B"), (r.fixed("I"), r.fixed("I"), r.fixed("H")), r.fixed("I")) for _ in range(count)]
    if zlib.crc32(data[:r.pos]) != r.fixed("I"):
        raise SpecError("tier table CRC mismatch")
    kinds = [k for k, _, _ in rows]
    if any(k not in TIER_KINDS for k in kinds) or kinds != sorted(set(kinds)) \
            or any(not 1 <= size <= 1 << 24 or c[0] > 1 << 20 for _, c, size in rows) \
            or r.pos + sum(size for _, _, size in rows) != len(data):
        raise SpecError("tier kinds out of order, or sizes beyond limits or not adding up to the file")
    table, pos = {"facts": facts, "tiers": {}}, r.pos
    for kind, cost, size in rows:
        table["tiers"][TIER_KINDS[kind]] = (cost, data[pos:pos + size])
        pos += size
    return table


PLANE_BITS = {"y": 1, "u": 2, "v": 4}


def colour_table(data: bytes) -> dict:
    """The table of a colour EL ("Colour ELs"): frame facts, chroma format and, per tier name, its entries as
    (planes mask, complexity, body bytes)."""
    if len(data) > 1 << 24 or len(data) < 21 or data[:4] != b"MTVR" or data[4] != 4:
        raise SpecError("not a colour EL")
    r = Bytes(data, 6, len(data))
    facts = (r.fixed("H"), r.fixed("H"), r.fixed("B"), r.fixed("I"))
    fmt, count = r.fixed("B"), r.fixed("B")
    if facts[0] > 16384 or facts[1] > 16384 or facts[2] > 16 or facts[3] > 1 << 30 or fmt > 3 or not 1 <= count <= 8:
        raise SpecError("a colour table field beyond its limit")
    rows = []
    for _ in range(count):
        kind, cost, n = r.fixed("B"), (r.fixed("I"), r.fixed("I"), r.fixed("H")), r.fixed("B")
        if not 1 <= n <= 3:
            raise SpecError("an entry count beyond its limit")
        rows.append((kind, cost, [(r.fixed("B"), (r.fixed("I"), r.fixed("I"), r.fixed("H")), r.fixed("I"))
                                  for _ in range(n)]))
    if zlib.crc32(data[:r.pos]) != r.fixed("I"):
        raise SpecError("colour table CRC mismatch")
    kinds = [k for k, _, _ in rows]
    sizes = [size for _, _, entries in rows for _, _, size in entries]
    if any(k not in TIER_KINDS for k in kinds) or kinds != sorted(set(kinds)) \
            or any(not 1 <= size <= 1 << 24 for size in sizes) or r.pos + sum(sizes) != len(data):
        raise SpecError("tier kinds out of order, or sizes beyond limits or not adding up to the file")
    per_luma = {0: None, 1: Fraction(1, 4), 2: Fraction(1, 2), 3: Fraction(1)}[fmt]
    table, pos = {"facts": facts, "format": fmt, "tiers": {}}, r.pos
    for kind, cost, entries in rows:
        masks = [mask for mask, _, _ in entries]
        if any(not 1 <= mask <= 7 or c[0] > 1 << 20 for mask, c, _ in entries) \
                or masks != sorted(masks, key=lambda mask: mask & -mask) \
                or any(a & b for i, a in enumerate(masks) for b in masks[i + 1:]) \
                or any(mask & 6 and fmt == 0 or mask & 1 and mask & 6 and fmt != 3 for mask in masks):
            raise SpecError("plane entries overlapping, out of order, or naming planes the chroma format lacks")
        macs = sum(c[1] * (1 if bit == 1 else per_luma) for mask, c, _ in entries for bit in (1, 2, 4) if mask & bit)
        if cost != (sum(c[0] for _, c, _ in entries), math.ceil(macs), max(c[2] for _, c, _ in entries)):
            raise SpecError("a tier's figures differ from its entries'")
        table["tiers"][TIER_KINDS[kind]] = []
        for mask, c, size in entries:
            table["tiers"][TIER_KINDS[kind]].append((mask, c, data[pos:pos + size]))
            pos += size
    return table


def plane_size(width: int, height: int, fmt: int, plane: str) -> tuple[int, int]:
    if plane == "y" or fmt == 3:
        return width, height
    return -(-width // 2), (-(-height // 2) if fmt == 1 else height)


def decode(data: bytes, reference: bytes | None, tier: str | None = None, plane: str = "y"
           ) -> tuple[dict, list[tuple[int, int, dict]]] | None:
    """(descriptor, [(first frame, frame count, parameters)]) of an EL's model of ``plane`` (of a tiered EL: in
    ``tier``, default its most complex); ``reference``: its reference's file. None: the plane plays as decoded."""
    if data[4:5] == b"\x04":
        table = colour_table(data)
        entries = table["tiers"][tier or list(table["tiers"])[-1]]
        found = [(c, body) for mask, c, body in entries if mask & PLANE_BITS[plane]]
        if not found:
            return None
        (cost, body), = found
        if body[4:5] in (b"\x03", b"\x04"):
            raise SpecError("an entry's EL of version 3 or 4")
        el, models = decode(body, reference)
        w, h = plane_size(*table["facts"][:2], table["format"], plane)
        if (el["width"], el["height"], el["bit_depth"], el["frame_count"]) != (w, h, *table["facts"][2:]) \
                or el["complexity"] != cost:
            raise SpecError("an entry's EL whose frame facts or complexity differ from the table's")
        return el, models
    if plane != "y":
        return None
    if data[4:5] == b"\x03":
        table = tiers(data)
        cost, body = table["tiers"][tier or list(table["tiers"])[-1]]
        if body[4:5] == b"\x03":
            raise SpecError("a tier's EL of version 3")
        el, models = decode(body, reference)
        if (el["width"], el["height"], el["bit_depth"], el["frame_count"]) != table["facts"] \
                or el["complexity"] != cost:
            raise SpecError("a tier's EL whose frame facts or complexity differ from the table's")
        return el, models
    el = parse(data)
    ref, d = None, el["descriptor"]
    if el["reference_id"] != bytes(16):
        if reference is None:
            raise SpecError("the EL needs a reference")
        rel, groups = decode(reference, None)
        if len(groups) != 1:
            raise SpecError("a reference holds exactly one model")
        rd, ref = rel["descriptor"], groups[0][2]  # the reference's first_frame and frame_count are ignored
        if hashlib.sha256(descriptor_bytes(rd) + params_bytes(ref)).digest()[:16] != el["reference_id"]:
            raise SpecError("wrong reference")
        if d is not None and not same_descriptor(d, rd):
            raise SpecError("the EL's descriptor differs from its reference's")
        d = rd
    if d is None or el["complexity"] != complexity(d):
        raise SpecError("no descriptor, or complexity fields that do not match it")
    models = [(first, count, rebuild(r, d, ref, el["minor"])) for first, count, r in el["models"]]
    end = 0
    for first, count, p in models:
        if first < end or (el["frame_count"] and first + count > el["frame_count"]):
            raise SpecError("groups out of order, overlapping, or beyond the header's frame count")
        end = first + count
        p["folded"] = [fold(p["scale"][l], p["shift"][l], w, d["S"]) for l, w in enumerate(p["weights"])]
        if not all(np.isfinite(w).all() for w in p["folded"]):
            raise SpecError("a model that folds into non-finite conv weights")
        ends = np.cumsum([co for _, co, _ in d["layers"]])
        p["bias_of"] = np.split(p["biases"], ends[:-1])
    return {**el, "descriptor": d}, models


def folded_bytes(p: dict) -> bytes:
    """The folded conv weights, layers in order, OIHW, as little-endian f32 (the vectors' ``folded_sha256``)."""
    return b"".join(w.astype("<f4").tobytes() for w in p["folded"])


# --- running a model (EL_v2.md, "The network", "Running a model on a frame") -------------------------------------
def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross-correlation, zero padding k // 2, binary32: x [C, H, W], w [O, C, k, k]."""
    k = w.shape[-1]
    p = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(p, (k, k), axis=(1, 2))  # [C, H, W, k, k]
    return (np.einsum("chwij,ocij->ohw", windows, w, dtype=np.float32) + b[:, None, None]).astype(np.float32)


def boxmean(x: np.ndarray, c: int) -> np.ndarray:
    p = np.pad(x, ((0, 0), (c // 2, c // 2), (c // 2, c // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(p, (c, c), axis=(1, 2))
    return (windows.sum(axis=(-2, -1), dtype=np.float32) / np.float32(c * c)).astype(np.float32)


def normalise(luma: np.ndarray, peak: np.float32) -> np.ndarray:
    """u = Y / P in binary32: each sample converted exactly, the division correctly rounded (not Y * (1/P))."""
    return luma.astype(np.float32) / peak


def to_samples(v: np.ndarray, peak: np.float32, dtype) -> np.ndarray:
    """round_half_even(min(max(v, 0), 1) * P), the product in binary32."""
    return np.rint(np.clip(v, np.float32(0), np.float32(1)) * peak).astype(dtype)


def check_frame(el: dict, luma: np.ndarray, frame_index: int, bit_depth: int) -> None:
    """The frames a decoder refuses ("Running a model on a frame", "Groups")."""
    if (el["width"] and luma.shape[1] != el["width"]) or (el["height"] and luma.shape[0] != el["height"]):
        raise SpecError("a frame of another size than the header's")
    if (el["bit_depth"] and bit_depth != el["bit_depth"]) or not 8 <= bit_depth <= 16 \
            or luma.dtype != (np.uint8 if bit_depth == 8 else np.dtype("<u2")):
        raise SpecError("a frame of another bit depth than the header's, or of the wrong sample type")
    if luma.size and int(luma.max()) > (1 << bit_depth) - 1:
        raise SpecError("a sample above the peak")
    if el["frame_count"] and not 0 <= frame_index < el["frame_count"]:
        raise SpecError("a frame index beyond the header's frame count")


def unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    """[C, H, W] -> [C r^2, H / r, W / r], channel c r^2 + i r + j holding sample (i, j) of each r x r block."""
    ch, h, w = x.shape
    return x.reshape(ch, h // r, r, w // r, r).transpose(0, 2, 4, 1, 3).reshape(ch * r * r, h // r, w // r)


def shuffle(x: np.ndarray, r: int) -> np.ndarray:
    ch, h, w = x.shape
    return x.reshape(ch // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(ch // (r * r), h * r, w * r)


def run(d: dict, p: dict, luma: np.ndarray, bit_depth: int) -> np.ndarray:
    peak = np.float32((1 << bit_depth) - 1)
    u = normalise(luma, peak)
    h, w = u.shape
    block = max(d["scales"])  # node 0 extended with zeros at the bottom and right to multiples of it
    centred = np.pad(u - np.float32(d["offset"]), ((0, -h % block), (0, -w % block)))
    nodes = [centred[None]]
    for op, a, b, c in d["nodes"]:
        if op == 4:
            nodes.append(unshuffle(nodes[a], b))
            continue
        if op == 5:
            nodes.append(shuffle(nodes[a], b))
            continue
        if op == 1:
            y = conv(nodes[a], p["folded"][b], p["bias_of"][b])
            nodes.append(np.maximum(y, 0) if c else y)
        elif op == 2:
            y = nodes[a] + nodes[b]
            nodes.append(np.maximum(y, 0) if c else y)
        else:
            gate = conv(boxmean(nodes[a], c), p["folded"][b], p["bias_of"][b])
            nodes.append((nodes[a] * (np.float32(1) / (np.float32(1) + np.exp(-gate)))).astype(np.float32))
    out = nodes[-1][0, :h, :w]
    v = u + out if d["residual"] else out
    if not np.isfinite(v).all():
        raise SpecError("non-finite output")
    return to_samples(v, peak, luma.dtype)


def check_vectors(folder: Path) -> list[str]:
    """Every vector that does not reproduce, with why (empty: all reproduce)."""
    manifest = json.loads((folder / "vectors.json").read_text())
    failures = []
    for entry in manifest["vectors"]:
        name, tol = entry["file"], entry.get("tolerance", manifest["tolerance"])
        try:
            ref = (folder / entry["reference"]).read_bytes() if entry["reference"] else None
            decoded = decode((folder / name).read_bytes(), ref, entry.get("tier"), entry.get("plane", "y"))
            if decoded is None:
                failures.append(f"{name}: no model for plane {entry['plane']}")
                continue
            el, models = decoded
            name += f" ({entry['tier']} tier)" if entry.get("tier") else ""
            name += f" ({entry['plane'].upper()})" if entry.get("plane") else ""
            got = [(f, n, hashlib.sha256(params_bytes(p)).hexdigest(), hashlib.sha256(folded_bytes(p)).hexdigest())
                   for f, n, p in models]
            want = [(g["first_frame"], g["frame_count"], g["params_sha256"], g["folded_sha256"])
                    for g in entry["groups"]]
            if [g[:3] for g in got] != [g[:3] for g in want]:
                failures.append(f"{name}: rebuilt models differ")
                continue
            if got != want:
                failures.append(f"{name}: folded weights differ")
                continue
            for fr in entry["frames"]:
                luma = np.load(folder / fr["input"])
                try:
                    check_frame(el, luma, fr["frame_index"], fr["bit_depth"])
                    model = next((p for f, n, p in models if f <= fr["frame_index"] < f + n), None)
                    out = luma if model is None else run(el["descriptor"], model, luma, fr["bit_depth"])
                except SpecError as exc:
                    if not fr.get("refused"):
                        failures.append(f"{name} frame {fr['frame_index']}: {exc}")
                    continue
                if fr.get("refused"):
                    failures.append(f"{name} frame {fr['frame_index']}: enhanced, the spec refuses it")
                    continue
                want_out = np.load(folder / fr["expected"])
                diff = np.abs(out.astype(np.int64) - want_out)
                if out.dtype != want_out.dtype or diff.max() > tol["max_abs_diff"] \
                        or np.mean(diff > 0) > tol["max_fraction_differing"]:
                    failures.append(f"{name} frame {fr['frame_index']}: max diff {diff.max()}, "
                                    f"{np.mean(diff > 0):.2%} of samples differ")
            print(f"ok  {name}: {len(models)} model(s), {len(entry['frames'])} frame(s)")
        except SpecError as exc:
            failures.append(f"{name}: {exc}")
    for entry in manifest.get("refused", []):
        try:
            ref = (folder / entry["reference"]).read_bytes() if entry["reference"] else None
            if decode((folder / entry["file"]).read_bytes(), ref, entry.get("tier"), entry.get("plane", "y")) is None:
                raise SpecError("no model for that plane")
            failures.append(f"{entry['file']}: decoded, the spec refuses it ({entry['rule']})")
        except SpecError:
            print(f"ok  {entry['file']}: refused ({entry['rule']})")
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python schemas/spec_decoder.py VECTORS_FOLDER")
    problems = check_vectors(Path(sys.argv[1]))
    for p in problems:
        print("FAIL", p)
    sys.exit(1 if problems else 0)
