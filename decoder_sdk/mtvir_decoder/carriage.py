"""In-band carriage: the EL inside the BL's own bitstream, in SEI "user data unregistered" messages (HEVC, H.264)
or in metadata OBUs of a user-private type (AV1).

An EL travels as one message per group: each message is a complete EL file (the EL's header, the group's
model, its own CRC) behind the 16-byte ``MTVIR_UUID``, in an SEI message of payload type 5 (HEVC, H.264) or a
metadata OBU of type ``AV1_METADATA_TYPE`` (AV1), in the access unit (temporal unit) of the group's first frame
(display order), before its first slice (frame header). Players that do not know them skip such messages, as the
standards require; a copy into another container (``ffmpeg -c copy`` to MKV, MP4, MPEG-TS)
keeps it, since it is part of the coded pictures. A reader collects the messages, checks each on its own and
joins the intact ones into one EL (``join``): a missing or damaged message costs only its group's frames, which
then play as the BL. Joining the messages of an export gives back its .mtvir file byte for byte. A tiered EL
(EL 3) or a colour EL (EL 4) travels the same way: each message is such an EL holding, of every tier and plane
model, the group that starts at that frame; a damaged tier or plane model in a message costs that group only.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from . import format, tiers
from .layout import write_uvar
from .errors import FormatError, MtvirError
from .references import Reference

MTVIR_UUID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:mtvir:enhancement-layer:v1").bytes
SEI_USER_DATA_UNREGISTERED = 5
AV1_METADATA_TYPE = 6  # the first of AV1's unregistered user-private metadata types (6-31); the UUID tells it ours
CODECS = ("hevc", "h264", "av1")


# --- EL <-> messages -------------------------------------------------------------------------------------------
def split(el: bytes, reference: Reference | None = None) -> list[tuple[int, bytes]]:
    """(first frame, message) for each group: the EL's header with that group alone (of a tiered or colour EL:
    every tier's and plane's group starting at that frame)."""
    if not tiers.is_tiered(el):
        return _split_single(el, reference)
    table = tiers.table(el)
    per_part = {(name, planes): dict(_split_single(body, _given(body, reference)))
                for name, models in tiers.parts(el).items() for planes, body in models.items()}
    firsts = sorted({first for messages in per_part.values() for first in messages})
    return [(first, _write({part: messages[first] for part, messages in per_part.items() if first in messages},
                           table)) for first in firsts]


def join(messages: list[bytes], reference: Reference | None = None) -> tuple[bytes | None, list[str]]:
    """One EL from the messages that are intact and agree with the first intact one (same video, same reference,
    groups in order without overlap), and what was left out and why. None when no message is usable. Tiered
    messages are joined tier by tier and plane by plane."""
    if not any(tiers.is_tiered(data) for data in messages):
        return _join_single(messages, reference)
    by_part: dict[tuple[str, str], list[bytes]] = {}
    problems, first = [], None
    for k, data in enumerate(messages):
        try:
            table = tiers.table(data)
        except MtvirError as exc:
            problems.append(f"message {k}: {exc}")
            continue
        first = first or table
        for name, models in tiers.parts(data).items():
            for planes, body in models.items():
                by_part.setdefault((name, planes), []).append(body)
    bodies = {}
    for (name, planes), parts in by_part.items():
        data, left_out = _join_single(parts, _given(parts[0], reference))
        what = f"{name} tier" + (f" {planes.upper()}" if first.chroma_format else "")
        problems += [f"{what}, {p}" for p in left_out]
        if data is not None:
            bodies[name, planes] = data
    try:
        return (_write(bodies, first) if bodies else None), problems
    except MtvirError as exc:
        return None, problems + [str(exc)]


def _write(parts: dict[tuple[str, str], bytes], table: tiers.Table) -> bytes:
    nested: dict[str, dict[str, bytes]] = {}
    for (name, planes), body in parts.items():
        nested.setdefault(name, {})[planes] = body
    return tiers.write(nested, table.chroma_format, (table.width, table.height))


def _given(body: bytes, reference: Reference | None) -> Reference | None:
    """``reference`` where this tier's EL names it (a caller gives the reference of one tier, if any)."""
    try:
        return reference if reference is not None and format.parse(body)["reference_id"] == reference.id else None
    except MtvirError:
        return reference  # the damage is reported where the tier is read


def _split_single(el: bytes, reference: Reference | None) -> list[tuple[int, bytes]]:
    f = format.read(el, reference)
    ref = _reference(f, reference)
    return [(g.first_frame, format.write(f.arch, [(g.first_frame, g.frame_count, g.params, g.coding)], ref,
                                         f.width, f.height, f.bit_depth, f.frame_count))
            for g in f.groups]


def _join_single(messages: list[bytes], reference: Reference | None) -> tuple[bytes | None, list[str]]:
    kept, problems, first = [], [], None
    for k, data in enumerate(messages):
        try:
            f = format.read(data, reference)
        except MtvirError as exc:
            problems.append(f"message {k}: {exc}")
            continue
        facts = (f.reference_id, f.width, f.height, f.bit_depth, f.frame_count, f.arch)
        if first is None:
            first = (f, facts)
        elif facts != first[1]:
            problems.append(f"message {k}: made for another video or reference than message 0")
            continue
        kept += f.groups
    if first is None:
        return None, problems
    f = first[0]
    groups, end = [], 0
    for g in sorted(kept, key=lambda g: g.first_frame):
        if g.first_frame < end:
            problems.append(f"a model for frames {g.first_frame}+ overlaps another: left out")
            continue
        groups.append((g.first_frame, g.frame_count, g.params, g.coding))
        end = g.first_frame + g.frame_count
    return format.write(f.arch, groups, _reference(f, reference), f.width, f.height, f.bit_depth,
                        f.frame_count), problems


def _reference(f: format.ElFile, given: Reference | None) -> Reference | None:
    if f.reference_id == format.NO_REFERENCE:
        return None
    return format.find_reference(f.reference_id, given)


# --- SEI NAL units ---------------------------------------------------------------------------------------------
def sei_nal(codec: str, message: bytes) -> bytes:
    """A prefix SEI NAL unit (no start code, no length) holding ``message`` under the MTVIR UUID."""
    payload = MTVIR_UUID + message
    size = len(payload)
    rbsp = bytes([SEI_USER_DATA_UNREGISTERED]) + b"\xff" * (size // 255) + bytes([size % 255]) + payload + b"\x80"
    header = b"\x4e\x01" if codec == "hevc" else b"\x06"  # HEVC: PREFIX_SEI_NUT (39), layer 0, tid 1; H.264: 6
    return header + _escape(rbsp)


def _escape(rbsp: bytes) -> bytes:
    """Emulation prevention: 0x03 after two zero bytes when the next byte is 0..3."""
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _unescape(ebsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for b in ebsp:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def _is_sei(codec: str, nal: bytes) -> bool:
    return len(nal) > 2 and _nal_type(codec, nal) == (39 if codec == "hevc" else 6)


def _is_vcl(codec: str, nal: bytes) -> bool:
    t = _nal_type(codec, nal)
    return t < 32 if codec == "hevc" else 1 <= t <= 5


def messages_in(codec: str, nal: bytes) -> list[bytes]:
    """The MTVIR messages of one SEI NAL unit (none when it holds other SEI messages only)."""
    rbsp = _unescape(nal[2 if codec == "hevc" else 1:])
    found, i = [], 0
    while i + 2 <= len(rbsp) and rbsp[i] != 0x80:
        kind = size = 0
        while i < len(rbsp) and rbsp[i] == 0xFF:
            kind, i = kind + 255, i + 1
        if i >= len(rbsp):
            break
        kind, i = kind + rbsp[i], i + 1
        while i < len(rbsp) and rbsp[i] == 0xFF:
            size, i = size + 255, i + 1
        if i >= len(rbsp):
            break
        size, i = size + rbsp[i], i + 1
        body = rbsp[i:i + size]
        if len(body) < size:
            break  # truncated: what is there is not a whole message
        if kind == SEI_USER_DATA_UNREGISTERED and body[:16] == MTVIR_UUID:
            found.append(body[16:])
        i += size
    return found


# --- access units in packets: Annex B (MPEG-TS, raw streams) or length-prefixed (MP4, MKV) ---------------------
def _length_size(codec: str, extradata: bytes | None) -> int | None:
    """NAL length field size of hvcC / avcC extradata; None when packets are Annex B (or OBUs: AV1)."""
    if codec == "av1":
        return None
    if not extradata or extradata[:3] == b"\0\0\1" or extradata[:4] == b"\0\0\0\1":
        return None
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    return 4


def nal_units(packet: bytes, length_size: int | None) -> list[bytes]:
    """The NAL units of a packet: length-prefixed where the stream says so and the lengths account for the packet
    exactly (a first NAL of 256-511 bytes has a 4-byte length that begins like a start code: 00 00 01 xx), else
    split at Annex B start codes."""
    if length_size is not None:
        out, i = [], 0
        while i + length_size <= len(packet):
            n = int.from_bytes(packet[i:i + length_size], "big")
            i += length_size
            if n == 0 or i + n > len(packet):
                break
            out.append(packet[i:i + n])
            i += n
        if i == len(packet) or not (packet[:3] == b"\0\0\1" or packet[:4] == b"\0\0\0\1"):
            return out
    parts = packet.split(b"\0\0\1")
    return [p.rstrip(b"\0") for p in parts[1:] if p.rstrip(b"\0")]


def _insert(packet: bytes, nal: bytes, codec: str, length_size: int | None) -> bytes:
    """``nal`` placed before the first slice of the access unit in ``packet``."""
    units = nal_units(packet, length_size)
    at = next((k for k, u in enumerate(units) if _is_vcl(codec, u)), len(units))
    units.insert(at, nal)
    if length_size is None:
        return b"".join(b"\0\0\0\1" + u for u in units)
    return b"".join(len(u).to_bytes(length_size, "big") + u for u in units)


# --- AV1: metadata OBUs in temporal units (low-overhead format: each OBU with its size, as MP4, MKV, IVF hold it)
OBU_FRAME_HEADER, OBU_TILE_GROUP, OBU_METADATA, OBU_FRAME = 3, 4, 5, 6


def metadata_obu(message: bytes) -> bytes:
    """A metadata OBU (with its size field, no extension) of the MTVIR type holding ``message`` under the UUID:
    metadata_type, the UUID, the message, then trailing bits (a byte 0x80)."""
    payload = write_uvar(AV1_METADATA_TYPE) + MTVIR_UUID + message + b"\x80"  # AV1's leb128 is the EL's uvar
    return bytes([OBU_METADATA << 3 | 2]) + write_uvar(len(payload)) + payload


def obus(packet: bytes) -> list[tuple[int, bytes, bytes]]:
    """(type, whole OBU, payload) of each OBU of a temporal unit, up to the first that does not parse (an OBU
    without a size field runs to the end of the packet)."""
    out, i = [], 0
    while i < len(packet):
        start, header = i, packet[i]
        i += 2 if header & 4 else 1  # obu_extension_flag: one more header byte
        if header & 0x80 or i > len(packet):  # the forbidden bit, or a truncated header
            break
        size = len(packet) - i
        if header & 2:  # obu_has_size_field: leb128, at most 8 bytes
            size = shift = 0
            while i < len(packet) and shift < 56:
                size, i, shift = size | (packet[i] & 0x7F) << shift, i + 1, shift + 7
                if not packet[i - 1] & 0x80:
                    break
            else:
                break
        if i + size > len(packet):
            break
        out.append((header >> 3 & 0xF, packet[start:i + size], packet[i:i + size]))
        i += size
    return out


def messages_in_obu(kind: int, payload: bytes) -> list[bytes]:
    """The MTVIR message of one OBU (none for another OBU or another metadata type)."""
    if kind != OBU_METADATA or payload[:1] != bytes([AV1_METADATA_TYPE]) or payload[1:17] != MTVIR_UUID:
        return []
    body = payload[17:].rstrip(b"\0")  # trailing bits: a one bit, then zeros to the OBU's end
    return [body[:-1]] if body[-1:] == b"\x80" else []


def _insert_obu(packet: bytes, obu: bytes) -> bytes:
    """``obu`` placed after the temporal unit's temporal delimiter, sequence header and metadata, before its first
    frame (header)."""
    units = obus(packet)
    at = next((k for k, (kind, _, _) in enumerate(units) if kind in (OBU_FRAME_HEADER, OBU_TILE_GROUP, OBU_FRAME)),
              len(units))
    offset = sum(len(whole) for _, whole, _ in units[:at])
    return packet[:offset] + obu + packet[offset:]


# --- files ----------------------------------------------------------------------------------------------------
def _codec(stream) -> str:
    name = stream.codec_context.codec.canonical_name
    if name not in CODECS:
        raise MtvirError(f"in-band carriage is defined for HEVC and H.264 (SEI) and AV1 (metadata OBUs); this "
                         f"video is {name}")
    return name


def _carry(packet: bytes, message: bytes, codec: str, length_size: int | None) -> bytes:
    if codec == "av1":
        return _insert_obu(packet, metadata_obu(message))
    return _insert(packet, sei_nal(codec, message), codec, length_size)


def _messages(packet: bytes, codec: str, length_size: int | None) -> list[bytes]:
    if codec == "av1":
        return [msg for kind, _, payload in obus(packet) for msg in messages_in_obu(kind, payload)]
    return [msg for nal in nal_units(packet, length_size) if _is_sei(codec, nal) for msg in messages_in(codec, nal)]


def embed(src: str | os.PathLike, el: bytes, dst: str | os.PathLike, reference: Reference | None = None) -> int:
    """Copy the video ``src`` to ``dst`` (the container ``dst``'s name says; packets unchanged but for the SEI
    added to the first access unit of each group); returns the messages carried."""
    from .video import _open, pyav_errors
    by_frame = dict(split(el, reference))
    with pyav_errors(f"cannot carry the EL in {dst}") as av:
        with _open(av, src) as c:
            pts = sorted(p.pts for p in c.demux(c.streams.video[0]) if p.size and p.pts is not None)
        frame_of = {t: k for k, t in enumerate(pts)}
        with _open(av, src) as c, av.open(str(dst), "w") as out:  # the container its name says
            s = c.streams.video[0]
            codec, length_size = _codec(s), _length_size(_codec(s), s.codec_context.extradata)
            o = out.add_stream_from_template(s, opaque=True)  # opaque: no encoder is looked up (none is libdav1d)
            carried = 0
            for p in c.demux(s):
                if not p.size:
                    continue
                message = by_frame.get(frame_of.get(p.pts, -1))
                if message is not None:
                    q = av.Packet(_carry(bytes(p), message, codec, length_size))
                    q.pts, q.dts, q.time_base, q.is_keyframe = p.pts, p.dts, p.time_base, p.is_keyframe
                    p, carried = q, carried + 1
                p.stream = o
                out.mux(p)
    if carried != len(by_frame):
        raise FormatError(f"{len(by_frame) - carried} group(s) start at frames the video does not have")
    return carried


def in_band(path: str | os.PathLike, reference: Reference | None = None) -> bytes | None:
    """The EL a video carries (None when it carries none); each message left out costs one ``MtvirWarning``."""
    import warnings

    from .errors import MtvirWarning
    el, problems = extract(path, reference)
    for problem in problems:
        warnings.warn(f"in-band EL: {problem}; its frames play as the base layer", MtvirWarning, stacklevel=2)
    return el


def extract(path: str | os.PathLike, reference: Reference | None = None) -> tuple[bytes | None, list[str]]:
    """The EL a video carries in band (None if none), and the messages left out and why; nothing is decoded."""
    from .video import _open, pyav_errors
    found = []
    with pyav_errors(f"cannot read {Path(path).name}") as av, _open(av, path) as c:
        s = c.streams.video[0]
        codec = s.codec_context.codec.canonical_name
        if codec not in CODECS:
            return None, []
        length_size = _length_size(codec, s.codec_context.extradata)
        for p in c.demux(s):
            if p.size:
                found += _messages(bytes(p), codec, length_size)
    return join(found, reference) if found else (None, [])
