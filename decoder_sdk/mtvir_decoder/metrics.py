"""PSNR as every MTVIR tool reports it, one definition for the encoder, mtvir-decode and mtvir-eval."""
from __future__ import annotations

import numpy as np

SSE_FLOOR = 1e-9  # identical frames give a large finite PSNR, so per-frame figures still average


def sse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_from_sse(sse_value, samples: int, peak: float):
    """Works on scalars and arrays of per-frame SSE."""
    return 10 * np.log10(peak * peak * samples / np.maximum(sse_value, SSE_FLOOR))


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    return float(psnr_from_sse(sse(a, b), a.size, peak))
