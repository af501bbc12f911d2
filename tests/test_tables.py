"""The BD-rate against the bjontegaard package, and the plots' arithmetic: pure functions of the encoder's
package that need neither torch nor a clip."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from mtvir_encoder import bdrate


@pytest.mark.parametrize("seed", range(8))
def test_bd_rate_matches_the_bjontegaard_package(seed):
    bjontegaard = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(seed)
    n = 4 + seed % 3
    rate = np.sort(rng.uniform(20, 2000, n))
    psnr = 28 + np.cumsum(rng.uniform(1.0, 4.0, n))  # steps > 2 x the noise below: both curves stay monotone
    rate2, psnr2 = rate * rng.uniform(0.85, 1.1, n), psnr + rng.uniform(-0.2, 0.45, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = bjontegaard.bd_rate(rate, psnr, rate2, psnr2, method="pchip")
    assert bdrate.bd_rate(rate, psnr, rate2, psnr2) == pytest.approx(expected, abs=1e-6)


def test_bd_rate_on_known_curves():
    rate, psnr = np.array([100, 200, 400, 800.0]), np.array([30, 33, 36, 39.0])
    assert bdrate.bd_rate(rate, psnr, rate, psnr) == pytest.approx(0, abs=1e-12)
    assert bdrate.bd_rate(rate, psnr, rate / 2, psnr) == pytest.approx(-50, abs=1e-9)
    assert bdrate.bd_rate(rate, psnr, rate * 1.1, psnr) == pytest.approx(10, abs=1e-9)
    with pytest.raises(ValueError):
        bdrate.bd_rate(rate, psnr, rate, psnr + 20)  # no overlap


def test_plots_split_the_families_of_adapt_auto():
    """J against steps: one line per learning family (each from the reference at step 0), not their minimum."""
    from mtvir_encoder import plots

    def cand(name, step, J):
        return {"name": name, "step": step, "J": J, "bytes": 100 * max(step, 0), "delta_psnr": 0.0}
    group = {"frame_count": 4, "candidates": [
        cand("no EL", -1, 100.0), cand("reference", 0, 90.0), cand("bias_affine: step 1 2^-11", 1, 80.0),
        cand("all: step 1 2^-11", 1, 70.0), cand("all: step 1 2^-9", 1, 75.0), cand("ablation: no RUO", 1, 60.0)]}
    row = {"frames": 4, "groups": [group]}
    assert plots._families(row) == ["bias_affine", "all"]
    assert {s: v["J"] for s, v in plots._per_step(row, "bias_affine").items()} == {0: 90.0, 1: 80.0}
    assert {s: v["J"] for s, v in plots._per_step(row, "all").items()} == {0: 90.0, 1: 70.0}
    single = {"frames": 4, "groups": [{"frame_count": 4, "candidates": [cand("no EL", -1, 1.0),
                                                                      cand("step 1 2^-11", 1, 0.5)]}]}
    assert plots._families(single) == [None] and plots._per_step(single)[1]["J"] == 0.5


def test_plots_hold_a_group_that_stopped_learning_earlier():
    """Two segments, the second's learning stopped at step 1: at step 2 it still counts, with its step-1 figures
    (summing only the first would drop J by the second's share and plot a cliff)."""
    from mtvir_encoder import plots

    def cand(name, step, J, gain):
        return {"name": name, "step": step, "J": J, "bytes": 10 * max(step, 0), "delta_psnr": gain}
    long = {"frame_count": 3, "candidates": [cand("no EL", -1, 100.0, 0.0), cand("reference", 0, 90.0, 0.1),
                                             cand("step 1", 1, 80.0, 0.2), cand("step 2", 2, 70.0, 0.3)]}
    short = {"frame_count": 1, "candidates": [cand("no EL", -1, 100.0, 0.0), cand("reference", 0, 95.0, 0.1),
                                              cand("step 1", 1, 85.0, 0.4)]}
    steps = plots._per_step({"frames": 4, "groups": [long, short]})
    assert [steps[s]["J"] for s in (0, 1, 2)] == [185.0, 165.0, 155.0]
    # a winner measured on every frame counts with the sample's figures it was ranked by, as the others do
    long["candidates"][-1].update(J=60.0, delta_psnr=0.5, sample_J=70.0, sample_delta_psnr=0.3)
    assert plots._per_step({"frames": 4, "groups": [long, short]}) == steps
    assert steps[2]["dJ"] == 100 * (155.0 / 200.0 - 1) and steps[2]["bytes"] == 30
    assert abs(steps[2]["gain"] - (0.3 * 3 + 0.4) / 4) < 1e-12
