"""A second EL v2 decoder, written from EL_v2.md alone: plain Python and numpy, no mtvir_decoder, no constriction.

    python schemas/spec_decoder.py schemas/vectors

decodes every vector listed in vectors.json, checks the rebuilt models' SHA-256 and the outputs within the
stated tolerance, and exits 0 only when all of them reproduce. It exists to show that the spec is complete; it
checks what it needs to decode valid files, not every limit a hardened reader enforces.
"""
from __future__ import annotations

import hashlib
from bisect import bisect_right
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
    if data[:4] != b"MTVR" or data[4] != 2:
        raise SpecError("not an EL v2 file")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise SpecError("CRC mismatch")
    r = Bytes(data, 0, len(data) - 4)
    r.raw(6)
    el = {"width": r.fixed("H"), "height": r.fixed("H"), "bit_depth": r.fixed("B"), "frame_count": r.fixed("I"),
          "reference_id": r.raw(16), "complexity": (r.fixed("I"), r.fixed("I"), r.fixed("H"))}
    size = r.fixed("H")
    el["descriptor"] = descriptor(Bytes(data, r.pos, r.pos + size)) if size else None
    r.raw(size)
    el["models"] = []
    for _ in range(r.fixed("B")):
        first, count, size = r.fixed("I"), r.fixed("I"), r.fixed("I")
        el["models"].append((first, count, Bytes(data, r.pos, r.pos + size)))
        r.raw(size)
    if r.pos != r.end:
        raise SpecError("bytes before the CRC left over")
    return el


def descriptor(r: Bytes) -> dict:
    d = {"S": r.fixed("H"), "offset": r.fixed("f"), "residual": r.fixed("B") & 1}
    d["layers"] = [(r.fixed("B"), r.fixed("B"), r.fixed("B")) for _ in range(r.fixed("B"))]  # (cin, cout, k)
    d["nodes"] = [(r.fixed("B"), r.fixed("B"), r.fixed("B"), r.fixed("B")) for _ in range(r.fixed("B"))]
    if r.pos != r.end:
        raise SpecError("descriptor with trailing bytes")
    return d


def descriptor_bytes(d: dict) -> bytes:
    out = struct.pack("<HfBB", d["S"], d["offset"], d["residual"], len(d["layers"]))
    out += b"".join(struct.pack("<BBB", *l) for l in d["layers"]) + struct.pack("<B", len(d["nodes"]))
    return out + b"".join(struct.pack("<BBBB", *n) for n in d["nodes"])


def complexity(d: dict) -> tuple[int, int, int]:
    weights = sum(ci * co * k * k for ci, co, k in d["layers"])
    macs = weights + sum(d["layers"][b][1] for op, a, b, c in d["nodes"] if op == 3)
    radius = [0]
    for op, a, b, c in d["nodes"]:
        radius.append(radius[a] + d["layers"][b][2] // 2 if op == 1 else
                      max(radius[a], radius[b]) if op == 2 else radius[a] + c // 2)
    return weights + sum(co for _, co, _ in d["layers"]), macs, radius[-1]


# --- entropy coding (EL_v2.md, "Integer models", "Entropy coding (rANS)") --------------------------------------
def model_weights(h: dict) -> list[int]:
    if h["kind"] == 0:
        return h["counts"]
    g = [1 << 24]
    while len(g) <= max(h["center"] - h["lo"], h["hi"] - h["center"]):
        g.append(max(1, g[-1] * h["decay"] // 65536))
    return [g[abs(s - h["center"])] for s in range(h["lo"], h["hi"] + 1)]


def frequencies(w: list[int]) -> list[int]:
    n, total = sum(1 for v in w if v), sum(w)
    f = [1 + v * (65536 - n) // total if v else 0 for v in w]
    f[w.index(max(w))] += 65536 - sum(f)
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
def rebuild(r: Bytes, d: dict, ref: dict | None) -> dict:
    modes = r.fixed("B")
    wmode, fmodes = modes & 3, [(modes >> s) & 3 for s in (2, 4, 6)]
    exps = [r.fixed("b") for _ in range(3)]
    mask = r.raw(r.fixed("B"))
    hists = []
    for _ in range(r.fixed("B")):
        h = {"kind": r.fixed("B"), "lo": r.svar(), "hi": r.svar()}
        h["counts"] = [r.uvar() for _ in range(r.uvar())]
        if h["kind"] == 1:
            h["center"], h["decay"] = r.svar(), r.fixed("H")
        hists.append(h)
    raw = [r.fixed("f") for _ in range(r.uvar())]
    lanes = r.fixed("B")
    coded = r.raw(r.uvar())
    if r.pos != r.end or 3 in (wmode, *fmodes):
        raise SpecError("payload trailing bytes or reserved mode")
    if ref is None and (wmode != 2 or fmodes != [2, 2, 2]):
        raise SpecError("a self-contained model must be absolute")
    L = len(d["layers"])
    sizes = [co * ci * k * k for ci, co, k in d["layers"]]
    present = [l for l in range(L) if wmode == 2 or (wmode == 1 and mask[l // 8] >> (l % 8) & 1)]
    kinds = [k for k in range(3) if fmodes[k] == 1]
    counts = {0: sum(co for _, co, _ in d["layers"]), 1: L, 2: L}
    groups = [sum(sizes[l] for l in present)] if len(hists) - len(kinds) == 1 and present else \
        [sizes[l] for l in present]
    groups += [counts[k] for k in kinds]
    if len(groups) != len(hists):
        raise SpecError("histogram count")
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
            q, step = np.array(deltas[k], np.float64), 2.0 ** exps[k]
            base = np.array(ref[name], np.float32).astype(np.float64)
            v = (base * (1.0 + q * step) if name == "scale" else base + q * step).astype(np.float32)
        out[name] = v
    if raw_pos != len(raw):
        raise SpecError("raw values left over")
    return out


def params_bytes(p: dict) -> bytes:
    return b"".join([w.astype("<i2").tobytes() for w in p["weights"]] + [p["biases"].astype("<f4").tobytes(),
                    p["scale"].astype("<f4").tobytes(), p["shift"].astype("<f4").tobytes()])


def decode(data: bytes, reference: bytes | None) -> tuple[dict, list[tuple[int, int, dict]]]:
    """(descriptor, [(first frame, frame count, parameters)]) of an EL; ``reference``: its reference's file."""
    el = parse(data)
    ref, d = None, el["descriptor"]
    if el["reference_id"] != bytes(16):
        if reference is None:
            raise SpecError("the EL needs a reference")
        rel, groups = decode(reference, None)
        rd, ref = rel["descriptor"], groups[0][2]
        if hashlib.sha256(descriptor_bytes(rd) + params_bytes(ref)).digest()[:16] != el["reference_id"]:
            raise SpecError("wrong reference")
        if d is not None and d != rd:
            raise SpecError("the EL's descriptor differs from its reference's")
        d = rd
    if d is None or el["complexity"] != complexity(d):
        raise SpecError("no descriptor, or complexity fields that do not match it")
    models = [(first, count, rebuild(r, d, ref)) for first, count, r in el["models"]]
    for _, _, p in models:
        p["folded"] = [(p["scale"][l].astype(np.float64) * (w.astype(np.float64) / d["S"])
                        + p["shift"][l].astype(np.float64)).astype(np.float32) for l, w in enumerate(p["weights"])]
        ends = np.cumsum([co for _, co, _ in d["layers"]])
        p["bias_of"] = np.split(p["biases"], ends[:-1])
    return {**el, "descriptor": d}, models


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


def run(d: dict, p: dict, luma: np.ndarray, bit_depth: int) -> np.ndarray:
    peak = np.float32((1 << bit_depth) - 1)
    u = luma.astype(np.float32) / peak
    nodes = [(u - np.float32(d["offset"]))[None]]
    for op, a, b, c in d["nodes"]:
        if op == 1:
            y = conv(nodes[a], p["folded"][b], p["bias_of"][b])
            nodes.append(np.maximum(y, 0) if c else y)
        elif op == 2:
            y = nodes[a] + nodes[b]
            nodes.append(np.maximum(y, 0) if c else y)
        else:
            gate = conv(boxmean(nodes[a], c), p["folded"][b], p["bias_of"][b])
            nodes.append((nodes[a] * (np.float32(1) / (np.float32(1) + np.exp(-gate)))).astype(np.float32))
    v = u + nodes[-1][0] if d["residual"] else nodes[-1][0]
    if not np.isfinite(v).all():
        raise SpecError("non-finite output")
    return np.rint(np.clip(v, 0, 1) * peak).astype(luma.dtype)


def check_vectors(folder: Path) -> list[str]:
    """Every vector that does not reproduce, with why (empty: all reproduce)."""
    manifest = json.loads((folder / "vectors.json").read_text())
    tol, failures = manifest["tolerance"], []
    for entry in manifest["vectors"]:
        name = entry["file"]
        try:
            ref = (folder / entry["reference"]).read_bytes() if entry["reference"] else None
            el, models = decode((folder / name).read_bytes(), ref)
            got = [(f, n, hashlib.sha256(params_bytes(p)).hexdigest()) for f, n, p in models]
            if got != [(g["first_frame"], g["frame_count"], g["params_sha256"]) for g in entry["groups"]]:
                failures.append(f"{name}: rebuilt models differ")
                continue
            for fr in entry["frames"]:
                luma, want = np.load(folder / fr["input"]), np.load(folder / fr["expected"])
                model = next((p for f, n, p in models if f <= fr["frame_index"] < f + n), None)
                out = luma if model is None else run(el["descriptor"], model, luma, fr["bit_depth"])
                diff = np.abs(out.astype(np.int64) - want)
                if out.dtype != want.dtype or diff.max() > tol["max_abs_diff"] \
                        or np.mean(diff > 0) > tol["max_fraction_differing"]:
                    failures.append(f"{name} frame {fr['frame_index']}: max diff {diff.max()}, "
                                    f"{np.mean(diff > 0):.2%} of samples differ")
            print(f"ok  {name}: {len(models)} model(s), {len(entry['frames'])} frame(s)")
        except SpecError as exc:
            failures.append(f"{name}: {exc}")
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python schemas/spec_decoder.py VECTORS_FOLDER")
    problems = check_vectors(Path(sys.argv[1]))
    for p in problems:
        print("FAIL", p)
    sys.exit(1 if problems else 0)
