"""Long-mode fuzzing of one-file videos (the EL in band): many mutants of a real one-file MP4 through
``Enhancer.from_video``, every tenth also through mtvir-decode's whole path; prints the outcomes, the slowest case
and the peak memory. Exits non-zero when a case ends in anything but success or an ``MtvirError``, or takes 1 s.

    python bench/fuzz_carriage.py [--cases 20000] [--seconds 600] [--seed 0]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import carriage_fuzz  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiered", action="store_true", help="the video carries a tiered EL (a light and a full tier)")
    p.add_argument("--av1", action="store_true", help="an AV1 BL (SVT-AV1), the EL in metadata OBUs")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        seed = carriage_fuzz.make_seed(Path(folder), tiered=a.tiered, codec="libsvtav1" if a.av1 else "libx265")
        t0 = time.time()
        stats = carriage_fuzz.fuzz(seed, a.cases, a.seed, seconds=a.seconds, decode_every=10)
        wall = time.time() - t0
    print(stats.report())
    print(f"{stats.cases / wall:,.1f} cases/s over {wall:.0f} s; process peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for failure in stats.failures[:20]:
        print("CONTRACT BROKEN:", failure)
    return 1 if stats.failures or stats.slowest[0] >= 1.0 else 0


if __name__ == "__main__":
    sys.exit(main())
