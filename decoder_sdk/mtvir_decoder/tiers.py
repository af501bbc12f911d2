"""Complexity tiers (EL 3) and colour (EL 4): one file carrying the same video's EL at several costs, a player
taking one, and per tier a model for each plane it enhances.

An EL 3 file is a table (the frame facts, then per tier its kind, parameters, MACs per pixel, receptive radius and
byte count, closed by the table's own CRC) followed by each tier's EL, a whole EL of version 2 with its own CRC.
An EL 4 file adds the chroma format to the facts and lists, per tier, its plane entries: each names the planes it
enhances (Y; U, V, or both with one model) and is a whole EL of version 2 for a plane of that size. A player
decides on the table alone and reads the bytes of what it runs, nothing else: a damaged tier or plane model costs
that alone. Files of version 1 and 2 are single-tier luma ELs: their one tier is ``full``.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from fractions import Fraction

from . import format, layout
from .errors import FormatError, InputMismatchError, LimitError
from .references import Reference

KINDS = layout.TIER_KINDS  # kind byte -> name, in increasing cost
NAMES = tuple(KINDS.values())
UNTIERED = "full"  # the one tier of an EL of version 1 or 2
PLANE_NAMES = "yuv"
CHROMA_FORMATS = {name: idc for idc, name in layout.CHROMA_FORMATS.items()}  # "4:2:0" -> 1


def planes_of(mask: int) -> str:
    """The planes an entry's mask names, as letters: 6 -> "uv"."""
    return "".join(p for bit, p in layout.PLANES.items() if mask & bit)


def mask_of(planes: str) -> int:
    if not planes or any(p not in PLANE_NAMES for p in planes) or len(set(planes)) != len(planes):
        raise ValueError(f"planes {planes!r}: letters of 'yuv', each once")
    return sum(bit for bit, p in layout.PLANES.items() if p in planes)


def plane_size(width: int, height: int, chroma_format: int, plane: str) -> tuple[int, int]:
    """(width, height) of a plane of a frame of this luma size (0 stays 0: any); chroma rounds up, as 4:2:0 video
    of odd size does."""
    if plane == "y" or chroma_format == 3:
        return width, height
    if chroma_format == 0:
        raise InputMismatchError("a 4:0:0 video has no chroma planes")
    return -(-width // 2), (-(-height // 2) if chroma_format == 1 else height)


def samples_per_pixel(chroma_format: int, plane: str) -> Fraction:
    """Samples of ``plane`` per luma pixel: what its MACs weigh in a whole frame's."""
    return Fraction(1) if plane == "y" or chroma_format == 3 else Fraction(1, 4 if chroma_format == 1 else 2)


@dataclass(frozen=True)
class Entry:
    """One plane model of a tier: an EL of version 2 enhancing each of ``planes`` on its own."""
    planes: str
    param_count: int
    macs_per_pixel: int  # per sample of its plane
    receptive_radius: int
    offset: int
    size: int


@dataclass(frozen=True)
class Tier:
    """One row of the table: what a tier costs (the whole frame's MACs per luma pixel), and where its ELs lie."""
    name: str
    param_count: int
    macs_per_pixel: int
    receptive_radius: int
    offset: int
    size: int
    entries: tuple[Entry, ...] = ()

    def entry(self, plane: str) -> Entry | None:
        """The entry whose model enhances ``plane``; None when the tier leaves that plane as decoded."""
        return next((e for e in self.entries if plane in e.planes), None)

    @property
    def planes(self) -> str:
        return "".join(p for p in PLANE_NAMES if self.entry(p))


@dataclass(frozen=True)
class Table:
    width: int
    height: int
    bit_depth: int
    frame_count: int
    tiers: tuple[Tier, ...]
    chroma_format: int = 0  # 0: luma models only (every EL of version 1-3)

    def get(self, name: str) -> Tier:
        for t in self.tiers:
            if t.name == name:
                return t
        raise InputMismatchError(f"this EL has no {name} tier (it has: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tiers]

    @classmethod
    def of(cls, el: format.ElFile) -> "Table":
        """The table of a single-tier EL (version 1 or 2), from the EL as read."""
        a = el.arch
        return cls(el.width, el.height, el.bit_depth, el.frame_count, (_luma_tier(
            UNTIERED, a.param_count, a.macs_per_pixel, a.receptive_radius, 0, el.size),))


def _luma_tier(name, params, macs, radius, offset, size) -> Tier:
    return Tier(name, params, macs, radius, offset, size, (Entry("y", params, macs, radius, offset, size),))


def version(data: bytes) -> int:
    return data[4] if len(data) > 5 and bytes(data[:4]) == layout.MAGIC else 0


def is_tiered(data: bytes) -> bool:
    """A table of tiers (EL 3 or 4), as opposed to one EL of version 1 or 2."""
    return version(data) in (layout.TIERED_MAJOR, layout.PLANAR_MAJOR)


def table(data: bytes) -> Table:
    """The checked table of an EL 3 or 4 (the ELs it lists are not read), or of a single-tier EL 1/2 (its header
    read, the file fully checked, since there the table is the file)."""
    data = _bytes(data)
    if not is_tiered(data):
        f = format.parse(data)
        return Table(f["width"], f["height"], f["bit_depth"], f["frame_count"], (_luma_tier(
            UNTIERED, f["param_count"], f["macs_per_pixel"], f["receptive_radius"], 0, len(data)),))
    planar = version(data) == layout.PLANAR_MAJOR
    reader = layout.Reader(data, version=version(data))
    fields = reader.struct("planar_file" if planar else "tiered_file")
    if zlib.crc32(data[:reader.pos - 4]) != fields["table_crc32"]:
        raise FormatError("CRC mismatch: the EL's tier table is damaged")
    kinds = [t["kind"] for t in fields["tiers"]]
    if kinds != sorted(set(kinds)):
        raise FormatError(f"tier kinds {kinds}: each at most once, in increasing order")
    chroma_format = fields["chroma_format"] if planar else 0
    tiers, offset = [], reader.pos
    for t in fields["tiers"]:
        name = KINDS[t["kind"]]
        if not planar:
            tiers.append(_luma_tier(name, t["param_count"], t["macs_per_pixel"], t["receptive_radius"], offset,
                                    t["el_size"]))
            offset += t["el_size"]
            continue
        entries, start = [], offset
        for e in t["entries"]:
            entries.append(Entry(planes_of(e["planes"]), e["param_count"], e["macs_per_pixel"],
                                 e["receptive_radius"], offset, e["el_size"]))
            offset += e["el_size"]
        tier = Tier(name, t["param_count"], t["macs_per_pixel"], t["receptive_radius"], start, offset - start,
                    tuple(entries))
        _check_tier(tier, [e["planes"] for e in t["entries"]], chroma_format)
        tiers.append(tier)
    if offset != len(data):
        raise FormatError(f"the tier table accounts for {offset} bytes, the file has {len(data)}")
    return Table(fields["width"], fields["height"], fields["bit_depth"], fields["frame_count"], tuple(tiers),
                 chroma_format)


def _check_tier(tier: Tier, masks: list[int], chroma_format: int) -> None:
    """The rules of an EL 4 tier's entries: disjoint planes in increasing order, chroma only where the format has
    it, one model over several planes only where they are of one size; the tier's figures those of its entries."""
    if masks != sorted(masks, key=lambda m: m & -m) or any(a & b for i, a in enumerate(masks) for b in masks[i + 1:]):
        raise FormatError(f"the {tier.name} tier's plane entries {masks}: disjoint, in increasing lowest plane")
    for e in tier.entries:
        if e.planes != "y" and chroma_format == 0:
            raise FormatError(f"the {tier.name} tier has a model for {e.planes.upper()}, the EL says 4:0:0")
        if "y" in e.planes and len(e.planes) > 1 and chroma_format != 3:
            raise FormatError(f"one model for {e.planes.upper()}: luma and chroma share a model only in 4:4:4")
    if (tier.param_count, tier.macs_per_pixel, tier.receptive_radius) != _totals(tier.entries, chroma_format):
        raise FormatError(f"the {tier.name} tier's figures differ from its entries'")


def _totals(entries, chroma_format: int) -> tuple[int, int, int]:
    """(parameters, MACs per luma pixel of the whole frame, receptive radius) of a tier of these entries."""
    macs = sum(e.macs_per_pixel * samples_per_pixel(chroma_format, p) for e in entries for p in e.planes)
    return (sum(e.param_count for e in entries), math.ceil(macs), max(e.receptive_radius for e in entries))


def read(data: bytes, reference: Reference | None = None, tier: str | None = None,
         plane: str = "y") -> format.ElFile | None:
    """The model of ``plane`` in ``tier`` of an EL (default: its most complex tier) rebuilt; no other model's bytes
    are parsed. None when that tier leaves the plane as decoded (chroma in ELs of version 1-3, always)."""
    data = _bytes(data)
    t = _table_of(data)
    chosen = t.get(tier) if tier else t.tiers[-1]
    if not is_tiered(data):
        return format.read(data, reference) if plane == "y" else None
    entry = chosen.entry(plane)
    if entry is None:
        return None
    body = data[entry.offset:entry.offset + entry.size]
    what = f"the {chosen.name} tier" + (f"'s {entry.planes.upper()} model" if version(data) == 4 else "")
    if is_tiered(body):
        raise FormatError(f"{what} is itself a tiered EL")
    el = format.read(body, reference)
    width, height = plane_size(t.width, t.height, t.chroma_format, plane) if plane != "y" else (t.width, t.height)
    facts = (el.width, el.height, el.bit_depth, el.frame_count)
    if facts != (width, height, t.bit_depth, t.frame_count):
        raise FormatError(f"{what} applies to {facts}, the table says {(width, height, t.bit_depth, t.frame_count)}")
    cost = (el.arch.param_count, el.arch.macs_per_pixel, el.arch.receptive_radius)
    if cost != (entry.param_count, entry.macs_per_pixel, entry.receptive_radius):
        raise FormatError(f"{what}'s complexity {cost} differs from the table's")
    el.tier = chosen.name
    el.size = len(data)
    return el


def parts(data: bytes) -> dict[str, dict[str, bytes]]:
    """Every plane model's EL v2 bytes, as ``{tier: {planes: bytes}}`` (the table checked, the ELs not read)."""
    data = _bytes(data)
    if not is_tiered(data):
        return {UNTIERED: {"y": data}}
    return {t.name: {e.planes: data[e.offset:e.offset + e.size] for e in t.entries} for t in table(data).tiers}


def write(bodies: dict, chroma_format: int | str = 0, size: tuple[int, int] | None = None) -> bytes:
    """An EL of ``{tier name: EL v2 bytes}`` (luma; EL 3) or ``{tier name: {planes: EL v2 bytes}}`` (planes "y",
    "u", "v", "uv": EL 4 when any model is for chroma, else EL 3). Every EL must apply to the same frames, a chroma
    model to the planes of that ``chroma_format`` (an idc or "4:2:0"...); ``size`` (luma width, height) is needed
    only when no tier has a luma model."""
    if not bodies:
        raise FormatError("no tier to write")
    chroma_format = CHROMA_FORMATS[chroma_format] if isinstance(chroma_format, str) else chroma_format
    bodies = {name: body if isinstance(body, dict) else {"y": body} for name, body in bodies.items()}
    if any(name not in NAMES for name in bodies):
        raise FormatError(f"tiers {sorted(bodies)}: names of {', '.join(NAMES)}")
    planar = any(planes != "y" for body in bodies.values() for planes in body)
    parsed = {(name, planes): format.parse(b) for name, body in bodies.items() for planes, b in body.items()}
    luma = next((f for (_, planes), f in parsed.items() if planes == "y"), None)
    if luma is None and size is None:
        raise FormatError("no tier has a luma model: the frame size must be given")
    width, height = (luma["width"], luma["height"]) if luma else size
    some = luma or next(iter(parsed.values()))
    rows = []
    for name in sorted(bodies, key=NAMES.index):
        entries = []
        for planes in sorted(bodies[name], key=lambda p: mask_of(p) & -mask_of(p)):
            f = parsed[name, planes]
            want = (*plane_size(width, height, chroma_format, planes[0]), some["bit_depth"], some["frame_count"])
            if (f["width"], f["height"], f["bit_depth"], f["frame_count"]) != want:
                raise FormatError(f"the {name} tier's {planes.upper()} model applies to "
                                  f"{(f['width'], f['height'], f['bit_depth'], f['frame_count'])}; another tier or "
                                 f"plane gives {want}")
            entries.append(Entry(planes, f["param_count"], f["macs_per_pixel"], f["receptive_radius"], 0,
                                 len(bodies[name][planes])))
        rows.append((name, entries))
    kind = {v: k for k, v in KINDS.items()}
    if planar:
        tiers_ = []
        for name, entries in rows:
            t = Tier(name, *_totals(entries, chroma_format), 0, 0, tuple(entries))
            _check_tier(t, [mask_of(e.planes) for e in entries], chroma_format)
            tiers_.append({"kind": kind[name], "param_count": t.param_count, "macs_per_pixel": t.macs_per_pixel,
                           "receptive_radius": t.receptive_radius, "entry_count": len(entries),
                           "entries": [{"planes": mask_of(e.planes), "param_count": e.param_count,
                                        "macs_per_pixel": e.macs_per_pixel, "receptive_radius": e.receptive_radius,
                                        "el_size": e.size} for e in entries]})
        fields = {"magic": layout.MAGIC, "version_major": layout.PLANAR_MAJOR, "version_minor": 0, "width": width,
                  "height": height, "bit_depth": some["bit_depth"], "frame_count": some["frame_count"], "chroma_format": chroma_format,
                  "tier_count": len(tiers_), "tiers": tiers_, "table_crc32": 0}
        head = layout.write("planar_file", fields)[:-4]
    else:
        fields = {"magic": layout.MAGIC, "version_major": layout.TIERED_MAJOR, "version_minor": 0,
                  "width": width, "height": height, "bit_depth": some["bit_depth"],
                  "frame_count": some["frame_count"], "tier_count": len(rows), "tiers": [{
                      "kind": kind[name], "param_count": e.param_count, "macs_per_pixel": e.macs_per_pixel,
                      "receptive_radius": e.receptive_radius, "el_size": e.size} for name, (e,) in rows],
                  "table_crc32": 0}
        head = layout.write("tiered_file", fields)[:-4]
    data = head + zlib.crc32(head).to_bytes(4, "little") + b"".join(
        bodies[name][e.planes] for name, entries in rows for e in entries)
    if len(data) > layout.MAX_FILE_SIZE:
        raise LimitError(f"EL of {len(data)} bytes beyond the {layout.MAX_FILE_SIZE}-byte limit")
    return data


def _table_of(data: bytes) -> Table:
    return table(data) if is_tiered(data) else Table(0, 0, 0, 0, (_luma_tier(UNTIERED, 0, 0, 0, 0, len(data)),))


def _bytes(data) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("EL data must be bytes")
    data = bytes(data)
    if len(data) > layout.MAX_FILE_SIZE:
        raise LimitError(f"{len(data)} bytes: larger than any EL may be ({layout.MAX_FILE_SIZE})")
    return data
