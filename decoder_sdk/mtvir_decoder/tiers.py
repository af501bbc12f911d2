"""Complexity tiers (EL 3): one file carrying the same video's EL at several costs, a player taking one.

An EL 3 file is a table (the frame facts, then per tier its kind, parameters, MACs per pixel, receptive radius and
byte count, closed by the table's own CRC) followed by each tier's EL, a whole EL of version 2 with its own CRC.
A player decides on the table alone and reads the bytes of the tier it takes, nothing else; a damaged tier costs
that tier only. Files of version 1 and 2 are single-tier files: their one tier is ``full``.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

from . import format, layout
from .errors import FormatError, InputMismatchError, LimitError
from .references import Reference

KINDS = layout.TIER_KINDS  # kind byte -> name, in increasing cost
NAMES = tuple(KINDS.values())
UNTIERED = "full"  # the one tier of an EL of version 1 or 2


@dataclass(frozen=True)
class Tier:
    """One row of the table: what a tier costs, and where its EL lies in the file."""
    name: str
    param_count: int
    macs_per_pixel: int
    receptive_radius: int
    offset: int
    size: int


@dataclass(frozen=True)
class Table:
    width: int
    height: int
    bit_depth: int
    frame_count: int
    tiers: tuple[Tier, ...]

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
        return cls(el.width, el.height, el.bit_depth, el.frame_count,
                   (Tier(UNTIERED, a.param_count, a.macs_per_pixel, a.receptive_radius, 0, el.size),))


def is_tiered(data: bytes) -> bool:
    return len(data) > 5 and bytes(data[:4]) == layout.MAGIC and data[4] == layout.TIERED_MAJOR


def table(data: bytes) -> Table:
    """The checked table of an EL 3 (the tiers' own bytes are not read), or of a single-tier EL 1/2 (its header
    read, the file fully checked, since there the table is the file)."""
    data = _bytes(data)
    if not is_tiered(data):
        f = format.parse(data)
        return Table(f["width"], f["height"], f["bit_depth"], f["frame_count"],
                     (Tier(UNTIERED, f["param_count"], f["macs_per_pixel"], f["receptive_radius"], 0, len(data)),))
    reader = layout.Reader(data, version=layout.TIERED_MAJOR)
    fields = reader.struct("tiered_file")
    if zlib.crc32(data[:reader.pos - 4]) != fields["table_crc32"]:
        raise FormatError("CRC mismatch: the EL's tier table is damaged")
    kinds = [t["kind"] for t in fields["tiers"]]
    if kinds != sorted(set(kinds)):
        raise FormatError(f"tier kinds {kinds}: each at most once, in increasing order")
    tiers, offset = [], reader.pos
    for t in fields["tiers"]:
        tiers.append(Tier(KINDS[t["kind"]], t["param_count"], t["macs_per_pixel"], t["receptive_radius"], offset,
                          t["el_size"]))
        offset += t["el_size"]
    if offset != len(data):
        raise FormatError(f"the tier table accounts for {offset} bytes, the file has {len(data)}")
    return Table(fields["width"], fields["height"], fields["bit_depth"], fields["frame_count"], tuple(tiers))


def read(data: bytes, reference: Reference | None = None, tier: str | None = None) -> format.ElFile:
    """The ``tier`` of an EL (default: its most complex) rebuilt; the other tiers' bytes are never parsed."""
    data = _bytes(data)
    t = _table_of(data)
    chosen = t.get(tier) if tier else t.tiers[-1]
    if not is_tiered(data):
        return format.read(data, reference)
    body = data[chosen.offset:chosen.offset + chosen.size]
    if body[4:5] == bytes([layout.TIERED_MAJOR]):
        raise FormatError(f"the {chosen.name} tier is itself a tiered EL")
    el = format.read(body, reference)
    facts = (el.width, el.height, el.bit_depth, el.frame_count)
    if facts != (t.width, t.height, t.bit_depth, t.frame_count):
        raise FormatError(f"the {chosen.name} tier applies to {facts}, the table says "
                          f"{(t.width, t.height, t.bit_depth, t.frame_count)}")
    cost = (el.arch.param_count, el.arch.macs_per_pixel, el.arch.receptive_radius)
    if cost != (chosen.param_count, chosen.macs_per_pixel, chosen.receptive_radius):
        raise FormatError(f"the {chosen.name} tier's complexity {cost} differs from the table's")
    el.tier = chosen.name
    el.size = len(data)
    return el


def write(bodies: dict[str, bytes]) -> bytes:
    """An EL 3 of ``{tier name: EL v2 bytes}``; every tier's EL must apply to the same frames."""
    if not bodies:
        raise FormatError("no tier to write")
    rows, facts = [], None
    for name in sorted(bodies, key=NAMES.index):
        f = format.parse(bodies[name])
        these = (f["width"], f["height"], f["bit_depth"], f["frame_count"])
        if facts is not None and these != facts:
            raise FormatError(f"the {name} tier applies to {these}, another tier to {facts}")
        facts = these
        kind = next(k for k, v in KINDS.items() if v == name)
        rows.append({"kind": kind, "param_count": f["param_count"], "macs_per_pixel": f["macs_per_pixel"],
                     "receptive_radius": f["receptive_radius"], "el_size": len(bodies[name])})
    fields = {"magic": layout.MAGIC, "version_major": layout.TIERED_MAJOR, "version_minor": 0,
              "width": facts[0], "height": facts[1], "bit_depth": facts[2], "frame_count": facts[3],
              "tier_count": len(rows), "tiers": rows, "table_crc32": 0}
    head = layout.write("tiered_file", fields)[:-4]
    data = head + zlib.crc32(head).to_bytes(4, "little") + b"".join(bodies[KINDS[r["kind"]]] for r in rows)
    if len(data) > layout.MAX_FILE_SIZE:
        raise LimitError(f"EL of {len(data)} bytes beyond the {layout.MAX_FILE_SIZE}-byte limit")
    return data


def _table_of(data: bytes) -> Table:
    return table(data) if is_tiered(data) else Table(0, 0, 0, 0, (Tier(UNTIERED, 0, 0, 0, 0, len(data)),))


def _bytes(data) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("EL data must be bytes")
    data = bytes(data)
    if len(data) > layout.MAX_FILE_SIZE:
        raise LimitError(f"{len(data)} bytes: larger than any EL may be ({layout.MAX_FILE_SIZE})")
    return data
