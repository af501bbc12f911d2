"""Shared fixtures: small real models and EL files built with the SDK's own writer."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import mtvir_decoder as m

ROOT = Path(__file__).resolve().parents[1]


def _make_vectors():
    spec = importlib.util.spec_from_file_location("make_vectors", ROOT / "schemas" / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_params(arch: m.Architecture, seed: int, levels: int = 12, gain: float = 1.0) -> m.Params:
    """A model whose correction is large: Kaiming-scaled integer weights, the tail scaled by ``gain``."""
    return _make_vectors().params(arch, seed, levels, gain)


def perturbed(p: m.Params, seed: int, changes: int = 300) -> m.Params:
    """An 'online' model: a few integer weights moved, biases and affine nudged."""
    rng = np.random.default_rng(seed)
    weights = [w.copy() for w in p.weights]
    for _ in range(changes):
        i = rng.integers(len(weights))
        weights[i].flat[rng.integers(weights[i].size)] += rng.choice([-2, -1, 1, 2])
    return m.Params(weights, [b + rng.normal(0, 1e-3, b.shape).astype(np.float32) for b in p.biases],
                    (p.scale * (1 + rng.normal(0, 1e-3, p.scale.shape))).astype(np.float32),
                    (p.shift + rng.normal(0, 1e-4, p.shift.shape)).astype(np.float32))


@pytest.fixture(scope="session")
def arch() -> m.Architecture:
    return m.sefcnn()


@pytest.fixture(scope="session")
def reference(arch) -> m.Reference:
    return m.Reference(arch, random_params(arch, 1), "test")


@pytest.fixture(scope="session")
def online_params(reference) -> m.Params:
    return perturbed(reference.params, 2)


@pytest.fixture(scope="session")
def el_bytes(arch, reference, online_params) -> bytes:
    return m.write(arch, [(0, 4, online_params, m.Coding()), (6, 2, reference.params, m.Coding())],
                   reference, 0, 0, 8, 10)


def frame(h: int, w: int, seed: int = 0, dtype=np.uint8, peak: int = 255) -> np.ndarray:
    """A smooth synthetic picture with edges and noise (so the filter has something to do)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + 0.15 * ((xx // 16 + yy // 16) % 2)
    img += rng.normal(0, 0.03, (h, w))
    return np.clip(np.rint(img * peak), 0, peak).astype(dtype)
