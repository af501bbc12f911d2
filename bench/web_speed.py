"""Frames per second of each tier and each path of the web decoder in headless Chromium (Debian's, through
playwright-core), beside the native SDK (ONNX Runtime, Python) in the same run on the same machine.

    python bench/web_speed.py [--sizes 1280x720,1920x1080] [--rounds 7] [--paths simd,wasm,js] [--webgpu]

One luma plane of each size through ``Enhancer.enhancePlane`` in a worker (the player's path: samples in, samples
out), the shipped QP 37 band references as self-contained ELs. ``simd``: the package's own WebAssembly SIMD kernels
(the light network only; relaxed SIMD's multiply-add where Chromium has it; a band of rows per core on workers);
``wasm``: ONNX Runtime Web's WebAssembly back end (SIMD, threads: the page is cross-origin isolated); ``js``: plain JavaScript (the reference path; the full tier is
left out beyond 176x144, minutes a frame); ``--webgpu`` adds ONNX Runtime Web on WebGPU, which here is SwiftShader
(the CPU): its figure says nothing about a GPU.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mtvir_decoder as m

ROOT = Path(__file__).resolve().parents[1]


def native_ms(data: bytes, ref, w: int, h: int, rounds: int) -> float:
    enh = m.Enhancer(data, reference=ref, providers=["CPUExecutionProvider"])
    plane = np.random.default_rng(0).integers(0, 256, (h, w), dtype=np.uint8)
    enh.enhance(plane)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        enh.enhance(plane)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--paths", default="simd,wasm,js")
    p.add_argument("--webgpu", action="store_true")
    a = p.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]
    paths = a.paths.split(",") + (["webgpu"] if a.webgpu else [])
    folder = Path(tempfile.mkdtemp(prefix="mtvir-web-speed-"))
    rows = []
    for tier in ("light", "full"):
        ref = next(r for r in m.references.starting_points(tier) if r.name.endswith("qp37"))
        for w, h in sizes:
            data = m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref, w, h, 8, 0)
            (folder / f"{tier}-{w}x{h}.mtvir").write_bytes(data)
            cases = [f"el={tier}-{w}x{h}.mtvir&width={w}&height={h}&backend={b}&rounds={a.rounds}" for b in paths
                     if not (b == "js" and tier == "full" and w * h > 176 * 144) and not (b == "simd" and tier == "full")]
            native = native_ms(data, ref, w, h, a.rounds)  # first: Chromium's processes linger a while after it
            r = subprocess.run(["node", ROOT / "web" / "tools" / "bench.mjs", folder, *cases], capture_output=True,
                               text=True)
            if r.returncode:
                sys.exit(r.stderr[-2000:])
            rows.append((tier, w, h, native, [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]))
    print(f"one luma plane through Enhancer (uint8 in and out), median of {a.rounds}; headless Chromium, "
          f"cross-origin isolated; native = the Python SDK (ONNX Runtime, CPU) in the same run")
    print(f"{'tier':>6} {'size':>10} {'native ms':>10} {'fps':>6}   " + "   ".join(f"{b + ' ms':>10} {'fps':>6} {'x native':>8}" for b in paths))
    for tier, w, h, native, web in rows:
        cells = []
        for b in paths:
            row = next((x for x in web if x.get("backend") == b or f"backend={b}&" in x["query"]), None)
            if row is None and b == "simd" and tier == "full":
                cells.append(f"{'(light network only)':>28}")
            elif row is None or "median" not in row:
                cells.append(f"{(row or {}).get('error', 'not run')[:28]:>28}")
            else:
                cells.append(f"{row['median']:10.1f} {1000 / row['median']:6.1f} {row['median'] / native:8.1f}")
        print(f"{tier:>6} {w:>5}x{h:<4} {native:10.1f} {1000 / native:6.1f}   " + "   ".join(cells))


if __name__ == "__main__":
    main()
