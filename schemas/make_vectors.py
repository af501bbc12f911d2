"""Regenerate the EL v2 conformance vectors in schemas/vectors/ (deterministic: same bytes every run).

    python schemas/make_vectors.py [FOLDER]     (default: schemas/vectors)

Each vector is an EL file, the reference it needs (if any), input luma planes and the expected outputs, listed
with the SHA-256 of every rebuilt model and of its folded weights in vectors.json. Arrays are .npy files (C order,
shape [height, width], uint8 for 8-bit, little-endian uint16 above); ``frame_index`` is the frame's 0-based index in
display order and ``bit_depth`` the depth the plane is enhanced at; a frame marked ``refused`` must be refused.
Files listed under ``refused`` break one rule each and must be refused.

Several vectors are crafted so that a reading the spec rules out gives another result: ties for the largest weight
(s*), a geometric law whose integer table differs from a floating-point power, scale deltas whose binary32
evaluation rounds differently, a network whose arithmetic is exact (tolerance 0: Y / P, the binary32 product and
ties to even decide every sample), trailing bytes under a later minor version; tests/test_spec_decoder.py swaps
each wrong reading into the spec decoder and checks that its vector then fails. Only the decoder SDK and numpy
are used. The EL v1 vectors in vectors/v1/ are frozen (nothing writes v1 any more): they check that v1 files keep
decoding.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np

import mtvir_decoder as m
from mtvir_decoder import entropy, layout, rans

OUT = Path(__file__).resolve().parent / "vectors"
TOLERANCE = {"max_abs_diff": 1, "max_fraction_differing": 0.01}


def params(arch: m.Architecture, seed: int, levels: int = 12, gain: float = 2.0) -> m.Params:
    rng = np.random.default_rng(seed)
    p = m.Params.zeros(arch)
    p.weights = [rng.normal(0, levels, l.weight_shape).round().astype(np.int32) for l in arch.layers]
    p.biases = [rng.normal(0, 0.02, l.cout).astype(np.float32) for l in arch.layers]
    p.scale = np.array([np.sqrt(2.0 / (l.cin * l.kernel ** 2)) * arch.quant_scale / levels for l in arch.layers],
                       np.float32)
    p.scale[-1] *= gain
    p.shift = rng.normal(0, 1e-3, len(arch.layers)).astype(np.float32)
    return p


def nudged(p: m.Params, seed: int) -> m.Params:
    rng = np.random.default_rng(seed)
    w = [x.copy() for x in p.weights]
    for _ in range(200):
        i = rng.integers(len(w))
        w[i].flat[rng.integers(w[i].size)] += rng.choice([-1, 1])
    return m.Params(w, [b + rng.normal(0, 2e-3, b.shape).astype(np.float32) for b in p.biases],
                    (p.scale * (1 + rng.normal(0, 2e-3, p.scale.shape))).astype(np.float32), p.shift.copy())


def picture(h: int, w: int, seed: int, peak: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 4.0) + 0.1 * ((xx // 8 + yy // 8) % 2)
    img += rng.normal(0, 0.03, (h, w))
    return np.clip(np.rint(img * peak), 0, peak).astype(np.uint8 if peak == 255 else np.uint16)


# --- crafting files field by field ----------------------------------------------------------------------------
def fields_of(data: bytes) -> dict:
    """The field dict of a valid EL (payloads and descriptor as dicts)."""
    return layout.Reader(data, version=data[4]).struct("el_file")


def assemble(f: dict, descriptor_tail: bytes = b"", payload_tails: tuple[bytes, ...] = (), crc: bool = True) -> bytes:
    """EL bytes from a field dict: sizes and counts recomputed from what is there; tails appended to the descriptor
    and to model payloads (fields of a later minor version, or junk)."""
    d = layout.write("descriptor", f["descriptor"]) + descriptor_tail if f["descriptor"] else b""
    out = f["magic"] + struct.pack("<BBHHBI", f["version_major"], f["version_minor"], f["width"], f["height"],
                                   f["bit_depth"], f["frame_count"])
    out += f["reference_id"] + struct.pack("<IIHH", f["param_count"], f["macs_per_pixel"], f["receptive_radius"],
                                           len(d)) + d + struct.pack("<B", len(f["models"]))
    for k, model in enumerate(f["models"]):
        payload = model["payload"]
        payload.update(histogram_count=len(payload["histograms"]), raw_count=len(payload["raw"]),
                       coded_size=len(payload["coded"]), mask_size=len(payload["layer_mask"]))
        body = layout.write("model_payload", payload) + (payload_tails[k] if k < len(payload_tails) else b"")
        out += struct.pack("<III", model["first_frame"], model["frame_count"], len(body)) + body
    return out + struct.pack("<I", zlib.crc32(out) if crc else zlib.crc32(out) ^ 1)


def recode(payload: dict, histograms: list, symbols: list[np.ndarray], lanes: int = 1) -> None:
    """Give a payload these histograms and the stream of these symbols under them."""
    payload["histograms"] = [h.to_fields() for h in histograms]
    coded_count = sum(s.size for h, s in zip(histograms, symbols) if not h.constant)
    payload["lane_count"] = min(lanes, coded_count)
    payload["coded"] = entropy.code(histograms, symbols, payload["lane_count"])


def float_power_table(decay: int, reach: int) -> list[int]:
    """The reading of a kind-1 table the spec rules out: a floating-point power instead of the recurrence."""
    return [max(1, int(2 ** 24 * (decay / 65536) ** k)) for k in range(reach + 1)]


def binary32_scale(ref: np.ndarray, q: np.ndarray, e: int) -> np.ndarray:
    """The reading of a scale delta the spec rules out: every operation in binary32."""
    one, step = np.float32(1), np.float32(2.0 ** e)
    return (ref.astype(np.float32) * (one + q.astype(np.float32) * step)).astype(np.float32)


# --- the crafted vectors --------------------------------------------------------------------------------------
def tie_break(arch: m.Architecture, ref: m.Reference) -> bytes:
    """A residue on the last layer alone (a partial layer mask) whose exact counts tie for the largest: s* is the
    smallest of them, and the frequencies differ where another s is taken."""
    last = len(arch.layers) - 1
    rng = np.random.default_rng(21)
    n = arch.layers[last].weight_count  # 144: counts 50, 50, 30, 14 leave 1 of 2^16 for s*
    residue = rng.permutation(np.repeat([-1, 0, 1, 2], [50, 50, 30, n - 130]))
    p = dataclasses.replace(ref.params, weights=list(ref.params.weights))
    p.weights[last] = (ref.params.weights[last] + residue.reshape(arch.layers[last].weight_shape)).astype(np.int32)
    f = fields_of(m.write(arch, [(0, 1, p, m.Coding(weights="residue"))], ref, 40, 32, 8, 1))
    h = entropy.Histogram.of(residue)
    assert h.counts[0] == h.counts[1] == max(h.counts) and h.kind == entropy.COUNTS
    assert sum(1 + c * (65536 - 4) // n for c in h.counts) < 65536  # something is left for s*
    recode(f["models"][0]["payload"], [h], [residue])
    return assemble(f)


def geometric_deltas(arch: m.Architecture, ref: m.Reference) -> bytes:
    """Every float kind as deltas (biases, scales, shifts: mode 1); the biases' wide alphabet under a geometric
    law whose integer table gives other frequencies than a floating-point power; scale deltas whose binary32
    evaluation rounds differently from the spec's binary64."""
    rng = np.random.default_rng(22)
    e_bias, e_scale, e_shift = -14, -24, -16
    q_bias = np.clip(np.rint(rng.laplace(0, 60, arch.bias_count)), -400, 400).astype(np.int64)
    q_shift = rng.integers(-3, 4, len(arch.layers))
    q_scale = np.zeros(len(arch.layers), np.int64)
    for l, a in enumerate(ref.params.scale):  # per layer, the smallest odd q whose binary32 reading differs
        for q in range(1, 400, 2):
            qa = np.array([q])
            if m.model._apply_delta("scale", np.array([a]), qa, e_scale)[0] != binary32_scale(np.array([a]), qa,
                                                                                               e_scale)[0]:
                q_scale[l] = q
                break
    assert np.count_nonzero(q_scale) >= len(arch.layers) // 2
    split = np.cumsum([l.cout for l in arch.layers])[:-1]
    p = m.Params(list(ref.params.weights),
                 np.split(m.model._apply_delta("bias", ref.params.flat("bias"), q_bias, e_bias), split),
                 m.model._apply_delta("scale", ref.params.scale, q_scale, e_scale),
                 m.model._apply_delta("shift", ref.params.shift, q_shift, e_shift))
    f = fields_of(m.write(arch, [(1, 2, p, m.Coding(e_bias, e_scale, e_shift))], ref, 44, 36, 8, 3))
    payload = f["models"][0]["payload"]
    assert payload["modes"] == 0b01010100  # weights: the reference's; biases, scales, shifts: deltas
    symbols = [q_bias, q_scale, q_shift]  # sent as chosen (the writer's own rounding may land one step away)
    lo, hi = int(q_bias.min()), int(q_bias.max())
    for decay in range(64000, 65536):  # a law whose float-power table gives other frequencies
        law = entropy.Histogram(lo, hi, (), entropy.GEOMETRIC, 0, decay)
        reach = max(-lo, hi)
        power = np.asarray(float_power_table(decay, reach))[np.abs(np.arange(lo, hi + 1))]
        if not np.array_equal(rans.frequencies(power), law.frequencies):
            break
    recode(payload, [law] + [entropy.Histogram.fit(s) for s in symbols[1:]], symbols)
    return assemble(f)


def arithmetic() -> tuple[bytes, list[tuple[int, int, np.ndarray]]]:
    """A network whose arithmetic is exact in any summation order (one 1x1 conv of weight 0: node N is its bias c),
    so that every output sample is fixed by the spec to the bit: u = Y / P in binary32, v = u + c, the binary32
    product v * P and ties to even. One group per depth (8, 10, 16 bits), each c chosen so that Y * (1/P), ties
    away from zero and a binary64 product each change some sample. Returns the EL and (frame, depth, input)."""
    arch = m.Architecture((m.Layer(1, 1, 1),), (m.Node(1, 0, 0, 0),), quant_scale=10, input_offset=0.5)
    every16 = np.arange(65536)
    differ = every16[every16.astype(np.float32) / np.float32(65535)
                     != every16.astype(np.float32) * (np.float32(1) / np.float32(65535))]
    spread = np.setdiff1d(np.linspace(0, 65535, 4096 - differ.size).round().astype(int), differ)
    planes = {8: np.arange(256, dtype=np.uint8).reshape(16, 16),
              10: np.arange(1024, dtype=np.uint16).reshape(32, 32),  # every sample value at 8 and 10 bits
              16: np.resize(np.r_[differ, spread], 4096).astype(np.uint16).reshape(64, 64)}
    groups, frames = [], []
    for k, depth in enumerate((8, 10, 16)):
        y, peak = planes[depth], np.float32((1 << depth) - 1)
        c = np.float32(0.5) / peak
        for _ in range(4096):
            u = y.astype(np.float32) / peak
            v = (u + c).astype(np.float32)
            right = np.rint(np.clip(v, 0, 1) * peak)
            wrong = [np.rint(np.clip((y.astype(np.float32) * (np.float32(1) / peak) + c).astype(np.float32), 0, 1)
                             * peak),
                     np.floor(np.clip(v, 0, 1) * peak + np.float32(0.5)),
                     np.rint(np.clip(v, 0, 1).astype(np.float64) * float(peak))]
            if all((w != right).any() for w in wrong[1 if depth == 16 else 0:]):
                break  # at 16 bits Y * (1/P) may round like Y / P on every sample: the 8 and 10-bit ones show it
            c = np.nextafter(c, np.float32(1))
        else:
            raise AssertionError(f"no bias separates the readings at {depth} bits")
        params = m.Params([np.zeros((1, 1, 1, 1), np.int32)], [np.array([c], np.float32)],
                          np.ones(1, np.float32), np.zeros(1, np.float32))
        groups.append((k, 1, params, m.Coding(weights="absolute")))
        frames.append((k, depth, y))
    return m.write(arch, groups, None, 0, 0, 0, 3), frames


def no_residual_constant() -> bytes:
    """A self-contained network without the global residual, whose integer weights are sent one histogram per
    layer, one layer's a constant group (nothing of it in the stream)."""
    arch = dataclasses.replace(m.sefcnn(channels=4, stages=1, convs_per_stage=2, window=3), global_residual=False)
    p = params(arch, 23)
    p.weights[1] = np.full_like(p.weights[1], 2)
    p.biases[-1] = np.full_like(p.biases[-1], 0.5)
    p.scale[-1] *= 0.1
    data = m.write(arch, [(0, 1, p, m.Coding(weights="absolute", shared_histogram=False))], None, 40, 32, 8, 1)
    assert entropy.Histogram.from_fields(fields_of(data)["models"][0]["payload"]["histograms"][1]).constant
    return data


def nested(seed: int = 31) -> bytes:
    arch = nested_blocks()
    return m.write(arch, [(0, 2, params(arch, seed), m.Coding())], None, 0, 0, 0, 0)


def tiered() -> bytes:
    """EL 3: a light tier (a light network, unshuffle by 4) and a full one (a small sefcnn), two groups each."""
    light = m.descriptor.light(channels=8, convs=3, block=4)
    full = m.sefcnn(channels=8, stages=1, convs_per_stage=2, window=5)
    bodies = {name: m.write(arch, [(0, 2, params(arch, seed), m.Coding()), (2, 1, params(arch, seed + 1), m.Coding())],
                            None, 44, 36, 8, 3) for name, arch, seed in (("light", light, 41), ("full", full, 43))}
    return m.tiers.write(bodies)


def colour() -> bytes:
    """EL 4, 4:2:0 at an odd size (45x37 luma, 23x19 chroma), 10-bit: a full tier with a luma model (two groups)
    and one light model that enhances U and V each on its own (one group)."""
    luma = m.sefcnn(channels=8, stages=1, convs_per_stage=2, window=5)
    chroma = m.descriptor.light(channels=8, convs=3, block=2)
    y = m.write(luma, [(0, 2, params(luma, 51), m.Coding()), (2, 1, params(luma, 52), m.Coding())], None, 45, 37, 10, 3)
    uv = m.write(chroma, [(0, 3, params(chroma, 53), m.Coding())], None, 23, 19, 10, 3)
    return m.tiers.write({"full": {"y": y, "uv": uv}}, "4:2:0")


def chroma_only() -> bytes:
    """EL 4 whose one tier has a model for V alone: luma and U play as decoded."""
    arch = m.descriptor.light(channels=8, convs=3, block=2)
    v = m.write(arch, [(1, 2, params(arch, 61), m.Coding())], None, 20, 16, 8, 3)
    return m.tiers.write({"light": {"v": v}}, "4:2:0", size=(40, 32))


def refused_colour(data: bytes) -> dict[str, tuple[str, bytes, str, str]]:
    """name: (the rule it breaks, bytes, the tier and plane read); the table's CRC recomputed."""
    table = m.tiers.table(data)
    head = table.tiers[0].offset - 4
    row = 17 + 1 + 4 + 4 + 2 + 1  # first entry: after the facts and tier count (17 bytes), the kind, three figures, count

    def table_edit(at: int, value: int) -> bytes:
        b = bytearray(data)
        b[at] = value
        b[head:head + 4] = zlib.crc32(bytes(b[:head])).to_bytes(4, "little")
        return bytes(b)

    y, uv = table.tiers[0].entries
    damaged = bytearray(data)
    damaged[uv.offset + uv.size // 2] ^= 1
    return {
        "v4_planes_overlap": ("plane entries disjoint", table_edit(row, 3), "full", "y"),
        "v4_chroma_in_400": ("no chroma model in 4:0:0", table_edit(15, 0), "full", "u"),
        "v4_tier_macs": ("a tier's figures are its entries'", table_edit(22, data[22] ^ 1), "full", "y"),
        "v4_damaged_chroma": ("a damaged chroma entry is refused (v4_colour's luma still decodes)", bytes(damaged),
                              "full", "u"),
    }


def later_minor(arch: m.Architecture, ref: m.Reference) -> bytes:
    """Version 2.2 with fields this page does not define appended to the descriptor and to the model payload: a
    2.1 reader skips them, and the descriptor still equals the reference's (its known fields do)."""
    f = fields_of(m.write(arch, [(0, 2, nudged(ref.params, 6), m.Coding())], ref, 40, 32, 8, 2,
                          inline_descriptor=True))
    f["version_minor"] = 2
    return assemble(f, descriptor_tail=b"\x07\x00\x2a", payload_tails=(b"\x01\x02\x03\x04\x05",))


def nested_blocks() -> m.Architecture:
    """EL 2.1's ops nested: unshuffle by 2 twice (the second of a 8-channel plane, so the channel order counts),
    convs at scales 2 and 4, shuffles back; run on frames that 4 does not divide (the zero extension counts)."""
    U, S, C = m.descriptor.UNSHUFFLE, m.descriptor.SHUFFLE, m.descriptor.CONV
    layers = (m.Layer(4, 2, 3), m.Layer(8, 8, 3), m.Layer(2, 4, 1), m.Layer(4, 4, 3))
    nodes = (m.Node(U, 0, 2, 0), m.Node(C, 1, 0, 1), m.Node(U, 2, 2, 0), m.Node(C, 3, 1, 1), m.Node(S, 4, 2, 0),
             m.Node(C, 5, 2, 1), m.Node(C, 6, 3, 0), m.Node(S, 7, 2, 0))
    return m.Architecture(layers, nodes)


def refused_tiers(data: bytes) -> dict[str, tuple[str, bytes, str]]:
    """name: (the rule it breaks, bytes, the tier read). The table's CRC is recomputed unless the CRC is the rule."""
    table = m.tiers.table(data)
    head = table.tiers[0].offset - 4

    def table_edit(at: int, value: int) -> bytes:
        b = bytearray(data)
        b[at] = value
        b[head:head + 4] = zlib.crc32(bytes(b[:head])).to_bytes(4, "little")
        return bytes(b)

    light, full = table.tiers
    damaged = bytearray(data)
    damaged[light.offset + light.size // 2] ^= 1
    row = 16  # first tier row: kind at 16, then param_count u32, macs u32, radius u16, el_size u32 (15 bytes a row)
    return {
        "v3_table_crc": ("the tier table's CRC", data[:head] + bytes([data[head] ^ 1]) + data[head + 1:], "light"),
        "v3_kind_order": ("tier kinds increasing", table_edit(row, 2), "full"),
        "v3_macs": ("a tier's complexity equals its EL's", table_edit(row + 5, data[row + 5] ^ 1), "light"),
        "v3_damaged_light": ("a damaged tier is refused (v3_tiers' full tier still decodes)", bytes(damaged),
                             "light"),
    }


def refused_files(arch: m.Architecture, ref: m.Reference, residue: bytes, tie: bytes) -> dict[str, tuple[str, bytes]]:
    """name: (the rule it breaks, bytes). Each starts from a valid file and breaks one rule (CRC recomputed)."""
    def edit(data: bytes, change, **kw) -> bytes:
        f = fields_of(data)
        change(f)
        return assemble(f, **kw)

    def payload(f):
        return f["models"][0]["payload"]

    small = m.sefcnn(channels=8, stages=1, convs_per_stage=2, window=5)
    absolute = m.write(small, [(0, 1, params(small, 3), m.Coding())], None, 0, 0, 8, 0)
    blocks = nested()
    inline = m.write(arch, [(0, 1, nudged(ref.params, 7), m.Coding())], ref, 40, 32, 8, 1, inline_descriptor=True)
    out = {
        "crc": ("CRC-32 of every byte before it", edit(residue, lambda f: None, crc=False)),
        "trailing_minor0": ("minor 0: a length-delimited struct ends exactly at its length",
                            edit(residue, lambda f: None, payload_tails=(b"\0\0",))),
        "unshuffle_minor0": ("unshuffle and shuffle only from minor 1", edit(blocks, lambda f: f.update(
            version_minor=0))),
        "shuffle_scale": ("the output node at scale 1", edit(blocks, lambda f: f["descriptor"]["nodes"][-1].update(
            op=4))),
        "bit_depth_7": ("bit_depth 8..16 or 0", edit(residue, lambda f: f.update(bit_depth=7))),
        "complexity": ("complexity fields equal the descriptor's",
                       edit(residue, lambda f: f.update(macs_per_pixel=f["macs_per_pixel"] + 1))),
        "descriptor_differs": ("a descriptor beside a reference equals the reference's",
                               edit(inline, lambda f: f["descriptor"].update(input_offset=0.25))),
        "offset_nan": ("input_offset in [-1, 1], NaN refused",
                       edit(absolute, lambda f: f["descriptor"].update(input_offset=float("nan")))),
        "offset_range": ("input_offset in [-1, 1]", edit(absolute, lambda f: f["descriptor"].update(input_offset=1.5))),
        "se_window_even": ("se window odd", edit(absolute, lambda f: next(
            n for n in f["descriptor"]["nodes"] if n["op"] == 3).update(c=4))),
        "reserved_mode": ("mode 3 is reserved", edit(residue, lambda f: payload(f).update(
            modes=payload(f)["modes"] | 0xC0))),
        "step_unused": ("a step exponent is 0 unless its kind is in mode 1", edit(residue, lambda f: payload(f).update(
            shift_step_exp=-3) if not payload(f)["modes"] >> 6 else None)),
        "mask_beyond": ("layer mask bits at l >= L are 0", edit(residue, lambda f: payload(f).update(
            layer_mask=payload(f)["layer_mask"][:2] + bytes([payload(f)["layer_mask"][2] | 0x80])))),
        "histogram_count": ("histogram_count = D + W", edit(residue, lambda f: payload(f)["histograms"].append(
            payload(f)["histograms"][-1]))),
        "stream_tail": ("every word read", edit(residue, lambda f: payload(f).update(
            coded=payload(f)["coded"] + b"\0\0"))),
        "lanes_zero": ("1 <= K <= min(M, 64) when symbols are coded", edit(residue, lambda f: payload(f).update(
            lane_count=0))),
        "counts_sum": ("kind-0 counts sum to the group's size", edit(tie, lambda f: payload(f)["histograms"][0].update(
            counts=[c - (i == 0) for i, c in enumerate(payload(f)["histograms"][0]["counts"])]))),
        "weight_range": ("rebuilt W_Q in -32767..32767", edit(tie, lambda f: payload(f).update(
            histograms=[{"kind": 0, "lo": 32768, "hi": 32768, "count_n": 1, "counts": [arch.layers[-1].weight_count],
                         "center": [], "decay": []}], lane_count=0, coded=b""))),
        "folds_to_inf": ("folded weights finite", edit(absolute, lambda f: payload(f)["raw"].__setitem__(
            small.bias_count, 3e38))),
        "self_contained_delta": ("a self-contained model sends absolute values", edit(absolute, lambda f: payload(
            f).update(modes=(payload(f)["modes"] & ~0x0C) | 0x04, bias_step_exp=-10))),
        "groups_overlap": ("groups in order, not overlapping", edit(residue, lambda f: f.update(
            frame_count=4, models=[{**f["models"][0], "frame_count": 3}, {**f["models"][0], "first_frame": 2}]))),
        "past_frame_count": ("groups end within the header's frame_count", edit(residue, lambda f: f["models"][0]
                                                                                 .update(frame_count=2))),
        "param_count": ("param_count <= 2^20", param_count_beyond_limit()),
    }
    return out


def param_count_beyond_limit() -> bytes:
    """A self-contained network of 1.2 M parameters, beyond the limit (weights all 0: constant groups, no stream)."""
    layers = [(1, 64, 7)] + [(64, 64, 7)] * 6 + [(64, 1, 7)]
    descriptor = {"quant_scale": 10, "input_offset": 0.5, "flags": 1, "layer_count": len(layers),
                  "layers": [{"cin": a, "cout": b, "kernel": k} for a, b, k in layers], "node_count": len(layers),
                  "nodes": [{"op": 1, "a": i, "b": i, "c": int(i < len(layers) - 1)} for i in range(len(layers))]}
    weights = sum(a * b * k * k for a, b, k in layers)
    biases = sum(b for _, b, _ in layers)
    zero = [{"kind": 0, "lo": 0, "hi": 0, "count_n": 1, "counts": [a * b * k * k], "center": [], "decay": []}
            for a, b, k in layers]
    payload = {"modes": 2 | 2 << 2 | 2 << 4 | 2 << 6, "bias_step_exp": 0, "scale_step_exp": 0, "shift_step_exp": 0,
               "layer_mask": b"", "histograms": zero, "raw": [0.0] * biases + [1.0] * 8 + [0.0] * 8, "lane_count": 0,
               "coded": b""}
    f = {"magic": layout.MAGIC, "version_major": 2, "version_minor": 0, "width": 0, "height": 0, "bit_depth": 8,
         "frame_count": 0, "reference_id": bytes(16), "param_count": weights + biases,
         "macs_per_pixel": weights, "receptive_radius": 3 * len(layers), "descriptor": descriptor,
         "models": [{"first_frame": 0, "frame_count": 1, "payload": payload}]}
    return assemble(f)


def main(out: Path = OUT) -> None:
    out.mkdir(exist_ok=True)
    arch = m.sefcnn()
    ref = m.Reference(arch, params(arch, 11))
    (out / "reference_vec.mtvir").write_bytes(ref.to_bytes())
    small = m.sefcnn(channels=8, stages=1, convs_per_stage=2, window=5)
    biases_only = nudged(ref.params, 4)
    biases_only.weights = ref.params.weights
    residue = m.write(arch, [(0, 1, nudged(ref.params, 1), m.Coding())], ref, 48, 40, 8, 1)
    exact, exact_frames = arithmetic()
    tie = tie_break(arch, ref)
    vectors = {  # name: (EL bytes, reference, [(frame index, bit depth)] or [(index, depth, input plane)])
        "v2_residue": (residue, ref, [(0, 8)]),
        "v2_groups_10bit": (m.write(arch, [(0, 2, nudged(ref.params, 2), m.Coding(-11, -9, -11)),
                                           (3, 1, ref.params, m.Coding())], ref, 33, 21, 10, 5), ref,
                            [(0, 10), (2, 10), (3, 10)]),
        "v2_self_contained": (m.write(small, [(0, 1, params(small, 3), m.Coding())], None, 0, 0, 8, 0), None,
                              [(0, 8)]),
        "v2_biases_only": (m.write(arch, [(0, 4, biases_only, m.Coding(-12, -10, -12))], ref, 40, 24, 8, 4), ref,
                           [(1, 8)]),
        "v2_lanes_any_depth": (m.write(arch, [(2, 3, nudged(ref.params, 5),
                                               m.Coding(-10, None, -11, shared_histogram=False, lanes=5))],
                                       ref, 0, 0, 0, 0, inline_descriptor=True), ref, [(2, 8), (4, 12), (3, 16)]),
        "v2_tie_break": (tie, ref, [(0, 8)]),
        "v2_geometric_deltas": (geometric_deltas(arch, ref), ref, [(2, 8)]),
        "v2_exact_arithmetic": (exact, None, exact_frames),
        "v2_no_residual_constant": (no_residual_constant(), None, [(0, 8)]),
        "v2_minor2_trailing": (later_minor(arch, ref), ref, [(1, 8)]),
        "v3_tiers:light": (tiered(), None, [(0, 8), (2, 8)]),
        "v3_tiers:full": (tiered(), None, [(1, 8), (2, 8)]),
        "v4_colour:full:y": (colour(), None, [(0, 10), (2, 10)]),
        "v4_colour:full:u": (colour(), None, [(0, 10), (2, 10)]),
        "v4_colour:full:v": (colour(), None, [(1, 10)]),
        "v4_chroma_only:light:v": (chroma_only(), None, [(0, 8), (2, 8)]),
        "v2_1_blocks": (nested(), None, [(0, 8, picture(21, 33, 7, 255)), (1, 10, picture(16, 12, 8, 1023)),
                                         (2, 8, picture(5, 3, 9, 255))]),
    }
    # frames a decoder refuses: (vector, frame index, bit depth, why, input plane)
    refused_frames = {
        "v2_residue": [(0, 10, "another bit depth than the header's", picture(40, 48, 1, 1023)),
                       (1, 8, "beyond the header's frame count", picture(40, 48, 2, 255))],
        "v2_groups_10bit": [(0, 10, "a sample above the peak", np.full((21, 33), 1024, np.uint16))],
    }
    manifest = {"tolerance": TOLERANCE, "vectors": []}
    for old in out.glob("*"):
        if old.is_file() and old.name != "reference_vec.mtvir":
            old.unlink()
    for key, (data, reference, frames) in vectors.items():
        stem, tier, plane = (key.split(":") + ["", ""])[:3]  # a tiered EL: one entry per tier (and plane)
        name = "_".join(filter(None, (stem, tier, plane)))
        (out / f"{stem}.mtvir").write_bytes(data)
        el = m.read(data, reference, tier=tier or None, plane=plane or "y")
        enh = m.Enhancer(data, reference=reference, providers=["CPUExecutionProvider"], tier=tier or "auto")
        enh = enh.chroma[plane] if plane in ("u", "v") else enh
        h, w = (el.height or 36, el.width or 44)
        entry = {"file": f"{stem}.mtvir", "reference": "reference_vec.mtvir" if reference else None,
                 **({"tier": tier} if tier else {}), **({"plane": plane} if plane else {}),
                 "groups": [{"first_frame": g.first_frame, "frame_count": g.frame_count,
                             "params_sha256": hashlib.sha256(g.params.hash_bytes()).hexdigest(),
                             "folded_sha256": hashlib.sha256(b"".join(
                                 c.astype("<f4").tobytes() for c, _ in g.params.folded(el.arch))).hexdigest()}
                            for g in el.groups], "frames": []}
        if name == "v2_exact_arithmetic":
            entry["tolerance"] = {"max_abs_diff": 0, "max_fraction_differing": 0}
        for frame in frames:
            index, depth = frame[:2]
            x = frame[2] if len(frame) > 2 else picture(h, w, index + 7, (1 << depth) - 1)
            y = enh.enhance(x, index, bit_depth=depth)
            np.save(out / f"{name}_f{index}_in.npy", x)
            np.save(out / f"{name}_f{index}_out.npy", y)
            entry["frames"].append({"frame_index": index, "bit_depth": depth, "input": f"{name}_f{index}_in.npy",
                                    "expected": f"{name}_f{index}_out.npy"})
        for index, depth, why, x in refused_frames.get(name, []):
            try:
                enh.enhance(x, index, bit_depth=depth)
                raise AssertionError(f"{name}: the SDK enhanced a frame the spec refuses ({why})")
            except m.InputMismatchError:
                pass
            np.save(out / f"{name}_refused_f{index}_{depth}bit.npy", x)
            entry["frames"].append({"frame_index": index, "bit_depth": depth, "refused": why,
                                    "input": f"{name}_refused_f{index}_{depth}bit.npy"})
        manifest["vectors"].append(entry)
    manifest["refused"] = []
    for name, (rule, data) in refused_files(arch, ref, residue, tie).items():
        (out / f"refused_{name}.mtvir").write_bytes(data)
        reference = "reference_vec.mtvir"
        manifest["refused"].append({"file": f"refused_{name}.mtvir", "reference": reference, "rule": rule})
    manifest["refused"].append({"file": "v2_residue.mtvir", "reference": "v2_self_contained.mtvir",
                                "rule": "the reference an EL names, and no other"})
    for name, (rule, data, tier) in refused_tiers(tiered()).items():
        (out / f"refused_{name}.mtvir").write_bytes(data)
        manifest["refused"].append({"file": f"refused_{name}.mtvir", "reference": None, "tier": tier, "rule": rule})
    for name, (rule, data, tier, plane) in refused_colour(colour()).items():
        (out / f"refused_{name}.mtvir").write_bytes(data)
        manifest["refused"].append({"file": f"refused_{name}.mtvir", "reference": None, "tier": tier,
                                    "plane": plane, "rule": rule})
    (out / "vectors.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors and {len(manifest['refused'])} files to refuse to {out}")


if __name__ == "__main__":
    import sys
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
