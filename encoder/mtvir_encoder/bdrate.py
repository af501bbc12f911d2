"""Bjontegaard delta rate with piecewise cubic (monotone Hermite, Fritsch-Carlson) interpolation, as the JVET
tools compute it: log10(rate) is interpolated as a function of PSNR for the anchor and the test, each curve is
integrated over the PSNR range both cover, and the mean log-rate difference becomes a percentage.
"""
from __future__ import annotations

import numpy as np


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, delta = np.diff(x), np.diff(y) / np.diff(x)
    if len(x) == 2:
        return np.full(2, delta[0])
    d = np.zeros_like(y)
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def edge(h0, h1, d0, d1):  # the shape-preserving three-point end slope
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if np.sign(s) != np.sign(d0):
            return 0.0
        if np.sign(d0) != np.sign(d1) and abs(s) > abs(3 * d0):
            return 3 * d0
        return s

    d[0] = edge(h[0], h[1], delta[0], delta[1])
    d[-1] = edge(h[-1], h[-2], delta[-1], delta[-2])
    return d


def pchip(x, y):
    """The monotone piecewise cubic through (x, y), x increasing, as a vectorised function."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = _slopes(x, y)

    def f(t):
        t = np.asarray(t, np.float64)
        k = np.clip(np.searchsorted(x, t) - 1, 0, len(x) - 2)
        h = x[k + 1] - x[k]
        s = (t - x[k]) / h
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        return h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]

    return f


def _integral(f, knots: np.ndarray, lo: float, hi: float) -> float:
    """Exact for a piecewise cubic: Simpson's rule on every piece between knots."""
    edges = np.unique(np.concatenate([[lo, hi], knots[(knots > lo) & (knots < hi)]]))
    a, b = edges[:-1], edges[1:]
    return float(np.sum((b - a) / 6 * (f(a) + 4 * f((a + b) / 2) + f(b))))


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test) -> float:
    """Average rate difference (%) of test against anchor at equal PSNR; negative means the test saves bits."""
    curves = []
    for rate, psnr in ((rate_anchor, psnr_anchor), (rate_test, psnr_test)):
        rate, psnr = np.asarray(rate, np.float64), np.asarray(psnr, np.float64)
        if len(rate) < 2 or len(rate) != len(psnr) or np.any(rate <= 0):
            raise ValueError("BD-rate needs at least two points of positive rate per curve")
        order = np.argsort(psnr)
        if np.any(np.diff(psnr[order]) <= 0):
            raise ValueError("BD-rate needs distinct PSNR values per curve")
        curves.append((psnr[order], np.log10(rate[order])))
    lo = max(curves[0][0][0], curves[1][0][0])
    hi = min(curves[0][0][-1], curves[1][0][-1])
    if hi <= lo:
        raise ValueError("the two curves do not overlap in PSNR")
    (xa, ya), (xt, yt) = curves
    mean_diff = (_integral(pchip(xt, yt), xt, lo, hi) - _integral(pchip(xa, ya), xa, lo, hi)) / (hi - lo)
    return float((10**mean_diff - 1) * 100)
