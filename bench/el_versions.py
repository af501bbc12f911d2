"""EL v2 against v1 on the same models: bytes and the time to open (parse, decode, rebuild) an EL.

v2 codes with integer models and a pure-Python rANS decoder; v1 used constriction's range coder (Rust). The
models: the shipped reference (40,561 parameters, every weight coded), a biases-and-affine EL like `make demo`'s
and an all-weights residue, both against the reference. v1 bytes come from the v1 coder run on the same
histograms and symbols (nothing writes v1 files any more; the stream is the only part that differs).

    python bench/el_versions.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import mtvir_decoder as m
from mtvir_decoder import entropy, entropy_v1, format as el_format, layout, model as el_model


def perturbed(p: m.Params, seed: int, changes: int, bias_sd: float) -> m.Params:
    rng = np.random.default_rng(seed)
    weights = [w.copy() for w in p.weights]
    for _ in range(changes):
        i = rng.integers(len(weights))
        weights[i].flat[rng.integers(weights[i].size)] += rng.choice([-1, 1])
    return m.Params(weights, [b + rng.normal(0, bias_sd, b.shape).astype(np.float32) for b in p.biases],
                    (p.scale * (1 + rng.normal(0, 1e-3, p.scale.shape))).astype(np.float32), p.shift.copy())


def coded_groups(payload: dict, arch: m.Architecture) -> tuple[list[entropy.Histogram], list[np.ndarray]]:
    """The histograms and decoded integer groups of a v2 payload (EL_v2.md, "Tensor groups and their order")."""
    hists = [entropy.Histogram.from_fields(h) for h in payload["histograms"]]
    fmodes = [(payload["modes"] >> s) & 3 for s in (2, 4, 6)]
    wmode = payload["modes"] & 3
    present = [i for i in range(len(arch.layers))
               if wmode == 2 or (wmode == 1 and payload["layer_mask"][i // 8] >> (i % 8) & 1)]
    sizes = [arch.layers[i].weight_count for i in present]
    if len(hists) - fmodes.count(el_model.DELTA) == 1 and sizes:
        sizes = [sum(sizes)]
    sizes += [n for n, mode in zip((arch.bias_count, len(arch.layers), len(arch.layers)), fmodes)
              if mode == el_model.DELTA]
    return hists, entropy.decode(hists, payload["coded"], sizes, payload["lane_count"])


def v1_bytes(data: bytes, arch: m.Architecture) -> int:
    """The size of the same EL in v1: the v1 coder's stream instead of v2's, and no lane count."""
    payload = el_format.parse(data)["models"][0]["payload"]
    hists, groups = coded_groups(payload, arch)
    old, new = len(entropy_v1.code(hists, groups)), len(payload["coded"])
    uvar = lambda n: len(layout.write_uvar(n))  # noqa: E731
    return len(data) - 1 - new - uvar(new) + old + uvar(old)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    ref = m.references.default()
    cases = {
        "reference (self-contained)": (ref.to_bytes(), None),
        "biases + affine (like the demo)": (m.write(ref.arch, [(0, 1, perturbed(ref.params, 1, 0, 3e-3),
                                                                 m.Coding())], ref), ref),
        "all weights, 3,000 changed": (m.write(ref.arch, [(0, 1, perturbed(ref.params, 2, 3000, 3e-3),
                                                             m.Coding())], ref), ref),
    }
    print(f"{'EL':34s} {'v2 bytes':>9s} {'v1 bytes':>9s} {'v2/v1':>7s} {'open v2':>9s}  symbols")
    for name, (data, reference) in cases.items():
        v1 = v1_bytes(data, ref.arch)
        symbols = sum(g.size for g in coded_groups(el_format.parse(data)["models"][0]["payload"], ref.arch)[1])
        t = timed(lambda: m.read(data, reference), a.repeat)
        print(f"{name:34s} {len(data):9,d} {v1:9,d} {len(data) / v1:7.4f} {1000 * t:7.1f} ms  {symbols:,}")
    v1_ref = (m.references.PACKAGE_DIR.parents[2] / "schemas" / "vectors" / "v1" / "reference_vec.mtvir")
    if v1_ref.exists():  # a source checkout: time a real v1 file beside its v2 twin
        old = v1_ref.read_bytes()
        new = m.Reference.from_bytes(old).to_bytes()
        t1, t2 = timed(lambda: m.read(old), a.repeat), timed(lambda: m.read(new), a.repeat)
        print(f"schemas/vectors reference, opened: v1 {1000 * t1:.1f} ms (constriction), v2 {1000 * t2:.1f} ms "
              f"(pure Python), ratio {t2 / t1:.2f}; {len(old):,} B -> {len(new):,} B")


if __name__ == "__main__":
    main()
