"""Robustness: interrupted exports leave nothing behind, mismatched ELs are refused clearly, odd inputs work end to
end or fail clearly."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m
from mtvir_decoder import video, y4m
from mtvir_decoder.cli import decode
from conftest import frame

torch = pytest.importorskip("torch")
from mtvir_encoder import data, export  # noqa: E402
from mtvir_encoder.online import OnlineConfig  # noqa: E402

QUICK = OnlineConfig(iterations=4, snapshot_every=2, batch=8)

# Runs mtvir-export and sends the process SIGTERM at the N-th os.replace: 1 and 2 are the two renames that
# publish the outputs (BL, then EL; the BL is streamed into its temporary, which is never renamed before).
KILL_AT_RENAME = """
import os, signal, sys
from mtvir_encoder import cli
real, calls, target = os.replace, [0], int(sys.argv[1])
def replace(a, b):
    calls[0] += 1
    if calls[0] == target:
        os.kill(os.getpid(), signal.SIGTERM)
    return real(a, b)
os.replace = replace
sys.exit(cli.export_main(sys.argv[2:]))
"""


def export_args(out: Path, iterations: int = 4) -> list[str]:
    return [str(data.carphone()), "-o", str(out), "--frames", "6", "--iterations", str(iterations),
            "--snapshot-every", "2", "--batch", "8", "--patience", "0", "-q"]


@pytest.mark.parametrize("rename", [1, 2])
def test_sigterm_while_writing_leaves_no_file(tmp_path, rename):
    r = subprocess.run([sys.executable, "-c", KILL_AT_RENAME, str(rename), *export_args(tmp_path / "cp")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert list(tmp_path.iterdir()) == []  # neither outputs nor temporaries


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_learning_leaves_no_file(tmp_path, sig):
    # Ctrl-C as at a terminal: a job started in the background by a non-interactive shell inherits SIGINT ignored
    # (POSIX), Python keeps it so, and the export would rightly run on; the child starts with the default instead.
    p = subprocess.Popen([sys.executable, "-m", "mtvir_encoder", *export_args(tmp_path / "cp", 100000)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not any(tmp_path.iterdir()) and time.time() < deadline:  # the BL's temporary appears: it is running
        time.sleep(0.05)
    time.sleep(1.0)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode in (130, 128 + signal.SIGTERM, -sig), err  # -SIGINT: Python re-raised it at exit
    assert "interrupted" in err or p.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_sigkill_never_leaves_a_final_name_half_written(tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "mtvir_encoder", *export_args(tmp_path / "cp", 100000)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not any(tmp_path.iterdir()) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    p.kill()
    p.wait(timeout=60)
    assert not (tmp_path / "cp.mtvir").exists() and not (tmp_path / "cp.mp4").exists()
    assert all(f.name.startswith(".") for f in tmp_path.iterdir())  # only hidden temporaries can survive SIGKILL


# --- odd inputs end to end --------------------------------------------------------------------------------------
def clip(path: Path, w: int, h: int, n: int, depth: int = 8, kind: str = "texture") -> Path:
    peak = (1 << depth) - 1
    dtype = np.uint8 if depth == 8 else np.uint16
    header = y4m.Y4mHeader(w, h, depth, "25:1")
    with open(path, "wb") as f:
        writer = y4m.Writer(f, header)
        for i in range(n):
            if kind == "grey":
                luma = np.full((h, w), peak // 2, dtype)
            elif kind == "cut":  # two unrelated scenes: a hard cut half-way
                luma = frame(h, w, 100 + i // (n // 2), dtype, peak) if i < n // 2 else (peak - frame(h, w, 7, dtype, peak))
            else:
                luma = np.roll(frame(h, w, 0, dtype, peak), 2 * i, axis=1)
            chroma = np.full(header.shapes()[1], (peak + 1) // 2, dtype)
            writer.write(luma, chroma, chroma)
    return path


@pytest.mark.parametrize("name,w,h,n,depth,kind", [
    ("not_multiple_of_8", 90, 62, 4, 8, "texture"),
    ("one_frame", 64, 48, 1, 8, "texture"),
    ("ten_bit", 64, 48, 3, 10, "texture"),
    ("grey", 64, 48, 3, 8, "grey"),
    ("scene_cut", 64, 48, 8, 8, "cut"),
])
def test_odd_inputs_export_and_decode(tmp_path, name, w, h, n, depth, kind):
    src = clip(tmp_path / f"{name}.y4m", w, h, n, depth, kind)
    s = export.export(src, tmp_path / name, online=QUICK, progress=False)
    assert (s.frames, s.width, s.height, s.bit_depth) == (n, w, h, depth)
    el = m.read(Path(s.el_path).read_bytes())
    assert (el.width, el.height, el.bit_depth, el.frame_count) == (w, h, depth, n)
    r = decode(Path(s.bl_path), Path(s.el_path), tmp_path / f"{name}_out.y4m", src, progress=False, log=lambda *_: None)
    assert r["enhanced"] and r["frames"] == n
    assert r["psnr_el"] == pytest.approx(s.psnr_el, abs=1e-6)
    header, frames = y4m.read_file(tmp_path / f"{name}_out.y4m")
    assert (header.width, header.height, header.bit_depth, len(frames)) == (w, h, depth, n)
    decode(Path(s.bl_path), Path(s.el_path), tmp_path / f"{name}_out.mkv", progress=False)  # lossless FFV1
    assert all(all(np.array_equal(a, b) for a, b in zip(f, g))
               for f, g in zip(video.frames(tmp_path / f"{name}_out.mkv"), frames))


def test_odd_frame_size_is_a_clear_error(tmp_path):
    src = clip(tmp_path / "odd.y4m", 91, 63, 2)
    with pytest.raises(m.MtvirError, match="sizes must be even"):
        export.export(src, tmp_path / "odd", online=QUICK, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.y4m"]
