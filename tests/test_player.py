"""Player integration: the C ABI and the C example against the Python Enhancer, fallback to the BL, Y4M."""
from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import references, y4m
from mtvir_decoder.capi import build
from mtvir_decoder.errors import MtvirWarning
from mtvir_decoder.fallback import SafeEnhancer
from conftest import ROOT, frame, perturbed

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler on this machine")


def _libav_flags() -> list[str] | None:
    """Compiler and linker flags of libavformat/libavcodec, or None where their development files are missing."""
    if not shutil.which("pkg-config"):
        return None
    r = subprocess.run(["pkg-config", "--cflags", "--libs", "libavformat", "libavcodec", "libavutil"],
                       capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else None


LIBAV = _libav_flags()


@pytest.fixture(scope="module")
def shipped():
    return references.default()


@pytest.fixture(scope="module")
def c_tools(tmp_path_factory):
    """libmtvir built with the documented command, the C example and the ABI checks compiled against it."""
    out = tmp_path_factory.mktemp("capi")
    build.build(out / "lib")
    tools = {}
    programs = [("c_player", ROOT / "examples" / "c_player" / "c_player.c", []),
                ("abi_check", ROOT / "tests" / "c" / "abi_check.c", ["-lpthread"]),
                ("env_check", ROOT / "tests" / "c" / "env_check.c", [])]
    if LIBAV is not None:
        programs.append(("av_player", ROOT / "examples" / "c_player" / "av_player.c", LIBAV))
    for name, src, extra in programs:
        subprocess.run([CC, "-O2", "-Wall", "-Werror", "-o", str(out / name), str(src), f"-I{out / 'lib'}",
                        f"-L{out / 'lib'}", "-lmtvir", *extra, f"-Wl,-rpath,{out / 'lib'}"], check=True)
        tools[name] = out / name
    return tools


def as_a_player(cmd: list, folder: Path, **kw) -> subprocess.CompletedProcess:
    """Run a C program as a player process often runs: an empty environment (`env -i PATH=/usr/bin:/bin`), started
    from a folder of its own, so the library can rely on nothing of the caller's shell."""
    folder.mkdir(exist_ok=True)
    kw.setdefault("timeout", 300)
    return subprocess.run([str(c) for c in cmd], cwd=folder, env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, **kw)


def write_y4m(path: Path, lumas: list[np.ndarray], depth: int) -> None:
    h, w = lumas[0].shape
    header = y4m.Y4mHeader(w, h, depth)
    dtype = np.uint8 if depth == 8 else np.uint16
    with open(path, "wb") as f:
        writer = y4m.Writer(f, header)
        for i, luma in enumerate(lumas):
            chroma = np.full(header.shapes()[1], (1 << (depth - 1)) + i, dtype)
            writer.write(luma, chroma, chroma)


def two_group_el(ref: m.Reference, w: int, h: int, depth: int, frames: int) -> bytes:
    """Frames 0-1 with a perturbed model, 2 with the reference, the rest not enhanced."""
    return m.write(ref.arch, [(0, 2, perturbed(ref.params, 5), m.Coding()), (2, 1, ref.params, m.Coding())], ref,
                   w, h, depth, frames)


@needs_cc
def test_c_abi_error_codes_untouched_planes_and_threads(c_tools, shipped, tmp_path):
    el = tmp_path / "el.mtvir"
    el.write_bytes(m.write(shipped.arch, [(0, 1, perturbed(shipped.params, 3), m.Coding())], shipped, 64, 48, 8, 1))
    r = subprocess.run([c_tools["abi_check"], el, "64", "48"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok plane untouched after every failure" in r.stdout
    assert "ok 4 threads, a handle each, same result as one" in r.stdout


@needs_cc
@pytest.mark.parametrize("depth,w,h", [(8, 70, 46), (10, 66, 50)])
def test_c_player_equals_python_bit_for_bit(c_tools, shipped, tmp_path, depth, w, h):
    peak = (1 << depth) - 1
    lumas = [frame(h, w, i, np.uint8 if depth == 8 else np.uint16, peak) for i in range(4)]
    write_y4m(tmp_path / "in.y4m", lumas, depth)
    (tmp_path / "el.mtvir").write_bytes(two_group_el(shipped, w, h, depth, 4))
    r = as_a_player([c_tools["c_player"], tmp_path / "el.mtvir", tmp_path / "in.y4m", tmp_path / "out.y4m"],
                    tmp_path / "elsewhere")
    assert r.returncode == 0, r.stderr
    header, out = y4m.read_file(tmp_path / "out.y4m")
    assert header.bit_depth == depth and len(out) == 4
    enhancer = m.Enhancer(tmp_path / "el.mtvir")
    for i, (luma, planes) in enumerate(zip(lumas, out)):
        expected = enhancer.enhance(luma, i)
        assert np.array_equal(planes[0], expected), f"frame {i}"
        assert np.array_equal(planes[1], np.full(header.shapes()[1], (1 << (depth - 1)) + i))
    assert not np.array_equal(out[0][0], lumas[0]) and np.array_equal(out[3][0], lumas[3])  # group 3: none


def colour_el(ref: m.Reference, w: int, h: int, depth: int, frames: int) -> bytes:
    """An EL 4: the two-group luma EL, and one model for U and V (the reference perturbed) over frames 1-2."""
    uv = m.write(ref.arch, [(1, 2, perturbed(ref.params, 7), m.Coding())], ref, (w + 1) // 2, (h + 1) // 2, depth,
                 frames)
    return m.tiers.write({"full": {"y": two_group_el(ref, w, h, depth, frames), "uv": uv}}, "4:2:0")


@needs_cc
@pytest.mark.parametrize("depth,w,h", [(8, 70, 46), (10, 65, 47)])
def test_c_player_enhances_chroma_as_python_does(c_tools, shipped, tmp_path, depth, w, h):
    """mtvir_enhance_frame (ABI 3) through the C example on a colour EL at even and odd sizes: every plane equals
    Enhancer.enhance_frame; chroma of frames outside the chroma model's group is as decoded."""
    peak, dtype = (1 << depth) - 1, np.uint8 if depth == 8 else np.uint16
    header = y4m.Y4mHeader(w, h, depth)
    with open(tmp_path / "in.y4m", "wb") as f:  # textured chroma, so that its model has something to change
        writer = y4m.Writer(f, header)
        for i in range(4):
            writer.write(frame(h, w, i, dtype, peak), *(frame(*header.shapes()[1], 10 + 2 * i + k, dtype, peak)
                                                        for k in range(2)))
    (tmp_path / "el.mtvir").write_bytes(colour_el(shipped, w, h, depth, 4))
    r = as_a_player([c_tools["c_player"], tmp_path / "el.mtvir", tmp_path / "in.y4m", tmp_path / "out.y4m"],
                    tmp_path / "elsewhere")
    assert r.returncode == 0 and "planes yuv" in r.stderr, r.stderr
    (_, inp), (_, out) = y4m.read_file(tmp_path / "in.y4m"), y4m.read_file(tmp_path / "out.y4m")
    enhancer = m.Enhancer(tmp_path / "el.mtvir")
    for i, (a, b) in enumerate(zip(inp, out)):
        assert all(np.array_equal(x, y) for x, y in zip(enhancer.enhance_frame(*a, i), b)), f"frame {i}"
    assert not np.array_equal(out[1][1], inp[1][1]) and np.array_equal(out[0][1], inp[0][1])


@needs_cc
def test_c_player_copies_the_bl_when_the_el_is_corrupt(c_tools, shipped, tmp_path):
    lumas = [frame(40, 48, i) for i in range(3)]
    write_y4m(tmp_path / "in.y4m", lumas, 8)
    data = bytearray(two_group_el(shipped, 48, 40, 8, 3))
    data[len(data) // 2] ^= 0x10
    (tmp_path / "bad.mtvir").write_bytes(data)
    r = subprocess.run([c_tools["c_player"], tmp_path / "bad.mtvir", tmp_path / "in.y4m", tmp_path / "out.y4m"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0
    assert "error -3" in r.stderr and "base layer plays alone" in r.stderr
    assert (tmp_path / "out.y4m").read_bytes() == (tmp_path / "in.y4m").read_bytes()


@needs_cc
def test_c_library_starts_its_own_environment_in_an_empty_one(c_tools, shipped, tmp_path):
    (tmp_path / "el.mtvir").write_bytes(m.write(shipped.arch, [(0, 1, shipped.params, m.Coding())], shipped, 64,
                                                48, 8, 1))
    r = as_a_player([c_tools["env_check"], tmp_path / "el.mtvir", "ok"], tmp_path / "elsewhere")
    assert r.returncode == 0 and "0 failed" in r.stdout, r.stdout + r.stderr


@needs_cc
def test_c_library_with_a_broken_environment_fails_every_call_and_says_why(shipped, tmp_path):
    """Built for an environment that lacks the SDK (a bare venv): no call may pass for a success."""
    bare = tmp_path / "bare"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", bare],
                   check=True)
    lib = tmp_path / "lib"
    build.build(lib, python=str(bare / "bin" / "python"))
    for name, src in (("c_player", ROOT / "examples" / "c_player" / "c_player.c"),
                      ("env_check", ROOT / "tests" / "c" / "env_check.c")):
        subprocess.run([CC, "-O2", "-Wall", "-Werror", "-o", tmp_path / name, src, f"-I{lib}", f"-L{lib}",
                        "-lmtvir", f"-Wl,-rpath,{lib}"], check=True)
    (tmp_path / "el.mtvir").write_bytes(two_group_el(shipped, 48, 40, 8, 3))
    r = as_a_player([tmp_path / "env_check", tmp_path / "el.mtvir", "broken"], tmp_path / "elsewhere")
    assert r.returncode == 0 and "0 failed" in r.stdout, r.stdout + r.stderr
    assert "No module named '_cffi_backend'" in r.stdout and str(bare) in r.stdout
    write_y4m(tmp_path / "in.y4m", [frame(40, 48, i) for i in range(3)], 8)
    r = as_a_player([tmp_path / "c_player", tmp_path / "el.mtvir", tmp_path / "in.y4m", tmp_path / "out.y4m"],
                    tmp_path / "elsewhere")
    assert r.returncode == 0 and "error -8" in r.stderr and "_cffi_backend" in r.stderr, r.stderr
    assert (tmp_path / "out.y4m").read_bytes() == (tmp_path / "in.y4m").read_bytes()  # the BL, untouched


@needs_cc
@pytest.mark.skipif(LIBAV is None, reason="libavformat/libavcodec development files are missing (Debian: "
                    "libavformat-dev libavcodec-dev pkg-config)")
@pytest.mark.parametrize("codec,remuxes", [("x265", ("ts",)), ("svtav1", ("webm", "mkv"))])
def test_libav_player_reads_the_el_in_band(c_tools, shipped, tmp_path, codec, remuxes):
    """The EL inside the BL's bitstream (HEVC: SEI, reaching av_player as frame side data; AV1: metadata OBUs, read
    from the packets), also after a remux: the same frames as mtvir-decode with the separate EL; a damaged message
    costs only its group."""
    pytest.importorskip("torch")
    from mtvir_encoder import bl
    from mtvir_decoder import carriage
    from mtvir_decoder.cli import decode
    lumas = [np.roll(frame(48, 64, 0), 3 * i, axis=1) for i in range(10)]
    chroma = [np.full((24, 32), 128, np.uint8)] * 10
    bl.encode(bl.Video(lumas, chroma, chroma), tmp_path / "bl.mp4", codec, qp=37)
    el = m.write(shipped.arch, [(0, 4, perturbed(shipped.params, 5), m.Coding()), (6, 3, shipped.params, m.Coding())],
                 shipped, 64, 48, 8, 10)
    (tmp_path / "el.mtvir").write_bytes(el)
    carriage.embed(tmp_path / "bl.mp4", el, tmp_path / "one.mp4", shipped)
    decode(tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "py.y4m", progress=False)
    want = y4m.read_file(tmp_path / "py.y4m")[1]
    files = [tmp_path / "one.mp4"]
    for ext in remuxes if shutil.which("ffmpeg") else ():
        subprocess.run(["ffmpeg", "-v", "error", "-i", tmp_path / "one.mp4", "-c", "copy", tmp_path / f"one.{ext}"],
                       check=True)
        files.append(tmp_path / f"one.{ext}")
    for path in files:
        r = as_a_player([c_tools["av_player"], path, tmp_path / "c.y4m"], tmp_path / "elsewhere")
        assert r.returncode == 0 and "10 frames, enhanced" in r.stderr, r.stderr
        got = y4m.read_file(tmp_path / "c.y4m")[1]
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(got, want)), path
    raw = bytearray((tmp_path / "one.mp4").read_bytes())
    raw[raw.index(carriage.MTVIR_UUID) + 16 + 30] ^= 0x20  # inside the message of frames 0-3
    (tmp_path / "bad.mp4").write_bytes(raw)
    r = as_a_player([c_tools["av_player"], tmp_path / "bad.mp4", tmp_path / "c.y4m"], tmp_path / "elsewhere")
    got = y4m.read_file(tmp_path / "c.y4m")[1]
    assert r.returncode == 0 and "message at frame 0 is not used" in r.stderr, r.stderr
    assert all(np.array_equal(got[i][0], want[i][0]) for i in range(4, 10))  # the intact group still applies
    assert not all(np.array_equal(got[i][0], want[i][0]) for i in range(4))  # frames 0-3: the BL


def _fallback(el, **facts):
    luma = frame(40, 48, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        safe = SafeEnhancer(el, **facts)
        outs = [safe.enhance(luma, i) for i in range(2)]
    assert not safe.active and all(o is luma for o in outs)
    assert len([w for w in caught if issubclass(w.category, MtvirWarning)]) == 1
    return safe.reason


def test_safe_enhancer_falls_back_with_one_warning(shipped, arch):
    good = two_group_el(shipped, 48, 40, 8, 3)
    damaged = bytearray(good)
    damaged[20] ^= 1
    assert "no EL" in _fallback(None)
    assert "CRC" in _fallback(bytes(damaged))
    assert "cannot read EL" in _fallback("/nonexistent.mtvir")
    assert "applies to 48x40" in _fallback(good, width=50, height=40, bit_depth=8)
    assert "8-bit" in _fallback(good, width=48, height=40, bit_depth=10)
    assert "frames" in _fallback(good, width=48, height=40, bit_depth=8, frame_count=2)
    stranger = m.Reference(arch, perturbed(shipped.params, 9), "not installed")
    assert "reference" in _fallback(m.write(arch, [(0, 2, stranger.params, m.Coding())], stranger, 48, 40, 8, 2))
    safe = SafeEnhancer(good, width=48, height=40, bit_depth=8, frame_count=3)
    assert safe.active and not np.array_equal(safe.enhance(frame(40, 48, 1), 0), frame(40, 48, 1))


def _failing_session(source: str = "luma"):
    """A real ONNX Runtime session that fails when run (a Reshape to 7 values), as a CUDA out-of-memory or a
    provider failing mid-stream would: ONNX Runtime's own exception, not the SDK's. ``source``: its input (a
    float plane, or a player's "samples")."""
    import onnxruntime as ort
    from onnx import TensorProto, helper
    from mtvir_decoder import graph
    g = helper.make_graph([helper.make_node("Reshape", [source, "shape"], ["y"])], "fails",
                          [helper.make_tensor_value_info(source, kind := TensorProto.FLOAT if source == "luma" else
                                                         TensorProto.UINT8, None)],
                          [helper.make_tensor_value_info("y", kind, None)],
                          [helper.make_tensor("shape", TensorProto.INT64, [1], [7])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", graph.OPSET)])
    model.ir_version = graph.IR_VERSION
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_a_runtime_failure_mid_stream_falls_back_to_the_base_layer(shipped):
    el, luma = two_group_el(shipped, 48, 40, 8, 3), frame(40, 48, 1)
    enhancer = m.Enhancer(el)
    failing = {(0, depth, aligned, shared): _failing_session("samples" if depth else "luma")
               for depth in (0, 8) for aligned in (False, True) for shared in (False, True)}
    enhancer._sessions.update(failing)
    with pytest.raises(m.RuntimeProviderError, match="ONNX Runtime failed on a frame"):
        enhancer.enhance(luma, 0)
    safe = SafeEnhancer(el, width=48, height=40, bit_depth=8, frame_count=3)
    safe.enhancer._sessions.update(failing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outs = [safe.enhance(luma, i) for i in range(3)]
    assert all(o is luma for o in outs) and not safe.active and "ONNX Runtime failed" in safe.reason
    assert len([w for w in caught if issubclass(w.category, MtvirWarning)]) == 1


def test_y4m_round_trip_odd_sizes_and_10_bit(tmp_path):
    for depth, dtype in ((8, np.uint8), (10, np.uint16)):
        lumas = [frame(31, 45, i, dtype, (1 << depth) - 1) for i in range(2)]
        write_y4m(tmp_path / "a.y4m", lumas, depth)
        header, frames = y4m.read_file(tmp_path / "a.y4m")
        assert (header.width, header.height, header.bit_depth) == (45, 31, depth)
        assert all(np.array_equal(f[0], l) and f[1].shape == (16, 23) for f, l in zip(frames, lumas))
    (tmp_path / "b.y4m").write_bytes((tmp_path / "a.y4m").read_bytes()[:-7])
    with pytest.raises(m.FormatError, match="ends inside a frame"):
        y4m.read_file(tmp_path / "b.y4m")
    (tmp_path / "c.y4m").write_bytes(b"YUV4MPEG2 W99999999 H2\n")
    with pytest.raises(m.FormatError, match="out of range"):
        y4m.read_file(tmp_path / "c.y4m")


def test_decoder_cli_never_needs_torch():
    code = ("import sys; import mtvir_decoder.cli, mtvir_decoder.capi, mtvir_decoder.fallback, mtvir_decoder.video; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_cc
@pytest.mark.skipif(LIBAV is None, reason="no libavformat/libavcodec development files (pkg-config)")
@pytest.mark.parametrize("depth", [8, 10])
def test_libav_player_equals_mtvir_decode(c_tools, shipped, tmp_path, depth):
    pytest.importorskip("torch")
    from mtvir_encoder import bl
    from mtvir_decoder.cli import decode
    peak, dtype = (1 << depth) - 1, np.uint8 if depth == 8 else np.uint16
    lumas = [np.roll(frame(48, 64, 0, dtype, peak), 3 * i, axis=1) for i in range(5)]
    chroma = [np.full((24, 32), (peak + 1) // 2, dtype)] * 5
    bl.encode(bl.Video(lumas, chroma, chroma, bit_depth=depth), tmp_path / "bl.mp4", qp=37)
    (tmp_path / "el.mtvir").write_bytes(two_group_el(shipped, 64, 48, depth, 5))
    r = as_a_player([c_tools["av_player"], tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "c.y4m"],
                    tmp_path / "elsewhere")
    assert r.returncode == 0 and "5 frames, enhanced" in r.stderr, r.stderr
    decode(tmp_path / "bl.mp4", tmp_path / "el.mtvir", tmp_path / "py.y4m", progress=False)
    (_, ours), (_, theirs) = y4m.read_file(tmp_path / "c.y4m"), y4m.read_file(tmp_path / "py.y4m")
    assert len(ours) == len(theirs) == 5
    for a, b in zip(ours, theirs):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


@needs_cc
@pytest.mark.skipif(LIBAV is None, reason="no libavformat/libavcodec development files (pkg-config)")
def test_libav_player_on_hostile_one_file_videos(c_tools, tmp_path):
    """Mutants of a one-file video through av_player: each plays (the BL, enhanced where its EL survives) or stops
    with a message and a non-zero status; never a crash or a hang."""
    import carriage_fuzz
    seed = carriage_fuzz.make_seed(tmp_path / "seed")
    rng = np.random.default_rng(7)
    statuses = set()
    for k in range(16):
        kind, mutant = carriage_fuzz.mutate(seed.read_bytes(), rng)
        (tmp_path / "in.mp4").write_bytes(mutant)
        r = as_a_player([c_tools["av_player"], tmp_path / "in.mp4", tmp_path / "out.y4m"], tmp_path / "elsewhere",
                        timeout=30)
        assert r.returncode in (0, 1), (kind, r.returncode, r.stderr)  # a negative status: killed by a signal
        assert r.returncode == 0 or "av_player:" in r.stderr, (kind, r.stderr)
        statuses.add(r.returncode)
    assert 0 in statuses
