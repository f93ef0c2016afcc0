"""Hypothesis strategies shared by the property tests (minitorch-style: one home for generated inputs).

Numbers are rounded to a few decimals: inputs a person could type, so a failure prints readably
and a shrunk example is a small, exact case.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def numbers(lo: float = -3.0, hi: float = 3.0, places: int = 2) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: round(x, places))


@st.composite
def arrays(draw, rows: int, cols: int, lo: float = -3.0, hi: float = 3.0, places: int = 2) -> np.ndarray:
    return np.array([[draw(numbers(lo, hi, places)) for _ in range(cols)] for _ in range(rows)])


@st.composite
def relu_nets(draw, max_depth: int = 3, max_width: int = 4):
    """A ReLU network from R to R as (W, b) pairs: Linear, ReLU, ..., ReLU, Linear."""
    depth = draw(st.integers(1, max_depth))
    widths = [1] + [draw(st.integers(1, max_width)) for _ in range(depth)] + [1]
    return [(draw(arrays(widths[k + 1], widths[k], -2.0, 2.0)), draw(arrays(1, widths[k + 1], -1.0, 1.0))[0])
            for k in range(depth + 1)]


@st.composite
def batches(draw, max_rows: int = 6, max_cols: int = 5, min_cols: int = 1):
    """``(N, C)`` with N ≥ 1 and C ≥ ``min_cols``."""
    return draw(st.integers(1, max_rows)), draw(st.integers(min_cols, max_cols))


@st.composite
def logits_and_targets(draw):
    """Logits (some large, up to ±1000) and target probabilities (rows of a distribution)."""
    n, c = draw(batches(min_cols=2))
    scale = draw(st.sampled_from([1.0, 10.0, 1000.0]))
    A = draw(arrays(n, c)) * scale
    raw = draw(arrays(n, c, 0.0, 1.0)) + 1e-3
    return A, raw / raw.sum(axis=1, keepdims=True)


@st.composite
def probabilities_and_labels(draw):
    """Probabilities in (0, 1) (some within 1e-6 of the ends) and targets in [0, 1]."""
    n, c = draw(batches())
    A = np.clip(draw(arrays(n, c, 0.0, 1.0, places=6)), 1e-6, 1 - 1e-6)
    return A, draw(arrays(n, c, 0.0, 1.0))
