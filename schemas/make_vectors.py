"""Regenerate the EL v2 conformance vectors in schemas/vectors/ (deterministic: same bytes every run).

    python schemas/make_vectors.py

Each vector is an EL file, the reference it needs (if any), input luma planes and the expected outputs, listed
with the SHA-256 of every rebuilt model in vectors.json. Arrays are .npy files (C order, shape [height, width],
uint8 for 8-bit, little-endian uint16 above); ``frame_index`` is the frame's 0-based index in display order and
``bit_depth`` the depth the plane is enhanced at. Only the decoder SDK and numpy are used. The EL v1 vectors in
vectors/v1/ are frozen (nothing writes v1 any more): they check that v1 files keep decoding.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

import mtvir_decoder as m

OUT = Path(__file__).resolve().parent / "vectors"
TOLERANCE = {"max_abs_diff": 1, "max_fraction_differing": 0.01}


def params(arch: m.Architecture, seed: int, levels: int = 12, gain: float = 2.0) -> m.Params:
    rng = np.random.default_rng(seed)
    p = m.Params.zeros(arch)
    p.weights = [rng.normal(0, levels, l.weight_shape).round().astype(np.int32) for l in arch.layers]
    p.biases = [rng.normal(0, 0.02, l.cout).astype(np.float32) for l in arch.layers]
    p.scale = np.array([np.sqrt(2.0 / (l.cin * l.kernel ** 2)) * arch.quant_scale / levels for l in arch.layers],
                       np.float32)
    p.scale[-1] *= gain
    p.shift = rng.normal(0, 1e-3, len(arch.layers)).astype(np.float32)
    return p


def nudged(p: m.Params, seed: int) -> m.Params:
    rng = np.random.default_rng(seed)
    w = [x.copy() for x in p.weights]
    for _ in range(200):
        i = rng.integers(len(w))
        w[i].flat[rng.integers(w[i].size)] += rng.choice([-1, 1])
    return m.Params(w, [b + rng.normal(0, 2e-3, b.shape).astype(np.float32) for b in p.biases],
                    (p.scale * (1 + rng.normal(0, 2e-3, p.scale.shape))).astype(np.float32), p.shift.copy())


def picture(h: int, w: int, seed: int, peak: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 4.0) + 0.1 * ((xx // 8 + yy // 8) % 2)
    img += rng.normal(0, 0.03, (h, w))
    return np.clip(np.rint(img * peak), 0, peak).astype(np.uint8 if peak == 255 else np.uint16)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    arch = m.sefcnn()
    ref = m.Reference(arch, params(arch, 11))
    (OUT / "reference_vec.mtvir").write_bytes(ref.to_bytes())
    small = m.sefcnn(channels=8, stages=1, convs_per_stage=2, window=5)
    biases_only = nudged(ref.params, 4)
    biases_only.weights = ref.params.weights
    vectors = {  # name: (EL bytes, reference, [(frame index, bit depth)])
        "v2_residue": (m.write(arch, [(0, 1, nudged(ref.params, 1), m.Coding())], ref, 48, 40, 8, 1), ref,
                       [(0, 8)]),
        "v2_groups_10bit": (m.write(arch, [(0, 2, nudged(ref.params, 2), m.Coding(-11, -9, -11)),
                                           (3, 1, ref.params, m.Coding())], ref, 33, 21, 10, 5), ref,
                            [(0, 10), (2, 10), (3, 10)]),
        "v2_self_contained": (m.write(small, [(0, 1, params(small, 3), m.Coding())], None, 0, 0, 8, 0), None,
                              [(0, 8)]),
        "v2_biases_only": (m.write(arch, [(0, 4, biases_only, m.Coding(-12, -10, -12))], ref, 40, 24, 8, 4), ref,
                           [(1, 8)]),
        "v2_lanes_any_depth": (m.write(arch, [(2, 3, nudged(ref.params, 5),
                                               m.Coding(-10, None, -11, shared_histogram=False, lanes=5))],
                                       ref, 0, 0, 0, 0, inline_descriptor=True), ref, [(2, 8), (4, 12)]),
    }
    manifest = {"tolerance": TOLERANCE, "vectors": []}
    for name, (data, reference, frames) in vectors.items():
        (OUT / f"{name}.mtvir").write_bytes(data)
        el = m.read(data, reference)
        enh = m.Enhancer(data, reference=reference, providers=["CPUExecutionProvider"])
        h, w = (el.height or 36, el.width or 44)
        entry = {"file": f"{name}.mtvir", "reference": "reference_vec.mtvir" if reference else None,
                 "groups": [{"first_frame": g.first_frame, "frame_count": g.frame_count,
                             "params_sha256": hashlib.sha256(g.params.hash_bytes()).hexdigest()}
                            for g in el.groups], "frames": []}
        for index, depth in frames:
            x = picture(h, w, index + 7, (1 << depth) - 1)
            y = enh.enhance(x, index, bit_depth=depth)
            np.save(OUT / f"{name}_f{index}_in.npy", x)
            np.save(OUT / f"{name}_f{index}_out.npy", y)
            entry["frames"].append({"frame_index": index, "bit_depth": depth, "input": f"{name}_f{index}_in.npy",
                                    "expected": f"{name}_f{index}_out.npy"})
        manifest["vectors"].append(entry)
    (OUT / "vectors.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
