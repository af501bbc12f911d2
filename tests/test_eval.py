"""Evaluation: its tables, a small real mtvir-eval run, its cache, its outputs (the BD-rate itself and the plots'
arithmetic, which need no torch, are in test_tables.py)."""
from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("torch")

from mtvir_encoder import evaluate  # noqa: E402
from mtvir_encoder.data import carphone  # noqa: E402
from mtvir_encoder.online import OnlineConfig  # noqa: E402


def _row(qp, bl_bits, psnr_bl, el_bits, psnr_el, reference_psnr):
    return {"clip": "c", "config": "ra", "qp": qp, "bl_bits": bl_bits, "el_bits": el_bits, "psnr_y_bl": psnr_bl,
            "psnr_y_el": psnr_el, "yuv_psnr_bl": psnr_bl, "yuv_psnr_el": psnr_el,
            "variants": {"reference": {"el_bits": 552, "psnr_y": reference_psnr}}}


def test_bd_tables_separate_the_els_bytes_and_the_online_steps_share():
    rows = [_row(q, 100000 * 2 ** i, 30 + 3 * i, 800, 30.4 + 3 * i, 30.2 + 3 * i) for i, q in enumerate((37, 32, 27))]
    bd = evaluate.bd_table(rows)[0]
    assert bd["bd_rate_y_el_free"] < bd["bd_rate_y"]  # the bytes cost something
    free = evaluate.bd_table([{**r, "el_bits": 0} for r in rows])[0]
    assert free["bd_rate_y"] == pytest.approx(free["bd_rate_y_el_free"]) == pytest.approx(bd["bd_rate_y_el_free"])
    ab = evaluate.ablation_table(rows)[0]
    assert ab["online step"] == pytest.approx(ab["MTVIR (RUO choice)"] - ab["reference"])
    assert ab["reference"] < 0 and ab["online step"] < 0  # both gain here: 0.2 dB each, the EL's bytes aside
    text = evaluate.markdown({"machine": "m", "points": [], "bd_rate": [bd], "ablations": [ab]})
    assert "bytes left out" in text and "from the online step" in text


def test_small_evaluation_end_to_end_and_cache(tmp_path):
    cfg = evaluate.EvalConfig(configs=("ra",), qps=(32, 37), frames=4,
                              online=OnlineConfig(iterations=2, snapshot_every=1, batch=4), ablations=True)
    logs = []
    s = evaluate.evaluate([carphone()], tmp_path, cfg, progress=False, log=logs.append)
    assert not any("cached" in line for line in logs)
    assert len(s["points"]) == 2 and s["bd_rate"][0]["bd_rate_y"] is not None
    for p in s["points"]:
        for g in p["groups"]:
            j = {c["name"]: c["J"] for c in g["candidates"]}
            assert j[g["chosen"]] <= j["no EL"]  # RUO never does worse than sending no EL
            assert {"reference", "ablation: float32", "ablation: no residue", "ablation: no RUO"} <= set(j)
        assert p["variants"]["ablation: float32"]["el_bits"] == 8 * 4 * 40561
        assert p["psnr_y_el"] >= p["psnr_y_bl"] or p["chosen"] == ["no EL"]
        assert p["lagrangian"] > 0 and "RD slope" in p["lagrangian_source"]  # J's lambda, as the export measured it
    assert s["ablations"][0]["reference"] is not None
    bd = s["bd_rate"][0]  # colour: each plane's BD-rate and PSNR-YUV's, every byte counted; the references alone
    assert {"bd_rate_u", "bd_rate_v", "bd_rate_yuv", "bd_rate_yuv_reference"} <= set(bd)
    for p in s["points"]:
        assert set(p["chroma"]) == {"uv"} and p["psnr_u_el"] >= p["psnr_u_bl"] - 0.01  # one model for U and V
        yuv = (6 * p["psnr_y_el"] + p["psnr_u_el"] + p["psnr_v_el"]) / 8  # the mean of per-frame figures: close
        assert abs(yuv - p["yuv_psnr_el"]) < 0.05
        assert "yuv_psnr" in p["variants"]["reference"]
    assert "| U | V | YUV 6:1:1 |" in (tmp_path / "results.md").read_text()
    for name in ("results.json", "results.csv", "results.md", "carphone_pristine_x265_ra.png"):
        assert (tmp_path / name).stat().st_size > 0
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["qp"]) for r in rows] == [32, 37]
    assert json.loads((tmp_path / "results.json").read_text())["points"][0]["bl_bits"] == s["points"][0]["bl_bits"]

    logs.clear()
    again = evaluate.evaluate([carphone()], tmp_path, cfg, progress=False, log=logs.append)
    assert sum("cached" in line for line in logs) == 2  # a rerun reuses finished points
    assert again["bd_rate"] == s["bd_rate"]
    cfg.qps = (27, 32)  # a changed setting runs only the new point
    logs.clear()
    evaluate.evaluate([carphone()], tmp_path, cfg, progress=False, log=logs.append)
    assert sum("cached" in line for line in logs) == 1


def test_eval_command_line(tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", "import sys; from mtvir_encoder.cli import eval_main; "
                        "sys.exit(eval_main(sys.argv[1:]))", "carphone", "-o", str(tmp_path), "--config", "ai",
                        "--qps", "32,37", "--frames", "2", "--iterations", "2", "--snapshot-every", "1",
                        "--batch", "4", "--seconds", "1e-6", "--threads", "1", "-q"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "carphone_pristine AI: BD-rate Y" in r.stdout
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["settings"]["threads"] == 1 and summary["settings"]["online"]["seconds"] == 1e-6
    # out of time after its first step: one of the two iterations ran, and was a candidate
    assert [g["steps"] for p in summary["points"] for g in p["groups"]] == [1, 1]
    assert (tmp_path / "results.md").exists() and (tmp_path / "carphone_pristine_x265_ai.png").exists()
    bad = subprocess.run([sys.executable, "-c", "import sys; from mtvir_encoder.cli import eval_main; "
                          "sys.exit(eval_main(sys.argv[1:]))", str(tmp_path / "missing.mp4"), "-o", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "mtvir-eval: error: no such clip" in bad.stderr
