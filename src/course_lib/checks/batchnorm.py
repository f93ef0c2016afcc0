"""Check of notebook 03's ``BatchNorm1d(num_features, alpha=0.9)`` (numpy, MyTorch's
convention). In training, over the batch (axis 0):

    NZ = (Z − μ) / √(σ² + eps),   BZ = BW ⊙ NZ + Bb,

with the batch mean μ, the biased batch variance σ² (÷N) and ``eps = 1e-8``, and
``running = alpha·running + (1 − alpha)·batch statistic``; ``eval=True`` uses
``running_M``, ``running_V`` and updates nothing. ``BW``, ``Bb``, ``running_M``,
``running_V`` are 1×C; ``backward(dLdBZ)`` stores ``dLdBW``, ``dLdBb`` and returns
``dLdZ``. One training batch has a feature whose variance is close to eps, where eps
slips show. The oracle is ``torch.nn.functional.batch_norm`` with autograd in float64.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ._arrays import quiet, shape_text as _shape
from ._harness import guarded, passed
from ._layer_harness import batch_note, call_quiet, compare_grad, compare_layer, layer_attr, make_layer, tensor, to_numpy

__all__ = ["check_batchnorm", "BN_EPS"]

#: The epsilon of MyTorch's BatchNorm1d.
BN_EPS = 1e-8


def _bn_train_oracle(Z, BW, Bb, M, V, alpha, G):
    Zt, BWt, Bbt = tensor(Z), tensor(BW), tensor(Bb)
    BZ = F.batch_norm(Zt, None, None, BWt.reshape(-1), Bbt.reshape(-1), training=True, eps=BN_EPS)
    (BZ * tensor(G, False)).sum().backward()
    with torch.no_grad():
        mean = Zt.mean(dim=0, keepdim=True)
        var = Zt.var(dim=0, unbiased=False, keepdim=True)
    M_new = alpha * M + (1 - alpha) * mean.numpy()
    V_new = alpha * V + (1 - alpha) * var.numpy()
    return to_numpy(BZ), to_numpy(Zt.grad), to_numpy(BWt.grad), to_numpy(Bbt.grad), M_new, V_new


def _bn_backward(dNZ: np.ndarray, Z: np.ndarray, v_half: np.ndarray, v_three_halves: np.ndarray) -> np.ndarray:
    """dL/dZ of batch norm by the handout's equations, with (v_half)^(−1/2) where
    (σ² + eps)^(−1/2) belongs and (v_three_halves)^(−3/2) in dL/dσ² (to predict an eps slip)."""
    n = Z.shape[0]
    D = Z - Z.mean(axis=0, keepdims=True)
    inv = v_half ** -0.5
    dV = -0.5 * np.sum(dNZ * D, axis=0, keepdims=True) * v_three_halves ** -1.5
    dM = -np.sum(dNZ, axis=0, keepdims=True) * inv - 2 / n * dV * np.sum(D, axis=0, keepdims=True)
    return dNZ * inv + dV * 2 * D / n + dM / n


def _bn_eval_oracle(Z, BW, Bb, M, V):
    out = F.batch_norm(tensor(Z, False), torch.tensor(M.reshape(-1)), torch.tensor(V.reshape(-1)),
                       torch.tensor(BW.reshape(-1)), torch.tensor(Bb.reshape(-1)), training=False, eps=BN_EPS)
    return to_numpy(out)


@guarded("BatchNorm1d")
def check_batchnorm(BatchNorm1d: type, seed: int = 0, hard: bool = False) -> None:
    """``BatchNorm1d(num_features, alpha)``: training forward and backward, the
    running statistics, and the eval forward, against
    ``torch.nn.functional.batch_norm`` and autograd (eps = 1e-8, biased
    batch variance; running statistics as MyTorch: ``alpha·old + (1 − alpha)·new``)."""
    rng = np.random.default_rng(seed + 900)
    C = int(rng.integers(2, 6))
    alpha = 0.9 if not hard else round(float(rng.uniform(0.6, 0.95)), 2)
    title = "BatchNorm1d"
    bn = make_layer(title, BatchNorm1d, C, alpha=alpha)
    init = f"after BatchNorm1d({C}, alpha={alpha})"
    for name, value, what in (("BW", np.ones((1, C)), "ones"), ("Bb", np.zeros((1, C)), "zeros"),
                              ("running_M", np.zeros((1, C)), "zeros"), ("running_V", np.ones((1, C)), "ones")):
        got = layer_attr(f"{title}.__init__", bn, name, init + ",")
        compare_layer(f"{title}.__init__", init, name, got, value,
                      [(value.reshape(-1), f"Keep {name} as a 1 × C row: np.{what}((1, num_features)).")])
    M, V = np.zeros((1, C)), np.ones((1, C))
    BW = np.round(rng.uniform(0.5, 1.5, size=(1, C)), 3)
    Bb = np.round(rng.normal(size=(1, C)), 3)
    bn.BW, bn.Bb = BW.copy(), Bb.copy()

    # the third batch has one feature whose batch variance is close to eps: there eps matters
    sizes = [(int(rng.integers(4, 8)), False), (2, False), (6, True)] + ([(int(rng.integers(20, 40)), False)]
                                                                       if hard else [])
    noted: set[str] = set()
    for step, (n, tiny) in enumerate(sizes, start=1):
        Z = np.round(rng.normal(size=(n, C)) * rng.uniform(0.5, 3, size=(1, C)) + rng.normal(0, 3, size=(1, C)), 3)
        G = np.round(rng.normal(size=(n, C)), 3)
        tiny_col = int(rng.integers(0, C)) if tiny else -1
        if tiny:
            Z[:, tiny_col] = 1e-4 * rng.permutation(np.arange(-2.0, 4.0))  # variance 2.9e-8, eps = 1e-8
        BZ_w, dZ_w, dBW_w, dBb_w, M_w, V_w = _bn_train_oracle(Z, BW, Bb, M, V, alpha, G)
        mean, var = Z.mean(axis=0, keepdims=True), Z.var(axis=0, keepdims=True)
        uvar = Z.var(axis=0, ddof=1, keepdims=True)
        NZ = (Z - mean) / np.sqrt(var + BN_EPS)
        where = f"for a training batch Z of shape {_shape(Z.shape)} (training step {step}, seed {seed})"
        if tiny:
            where = (f"for a training batch Z of shape {_shape(Z.shape)} whose column {tiny_col} varies by "
                     f"only ±2e-4 (batch variance {float(var[0, tiny_col]):.3g}, close to eps = {BN_EPS:g}) "
                     f"(training step {step}, seed {seed})")

        def eps_note(idx, tiny_col=tiny_col, var=var, where="σ² + eps wherever the variance appears"):
            """The worst entry's note where eps decides the right value."""
            if len(idx) != 2 or idx[1] != tiny_col:
                return ""
            return (f"in column {tiny_col}, whose batch variance {float(var[0, tiny_col]):.3g} is close to "
                    f"eps = {BN_EPS:g}: there eps matters, so write {where}")

        def eps_note_back(idx, n=n):
            if n == 2:
                return ("with batch size 2 the normalised batch NZ is ±1 whatever Z, so the right dLdZ is tiny "
                        "and comes from eps alone: eps must appear as σ² + eps wherever the variance does")
            return eps_note(idx)

        with quiet():
            eps_mistakes: list[tuple[Any, str]] = [
                (BW * (Z - mean) / np.sqrt(var + 1e-5) + Bb,
                 "eps is 1e-5 (PyTorch's default); here eps = self.eps = 1e-8."),
            ]
            if tiny:
                eps_mistakes.append((BW * (Z - mean) / np.sqrt(var) + Bb,
                                     "eps is missing: NZ = (Z − μ) / √(σ² + eps), with eps = self.eps = 1e-8."))
        BZ = call_quiet(f"{title}.forward", f"{where}, forward(Z)", bn.forward, Z.copy())
        compare_layer(f"{title}.forward", where, "the returned BZ", BZ, BZ_w, [*eps_mistakes,
            (BW * (Z - mean) / np.sqrt(uvar + BN_EPS) + Bb,
             "The variance is unbiased (÷ (N − 1)); batch norm uses the batch variance ÷ N (np.var's "
             "default, ddof=0)."),
            (NZ, "The scale and shift are missing: BZ = BW ⊙ NZ + Bb."),
            (BW * (Z - M) / np.sqrt(V + BN_EPS) + Bb,
             "In training (eval=False) normalise with the BATCH mean and variance, not the running ones."),
            (BW * (Z - Z.mean(axis=1, keepdims=True)) / np.sqrt(Z.var(axis=1, keepdims=True) + BN_EPS) + Bb,
             "The statistics are taken over the features (axis=1); take them over the batch (axis=0)."),
            (BW * (Z - mean) / (var + BN_EPS) + Bb, "Divide by the standard deviation √(σ² + eps), not by σ² + eps."),
        ], entry=(lambda idx: eps_note(idx, where="NZ = (Z − μ) / √(σ² + eps)")) if tiny else None)
        for name, got_name, want, old, stat, ustat in (
            ("running_M", "running_M", M_w, M, mean, None),
            ("running_V", "running_V", V_w, V, var, uvar),
        ):
            got = layer_attr(f"{title}.forward", bn, got_name, f"{where}, after forward(Z)")
            mistakes = [
                (old, f"{name} did not change: in training, forward updates "
                      f"{name} = alpha · {name} + (1 − alpha) · the batch's {'mean' if name == 'running_M' else 'variance'}."),
                ((1 - alpha) * old + alpha * stat, "alpha and 1 − alpha are swapped: "
                                                   f"{name} = alpha · {name} + (1 − alpha) · batch statistic."),
                (stat, f"{name} is replaced by the batch statistic; blend it: "
                       f"{name} = alpha · {name} + (1 − alpha) · batch statistic."),
            ]
            if ustat is not None:
                mistakes.append((alpha * old + (1 - alpha) * ustat,
                                 "running_V is updated with the unbiased variance (÷ (N − 1)); MyTorch "
                                 "uses the batch variance σ² (÷ N)."))
            compare_layer(f"{title}.forward", f"{where}, after forward(Z)", name, got, want, mistakes)
        M, V = M_w, V_w

        bwhere = f"{where}, after forward(Z) and backward(dLdBZ)"
        dZ = call_quiet(f"{title}.backward", f"{where}, backward(dLdBZ)", bn.backward, G.copy())
        dBW = layer_attr(f"{title}.backward", bn, "dLdBW", bwhere + ",")
        dBb = layer_attr(f"{title}.backward", bn, "dLdBb", bwhere + ",")
        # a (C,) gradient gives BW − lr · dLdBW the same update: accepted with a note
        compare_grad(f"{title}.backward", bwhere, "dLdBW", dBW, dBW_w, "BW", noted, [
            (G.sum(axis=0, keepdims=True), "dLdBW and dLdBb look swapped: dLdBW = Σ_i dLdBZ ⊙ NZ, dLdBb = Σ_i dLdBZ."),
            (G * NZ, "dLdBW is not summed over the batch: sum over axis=0 with keepdims=True (shape 1 × C)."),
            ((G * NZ).mean(axis=0, keepdims=True), "dLdBW is averaged; it is the SUM over the batch."),
        ])
        compare_grad(f"{title}.backward", bwhere, "dLdBb", dBb, dBb_w, "Bb", noted, [
            ((G * NZ).sum(axis=0, keepdims=True), "dLdBW and dLdBb look swapped: dLdBW = Σ_i dLdBZ ⊙ NZ, dLdBb = Σ_i dLdBZ."),
            (G, "dLdBb is not summed over the batch: sum over axis=0 with keepdims=True (shape 1 × C)."),
            (G.mean(axis=0, keepdims=True), "dLdBb is averaged; it is the SUM over the batch."),
        ])
        dNZ = G * BW
        with quiet():  # eps slips: invisible unless the variance is near eps (or N = 2)
            eps_mistakes = [
                (_bn_backward(dNZ, Z, var + BN_EPS, var - BN_EPS),
                 "dL/dσ² uses (σ² − eps)^(−3/2); it is (σ² + eps)^(−3/2), the derivative of "
                 "(σ² + eps)^(−1/2) (+ eps, as in forward)."),
                (_bn_backward(dNZ, Z, var + BN_EPS, var),
                 "eps is missing in dL/dσ²: it is −½ Σ dL/dNZ ⊙ (Z − μ) · (σ² + eps)^(−3/2)."),
                (_bn_backward(dNZ, Z, var, var),
                 "eps is missing: backward needs (σ² + eps)^(−1/2) and (σ² + eps)^(−3/2) (and forward "
                 "√(σ² + eps)), with eps = self.eps = 1e-8."),
            ]
        compare_layer(f"{title}.backward", bwhere, "the returned dLdZ", dZ, dZ_w, [*eps_mistakes,
            (dNZ / np.sqrt(var + BN_EPS),
             "Only the direct path is there: Z also moves the batch mean and variance, so dLdZ has "
             "two more terms (through dL/dσ² and dL/dμ)."),
            (G / np.sqrt(var + BN_EPS) - (G / np.sqrt(var + BN_EPS)).mean(axis=0, keepdims=True)
             - NZ * (G * NZ).mean(axis=0, keepdims=True) / np.sqrt(var + BN_EPS),
             "BW is missing: dL/dNZ = dLdBZ ⊙ BW."),
            ((dNZ - dNZ.mean(axis=0, keepdims=True) - NZ * (dNZ * NZ).mean(axis=0, keepdims=True))
             / np.sqrt(uvar + BN_EPS), "The unbiased variance (÷ (N − 1)) is used; use σ² ÷ N."),
        ], entry=eps_note_back if tiny or n == 2 else None)

    # eval: running statistics, nothing updated
    evals = [1, int(rng.integers(3, 6))] if not hard else [1, int(rng.integers(3, 6)), 2]
    for n in evals:
        Z = np.round(rng.normal(size=(n, C)) * 2 + 1, 3)
        want = _bn_eval_oracle(Z, BW, Bb, M, V)
        where = (f"for Z of shape {_shape(Z.shape)}{batch_note(n)} with eval=True, after "
                 f"{len(sizes)} training batches (seed {seed})")
        out = call_quiet(f"{title}.forward", f"{where}, forward(Z, eval=True)", bn.forward, Z.copy(), eval=True)
        mistakes = []
        # with batch size 1 the batch statistics give BZ = Bb exactly
        mistakes.append((BW * (Z - Z.mean(axis=0, keepdims=True)) / np.sqrt(Z.var(axis=0, keepdims=True) + BN_EPS) + Bb,
                         "With eval=True normalise with running_M and running_V, not the batch's "
                         "own mean and variance."))
        mistakes.append(((Z - M) / np.sqrt(V + BN_EPS), "The scale and shift are missing in eval: BZ = BW ⊙ NZ + Bb."))
        mistakes.append((BW * (Z - M) / (V + BN_EPS) + Bb, "Divide by √(running_V + eps), not by running_V + eps."))
        compare_layer(f"{title}.forward", where, "the returned BZ", out, want, mistakes)
        for name, old in (("running_M", M), ("running_V", V)):
            got = layer_attr(f"{title}.forward", bn, name, f"{where}, after forward(Z, eval=True)")
            compare_layer(f"{title}.forward", f"{where}, after forward(Z, eval=True)", name, got, old,
                          [(np.asarray(got), f"{name} changed in eval mode: update the running statistics "
                                        f"only when eval=False.")] if np.shape(got) == old.shape else [])
    passed(title, f"{len(sizes)} training batches (forward, backward, running statistics) and "
                  f"{len(evals)} eval batches including batch size 1; match torch.nn.functional.batch_norm")
