"""The EL as an mpv / libplacebo user shader: `mtvir-shader`, checked through stock ffmpeg's libplacebo filter on
Vulkan (lavapipe, a CPU, where no GPU is) against `mtvir-decode` on the same one-file video."""
from __future__ import annotations

import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import carriage, references, shader, tiers, y4m
from conftest import perturbed, random_params

FFMPEG = shutil.which("ffmpeg")


@lru_cache(maxsize=None)
def placebo_missing() -> str | None:
    """Why stock ffmpeg's libplacebo filter cannot run here (None: it runs)."""
    if FFMPEG is None:
        return "stock ffmpeg is not installed (Debian: ffmpeg)"
    r = subprocess.run([FFMPEG, "-v", "error", "-init_hw_device", "vulkan=vk", "-filter_hw_device", "vk", "-f", "lavfi",
                        "-i", "color=size=16x16", "-frames:v", "1", "-vf",
                        "format=yuv420p,hwupload,libplacebo=format=yuv420p,hwdownload,format=yuv420p", "-f", "null",
                        "-"], capture_output=True, text=True, timeout=120)
    return None if r.returncode == 0 else ("ffmpeg's libplacebo filter found no Vulkan device (Debian: "
                                           f"mesa-vulkan-drivers): {r.stderr.strip()[-300:]}")


def mtvir_shader(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from mtvir_decoder.cli import shader_main; "
                           "sys.exit(shader_main(sys.argv[1:]))", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def one_file_video(folder: Path, depth: int) -> tuple[Path, Path, list[np.ndarray]]:
    """carphone's first 8 frames as an x265 QP 37 BL (8 or 10-bit) carrying a two-group EL in band (frames 0-3:
    the band reference; 4-7: a model far from it), the BL alone, and the original luma planes."""
    from mtvir_encoder import bl, data
    v = bl.read_video(data.carphone(), 8)
    if depth == 10:
        v = bl.Video(*([p.astype(np.uint16) << 2 for p in planes] for planes in (v.y, v.u, v.v)), v.fps, 10)
    bl.encode(v, folder / "bl.mp4", qp=37)
    ref = references.starting_points(classes=False)[-1]
    el = m.write(ref.arch, [(0, 4, ref.params, m.Coding()), (4, 4, perturbed(ref.params, 3, 3000), m.Coding())], ref,
                 v.width, v.height, depth, len(v))
    carriage.embed(folder / "bl.mp4", el, folder / "one.mp4", ref)
    return folder / "one.mp4", folder / "bl.mp4", v.y


def psnr(a: np.ndarray, b: np.ndarray, peak: int) -> float:
    return float(10 * np.log10(peak ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.mark.parametrize("depth, precision", [(8, "fp16"), (10, "fp16"), (8, "fp32")])
def test_the_shader_in_ffmpegs_libplacebo_is_mtvir_decode(depth, precision, tmp_path):
    """Each group's shader, rendered by stock ffmpeg's libplacebo filter, gives mtvir-decode's frames on that group's
    frames (PSNR-Y within 0.02 dB, at least 99 % of luma samples within 1, chroma the BL's within 1; 8-bit fp32:
    within the spec's tolerance) and not on the other group's: a player that switches shaders at the group's first
    frame shows what the decoder shows. (At 10 bits the filter's own output loses a level on some samples: a hook
    that passes the luma through already does.)"""
    if placebo_missing():
        pytest.skip(placebo_missing())
    pytest.importorskip("av")
    from mtvir_decoder.cli import decode
    video, bl_only, original = one_file_video(tmp_path, depth)
    decode(video, None, tmp_path / "sdk.y4m", progress=False)
    decode(bl_only, None, tmp_path / "bl.y4m", progress=False)
    sdk, base = y4m.read_file(tmp_path / "sdk.y4m")[1], y4m.read_file(tmp_path / "bl.y4m")[1]
    peak = (1 << depth) - 1
    for group, frames in ((0, range(0, 4)), (1, range(4, 8))):
        r = mtvir_shader(video, "--group", group, "--precision", precision, "-o", tmp_path / f"g{group}.glsl")
        assert r.returncode == 0 and f"group {group} (frames {frames.start}-{frames.stop - 1})" in r.stdout, r.stderr
        done = subprocess.run(shader.ffmpeg_args(video, tmp_path / f"g{group}.glsl", tmp_path / f"g{group}.y4m",
                                                 depth), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        shown = y4m.read_file(tmp_path / f"g{group}.y4m")[1]
        assert len(shown) == 8
        for i, (s, d, b, o) in enumerate(zip(shown, sdk, base, original)):
            diff = np.abs(s[0].astype(np.int64) - d[0])
            assert s[0].dtype == d[0].dtype and all(np.abs(s[k].astype(int) - b[k]).max() <= 1 for k in (1, 2))
            if i in frames:
                assert np.mean(diff <= 1) >= 0.99, (group, i, np.mean(diff <= 1))
                if depth == 8 and precision == "fp32":  # the spec's conformance tolerance
                    assert diff.max() <= 1 and np.mean(diff > 0) <= 0.01, (group, i, np.mean(diff > 0))
                assert abs(psnr(s[0], o, peak) - psnr(d[0], o, peak)) <= 0.02, (group, i)
                assert psnr(d[0], o, peak) > psnr(b[0], o, peak) + 0.02  # the EL does something on these frames
            else:  # the other group's model: a shader for the wrong frames shows
                assert np.mean(diff <= 1) < 0.9, (group, i)


def test_a_colour_els_shader_enhances_chroma_as_mtvir_decode(tmp_path):
    """An EL 4 (a luma model, one model for U and V): the shader's CHROMA passes, through stock ffmpeg's libplacebo,
    give mtvir-decode's U and V (PSNR within 0.02 dB, at least 99 % of samples within 1), its LUMA passes the luma;
    the EL changes chroma (not a pass-through)."""
    if placebo_missing():
        pytest.skip(placebo_missing())
    pytest.importorskip("av")
    from mtvir_decoder.cli import decode
    from mtvir_encoder import bl, data
    v = bl.read_video(data.carphone(), 4)
    bl.encode(v, tmp_path / "bl.mp4", qp=37)
    ref = references.starting_points(classes=False)[-1]
    cw, ch = (v.width + 1) // 2, (v.height + 1) // 2
    luma = m.write(ref.arch, [(0, 4, ref.params, m.Coding())], ref, v.width, v.height, 8, 4)
    uv = m.write(ref.arch, [(0, 4, perturbed(ref.params, 4, 300), m.Coding())], ref, cw, ch, 8, 4)
    (tmp_path / "el.mtvir").write_bytes(tiers.write({"full": {"y": luma, "uv": uv}}, "4:2:0"))
    r = mtvir_shader(tmp_path / "el.mtvir", "-o", tmp_path / "el.glsl")
    assert r.returncode == 0 and "planes YUV" in r.stdout, r.stderr
    decode(tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "sdk.y4m", progress=False)
    done = subprocess.run(shader.ffmpeg_args(tmp_path / "bl.mp4", tmp_path / "el.glsl", tmp_path / "sh.y4m"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    shown, sdk = y4m.read_file(tmp_path / "sh.y4m")[1], y4m.read_file(tmp_path / "sdk.y4m")[1]
    base = bl.read_video(tmp_path / "bl.mp4")
    originals = (v.y, v.u, v.v)
    for i, (s, d) in enumerate(zip(shown, sdk)):
        for k in range(3):
            diff = np.abs(s[k].astype(np.int64) - d[k])
            assert np.mean(diff <= 1) >= 0.99, (i, "yuv"[k], np.mean(diff <= 1))
            assert abs(psnr(s[k], originals[k][i], 255) - psnr(d[k], originals[k][i], 255)) <= 0.02, (i, "yuv"[k])
        assert not np.array_equal(d[1], (base.u[i])), i  # the chroma model changes U


@pytest.mark.parametrize("tier, depth", [("full", 8), ("light", 8), ("full", 10)])
def test_the_same_file_renders_the_same_frames_every_time(tier, depth, tmp_path):
    """16 frames of carphone (x265 RA QP 37) with one model on every frame, rendered three times through stock
    ffmpeg's libplacebo: every frame of every run within 1 of mtvir-decode on luma (fp16, 8-bit; 10-bit: within 2,
    the filter's own output moving a level) and chroma as decoded. Frames 3, 7 and 11 came out with bands of another
    frame in a quarter to half of the runs while ffmpeg decoded on several threads (``shader.ffmpeg_args``)."""
    if placebo_missing():
        pytest.skip(placebo_missing())
    pytest.importorskip("av")
    from mtvir_decoder.cli import decode
    from mtvir_encoder import bl, data
    v = bl.read_video(data.carphone(), 16)
    if depth == 10:
        v = bl.Video(*([p.astype(np.uint16) << 2 for p in planes] for planes in (v.y, v.u, v.v)), v.fps, 10)
    bl.encode(v, tmp_path / "bl.mp4", qp=37)
    ref = next(r for r in references.starting_points(tier, classes=False) if r.name.endswith("qp37"))
    (tmp_path / "el.mtvir").write_bytes(m.write(ref.arch, [(0, 16, ref.params, m.Coding())], ref, v.width, v.height,
                                                depth, 16))
    assert mtvir_shader(tmp_path / "el.mtvir", "-o", tmp_path / "el.glsl").returncode == 0
    decode(tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "sdk.y4m", progress=False)
    sdk = y4m.read_file(tmp_path / "sdk.y4m")[1]
    base = bl.read_video(tmp_path / "bl.mp4")
    luma_tolerance = 1 if depth == 8 else 2
    for run in range(3):
        done = subprocess.run(shader.ffmpeg_args(tmp_path / "bl.mp4", tmp_path / "el.glsl", tmp_path / "sh.y4m",
                                                 depth), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        shown = y4m.read_file(tmp_path / "sh.y4m")[1]
        assert len(shown) == 16
        off = [i for i, (s, d) in enumerate(zip(shown, sdk)) if np.abs(s[0].astype(int) - d[0]).max() > luma_tolerance
               or any(np.abs(s[k].astype(int) - getattr(base, p)[i]).max() > 1 for k, p in ((1, "u"), (2, "v")))]
        assert off == [], (run, off)


def test_the_light_tiers_shader_unshuffles_as_mtvir_decode(tmp_path):
    """A tiered EL's light tier (`--tier light`): the unshuffle, the convolutions at a quarter of the size each way
    (//!WIDTH, //!HEIGHT) and the shuffle, through stock ffmpeg's libplacebo, give mtvir-decode's light frames within
    the spec's tolerance; the full tier's shader is the full network's. An EL for any frame size: refused (the
    block must divide the frame)."""
    if placebo_missing():
        pytest.skip(placebo_missing())
    pytest.importorskip("av")
    from mtvir_decoder.cli import decode
    from mtvir_encoder import bl, data
    v = bl.read_video(data.carphone(), 3)
    bl.encode(v, tmp_path / "bl.mp4", qp=37)
    light, ref = m.descriptor.light(), references.starting_points(classes=False)[-1]
    bodies = {"light": m.write(light, [(0, 3, random_params(light, 5), m.Coding())], None, 176, 144, 8, 3),
              "full": m.write(ref.arch, [(0, 3, ref.params, m.Coding())], ref, 176, 144, 8, 3)}
    (tmp_path / "el.mtvir").write_bytes(tiers.write(bodies))
    decode(tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "sdk.y4m", progress=False, tier="light")
    decode(tmp_path / "bl.mp4", None, tmp_path / "bl.y4m", progress=False)
    r = mtvir_shader(tmp_path / "el.mtvir", "--tier", "light", "-o", tmp_path / "light.glsl")
    assert r.returncode == 0 and "864 MACs per pixel" in r.stdout, r.stderr
    text = (tmp_path / "light.glsl").read_text()
    # at a quarter of the pixels: the unshuffle (4 channels: 1 texture) and the convolutions (16, 16, 4 channels: 4,
    # 4, 1 textures); then the shuffle and the output at full size
    assert text.count("//!WIDTH HOOKED.w 2 /") == 10 and text.count("//!HOOK LUMA") == 12
    done = subprocess.run(shader.ffmpeg_args(tmp_path / "bl.mp4", tmp_path / "light.glsl", tmp_path / "sh.y4m"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    shown, sdk, base = (y4m.read_file(tmp_path / f)[1] for f in ("sh.y4m", "sdk.y4m", "bl.y4m"))
    for s, d, b in zip(shown, sdk, base):
        diff = np.abs(s[0].astype(np.int64) - d[0])
        assert diff.max() <= 1 and np.mean(diff > 0) <= 0.1, np.mean(diff > 0)
        assert np.mean(d[0] != b[0]) > 0.5  # the light model moves most samples: a wrong shader would show
    r = mtvir_shader(tmp_path / "el.mtvir", "-o", tmp_path / "full.glsl")  # default: the most complex tier
    assert r.returncode == 0 and f"{ref.arch.macs_per_pixel:,} MACs" in r.stdout
    (tmp_path / "any.mtvir").write_bytes(m.write(light, [(0, 3, random_params(light, 5), m.Coding())], None))
    r = mtvir_shader(tmp_path / "any.mtvir", "-o", tmp_path / "any.glsl")
    assert r.returncode == 2 and "block must" not in r.stderr and "that 2 divides" in r.stderr
    assert not (tmp_path / "any.glsl").exists()


def test_bad_sources_give_a_clear_error_and_no_shader(tmp_path):
    ref = references.default()
    two = m.write(ref.arch, [(0, 2, ref.params, m.Coding()), (2, 2, perturbed(ref.params, 1), m.Coding())], ref,
                  64, 48, 8, 4)
    (tmp_path / "two.mtvir").write_bytes(two)
    damaged = bytearray(two)
    damaged[60] ^= 0x10
    (tmp_path / "damaged.mtvir").write_bytes(bytes(damaged))
    (tmp_path / "empty.mtvir").write_bytes(m.write(ref.arch, [], ref, 64, 48, 8, 4))
    # a node of 64 channels: its textures (16) and the luma exceed what one libplacebo pass may bind
    wide = m.Architecture((m.Layer(1, 64, 3), m.Layer(64, 1, 3)), (m.Node(1, 0, 0, 1), m.Node(1, 1, 1, 0)))
    params = m.Params([np.ones(l.weight_shape, np.int32) for l in wide.layers],
                      [np.zeros(l.cout, np.float32) for l in wide.layers], np.full(2, 1e-3, np.float32),
                      np.zeros(2, np.float32))
    (tmp_path / "wide.mtvir").write_bytes(m.write(wide, [(0, 1, params, m.Coding(weights="absolute"))], None))
    (tmp_path / "text.mp4").write_bytes(b"not a video")
    cases = {"two.mtvir": "choose one (--group 0..1)", "damaged.mtvir": "CRC", "empty.mtvir": "holds no model",
             "wide.mtvir": "at most 16", "text.mp4": "cannot open", "missing.mtvir": "cannot read"}
    for name, message in cases.items():
        r = mtvir_shader(tmp_path / name, "-o", tmp_path / "out.glsl")
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (name, r.stderr)
    r = mtvir_shader(tmp_path / "two.mtvir", "--group", "2", "-o", tmp_path / "out.glsl")
    assert r.returncode == 2 and "group 2 does not exist" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".glsl" or "partial" in p.name) == []


def test_one_pass_per_texture_of_each_node_luma_only(tmp_path):
    """The shipped network: a pass per texture of each node (4 channels in fp16, 2 in fp32), the box mean in two
    passes, one output pass; every pass hooks the luma (chroma is never touched) and binds what it reads."""
    ref = references.default()
    el = m.read(m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref))
    for precision, per_texture in (("fp16", 4), ("fp32", 2)):
        built = shader.build(el, precision=precision)
        t = 16 // per_texture  # textures of a 16-channel node
        # 18 convs of 16 outputs + the tail (1), 3 x (box rows, box means, gates), 3 adds, the output
        assert built.passes == 18 * t + 1 + 3 * 3 * t + 3 * t + 1 == built.text.count("//!HOOK LUMA")
        assert "//!HOOK CHROMA" not in built.text and built.text.count("vec4 hook()") == built.passes
        assert built.macs_per_pixel == ref.arch.macs_per_pixel and built.precision == precision
    r = mtvir_shader(references.PACKAGE_DIR / "x265-qp37.mtvir", "-o", tmp_path / "s.glsl")
    assert r.returncode == 0 and (tmp_path / "s.glsl").read_text().startswith("// MTVIR") and "fp16" in r.stdout


MPV, XVFB = shutil.which("mpv"), shutil.which("xvfb-run")
# an mpv script: once the first frame is shown (paused), save it as the video output renders it, then quit
SCREENSHOT_LUA = """
mp.register_event("playback-restart", function()
    mp.add_timeout(0.5, function()
        mp.commandv("screenshot-to-file", mp.get_opt("shot"), "video")
        mp.command("quit")
    end)
end)
"""


@pytest.mark.skipif(MPV is None or XVFB is None, reason="mpv and xvfb-run are not installed (Debian: mpv xvfb xauth)")
def test_mpv_shows_the_el_through_the_shader(tmp_path):
    """mpv itself (vo=gpu, software OpenGL under Xvfb) plays the one-file video with the shader: its first frame, as
    mpv renders it, is mtvir-decode's BL + EL frame, and without the shader the BL's."""
    pytest.importorskip("av")
    import av
    from mtvir_decoder.cli import decode
    video, bl_only, _ = one_file_video(tmp_path, 8)
    decode(video, None, tmp_path / "sdk.y4m", progress=False)
    decode(bl_only, None, tmp_path / "bl.y4m", progress=False)
    el_frame, bl_frame = (y4m.read_file(tmp_path / name)[1][0][0] for name in ("sdk.y4m", "bl.y4m"))
    assert mtvir_shader(video, "--group", "0", "-o", tmp_path / "el.glsl").returncode == 0
    (tmp_path / "shot.lua").write_text(SCREENSHOT_LUA)
    shown = {}
    for name, extra in (("plain", []), ("el", [f"--glsl-shaders={tmp_path / 'el.glsl'}"])):
        r = subprocess.run([XVFB, "-a", MPV, "--no-config", "--vo=gpu", "--gpu-sw", "--gpu-context=x11egl", "--ao=null",
                            "--pause", f"--script={tmp_path / 'shot.lua'}", f"--script-opts=shot={tmp_path / name}.png",
                            *extra, str(video)], capture_output=True, text=True, timeout=300,
                           env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)})
        assert (tmp_path / f"{name}.png").exists(), r.stdout + r.stderr
        with av.open(str(tmp_path / f"{name}.png")) as c:
            rgb = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.float64)
        shown[name] = 16 + rgb @ np.array([65.481, 128.553, 24.966]) / 255  # BT.601 luma, limited range
    near = {name: {ref: float(np.mean(np.abs(y - frame))) for ref, frame in (("el", el_frame), ("bl", bl_frame))}
            for name, y in shown.items()}
    assert near["el"]["el"] < 0.5 and near["el"]["el"] < near["el"]["bl"] / 3, near  # the shader shows the EL
    assert near["plain"]["bl"] < 0.5 and near["plain"]["bl"] < near["plain"]["el"] / 3, near
