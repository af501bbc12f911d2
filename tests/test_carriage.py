"""In-band carriage: the EL in SEI messages (HEVC, H.264) or metadata OBUs (AV1) of the BL, through remuxes by stock
ffmpeg, damaged or dropped."""
from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import carriage, references, y4m
from mtvir_decoder.layout import write_uvar
from mtvir_decoder.errors import MtvirWarning
import carriage_fuzz
from conftest import perturbed

FFMPEG = shutil.which("ffmpeg")


@pytest.fixture(scope="module")
def ref():
    return references.default()


def two_groups(ref, frames=10) -> bytes:
    return m.write(ref.arch, [(0, 4, perturbed(ref.params, 3), m.Coding()), (6, 2, ref.params, m.Coding())], ref,
                   64, 48, 8, frames)


def test_messages_join_back_into_the_same_el(ref):
    el = two_groups(ref)
    messages = carriage.split(el, ref)
    assert [first for first, _ in messages] == [0, 6]
    joined, problems = carriage.join([msg for _, msg in messages], ref)
    assert joined == el and problems == []


def test_a_damaged_or_missing_message_costs_only_its_group(ref):
    (_, a), (_, b) = carriage.split(two_groups(ref), ref)
    damaged = bytearray(a)
    damaged[40] ^= 0x01
    joined, problems = carriage.join([bytes(damaged), b], ref)
    assert [g.first_frame for g in m.read(joined, ref).groups] == [6] and "CRC" in problems[0]
    joined, problems = carriage.join([b], ref)
    assert [g.first_frame for g in m.read(joined, ref).groups] == [6] and problems == []
    other = m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref, 32, 32, 8, 1)  # another video's
    joined, problems = carriage.join([b, other], ref)
    assert len(m.read(joined, ref).groups) == 1 and "another video" in problems[0]
    assert carriage.join([bytes(damaged)], ref)[0] is None


@pytest.mark.parametrize("codec", ["hevc", "h264"])
def test_sei_nal_round_trip_with_emulation_prevention(codec):
    rng = np.random.default_rng(1)
    for n in (0, 1, 254, 255, 256, 5000):
        message = bytes(rng.integers(0, 4, n, dtype=np.uint8))  # mostly zeros: start-code emulation everywhere
        nal = carriage.sei_nal(codec, message)
        assert all(code not in nal for code in (b"\0\0\0", b"\0\0\1", b"\0\0\2"))
        assert carriage.messages_in(codec, nal) == [message]
    foreign = carriage.sei_nal(codec, b"x").replace(carriage.MTVIR_UUID, bytes(range(16)))
    assert carriage.messages_in(codec, foreign) == []  # another UUID: not ours
    assert carriage.messages_in(codec, carriage.sei_nal(codec, b"abc")[:-6]) == []  # truncated


def test_metadata_obu_round_trip():
    """AV1: the message in a metadata OBU of type 6 behind the UUID, read back from a temporal unit, whatever the
    OBUs around it; another type, another UUID, a truncated OBU or missing trailing bits are not messages."""
    message = bytes(range(256)) * 3 + b"\0\0\x80\0"  # ends like trailing bits: the OBU's own 0x80 still tells
    obu = carriage.metadata_obu(message)
    payload = obu[3:]  # metadata type 6, the UUID, the message, 0x80: 790 bytes, a 2-byte leb128 size
    assert obu[:3] == bytes([0x2A, 0x96, 0x06]) and payload[:17] == b"\x06" + carriage.MTVIR_UUID
    frame_header, sequence_header = b"\x1a\x01\x10", b"\x0a\x03\x00\x00\x00"
    packet = carriage._insert_obu(sequence_header + frame_header, obu)
    assert packet == sequence_header + obu + frame_header  # before the first frame (header)
    assert [kind for kind, _, _ in carriage.obus(packet)] == [1, 5, 3]
    assert carriage._messages(packet, "av1", None) == [message]
    padded = b"\x2e\x00" + write_uvar(len(payload) + 2) + payload + b"\0\0"
    assert carriage._messages(padded, "av1", None) == [message]  # an extension byte before; zero bytes after
    assert carriage._messages(b"\x28" + payload, "av1", None) == [message]  # no size field: to the packet's end
    other = obu.replace(carriage.MTVIR_UUID, bytes(16))
    assert carriage._messages(other + obu[:-5], "av1", None) == []  # another UUID; a truncated OBU
    short = carriage.metadata_obu(b"abc")  # without its trailing bits (a message ending 0x80 0* would be read
    assert carriage._messages(short[:1] + bytes([short[1] - 1]) + short[2:-1], "av1", None) == []  # short: its CRC)
    assert carriage._messages(b"\x2a" + write_uvar(len(payload)) + b"\x07" + payload[1:], "av1", None) == []


@pytest.mark.skipif(FFMPEG is None, reason="stock ffmpeg is not installed (Debian: ffmpeg)")
def test_av1_in_band_plays_in_stock_ffmpeg_and_survives_webm_and_mkv(ref, tmp_path):
    """``mtvir-export --codec svtav1 --in-band``: stock ffmpeg (libdav1d) decodes the one file (dav1d before 1.1
    notes the user-private metadata once; later ones are silent), a copy to WebM or MKV keeps the EL byte for byte,
    and mtvir-decode enhances it as it does with the EL as a file."""
    pytest.importorskip("torch")
    from mtvir_encoder import data, export
    from mtvir_encoder.online import OnlineConfig
    cfg = OnlineConfig(iterations=4, snapshot_every=2, batch=8, lr=5e-2, adapt="all")  # the BL's own RD slope
    one = export.export(data.carphone(), tmp_path / "one", "svtav1", frames=8, group=4, online=cfg, progress=False,
                        in_band=True, planes="y")  # the shipped references: the EL sends at least one of them
    path = tmp_path / "one.mp4"
    assert Path(one.bl_path) == path and sorted(p.name for p in tmp_path.iterdir()) == ["one.mp4"]
    el, problems = carriage.extract(path)
    assert el is not None and problems == [] and one.el_bytes > len(el) > 0
    r = subprocess.run([FFMPEG, "-v", "warning", "-i", path, "-f", "null", "-"], capture_output=True, text=True)
    assert r.returncode == 0 and all("Unknown Metadata OBU type 6" in line or "repeated" in line
                                     for line in r.stderr.splitlines()), r.stderr
    (tmp_path / "el.mtvir").write_bytes(el)
    want, _ = decode_frames(path, tmp_path / "el.mtvir")
    for ext in ("webm", "mkv"):
        subprocess.run([FFMPEG, "-v", "error", "-y", "-i", path, "-c", "copy", tmp_path / f"copy.{ext}"], check=True)
        assert carriage.extract(tmp_path / f"copy.{ext}") == (el, [])
        got, _ = decode_frames(tmp_path / f"copy.{ext}")
        assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(got, want)), ext
    assert m.Enhancer.from_video(path).el.groups[0].first_frame == 0


def decode_frames(path, *more) -> tuple[list[np.ndarray], str]:
    out = Path(str(path) + ".y4m")
    r = subprocess.run([sys.executable, "-m", "mtvir_decoder.cli", path, *more, "-o", out, "-q"], capture_output=True,
                       text=True, check=True)
    return [f[0] for f in y4m.read_file(out)[1]], r.stderr


@pytest.fixture(scope="module")
def exported(ref, tmp_path_factory):
    """carphone's first 8 frames exported twice: as two files (two.mp4, two.mtvir) and as one (one.mp4)."""
    pytest.importorskip("torch")
    from mtvir_encoder import data, export
    from mtvir_encoder.online import OnlineConfig
    folder = tmp_path_factory.mktemp("in_band")
    # HM's lambda: at the BL's own RD slope (2.3x it here) no EL pays on 8 frames, and there would be none to carry
    cfg = OnlineConfig(iterations=4, snapshot_every=2, batch=8, lr=5e-2, adapt="all", lambda_source="hm")
    args = dict(frames=8, group=4, online=cfg, reference=ref, progress=False)
    export.export(data.carphone(), folder / "two", **args)
    one = export.export(data.carphone(), folder / "one", in_band=True, **args)
    return folder, one


def test_export_in_band_plays_everywhere_and_decodes_as_two_files(ref, exported):
    tmp_path, one = exported
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".y4m") == ["one.mp4", "two.mp4", "two.mtvir"]
    assert (tmp_path / "one.mp4").read_bytes()[4:12] == (tmp_path / "two.mp4").read_bytes()[4:12]  # MP4's ftyp
    el = (tmp_path / "two.mtvir").read_bytes()
    assert carriage.extract(tmp_path / "one.mp4", ref) == (el, [])  # the same EL, byte for byte
    assert len(m.read(el, ref).groups) >= 1 and one.el_bytes > len(el)  # SEI framing costs a few bytes
    want, _ = decode_frames(tmp_path / "two.mp4", tmp_path / "two.mtvir")
    got, _ = decode_frames(tmp_path / "one.mp4")  # no separate EL: found in band, same frames as the two-file path
    assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(got, want))
    assert m.Enhancer.from_video(tmp_path / "one.mp4").el.groups[0].first_frame == 0


@pytest.mark.skipif(FFMPEG is None, reason="stock ffmpeg is not installed (Debian: ffmpeg)")
def test_stock_ffmpeg_plays_remuxes_and_strips_the_in_band_el(ref, exported, tmp_path):
    folder, _ = exported
    one = folder / "one.mp4"
    r = subprocess.run([FFMPEG, "-v", "warning", "-i", one, "-f", "null", "-"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    want, _ = decode_frames(folder / "two.mp4", folder / "two.mtvir")
    for ext in ("mkv", "ts"):  # a remux keeps the EL: found in band, same frames
        subprocess.run([FFMPEG, "-v", "error", "-y", "-i", one, "-c", "copy", tmp_path / f"copy.{ext}"], check=True)
        got, _ = decode_frames(tmp_path / f"copy.{ext}")
        assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(got, want)), ext
    # a remux that strips every SEI leaves a plain BL that plays
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", one, "-c", "copy", "-bsf:v", "filter_units=remove_types=39",
                    tmp_path / "plain.mp4"], check=True)
    assert carriage.extract(tmp_path / "plain.mp4", ref) == (None, [])
    bl_only, _ = decode_frames(folder / "two.mp4", folder / "missing.mtvir")
    got, stderr = decode_frames(tmp_path / "plain.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(got, bl_only)) and "base layer alone" in stderr


def test_a_damaged_message_in_the_file_drops_only_its_group(ref, tmp_path):
    pytest.importorskip("torch")
    from mtvir_encoder import bl, data
    v = bl.read_video(data.carphone(), 10)
    v = bl.Video([y[:48, :64] for y in v.y], [u[:24, :32] for u in v.u], [c[:24, :32] for c in v.v], v.fps)
    bl.encode(v, tmp_path / "bl.mp4", qp=37)
    el = two_groups(ref)
    carriage.embed(tmp_path / "bl.mp4", el, tmp_path / "one.mp4", ref)
    raw = bytearray((tmp_path / "one.mp4").read_bytes())
    at = raw.index(carriage.MTVIR_UUID) + 16 + 30  # inside the first message (group 0)
    raw[at] ^= 0x20
    (tmp_path / "bad.mp4").write_bytes(raw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enh = m.Enhancer.from_video(tmp_path / "bad.mp4", reference=ref)
    assert [g.first_frame for g in enh.el.groups] == [6]
    assert any(issubclass(w.category, MtvirWarning) and "damaged" in str(w.message) for w in caught)
    with pytest.raises(m.MtvirError, match="carries no EL"):
        m.Enhancer.from_video(tmp_path / "bl.mp4", reference=ref)


@pytest.fixture(scope="module")
def one_file_seed(tmp_path_factory):
    return carriage_fuzz.make_seed(tmp_path_factory.mktemp("carriage_fuzz"))


def test_hostile_one_file_videos_end_in_an_el_or_an_mtvir_error(one_file_seed):
    """Mutants of a one-file video (bytes changed in and around the MTVIR SEI messages, in the container's header
    and anywhere, truncations, insertions, deletions) through ``Enhancer.from_video`` and mtvir-decode's whole
    path: each ends in success or an MtvirError, within 1 s (`python bench/fuzz_carriage.py` is the long mode)."""
    stats = carriage_fuzz.fuzz(one_file_seed, 300, seed=3, decode_every=5)
    assert not stats.failures, stats.failures[:3]
    assert stats.slowest[0] < 1.0, stats.report()
    assert {"ok", "VideoError", "MtvirError"} <= set(stats.outcomes), stats.report()  # both fates are reached


def test_hostile_one_file_av1_videos(tmp_path_factory):
    """The same with an AV1 BL (the messages in metadata OBUs): the intact video gives its two groups back, and
    every mutant ends in success or an MtvirError."""
    seed = carriage_fuzz.make_seed(tmp_path_factory.mktemp("av1_seed"), codec="libsvtav1")
    assert [g.first_frame for g in m.Enhancer.from_video(seed).el.groups] == [0, 8]
    stats = carriage_fuzz.fuzz(seed, 150, seed=8, decode_every=5)
    assert not stats.failures, stats.failures[:3]
    assert {"ok", "MtvirError"} <= set(stats.outcomes), stats.report()


def test_hostile_one_file_videos_carrying_a_tiered_el(tmp_path_factory):
    """The same with a tiered EL in band (each message both tiers' group): the intact video gives both tiers back,
    and every mutant ends in success or an MtvirError."""
    seed = carriage_fuzz.make_seed(tmp_path_factory.mktemp("tiered_seed"), tiered=True)
    enh = m.Enhancer.from_video(seed, tier="light")
    assert enh.tiers == ["light", "full"] and [g.first_frame for g in enh.el.groups] == [0, 8]
    stats = carriage_fuzz.fuzz(seed, 150, seed=4, decode_every=5)
    assert not stats.failures, stats.failures[:3]
    assert {"ok", "MtvirError"} <= set(stats.outcomes), stats.report()


def test_hostile_one_file_videos_carrying_a_colour_el(tmp_path_factory):
    """A colour EL (EL 4) in band: joining the messages gives the exported EL back byte for byte, luma and chroma
    models intact; every mutant ends in success or an MtvirError."""
    seed = carriage_fuzz.make_seed(tmp_path_factory.mktemp("colour_seed"), colour=True)
    enh = m.Enhancer.from_video(seed)
    assert enh.planes == "yuv" and [g.first_frame for g in enh.el.groups] == [0, 8]
    assert [g.frame_count for g in enh.chroma["u"].el.groups] == [16]
    stats = carriage_fuzz.fuzz(seed, 150, seed=6, decode_every=5)
    assert not stats.failures, stats.failures[:3]
    assert {"ok", "MtvirError"} <= set(stats.outcomes), stats.report()


def test_mtvir_decode_on_damaged_one_file_videos_prints_one_line_not_a_traceback(one_file_seed, tmp_path):
    rng = np.random.default_rng(5)
    seen = set()
    for k in range(12):
        kind, mutant = carriage_fuzz.mutate(one_file_seed.read_bytes(), rng)
        (tmp_path / "in.mp4").write_bytes(mutant)
        r = subprocess.run([sys.executable, "-m", "mtvir_decoder.cli", tmp_path / "in.mp4", "-o", tmp_path / "o.y4m",
                            "-q"], capture_output=True, text=True, timeout=60)
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, (kind, r.stderr)
        assert (tmp_path / "o.y4m").exists() == (r.returncode == 0)  # never a half-written file
        (tmp_path / "o.y4m").unlink(missing_ok=True)
        seen.add(r.returncode)
    assert seen == {0, 2}


def test_a_length_prefix_that_looks_like_a_start_code():
    """A first NAL of 256-511 bytes in a length-prefixed packet has a length of 00 00 01 xx: read as lengths where
    they account for the packet (the colour EL's second message, 406 B, was lost this way), Annex B otherwise."""
    sei, slice_ = b"\x4e\x01" + bytes(range(1, 256)) + b"\x11" * 100, b"\x28\x01" + b"\x55" * 40
    packet = b"".join(len(u).to_bytes(4, "big") + u for u in (sei, slice_))
    assert packet[:3] == b"\0\0\1" and carriage.nal_units(packet, 4) == [sei, slice_]
    annex_b = b"\0\0\0\1" + sei + b"\0\0\1" + slice_
    assert carriage.nal_units(annex_b, 4) == [sei, slice_] == carriage.nal_units(annex_b, None)
