"""EL bitstream byte layout, as a declarative field table that drives both the reader and the writer.

``schemas/el_v2.schema.json`` is this table written out (``make schema``), and
``el_v1.schema.json`` the v1 table, which differs only in the model payload's coded stream; a test holds the
files equal to the tables and parses real files with an independent interpreter of the JSON alone. The writer
writes the current version only; the reader reads every version in ``TABLES``.

Field types: u8 u16 u32 i8 f32 (little-endian), uvar (unsigned LEB128, at most 5 bytes), svar (zig-zag LEB128),
bytes (``size``: a constant or an earlier field), or the name of a struct (with ``size``: length-delimited, read
within exactly that many bytes, absent when the size is 0; bytes a reader does not know are left for later minor
versions). ``count`` repeats a field: a constant, an
earlier field, or ``a - b + 1`` of earlier fields. ``min``/``max`` are hard limits (a NaN is outside every range) and
``enum`` the values allowed, checked while reading, before anything is allocated; ``const`` fields must hold
exactly that value.
"""
from __future__ import annotations

import json
import struct

from .errors import FormatError, LimitError

VERSION_MAJOR = 2
VERSION_MINOR = 1  # the newest minor this reader knows: 1 adds the unshuffle and shuffle ops
MAGIC = b"MTVR"
MAX_FILE_SIZE = 16 << 20
MAX_MODELS = 255
MAX_MODEL_PAYLOAD = 4 << 20
MAX_ALPHABET = 4096
MAX_SYMBOL = 1 << 15
MAX_PARAMS = 1 << 20  # weights + biases of one model: bounds the symbols a decoder may be asked to decode


def F(name, type_, doc, **kw):
    return {"name": name, "type": type_, "doc": doc, **kw}


STRUCTS: dict[str, list[dict]] = {
    "el_file": [
        F("magic", "bytes", "ASCII 'MTVR'", size=4, const="MTVR"),
        F("version_major", "u8", "incompatible changes; a decoder refuses a major it does not implement",
          const=VERSION_MAJOR),
        F("version_minor", "u8", "additions: 1 when the descriptor uses unshuffle or shuffle, else 0; any value "
                                 "read (bytes past the known fields of a later minor skipped)", max=255),
        F("width", "u16", "luma width the EL applies to; 0: any", max=16384),
        F("height", "u16", "luma height the EL applies to; 0: any", max=16384),
        F("bit_depth", "u8", "luma bit depth the EL applies to (8..16); 0: any", max=16),
        F("frame_count", "u32", "frames in the video the EL was made for; 0: any", max=1 << 30),
        F("reference_id", "bytes", "SHA-256[:16] of the reference model; all zero: self-contained", size=16),
        F("param_count", "u32", "complexity: weights + biases of one model (equals the descriptor's), at most 2^20",
          max=MAX_PARAMS),
        F("macs_per_pixel", "u32", "complexity: multiply-accumulates per pixel (equals the descriptor's)"),
        F("receptive_radius", "u16", "complexity: halo in pixels a tile needs (equals the descriptor's)"),
        F("descriptor_size", "u16", "bytes of the descriptor; 0: the reference model's descriptor", max=4096),
        F("descriptor", "descriptor", "the architecture", size="descriptor_size"),
        F("model_count", "u8", "models (groups of frames) that follow", max=MAX_MODELS),
        F("models", "model", "one per group", count="model_count"),
        F("crc32", "u32", "CRC-32 (zlib, ISO-HDLC) of every byte before this field"),
    ],
    "descriptor": [
        F("quant_scale", "u16", "S: W_conv = scale * W_Q / S + shift", min=1, max=1024),
        F("input_offset", "f32", "the network sees luma/(2^bd - 1) - input_offset; NaN refused", min=-1, max=1),
        F("flags", "u8", "bit 0: global residual (out = in + net); other bits reserved, 0", max=1),
        F("layer_count", "u8", "convolution layers", min=1, max=64),
        F("layers", "layer", "in coding order", count="layer_count"),
        F("node_count", "u8", "nodes after the input (node 0, the input, is not listed)", min=1, max=128),
        F("nodes", "node", "nodes 1..node_count in evaluation order; the last is the output", count="node_count"),
    ],
    "layer": [
        F("cin", "u8", "input channels", min=1, max=64),
        F("cout", "u8", "output channels", min=1, max=64),
        F("kernel", "u8", "square kernel size", enum=[1, 3, 5, 7]),
    ],
    "node": [
        F("op", "u8", "1 conv(a=src, b=layer, c=relu), 2 add(a, b, c=relu), 3 se(a=src, b=1x1 layer, c=window), "
                      "4 unshuffle(a=src, b=r, c=0), 5 shuffle(a=src, b=r, c=0); 4 and 5 from minor 1", min=1, max=5),
        F("a", "u8", "operand"),
        F("b", "u8", "operand"),
        F("c", "u8", "operand"),
    ],
    "model": [
        F("first_frame", "u32", "first frame of the group this model applies to", max=1 << 30),
        F("frame_count", "u32", "frames in the group", min=1, max=1 << 30),
        F("payload_size", "u32", "bytes of the payload that follows", max=MAX_MODEL_PAYLOAD),
        F("payload", "model_payload", "the model's parameters", size="payload_size"),
    ],
    "model_payload": [
        F("modes", "u8", "bits 0-1 weights (0 reference, 1 residue, 2 absolute); bits 2-3 biases, 4-5 affine "
                         "scales, 6-7 affine shifts (0 reference, 1 quantised delta, 2 float32)"),
        F("bias_step_exp", "i8", "bias delta step 2^e (mode 1: -40..8; else 0)", min=-40, max=8),
        F("scale_step_exp", "i8", "relative affine-scale delta step 2^e (mode 1: -40..8; else 0)", min=-40, max=8),
        F("shift_step_exp", "i8", "affine-shift delta step 2^e (mode 1: -40..8; else 0)", min=-40, max=8),
        F("mask_size", "u8", "bytes of layer_mask: ceil(layers / 8) for a residue, else 0", max=8),
        F("layer_mask", "bytes", "bit i (LSB first): layer i has a coded residue", size="mask_size"),
        F("histogram_count", "u8", "probability models of the coded stream", max=72),
        F("histograms", "histogram", "one per tensor group, constant groups included", count="histogram_count"),
        F("raw_count", "uvar", "float32 values that follow (mode-2 parameters)", max=8192),
        F("raw", "f32", "biases, then scales, then shifts, for those in mode 2", count="raw_count"),
        F("lane_count", "u8", "rANS lanes K: 1..min(64, coded symbols); 0 when no symbol is coded", max=64),
        F("coded_size", "uvar", "bytes of the rANS stream: 4 K + 2 * words", max=MAX_MODEL_PAYLOAD),
        F("coded", "bytes", "K initial lane states (u32), then the u16 words in reading order", size="coded_size"),
    ],
    "histogram": [
        F("kind", "u8", "0: exact counts; 1: two-sided geometric (discrete Laplace) weights", max=1),
        F("lo", "svar", "smallest symbol", min=-MAX_SYMBOL, max=MAX_SYMBOL),
        F("hi", "svar", "largest symbol", min=-MAX_SYMBOL, max=MAX_SYMBOL),
        F("count_n", "uvar", "kind 0: hi - lo + 1; kind 1: 0", max=MAX_ALPHABET),
        F("counts", "uvar", "occurrences of lo..hi", count="count_n", max=1 << 20),
        F("center", "svar", "kind 1 only: the mode, lo <= center <= hi", count="kind", min=-MAX_SYMBOL,
          max=MAX_SYMBOL),
        F("decay", "u16", "kind 1 only: weight ratio per step away from the mode, decay / 65536", count="kind",
          min=1),
    ],
}


def _v1(structs: dict) -> dict:
    """EL v1's table: the same but for the model payload's stream (constriction's range-coder words, no lane
    count) and step exponents checked only where used."""
    old = {f["name"]: f for f in (
        F("bias_step_exp", "i8", "bias delta step 2^e (mode 1)"),
        F("scale_step_exp", "i8", "relative affine-scale delta step 2^e (mode 1)"),
        F("shift_step_exp", "i8", "affine-shift delta step 2^e (mode 1)"),
        F("coded_size", "uvar", "bytes of the range-coded stream (a multiple of 4)", max=MAX_MODEL_PAYLOAD),
        F("coded", "bytes", "constriction RangeEncoder words, little-endian u32", size="coded_size"))}
    return {**structs,
            "el_file": [{**f, "const": 1} if f["name"] == "version_major" else
                        {**f, "doc": "compatible additions: fields appended to length-delimited structs; 0 in files "
                                     "of this version, any value read (bytes past the known fields skipped)"}
                        if f["name"] == "version_minor" else f for f in structs["el_file"]],
            "node": [{**f, "max": 3, "doc": f["doc"].split(", 4 ")[0]} if f["name"] == "op" else f
                     for f in structs["node"]],
            "model_payload": [old.get(f["name"], f) for f in structs["model_payload"] if f["name"] != "lane_count"]}


# EL 3: a table of complexity tiers, each an EL of version 2 of its own, so that a player chooses a tier from
# the first bytes and reads that tier's bytes alone (tiers.py).
TIERED_MAJOR = 3
TIER_KINDS = {1: "light", 2: "full", 3: "heavy"}
MAX_TIERS = 8
TIERED = {
    "tiered_file": [
        F("magic", "bytes", "ASCII 'MTVR'", size=4, const="MTVR"),
        F("version_major", "u8", "3: a table of tiers, each tier an EL of version 2", const=TIERED_MAJOR),
        F("version_minor", "u8", "0; any value read", max=255),
        F("width", "u16", "luma width every tier applies to; 0: any", max=16384),
        F("height", "u16", "luma height every tier applies to; 0: any", max=16384),
        F("bit_depth", "u8", "luma bit depth every tier applies to (8..16); 0: any", max=16),
        F("frame_count", "u32", "frames in the video; 0: any", max=1 << 30),
        F("tier_count", "u8", "tiers that follow", min=1, max=MAX_TIERS),
        F("tiers", "tier", "in increasing kind", count="tier_count"),
        F("table_crc32", "u32", "CRC-32 (zlib, ISO-HDLC) of every byte before this field"),
    ],
    "tier": [
        F("kind", "u8", "1 light, 2 full, 3 heavy", enum=sorted(TIER_KINDS)),
        F("param_count", "u32", "the tier's EL's param_count", max=MAX_PARAMS),
        F("macs_per_pixel", "u32", "the tier's EL's macs_per_pixel"),
        F("receptive_radius", "u16", "the tier's EL's receptive_radius"),
        F("el_size", "u32", "bytes of the tier's EL (a whole EL v2 file, its own CRC at its end)", min=1,
          max=MAX_FILE_SIZE),
    ],
}

# EL 4: colour. Per tier, the models of its planes, each an EL of version 2 of its own applying to the planes it
# names, so that a player that enhances luma alone reads no chroma bytes and a damaged chroma model costs chroma only.
PLANAR_MAJOR = 4
PLANES = {1: "y", 2: "u", 4: "v"}  # bits of a plane entry's mask
CHROMA_FORMATS = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}  # as HEVC's chroma_format_idc
MAX_ENTRIES = 3
PLANAR = {
    "planar_file": [
        F("magic", "bytes", "ASCII 'MTVR'", size=4, const="MTVR"),
        F("version_major", "u8", "4: a table of tiers, each a list of plane models, each an EL of version 2",
          const=PLANAR_MAJOR),
        F("version_minor", "u8", "0; any value read", max=255),
        F("width", "u16", "luma width the EL applies to; 0: any", max=16384),
        F("height", "u16", "luma height the EL applies to; 0: any", max=16384),
        F("bit_depth", "u8", "bit depth of every plane (8..16); 0: any", max=16),
        F("frame_count", "u32", "frames in the video; 0: any", max=1 << 30),
        F("chroma_format", "u8", "0 4:0:0 (luma models only), 1 4:2:0, 2 4:2:2, 3 4:4:4: the chroma sampling the "
                                 "chroma models apply to", enum=sorted(CHROMA_FORMATS)),
        F("tier_count", "u8", "tiers that follow", min=1, max=MAX_TIERS),
        F("tiers", "planar_tier", "in increasing kind", count="tier_count"),
        F("table_crc32", "u32", "CRC-32 (zlib, ISO-HDLC) of every byte before this field"),
    ],
    "planar_tier": [
        F("kind", "u8", "1 light, 2 full, 3 heavy", enum=sorted(TIER_KINDS)),
        F("param_count", "u32", "sum of its entries' param_count", max=MAX_ENTRIES * MAX_PARAMS),
        F("macs_per_pixel", "u32", "the whole frame's multiply-accumulates per luma pixel: each entry's MAC/px times "
                                   "its planes' samples per luma pixel, summed, rounded up"),
        F("receptive_radius", "u16", "the largest of its entries' receptive_radius"),
        F("entry_count", "u8", "plane models that follow", min=1, max=MAX_ENTRIES),
        F("entries", "plane_entry", "in increasing lowest plane", count="entry_count"),
    ],
    "plane_entry": [
        F("planes", "u8", "the planes this model enhances, each on its own: bit 0 Y, bit 1 U, bit 2 V", min=1, max=7),
        F("param_count", "u32", "the entry's EL's param_count", max=MAX_PARAMS),
        F("macs_per_pixel", "u32", "the entry's EL's macs_per_pixel (per sample of its plane)"),
        F("receptive_radius", "u16", "the entry's EL's receptive_radius (samples of its plane)"),
        F("el_size", "u32", "bytes of the entry's EL (a whole EL v2 file, its own CRC at its end)", min=1,
          max=MAX_FILE_SIZE),
    ],
}
ROOTS = {1: "el_file", VERSION_MAJOR: "el_file", TIERED_MAJOR: "tiered_file", PLANAR_MAJOR: "planar_file"}

TABLES = {1: _v1(STRUCTS), VERSION_MAJOR: STRUCTS, TIERED_MAJOR: TIERED, PLANAR_MAJOR: PLANAR}

_FIXED = {"u8": "<B", "u16": "<H", "u32": "<I", "i8": "<b", "f32": "<f"}
_MIN_SIZE = {"u8": 1, "u16": 2, "u32": 4, "i8": 1, "f32": 4, "uvar": 1, "svar": 1, "bytes": 0}


def min_size(type_: str, structs: dict = STRUCTS) -> int:
    """Fewest bytes one item of this type takes: bounds any count against the bytes left."""
    if type_ in _MIN_SIZE:
        return _MIN_SIZE[type_]
    total = 0
    for f in structs[type_]:
        if "count" not in f:
            total += min_size(f["type"], structs)
        elif isinstance(f["count"], int):
            total += min_size(f["type"], structs) * f["count"]
    return total


def _value(expr, fields: dict) -> int:
    if isinstance(expr, int):
        return expr
    if expr in fields:
        return fields[expr]
    a, _, b, _, one = expr.split()  # "a - b + 1"
    return fields[a] - fields[b] + int(one)


class Reader:
    """Reads the types of one version's table from a bytes buffer, never past its end."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, version: int = VERSION_MAJOR):
        self.data, self.pos, self.version = data, pos, version
        self.end = len(data) if end is None else end
        self.structs = TABLES[version]

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise FormatError(f"truncated: {what} needs {n} bytes, {self.end - self.pos} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uvar(self, what: str) -> int:
        value = 0
        for i in range(5):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i and byte == 0:
                    raise FormatError(f"{what}: non-canonical varint")
                if value >> 32:
                    raise LimitError(f"{what}: varint {value} above 2^32 - 1")
                return value
        raise FormatError(f"{what}: varint longer than 5 bytes")

    def read(self, type_: str, what: str):
        if type_ in _FIXED:
            fmt = _FIXED[type_]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]
        if type_ == "uvar":
            return self.uvar(what)
        if type_ == "svar":
            z = self.uvar(what)
            return (z >> 1) ^ -(z & 1)
        return self.struct(type_, what)

    def struct(self, name: str, what: str = "") -> dict:
        out: dict = {}
        for f in self.structs[name]:
            where = f"{what}.{f['name']}" if what else f["name"]
            if f["type"] == "bytes":
                value = self.take(_value(f["size"], out), where)
            elif "count" in f:
                n = _value(f["count"], out)
                if n < 0 or n * min_size(f["type"], self.structs) > self.end - self.pos:
                    raise FormatError(f"truncated or hostile: {where} claims {n} items")
                value = [self._checked(f, self.read(f["type"], f"{where}[{i}]"), f"{where}[{i}]") for i in range(n)]
            elif "size" in f:
                value = self._sized(f["type"], _value(f["size"], out), where)
            else:
                value = self._checked(f, self.read(f["type"], where), where)
            if "const" in f:
                expected = f["const"].encode() if f["type"] == "bytes" else f["const"]
                if value != expected:
                    raise FormatError(f"{where} is {value!r}, expected {expected!r}")
            out[f["name"]] = value
        return out

    def _sized(self, name: str, size: int, what: str) -> dict | None:
        """A length-delimited struct: read inside its bytes; trailing bytes are left for later minor versions.
        Size 0: the struct is absent (None)."""
        if size == 0:
            return None
        if self.pos + size > self.end:
            raise FormatError(f"truncated: {what} needs {size} bytes, {self.end - self.pos} left")
        inner = Reader(self.data, self.pos, self.pos + size, self.version)
        value = inner.struct(name, what)
        value["_trailing"] = inner.end - inner.pos
        self.pos += size
        return value

    @staticmethod
    def _checked(f: dict, value, where: str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "min" in f and not value >= f["min"] or "max" in f and not value <= f["max"]:
                raise LimitError(f"{where} = {value} outside [{f.get('min', '-')}, {f.get('max', '-')}]")
            if "enum" in f and value not in f["enum"]:
                raise LimitError(f"{where} = {value}, not one of {f['enum']}")
        return value


def write_uvar(value: int) -> bytes:
    if value < 0:
        raise ValueError("uvar takes non-negative integers")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def write(name: str, fields: dict) -> bytes:
    """Serialise a field dict by the table. Sizes and counts are taken as given (callers fill them)."""
    out = bytearray()
    table = next(t for t in (STRUCTS, TIERED, PLANAR) if name in t)
    for f in table[name]:
        value = fields[f["name"]]
        items = value if "count" in f else [value]
        for item in items:
            t = f["type"]
            if item is None and "size" in f and t in table:
                continue  # an absent length-delimited struct
            if t == "bytes":
                out += item
            elif t in _FIXED:
                out += struct.pack(_FIXED[t], item)
            elif t == "uvar":
                out += write_uvar(item)
            elif t == "svar":
                out += write_uvar(2 * item if item >= 0 else -2 * item - 1)
            else:
                out += write(t, item)
    return bytes(out)


def schema(version: int = VERSION_MAJOR) -> dict:
    """The machine-readable schema of one version: its table plus the constants a reader needs."""
    return {
        "title": "MTVIR enhancement layer (EL) bitstream",
        "version": f"{version}.{VERSION_MINOR if version == VERSION_MAJOR else 0}",
        "byte_order": "little-endian",
        "root": ROOTS[version],
        "limits": {"max_file_size": MAX_FILE_SIZE, "max_models": MAX_MODELS,
                   "max_model_payload": MAX_MODEL_PAYLOAD, "max_alphabet": MAX_ALPHABET, "max_tiers": MAX_TIERS,
                   **({"max_entries": MAX_ENTRIES} if version == PLANAR_MAJOR else {})},
        "structs": TABLES[version],
        **({"then": "each tier's EL, a whole EL of version 2 (el_v2.schema.json), el_size bytes, in table order; "
                    "the file ends after the last"} if version == TIERED_MAJOR else {}),
        **({"then": "each entry's EL, a whole EL of version 2 (el_v2.schema.json), el_size bytes, tier by tier and "
                    "entry by entry in table order; the file ends after the last"} if version == PLANAR_MAJOR else {}),
    }


if __name__ == "__main__":
    import sys
    print(json.dumps(schema(int(sys.argv[1]) if len(sys.argv) > 1 else VERSION_MAJOR), indent=1))
