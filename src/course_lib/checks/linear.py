"""Check of notebook 03's ``Linear(in_features, out_features)``, a numpy layer in
MyTorch's convention (batches are rows):

    Z = A Wᵀ + 1 bᵀ,   dLdA = dLdZ W,   dLdW = dLdZᵀ A,   dLdb = dLdZᵀ 1,

with ``W`` of shape out×in and ``b`` a column out×1; ``backward(dLdZ)`` stores
``dLdW`` and ``dLdb``, SUMMED over the batch, and returns ``dLdA``. The oracle is
``torch.nn.functional.linear`` with autograd in float64. A ``dLdW`` of another shape
that gives the same update is accepted with a NOTE; a flat ``dLdb`` for the column
``b`` is not (it broadcasts differently).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch.nn.functional as F

from ._arrays import shape_text as _shape
from ._harness import CheckFailure, guarded
from ._layer_harness import batch_note, call_quiet, compare_grad, compare_layer, layer_attr, make_layer, tensor, to_numpy
from .partial import score

__all__ = ["check_linear"]


def _linear_cases(seed: int, hard: bool) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    i, o = (int(v) for v in rng.choice(np.arange(2, 8), size=2, replace=False))
    cases = [(1, i, o), (int(rng.integers(3, 7)), o, i)]
    if hard:
        k = int(rng.integers(3, 7))
        cases += [(int(rng.integers(2, 6)), k, k), (int(rng.integers(20, 40)), int(rng.integers(10, 30)),
                                                      int(rng.integers(5, 15)))]
    return cases


@guarded("Linear")
def check_linear(Linear: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``Linear(in_features, out_features)``: ``forward`` and ``backward`` (``dLdA``,
    ``dLdW``, ``dLdb``) against ``torch.nn.functional.linear`` and autograd. With
    ``points``, the forward and the backward of each shape earn their shares (:mod:`.partial`)."""
    rng = np.random.default_rng(seed + 100)
    cases = _linear_cases(seed, hard)
    noted: set[str] = set()

    def made(cin: int, cout: int) -> Any:
        layer = make_layer("Linear", Linear, cin, cout)
        init = f"after Linear({cin}, {cout})"
        W0 = layer_attr("Linear.__init__", layer, "W", init + ",")
        b0 = layer_attr("Linear.__init__", layer, "b", init + ",")
        if np.shape(W0) != (cout, cin):
            flipped = " It is transposed." if np.shape(W0) == (cin, cout) else ""
            raise CheckFailure(
                f"Linear.__init__: {init}, W has shape {_shape(np.shape(W0))} but should have shape "
                f"{_shape((cout, cin))} (out_features × in_features).{flipped}")
        b_shape = np.shape(b0)
        if b_shape != (cout, 1):
            raise CheckFailure(
                f"Linear.__init__: {init}, b has shape {_shape(b_shape)} but should have shape "
                f"{_shape((cout, 1))}: a column with one bias per output feature, as in MyTorch.")
        return layer

    def forward(n, cin, cout, W, b, A, where, want_Z, check=True) -> Any:
        layer = made(cin, cout)
        layer.W, layer.b = W.copy(), b.copy()
        Z = call_quiet("Linear.forward", f"{where}, forward(A)", layer.forward, A.copy())
        if check:
            compare_layer("Linear.forward", where, "Z", Z, want_Z, [
                (A @ W.T, "The bias is missing: Z = A · Wᵀ + 1 · bᵀ."),
                ((A @ W.T + b.T).T, "Z is transposed: it has one row per sample, Z = A · Wᵀ + 1 · bᵀ (N × out)."),
                (A @ W.T + b.T * n if n > 1 else None, "The bias is added N times."),
            ])
        return layer

    def backward(n, cin, cout, W, b, A, where, want_Z, G, want) -> None:
        layer = forward(n, cin, cout, W, b, A, where, want_Z, check=False)
        bwhere = f"{where}, after forward(A) and backward(dLdZ) with dLdZ of shape {_shape(G.shape)}"
        dLdA = call_quiet("Linear.backward", f"{where}, backward(dLdZ)", layer.backward, G.copy())
        compare_layer("Linear.backward", bwhere, "the returned dLdA", dLdA, want["A"], [
            ((G @ W).T, "dLdA is transposed: dLdA = dLdZ · W has the shape of A (N × in)."),
            (G @ W / n if n > 1 else None, "dLdA must not be divided by the batch size."),
        ])
        dLdW = layer_attr("Linear.backward", layer, "dLdW", f"{bwhere},")
        compare_grad("Linear.backward", bwhere, "dLdW", dLdW, want["W"], "W", noted, [
            (A.T @ G, "dLdW is transposed: dLdW = dLdZᵀ · A has the shape of W (out × in)."),
            (G.T @ A / n if n > 1 else None,
             "dLdW is averaged over the batch: MyTorch's dLdW is the SUM over the batch, dLdZᵀ · A "
             "(the loss does the averaging)."),
            (W, "dLdW equals W: store the gradient, not the weights."),
        ])
        dLdb = layer_attr("Linear.backward", layer, "dLdb", f"{bwhere},")
        compare_grad("Linear.backward", bwhere, "dLdb", dLdb, want["b"], "b", noted, [
            (G.sum(axis=0), "dLdb has the right numbers but must keep b's column shape (out × 1): "
                            "e.g. dLdZ.sum(axis=0).reshape(-1, 1), or dLdZᵀ · 1."),
            (G, "dLdb is not summed over the batch: dLdb = dLdZᵀ · 1, one number per output feature."),
            (G.T, "dLdb is not summed over the batch: dLdb = dLdZᵀ · 1, one number per output feature."),
            (G[:1].T if n > 1 else None, "dLdb uses only the first sample: sum dLdZ over ALL rows."),
            (G.mean(axis=0).reshape(-1, 1) if n > 1 else None,
             "dLdb is averaged over the batch: MyTorch's dLdb is the SUM over the batch."),
            (G.sum(axis=1).reshape(-1, 1) if n == cout else None,
             "dLdb sums over the features (axis=1): sum over the batch (axis=0) instead."),
        ])

    parts = []
    for n, cin, cout in cases:
        W = np.round(rng.normal(size=(cout, cin)), 3)
        b = np.round(rng.normal(size=(cout, 1)), 3)
        A = np.round(rng.normal(size=(n, cin)), 3)
        G = np.round(rng.normal(size=(n, cout)), 3)
        At, Wt, bt = tensor(A), tensor(W), tensor(b)
        Zt = F.linear(At, Wt, bt.reshape(-1))
        (Zt * tensor(G, False)).sum().backward()
        where = (f"for A of shape {_shape(A.shape)}{batch_note(n)}, W of shape {_shape(W.shape)} "
                 f"and b of shape {_shape(b.shape)} (seed {seed})")
        want = {"A": to_numpy(At.grad), "W": to_numpy(Wt.grad), "b": to_numpy(bt.grad)}
        parts += [(f"forward {where}", functools.partial(forward, n, cin, cout, W, b, A, where, to_numpy(Zt))),
                  (f"backward {where}", functools.partial(backward, n, cin, cout, W, b, A, where, to_numpy(Zt), G, want))]
    return score("Linear", parts, points,
                 f"{len(cases)} shapes including batch size 1; Z, dLdA, dLdW, dLdb match PyTorch autograd")
