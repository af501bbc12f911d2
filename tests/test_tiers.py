"""Complexity tiers (EL 3): the table, one tier read alone, the Enhancer's choice, carriage, the commands, C."""
from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import carriage, tiers, y4m
from mtvir_decoder.cli import decode
from mtvir_decoder.descriptor import light
from conftest import frame, random_params
from test_player import CC, LIBAV, as_a_player, c_tools  # noqa: F401 - the fixture is used by name

FULL = m.sefcnn(channels=8, stages=1, convs_per_stage=2, window=5)
LIGHT = light(channels=8, convs=3)


def bodies(w=64, h=48, depth=8, frames=6) -> dict[str, bytes]:
    """Each tier's EL: two groups (frames 0-2, 4-5), frame 3 in none."""
    return {name: m.write(arch, [(0, 3, random_params(arch, seed, gain=3.0), m.Coding()),
                                 (4, 2, random_params(arch, seed + 1, gain=3.0), m.Coding())], None, w, h, depth,
                          frames)
            for name, arch, seed in (("light", LIGHT, 1), ("full", FULL, 3))}


@pytest.fixture(scope="module")
def tiered() -> bytes:
    return tiers.write(bodies())


def test_table_says_what_each_tier_costs_before_any_is_read(tiered):
    b = bodies()
    t = tiers.table(tiered)
    assert t.names == ["light", "full"] and (t.width, t.height, t.bit_depth, t.frame_count) == (64, 48, 8, 6)
    assert [(x.macs_per_pixel, x.receptive_radius, x.param_count) for x in t.tiers] == [
        (a.macs_per_pixel, a.receptive_radius, a.param_count) for a in (LIGHT, FULL)]
    for x in t.tiers:
        assert tiered[x.offset:x.offset + x.size] == b[x.name]  # each tier's EL, byte for byte
    # damaging the full tier's bytes leaves the table and the light tier readable
    broken = bytearray(tiered)
    broken[t.get("full").offset + 20] ^= 4
    assert tiers.table(bytes(broken)).names == ["light", "full"]
    assert m.read(bytes(broken), tier="light").groups[0].params.hash_bytes() == \
        m.read(b["light"]).groups[0].params.hash_bytes()
    with pytest.raises(m.FormatError):
        m.read(bytes(broken), tier="full")


def test_each_tier_decodes_as_its_own_el(tiered):
    luma = frame(48, 64, 2)
    for name, body in bodies().items():
        enh = m.Enhancer(tiered, tier=name)
        assert enh.tier == name and enh.tiers == ["light", "full"]
        assert enh.macs_per_pixel == (LIGHT if name == "light" else FULL).macs_per_pixel
        want = m.Enhancer(body).enhance(luma, 1)
        assert np.array_equal(enh.enhance(luma, 1), want) and not np.array_equal(want, luma)
        assert np.array_equal(enh.enhance(luma, 3), luma)  # frame 3: no group in either tier
    assert m.read(tiered).tier == "full"  # without a choice: the most complex tier
    assert m.Enhancer(bodies()["full"]).tier == "full"  # an EL v2 is its own full tier


def test_asking_for_a_tier_the_el_lacks(tiered):
    with pytest.raises(m.InputMismatchError, match="no heavy tier"):
        m.Enhancer(tiered, tier="heavy")
    with pytest.raises(m.InputMismatchError, match="no light tier .it has: full"):
        m.Enhancer(bodies()["full"], tier="light")
    with pytest.raises(ValueError):
        m.Enhancer(tiered, tier="medium")
    with pytest.raises(m.FormatError):  # a reference model must not be tiered
        m.Reference.from_bytes(tiered)


def test_auto_takes_the_most_complex_tier_that_runs_in_real_time(tiered):
    assert m.Enhancer(tiered, fps=1e-3).tier == "full"  # a frame may take 1000 s: everything is real time
    assert m.Enhancer(tiered, fps=1e9).tier == "light"  # nothing is: the lightest
    enh = m.Enhancer(tiered, fps=1e9)
    slow = enh.frame_seconds(1080, 1920)
    assert slow > 0 and enh.frame_seconds(2160, 3840) == pytest.approx(4 * slow)  # timed once, scaled by area


def test_damaged_table_or_tiers(tiered):
    head = tiers.table(tiered).tiers[0].offset - 4
    for at in (6, 16, 20, head):  # width, a kind, a size, the CRC
        bad = bytearray(tiered)
        bad[at] ^= 1
        with pytest.raises(m.FormatError):
            tiers.table(bytes(bad))
    for cut in (10, head + 2, len(tiered) - 1):
        with pytest.raises(m.FormatError):
            m.read(tiered[:cut])
    # a table whose facts differ from a tier's EL (CRC made valid): that tier is refused
    bad = bytearray(tiered)
    bad[6] = 65
    bad[head:head + 4] = zlib.crc32(bytes(bad[:head])).to_bytes(4, "little")
    with pytest.raises(m.FormatError, match="applies to"):
        m.read(bytes(bad), tier="light")
    with pytest.raises(m.FormatError, match="another tier"):
        tiers.write({"light": bodies()["light"], "full": bodies(w=32)["full"]})
    with warnings.catch_warnings(record=True) as caught:  # auto passes over a damaged tier, once, with a warning
        warnings.simplefilter("always")
        broken = bytearray(tiered)
        broken[tiers.table(tiered).get("full").offset + 30] ^= 1
        assert m.Enhancer(bytes(broken), fps=1e-3).tier == "light"
    assert any("full tier is not used" in str(w.message) for w in caught)


def test_tiered_el_in_band_tier_by_tier(tiered):
    messages = carriage.split(tiered)
    assert [first for first, _ in messages] == [0, 4]
    assert all(tiers.table(data).names == ["light", "full"] for _, data in messages)
    joined, problems = carriage.join([data for _, data in messages])
    assert joined == tiered and problems == []
    damaged = bytearray(messages[1][1])  # the full tier's group at frame 4 damaged: that group alone is lost
    damaged[tiers.table(messages[1][1]).get("full").offset + 25] ^= 2
    joined, problems = carriage.join([messages[0][1], bytes(damaged)])
    assert len(problems) == 1 and problems[0].startswith("full tier")
    assert [g.first_frame for g in m.read(joined, tier="full").groups] == [0]
    assert [g.first_frame for g in m.read(joined, tier="light").groups] == [0, 4]


def test_mtvir_decode_takes_the_tier_asked_for(tiered, tmp_path):
    pytest.importorskip("av")
    from test_player import write_y4m
    lumas = [frame(48, 64, i) for i in range(6)]
    write_y4m(tmp_path / "bl.y4m", lumas, 8)
    (tmp_path / "el.mtvir").write_bytes(tiered)
    for name in ("light", "full"):
        r = decode(tmp_path / "bl.y4m", tmp_path / "el.mtvir", tmp_path / f"{name}.y4m", progress=False, tier=name)
        assert r["tier"] == name
        enh = m.Enhancer(tiered, tier=name)
        got = y4m.read_file(tmp_path / f"{name}.y4m")[1]
        assert all(np.array_equal(g[0], enh.enhance(x, i)) for i, (g, x) in enumerate(zip(got, lumas)))
    (tmp_path / "full.mtvir").write_bytes(bodies()["full"])
    with pytest.raises(m.InputMismatchError, match="no light tier"):
        decode(tmp_path / "bl.y4m", tmp_path / "full.mtvir", tmp_path / "x.y4m", progress=False, tier="light")
    assert not (tmp_path / "x.y4m").exists()


@pytest.mark.skipif(CC is None or LIBAV is None, reason="no C compiler or no libav development files")
def test_libav_player_takes_a_tier(c_tools, tiered, tmp_path):  # noqa: F811
    pytest.importorskip("torch")
    from mtvir_encoder import bl
    lumas = [np.roll(frame(48, 64, 0), 3 * i, axis=1) for i in range(6)]
    chroma = [np.full((24, 32), 128, np.uint8)] * 6
    bl.encode(bl.Video(lumas, chroma, chroma), tmp_path / "bl.mp4", qp=37)
    (tmp_path / "el.mtvir").write_bytes(tiered)
    for name in ("light", "full"):
        r = as_a_player([c_tools["av_player"], "--tier", name, tmp_path / "bl.mp4", tmp_path / "el.mtvir",
                         tmp_path / "c.y4m"], tmp_path / "elsewhere")
        macs = (LIGHT if name == "light" else FULL).macs_per_pixel
        assert r.returncode == 0 and f"EL tier {name}, {macs} MAC/px" in r.stderr, r.stderr
        decode(tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "py.y4m", progress=False, tier=name)
        ours, theirs = y4m.read_file(tmp_path / "c.y4m")[1], y4m.read_file(tmp_path / "py.y4m")[1]
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(ours, theirs))
    r = as_a_player([c_tools["av_player"], "--tier", "heavy", tmp_path / "bl.mp4", tmp_path / "el.mtvir",
                     tmp_path / "c.y4m"], tmp_path / "elsewhere")
    assert r.returncode == 0 and "no heavy tier" in r.stderr and "enhanced" not in r.stderr.splitlines()[-1]
