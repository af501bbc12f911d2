"""EL files: the byte layout of ``layout.py`` turned into checked objects, and back.

``read`` checks, in this order: the size cap, the CRC, the field table (with its limits), the descriptor, the
complexity fields against the descriptor, the reference, the groups, then rebuilds every model. Any failure is an
``MtvirError``; nothing is allocated beyond what the file's own limits allow.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from . import layout
from .descriptor import Architecture
from .errors import FormatError, InputMismatchError, LimitError, UnsupportedVersionError
from .model import DELTA, RAW, Coding, Params, decode_payload, encode_payload
from .references import Reference, find as find_reference

NO_REFERENCE = bytes(16)


@dataclass
class Group:
    """One model and the frames [first_frame, first_frame + frame_count) it applies to."""
    first_frame: int
    frame_count: int
    params: Params
    payload_size: int = 0
    coding: Coding | None = None  # as found in the file: writing the group back with it gives the same bytes

    @property
    def frames(self) -> range:
        return range(self.first_frame, self.first_frame + self.frame_count)


@dataclass
class ElFile:
    arch: Architecture
    groups: list[Group]
    reference_id: bytes = NO_REFERENCE
    width: int = 0
    height: int = 0
    bit_depth: int = 0
    frame_count: int = 0
    size: int = 0  # bytes, when read or written
    version_minor: int = layout.VERSION_MINOR
    version_major: int = layout.VERSION_MAJOR
    tier: str = "full"  # which tier of a tiered EL (EL 3) this is; an EL 1 or 2 is its own full tier

    def group_index(self, frame_index: int) -> int | None:
        """The index of the group whose model applies to this frame; None when no group holds it."""
        return next((i for i, g in enumerate(self.groups) if frame_index in g.frames), None)

    def check_frame(self, height: int, width: int, bit_depth: int) -> None:
        """Refuse frames the EL was not made for (0 in the EL means any)."""
        if (self.width and width != self.width) or (self.height and height != self.height):
            raise InputMismatchError(f"frame is {width}x{height}, the EL applies to {self.width}x{self.height}")
        if self.bit_depth and bit_depth != self.bit_depth:
            raise InputMismatchError(f"frame is {bit_depth}-bit, the EL applies to {self.bit_depth}-bit")


def _check_groups(groups, frame_count: int) -> None:
    end = 0
    for g in groups:
        if g.frame_count < 1:
            raise FormatError("a group has no frames")
        if g.first_frame < end:
            raise FormatError(f"group at frame {g.first_frame} overlaps or is out of order")
        end = g.first_frame + g.frame_count
        if frame_count and end > frame_count:
            raise FormatError(f"group ends at frame {end}, the video has {frame_count}")


def coding_of(payload: dict) -> Coding:
    """The coding choices a payload was written with."""
    modes = [(payload["modes"] >> s) & 3 for s in (0, 2, 4, 6)]
    steps = [payload[f"{k}_step_exp"] if mode != RAW else None
             for k, mode in zip(("bias", "scale", "shift"), modes[1:])]
    n_delta = sum(1 for mode in modes[1:] if mode == DELTA)
    return Coding(*steps, weights={0: "auto", 1: "residue", 2: "absolute"}[modes[0]],
                  shared_histogram=payload["histogram_count"] - n_delta <= 1, lanes=payload.get("lane_count") or 1)


def write(arch: Architecture, groups: list[tuple[int, int, Params, Coding]], reference: Reference | None,
          width: int = 0, height: int = 0, bit_depth: int = 0, frame_count: int = 0,
          inline_descriptor: bool | None = None) -> bytes:
    """EL bytes for ``groups`` of (first_frame, frame_count, params, coding), coded against ``reference``.
    The descriptor is omitted (the reference's, which its id covers) unless ``inline_descriptor`` or no reference."""
    if reference is not None and reference.arch != arch:
        raise FormatError("the reference model has another architecture")
    _check_groups([Group(f, n, p) for f, n, p, _ in groups], frame_count)
    models = []
    for first, count, params, coding in groups:
        payload = encode_payload(arch, params, reference.params if reference else None, coding)
        size = len(layout.write("model_payload", payload))
        if size > layout.MAX_MODEL_PAYLOAD:
            raise LimitError(f"model payload of {size} bytes beyond the limit")
        models.append({"first_frame": first, "frame_count": count, "payload_size": size, "payload": payload})
    inline = reference is None if inline_descriptor is None else inline_descriptor or reference is None
    descriptor = arch.to_fields() if inline else None
    fields = {
        "magic": layout.MAGIC, "version_major": layout.VERSION_MAJOR, "version_minor": arch.minor_version,
        "width": width, "height": height, "bit_depth": bit_depth, "frame_count": frame_count,
        "reference_id": reference.id if reference else NO_REFERENCE,
        "param_count": arch.param_count, "macs_per_pixel": arch.macs_per_pixel,
        "receptive_radius": arch.receptive_radius,
        "descriptor_size": len(layout.write("descriptor", descriptor)) if inline else 0, "descriptor": descriptor,
        "model_count": len(models), "models": models, "crc32": 0,
    }
    body = layout.write("el_file", fields)[:-4]
    data = body + zlib.crc32(body).to_bytes(4, "little")
    if len(data) > layout.MAX_FILE_SIZE:
        raise LimitError(f"EL of {len(data)} bytes beyond the {layout.MAX_FILE_SIZE}-byte limit")
    return data


def parse(data: bytes) -> dict:
    """The checked field dict of an EL (no reference needed): size cap, magic, version, CRC, table limits."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("EL data must be bytes")
    data = bytes(data)
    if len(data) > layout.MAX_FILE_SIZE:
        raise LimitError(f"{len(data)} bytes: larger than any EL may be ({layout.MAX_FILE_SIZE})")
    if len(data) < 10 or data[:4] != layout.MAGIC:
        raise FormatError("not an MTVIR enhancement layer (bad magic or too short)")
    if data[4] not in layout.TABLES:
        raise UnsupportedVersionError(f"EL version {data[4]}.{data[5]}; this decoder reads versions "
                                      f"{', '.join(f'{v}.x' for v in layout.TABLES)}")
    if data[4] in (layout.TIERED_MAJOR, layout.PLANAR_MAJOR):
        raise FormatError(f"a tiered EL (version {data[4]}) where one model's EL (version 1 or 2) belongs: read it "
                          "with mtvir_decoder.read, which takes one of its tiers and planes")
    if zlib.crc32(data[:-4]) != int.from_bytes(data[-4:], "little"):
        raise FormatError("CRC mismatch: the EL is damaged")
    reader = layout.Reader(data, version=data[4])
    fields = reader.struct("el_file")
    if reader.pos != len(data):
        raise FormatError(f"{len(data) - reader.pos} bytes after the CRC")
    known = fields["version_minor"] <= layout.VERSION_MINOR
    for name, value in [("descriptor", fields["descriptor"])] + [("model", m["payload"]) for m in fields["models"]]:
        if known and value is not None and value["_trailing"]:
            raise FormatError(f"{value['_trailing']} unexpected bytes at the end of a {name}")
    return fields


def read(data: bytes, reference: Reference | None = None) -> ElFile:
    """Parse and rebuild an EL. Its reference is ``reference`` if given (it must match), else looked up by id."""
    fields = parse(data)
    has_reference = fields["reference_id"] != NO_REFERENCE
    ref = find_reference(fields["reference_id"], reference) if has_reference else None
    if fields["descriptor"] is not None:
        arch = Architecture.from_fields(fields["descriptor"])
        if ref is not None and ref.arch != arch:
            raise FormatError("the EL's descriptor differs from its reference model's")
    elif ref is not None:
        arch = ref.arch
    else:
        raise FormatError("no descriptor and no reference model to take it from")
    if arch.minor_version > fields["version_minor"]:
        raise FormatError(f"the descriptor uses ops of EL {fields['version_major']}.{arch.minor_version}, the file "
                          f"says {fields['version_major']}.{fields['version_minor']}")
    for name, value in (("param_count", arch.param_count), ("macs_per_pixel", arch.macs_per_pixel),
                        ("receptive_radius", arch.receptive_radius)):
        if fields[name] != value:
            raise FormatError(f"{name} says {fields[name]}, the descriptor gives {value}")
    if fields["bit_depth"] and not 8 <= fields["bit_depth"] <= 16:
        raise FormatError(f"bit depth {fields['bit_depth']} outside 8..16")
    ref_params = ref.params if ref is not None else None
    if any(m["payload"] is None for m in fields["models"]):
        raise FormatError("a model with an empty payload")
    version = fields["version_major"]
    groups = [Group(m["first_frame"], m["frame_count"], decode_payload(arch, m["payload"], ref_params, version),
                    m["payload_size"], coding_of(m["payload"])) for m in fields["models"]]
    _check_groups(groups, fields["frame_count"])
    for g in groups:  # finite fields can still fold into inf (a huge scale): refuse before any frame runs
        if not all(np.isfinite(w).all() for w, _ in g.params.folded(arch)):
            raise FormatError(f"the model of frames {g.first_frame}+ folds into non-finite conv weights")
    return ElFile(arch, groups, fields["reference_id"], fields["width"], fields["height"], fields["bit_depth"],
                  fields["frame_count"], len(data), fields["version_minor"], version)
