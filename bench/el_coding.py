"""EL coding efficiency on a real residue: bits per weight of the coded W_Q(online) - W_Q(reference) against its
empirical entropy, and against NNCodec's DeepCABAC on the same integers where the ``nncodec`` package installs.

The residue comes from real online learning (every weight adapting, lr 1e-3, carphone x265 QP 37 RA). NNCodec
pins numpy<2 and torchvision, which do not install beside this project's torch, so it is looked for in this
interpreter or in the one NNCODEC_PYTHON names (e.g. a separate venv with `pip install --no-deps nncodec
pybind11 numpy`); where it is in neither, the bench says so.

    python bench/el_coding.py [--iterations 300] [--frames 30]   [NNCODEC_PYTHON=/path/to/python]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import mtvir_decoder as m
from mtvir_decoder import entropy, format as el_format
from mtvir_encoder import bl, data
from mtvir_encoder.online import OnlineConfig, learn

DEEPCABAC = r"""
import json, sys
import numpy as np
from nncodec.extensions import deepCABAC
layers = np.load(sys.argv[1])
sizes = {}
for name in layers.files:
    x = layers[name].astype(np.int32)
    enc = deepCABAC.Encoder()
    enc.initCtxModels(10, 0)  # cabac_unary_length_minus1 = 10, NNCodec's default
    enc.encodeLayer(x, 0, 0, 0, 0, 0, np.zeros(x.shape[0], dtype=np.int32), deepCABAC.HdspMode.AlwaysOff,
                    np.array((0, 0), dtype=np.int8), 0, 0)
    sizes[name] = len(enc.finish().tobytes())
print(json.dumps(sizes))
"""


def nncodec_python() -> str | None:
    for python in (os.environ.get("NNCODEC_PYTHON"), sys.executable):
        if python and subprocess.run([python, "-c", "from nncodec.extensions import deepCABAC"],
                                     capture_output=True).returncode == 0:
            return python
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    a = p.parse_args()
    ref = m.references.default()
    video = bl.read_video(data.carphone(), a.frames)
    with tempfile.TemporaryDirectory() as d:
        base = bl.code(video, Path(d) / "bl.mp4", "x265", 37, "ra")
    cfg = OnlineConfig(iterations=a.iterations, adapt="all", lr=a.lr, snapshot_every=a.iterations)
    online = learn(ref, base.recon.y, video.y, 8, cfg)[-1].params
    residue = [w - r for w, r in zip(online.weights, ref.params.weights)]
    changed = [i for i, r in enumerate(residue) if r.any()]
    flat = np.concatenate([r.ravel() for r in residue])
    n = flat.size
    if not changed:
        print(f"no weight changed level in {a.iterations} steps: nothing to code (raise --iterations or --lr)")
        return

    # ours: the weights alone (biases and affine as the reference's), minus the EL that sends nothing
    weights_only = m.Params(online.weights, ref.params.biases, ref.params.scale, ref.params.shift)
    bytes_ref = len(m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref))
    results = {}
    for name, coding in (("one histogram per layer", m.Coding(shared_histogram=False)),
                         ("one shared histogram", m.Coding(shared_histogram=True))):
        el = m.write(ref.arch, [(0, 1, weights_only, coding)], ref)
        payload = el_format.parse(el)["models"][0]["payload"]
        results[name] = (len(el) - bytes_ref, len(payload["coded"]))
        back = m.read(el, ref).groups[0].params.weights
        assert all(np.array_equal(x, y) for x, y in zip(back, online.weights)), "not lossless"
    h_shared = entropy.empirical_entropy_bits(flat)
    h_layers = sum(entropy.empirical_entropy_bits(residue[i].ravel()) for i in changed)

    print(f"residue of {a.iterations} online steps (adapt all, lr {a.lr}) on carphone QP 37 RA, {a.frames} frames: "
          f"{np.count_nonzero(flat):,} of {n:,} weights changed, in {len(changed)} of {len(residue)} layers, "
          f"|residue| <= {np.abs(flat).max()}")
    print(f"empirical entropy: {h_shared / 8:,.1f} B over all weights as one source ({h_shared / n:.4f} bits/weight); "
          f"{h_layers / 8:,.1f} B as one source per changed layer")
    for name, (total, coded) in results.items():
        ideal = h_shared if "shared" in name else h_layers
        print(f"MTVIR, {name:24s}: {total:,} B in the EL ({8 * total / n:.4f} bits/weight), of which the rANS "
              f"stream {coded:,} B = {100 * (8 * coded / ideal - 1):+.2f} % over its entropy; "
              f"histograms and layer mask {total - coded:,} B")
    python = nncodec_python()
    if python is None:
        print("NNCodec: not measured: the nncodec package is not installed here (set NNCODEC_PYTHON)")
        return
    with tempfile.TemporaryDirectory() as d:
        np.savez(Path(d) / "layers.npz", **{f"l{i}": residue[i].reshape(residue[i].shape[0], -1) for i in range(len(residue))})
        script = Path(d) / "cabac.py"
        script.write_text(DEEPCABAC)
        out = subprocess.run([python, str(script), str(Path(d) / "layers.npz")], capture_output=True, text=True,
                             check=True)
    sizes = json.loads(out.stdout)
    all_layers = sum(sizes.values())
    changed_only = sum(sizes[f"l{i}"] for i in changed)
    print(f"NNCodec DeepCABAC ({python}): {all_layers:,} B coding every layer ({8 * all_layers / n:.4f} bits/weight), "
          f"{changed_only:,} B for the changed layers only; MTVIR's best is "
          f"{min(t for t, _ in results.values()) / changed_only:.2f}x the latter")


if __name__ == "__main__":
    main()
