"""The EL's user shader through stock ffmpeg's libplacebo filter, against the SDK on the CPU, in one run.

    python bench/shader_speed.py [--size 1280x720] [--frames 5] [--tier full|light]

Codes a synthetic clip (ffmpeg's testsrc2; the network's cost does not depend on content) with libx265, writes the
shipped QP 37 reference as a shader (`mtvir-shader`, both precisions), times ffmpeg rendering 1 and N frames through it (the
difference is the per-frame cost, without the shader's compilation) and the SDK's Enhancer on the same frames, and
prints frames per second of both and the Vulkan device that ran the shader (lavapipe: the CPU; a GPU where one is).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mtvir_decoder as m
from mtvir_decoder import Enhancer, shader, video
from mtvir_decoder.references import PACKAGE_DIR


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - t0


def device(ffmpeg: str, clip: Path, glsl: Path) -> str:
    args = shader.ffmpeg_args(clip, glsl, "-", frames=1, ffmpeg=ffmpeg)
    args[args.index("-v") + 1] = "debug"
    args[-3:] = ["-f", "null", "-"]
    log = subprocess.run(args, capture_output=True, text=True).stderr
    found = re.search(r"Device Name: (.*)", log)
    return found.group(1).strip() if found else "unknown"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--tier", choices=["full", "light"], default="full", help="the shipped QP 37 reference of this tier")
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    ref = m.Reference.load(PACKAGE_DIR / f"{'light-' if a.tier == 'light' else ''}x265-qp37.mtvir")
    el = m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref, w, h, 8, 0)  # sized: the light shader needs it
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("needs stock ffmpeg with its libplacebo filter and a Vulkan driver (Debian: ffmpeg mesa-vulkan-drivers)")
    n = max(2, a.frames)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip, glsl = tmp / "clip.mp4", tmp / "el.glsl"
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={a.size}:rate=25", "-frames:v",
                        str(n), "-pix_fmt", "yuv420p", "-c:v", "libx265", "-x265-params", "log-level=none:qp=37",
                        str(clip)], check=True)
        shaders = {}
        for precision in shader.PRECISIONS:
            try:
                built = shader.build(m.read(el), precision=precision)
            except shader.ShaderError as exc:
                print(f"shader {precision}: {exc}")
                continue
            glsl.write_text(built.text)
            one = timed(shader.ffmpeg_args(clip, glsl, tmp / "1.y4m", frames=1, ffmpeg=ffmpeg))
            many = timed(shader.ffmpeg_args(clip, glsl, tmp / "n.y4m", frames=n, ffmpeg=ffmpeg))
            shaders[precision] = (built, one, (many - one) / (n - 1))
        enhancer = Enhancer(el, reference=ref, providers=["CPUExecutionProvider"])
        lumas = [planes[0] for planes in video.frames(clip, n)]
        enhancer.enhance(lumas[0])  # warm-up
        times = []
        for luma in lumas:
            t0 = time.perf_counter()
            enhancer.enhance(luma)
            times.append(time.perf_counter() - t0)
        sdk = float(np.median(times))
        name = device(ffmpeg, clip, glsl)
    print(f"Vulkan device: {name}; {a.tier} tier; {a.size}, {n} frames; the SDK on the CPU (ONNX Runtime): {sdk * 1000:,.0f} ms/frame "
          f"({1 / sdk:.2f} fps)")
    for precision, (built, one, per_frame) in shaders.items():
        print(f"shader {precision}: {built.passes} passes, {built.fetches_per_pixel:,} texel reads and "
              f"{built.macs_per_pixel:,} MACs per pixel: {per_frame * 1000:,.0f} ms/frame ({1 / per_frame:.2f} fps; "
              f"compiling and the first frame {one:.1f} s), {per_frame / sdk:.2f}x the SDK's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
