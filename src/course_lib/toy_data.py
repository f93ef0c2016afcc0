"""Two-dimensional toy problems for the scalar-engine MLP (notebook 03, part 1).

Plain Python lists of floats, so that they feed a network built from ``Value``
objects directly; labels are +1 and -1 (the sign a classifier should output).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["two_moons", "xor_points"]


def two_moons(n: int = 80, noise: float = 0.1, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """``n`` points on two interleaved half circles, with Gaussian ``noise``.

    Upper moon: (cos t, sin t), label +1; lower moon: (1 - cos t, 0.5 - sin t),
    label -1, for t uniform in [0, π]. Returns ``(X, y)``: ``X`` a list of
    ``[x1, x2]``, ``y`` a list of ±1.
    """
    if n < 2:
        raise ValueError(f"two_moons: n must be at least 2, got {n}")
    rng = np.random.default_rng(seed)
    n_up = n // 2
    t = rng.uniform(0.0, math.pi, size=n)
    up = np.arange(n) < n_up
    x1 = np.where(up, np.cos(t), 1.0 - np.cos(t))
    x2 = np.where(up, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x1, x2], axis=1) + rng.normal(0.0, noise, size=(n, 2))
    order = rng.permutation(n)
    X = [[round(float(a), 6), round(float(b), 6)] for a, b in pts[order]]
    y = [1 if u else -1 for u in up[order]]
    return X, y


def xor_points(n: int = 80, noise: float = 0.15, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """``n`` points around the four corners (±1, ±1); label +1 where x1·x2 > 0 (same signs), else -1."""
    if n < 4:
        raise ValueError(f"xor_points: n must be at least 4, got {n}")
    rng = np.random.default_rng(seed)
    corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    which = np.arange(n) % 4
    pts = corners[which] + rng.normal(0.0, noise, size=(n, 2))
    order = rng.permutation(n)
    X = [[round(float(a), 6), round(float(b), 6)] for a, b in pts[order]]
    y = [1 if which[i] < 2 else -1 for i in order]
    return X, y
