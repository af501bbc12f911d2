"""The web player in headless Chromium (Debian's, driven by playwright-core; no browser download): one-file videos
with the EL in band (AV1 metadata OBUs, H.264 SEI) and a sidecar EL play through WebCodecs and the JS decoder, and
the enhanced planes it read back equal mtvir-decode's on the same file; a damaged message leaves its frames as the
BL while the rest play on. Skips, saying so, where node, the web package's modules or chromium are missing."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mtvir_decoder import carriage, y4m
import carriage_fuzz

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (Debian: nodejs npm)"),
    pytest.mark.skipif(not (WEB / "node_modules" / "playwright-core").is_dir(),
                       reason="the web package's modules are not installed (cd web && npm ci)"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: chromium)"),
]
CAPTURE = (0, 3, 7, 8, 12, 15)  # both groups (0-7, 8-15) of the seeds' ELs


def play(folder: Path, name: str, *more: str) -> dict:
    out = folder / f"{name}.json"
    r = subprocess.run(["node", WEB / "tools" / "play.mjs", folder, name, "--capture", ",".join(map(str, CAPTURE)),
                        "--out", out, *more], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "CHROMIUM": CHROMIUM})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


def planes(frame: dict, key: str) -> list[np.ndarray]:
    h, w = frame["height"], frame["width"]
    shapes = [(h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2)]
    return [np.frombuffer(base64.b64decode(b), np.uint8).reshape(s) for b, s in zip(frame[key], shapes)]


def decoded(path: Path, *more) -> list:
    out = path.with_suffix(".y4m")
    subprocess.run([sys.executable, "-m", "mtvir_decoder.cli", path, *more, "-o", out, "-q"], check=True, timeout=300)
    return y4m.read_file(out)[1]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def same_as_mtvir_decode(result: dict, want: list, planes_checked: str = "yuv") -> None:
    assert result["frames"] == carriage_fuzz.FRAMES and not result.get("error"), result
    assert sorted(f["index"] for f in result["captured"]) == list(CAPTURE)
    for frame in result["captured"]:
        got = planes(frame, "el")
        for k, name in enumerate("yuv"):
            if name not in planes_checked:
                continue
            ref = want[frame["index"]][k]
            diff = np.abs(got[k].astype(int) - ref)
            assert np.mean(diff <= 1) >= 0.99, (frame["index"], name, diff.max())
            assert abs(psnr(got[k], ref) - psnr(ref, ref)) < 0.02 or psnr(got[k], ref) > 60, (frame["index"], name)


@pytest.mark.parametrize("codec,colour", [("libsvtav1", True), ("libx264", False)])
def test_the_web_player_reproduces_mtvir_decode_on_one_file_videos(tmp_path, codec, colour):
    seed = carriage_fuzz.make_seed(tmp_path, colour=colour, codec=codec)
    want = decoded(seed)
    bl = decoded(tmp_path / "bl.mp4")
    result = play(tmp_path, seed.name, "--pixels")
    assert result["codec"] == ("av1" if codec == "libsvtav1" else "h264") and result["crossOriginIsolated"]
    same_as_mtvir_decode(result, want)
    for frame in result["captured"]:  # each frame through its own group's model: enhanced, and not by the other's
        assert frame["enhanced"][0], frame["index"]
        assert not np.array_equal(planes(frame, "el")[0], bl[frame["index"]][0])
        assert frame["enhanced"][1] == colour
    assert result["stats"]["messages"] == [] and result["stats"]["elBytes"] > 0
    # auto: the full network on ONNX Runtime Web's WebAssembly, SwiftShader's WebGPU being no hardware GPU (the
    # figures say the engine of the last message: luma alone in both seeds)
    assert result["stats"]["engine"] == "wasm", result["stats"]
    drawn_as_its_planes(result)


def drawn_as_its_planes(result: dict) -> None:
    """The canvas shows the last frame's enhanced planes: the luma of its RGB (BT.601, limited range) is the Y plane's
    sample for sample, upright (chroma is interpolated up, so colour is not compared sample for sample)."""
    drawn = result["drawn"]
    frame = next(f for f in result["captured"] if f["index"] == drawn["index"])
    y = planes(frame, "el")[0].astype(float)
    rgb = np.frombuffer(base64.b64decode(drawn["rgba"]), np.uint8).reshape(*y.shape, 4)[..., :3].astype(float)
    seen = rgb @ [0.299, 0.587, 0.114]
    want = np.clip((y - 16) * 255 / 219, 0, 255)
    off = np.abs(seen - want)
    assert drawn["split"] == 0 and np.mean(off <= 3) >= 0.98 and np.median(off) <= 1, (np.median(off), off.max())


def test_the_light_tier_plays_through_the_packages_simd_kernels(tmp_path):
    seed = carriage_fuzz.make_seed(tmp_path, tiered=True, codec="libsvtav1")
    result = play(tmp_path, seed.name, "--tier", "light")  # backend auto: the simd kernels run the light network
    assert result["stats"]["tier"] == "light" and result["stats"]["engine"] == "simd", result["stats"]
    same_as_mtvir_decode(result, decoded(seed, "--tier", "light"), "y")
    bl = decoded(tmp_path / "bl.mp4")
    assert all(not np.array_equal(planes(f, "el")[0], bl[f["index"]][0]) for f in result["captured"])


def test_a_damaged_message_leaves_its_frames_as_the_bl_and_a_sidecar_el_plays(tmp_path):
    seed = carriage_fuzz.make_seed(tmp_path, codec="libsvtav1")
    want = decoded(seed)
    bl = decoded(tmp_path / "bl.mp4")
    raw = bytearray(seed.read_bytes())
    raw[raw.index(carriage.MTVIR_UUID) + 16 + 30] ^= 0x20  # inside the first message (frames 0-7)
    (tmp_path / "bad.mp4").write_bytes(raw)
    result = play(tmp_path, "bad.mp4")
    assert result["frames"] == carriage_fuzz.FRAMES and any("not used" in m for m in result["stats"]["messages"])
    for frame in result["captured"]:
        got = planes(frame, "el")[0]
        if frame["index"] < 8:
            assert not frame["enhanced"][0] and np.array_equal(got, bl[frame["index"]][0])
        else:
            assert frame["enhanced"][0] and np.mean(np.abs(got.astype(int) - want[frame["index"]][0]) <= 1) >= 0.99
    el, _ = carriage.extract(seed)
    (tmp_path / "el.mtvir").write_bytes(el)
    result = play(tmp_path, "bl.mp4", "--el", "/media/el.mtvir")  # the BL alone, its EL as a file beside it
    same_as_mtvir_decode(result, decoded(tmp_path / "bl.mp4", tmp_path / "el.mtvir"), "y")


def test_every_conformance_vector_passes_on_webgpu_in_chromium():
    """ONNX Runtime Web on the page's GPU (here SwiftShader's WebGPU; node has none) is held to the spec's vectors as
    the other back ends are in node: every frame within the manifest's tolerance, refused frames refused."""
    r = subprocess.run(["node", WEB / "tools" / "bench.mjs", ROOT / "schemas" / "vectors", "/check/?backend=webgpu"],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "CHROMIUM": CHROMIUM})
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.splitlines()[-1])
    manifest = json.loads((ROOT / "schemas" / "vectors" / "vectors.json").read_text())
    assert result["backend"] == "webgpu" and "error" not in result, result
    assert len(result["frames"]) == sum(len(e["frames"]) for e in manifest["vectors"])
    assert result["failed"] == 0, [f for f in result["frames"] if not f["ok"]]
    assert sum("refused" in f for f in result["frames"]) == sum(bool(f.get("refused")) for e in manifest["vectors"]
                                                               for f in e["frames"])

