"""What `Enhancer.enhance` costs beyond the bare ONNX Runtime session, as a player calls it (uint8 plane in, uint8
out), interleaved round by round in one process so that the machine's noise falls on both alike, in an order
drawn afresh each round (the second of two calls in a fixed order ran about 1 % slower). The bare session
is the network on the float plane (what `bench/decoder_speed.py` times); `enhance` hands a plane that runs whole
to a session that divides the samples itself, then rounds the output to samples here.

    python bench/enhance_overhead.py [--tier light] [--size 1920x1080] [--rounds 75] [--repeats 3]

Prints the median of each and their ratio per repeat (the goal: within 5 %).
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np

import mtvir_decoder as m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tier", default="light", choices=["light", "full"])
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--rounds", type=int, default=75)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    ref = next(r for r in m.references.starting_points(a.tier) if r.name.endswith("qp37"))
    enh = m.Enhancer(m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref), reference=ref,
                     providers=["CPUExecutionProvider"])
    y = np.random.default_rng(0).integers(0, 256, (h, w), dtype=np.uint8)
    x = (y.astype(np.float32) / np.float32(255))[None, None]
    session = enh._session(0, 0, (h, w))

    def bare():
        session.run(None, {"luma": x})

    def player():
        enh.enhance(y)

    for fn in (bare, player):
        fn()
    print(f"{a.tier} tier QP 37 reference, {w}x{h} uint8, {a.rounds} interleaved rounds")
    order = random.Random(0)
    for _ in range(a.repeats):
        times = {bare: [], player: []}
        for _ in range(a.rounds):
            for fn in order.sample((bare, player), 2):
                t = time.perf_counter()
                fn()
                times[fn].append(time.perf_counter() - t)
        b, e = (float(np.median(times[fn])) * 1000 for fn in (bare, player))
        print(f"bare session {b:.2f} ms, Enhancer.enhance {e:.2f} ms: {e / b:.3f}x")


if __name__ == "__main__":
    main()
