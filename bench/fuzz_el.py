"""Long-mode fuzzing of the EL reader: many more mutants than the tests run, the slowest case named, then a
tenth as many with the peak memory of each case traced (tracemalloc: numpy's buffers included; tracing slows the
pure-Python rANS decoder ten times or more, so time is measured in the first pass only).

    python bench/fuzz_el.py [--cases 100000] [--seconds 600] [--seed 0]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import el_fuzz  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.time()
    stats = el_fuzz.fuzz(a.cases, a.seed, seconds=a.seconds)
    wall = time.time() - t0
    print(stats.report())
    traced = el_fuzz.fuzz(max(1, stats.cases // 10), a.seed + 1, memory=True, seconds=a.seconds / 10)
    print("traced pass:", traced.report())
    stats.failures += traced.failures
    print(f"{stats.cases / wall:,.0f} cases/s over {wall:.0f} s; process peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; seeds: {len(el_fuzz.seeds())}, "
          f"mutators: {', '.join(el_fuzz.MUTATORS)}")
    for failure in stats.failures[:20]:
        print("CONTRACT BROKEN:", failure)
    return 1 if stats.failures or stats.slowest[0] >= 1.0 else 0


if __name__ == "__main__":
    sys.exit(main())
