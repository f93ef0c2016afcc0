"""Checks for notebook 04, part 1: loss functions in numpy (MyTorch style).

A loss object has ``forward(A, Y)``, which returns the loss as one number,
and ``backward()``, which returns dL/dA with the shape of ``A``. The oracle is
``torch.nn.functional`` in float64 with autograd:

- ``MSELoss``: ``F.mse_loss`` (sum of squared errors / (N*C));
- ``CrossEntropyLoss``: ``F.cross_entropy`` of logits with target
  probabilities (softmax, then mean over the batch of -sum(Y log p));
- ``BCELoss``: ``F.binary_cross_entropy`` (mean over all N*C entries).

Shapes are random and include batch size 1; cross-entropy also gets logits of
±1000, BCE probabilities that are exactly 0 or 1. A wrong cross-entropy that
is a usual mistake is named: an eps inside the log (``log(p + eps)``, or p
clipped at eps), softmax over the batch or the whole matrix, the shift by
each column's maximum, a missing ``keepdims``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from ._arrays import as_scalar, compare, quiet
from ._harness import CheckFailure, call, fmt, guarded
from .partial import score

__all__ = ["check_mse", "check_cross_entropy", "check_bce"]


def _torch_loss(fn: Callable[..., torch.Tensor], A: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    a = torch.tensor(A, dtype=torch.float64, requires_grad=True)
    loss = fn(a, torch.tensor(Y, dtype=torch.float64))
    loss.backward()
    return float(loss.detach()), a.grad.numpy().copy()


def _instance(cls: Any, name: str) -> Any:
    if not isinstance(cls, type):
        raise CheckFailure(f"{name}: expected the class {name} itself, got a {type(cls).__name__}.")
    return call(f"{name}()", f"creating {name}()", cls)


def _run(cls: Any, name: str, A: np.ndarray, Y: np.ndarray, desc: str) -> tuple[float, Any]:
    """(loss, dLdA) from a fresh student object; inputs are copies."""
    obj = _instance(cls, name)
    got = call(f"{name}.forward", f"forward(A, Y) {desc}", obj.forward, A.copy(), Y.copy())
    loss = as_scalar(f"{name}.forward", f"the loss {desc}", got)
    grad = call(f"{name}.backward", f"backward() after forward(A, Y) {desc}", obj.backward)
    return loss, grad


def _check_value(name: str, desc: str, got: float, want: float, factors: list[tuple[float, str]],
                 nonfinite_hint: str = "", mistakes: list[tuple[Any, str]] | None = None) -> None:
    compare(f"{name}.forward", f"the loss {desc}", np.float64(got), np.float64(want),
            mistakes or (), factors=factors, nonfinite_hint=nonfinite_hint or "")


def _shapes(rng: np.random.Generator, hard: bool) -> list[tuple[int, int]]:
    shapes = [(1, 3), (4, 3), (5, 1)]
    shapes.append((int(rng.integers(2, 9)), int(rng.integers(2, 7))))
    if hard:
        shapes += [(1, 1), (16, 10), (int(rng.integers(2, 30)), int(rng.integers(2, 12)))]
    return shapes


# --------------------------------------------------------------------- MSE
@guarded("MSELoss")
def check_mse(MSELoss: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """MSELoss: forward = sum((A - Y)**2) / (N*C), backward = dL/dA. With ``points``, each
    shape earns its share (:mod:`.partial`)."""
    rng = np.random.default_rng(seed)
    drawn = [(N, C, rng.normal(size=(N, C)) * 2, rng.normal(size=(N, C))) for N, C in _shapes(rng, hard)]

    def case(N: int, C: int, A: np.ndarray, Y: np.ndarray) -> None:
        desc = f"with A, Y of shape ({N}, {C})"
        want, want_grad = _torch_loss(lambda a, y: F.mse_loss(a, y), A, Y)
        loss, grad = _run(MSELoss, "MSELoss", A, Y, desc)
        _check_value("MSELoss", desc, loss, want, [
            (float(C), "It is C times too large: divide by N*C (every entry), not only by N."),
            (float(N), "It is N times too large: divide by N*C, not only by C."),
            (float(N * C), "It is the sum of squared errors: divide by N*C."),
            (0.5, "It is half the right value: MSE here has no factor 1/2."),
        ])
        compare("MSELoss.backward", f"dL/dA {desc}", grad, want_grad,
                factors=[(0.5, "It is half the right value: the derivative of e**2 is 2*e."),
                         (float(C), "Divide by N*C in backward too, as in forward."),
                         (float(N), "Divide by N*C in backward too, as in forward."),
                         (float(N * C), "Divide by N*C in backward too, as in forward.")],
                mistakes=[(-want_grad, "The sign is flipped: dL/dA is 2*(A - Y)/(N*C).")])

    return score("MSELoss", [(f"A, Y of shape ({N}, {C})", functools.partial(case, *d)) for d in drawn
                             for N, C, _, _ in [d]], points, "forward and backward match torch, including batch size 1")


# ----------------------------------------------------------- cross-entropy
def _targets(rng: np.random.Generator, N: int, C: int, soft: bool) -> np.ndarray:
    if soft:
        t = rng.random((N, C)) + 0.05
        return t / t.sum(axis=1, keepdims=True)
    Y = np.zeros((N, C))
    Y[np.arange(N), rng.integers(0, C, size=N)] = 1.0
    return Y


#: eps a student may add inside the log (log(p + eps), or p clipped at eps), largest first.
LOG_EPS = (*(10.0 ** -k for k in range(3, 21)), float(np.finfo(float).eps), 1e-30, 1e-100)

_STABLE_CE = ("compute log-softmax directly: log p = (A − m) − log Σ_c exp(A − m), with m the row maximum "
              "(max over axis=1, keepdims=True); no eps needed.")


def _softmax(A: np.ndarray, axis: int | None) -> np.ndarray:
    """Softmax of ``A`` normalised along ``axis`` (None: over the whole matrix), shifted stably."""
    shifted = A - A.max(axis=axis, keepdims=True)
    E = np.exp(shifted)
    return E / E.sum(axis=axis, keepdims=True)


def _ce_mistakes(A: np.ndarray, Y: np.ndarray) -> tuple[list[tuple[Any, str]], list[tuple[Any, str]]]:
    """(loss, dL/dA) of the usual wrong cross-entropies for these logits and targets, with their hints:
    an eps inside the log, softmax over the wrong axis (or the whole batch), the maximum of the wrong axis."""
    N, C = A.shape
    loss: list[tuple[Any, str]] = []
    grad: list[tuple[Any, str]] = []
    with quiet():
        p = _softmax(A, 1)
        for eps in LOG_EPS:
            cap = -math.log(eps)
            hint = (f"Your loss matches −Σ Y log(softmax(A) + eps) / N with eps = {eps:g} (or p clipped at eps): "
                    f"the eps inside the log changes −log p wherever p is small and caps it at −log eps ≈ "
                    f"{cap:.1f} (for a logit 1000 below its row's maximum the right −log p is about 1000). "
                    f"Drop the eps and {_STABLE_CE}")
            for q in (p + eps, np.maximum(p, eps)):
                loss.append((np.float64(-(Y * np.log(q)).sum() / N), hint))
        axis_hint = ("It matches softmax normalised over the batch (axis=0, down each column); cross-entropy "
                     "takes softmax along each ROW: max and sum over axis=1 with keepdims=True.")
        whole_hint = ("It matches softmax normalised over the whole matrix (one sum over every entry); "
                      "normalise each ROW: max and sum over axis=1 with keepdims=True.")
        colmax_hint = ("It matches softmax whose shift is the maximum of each COLUMN (axis=0): subtract each "
                       "row's own maximum, A.max(axis=1, keepdims=True), then normalise each row.")
        colmax = np.exp(A - A.max(axis=0, keepdims=True))
        colmax = colmax / colmax.sum(axis=1, keepdims=True)
        wrong = [(_softmax(A, 0), axis_hint), (_softmax(A, None), whole_hint), (colmax, colmax_hint)]
        if N == C > 1:
            keep_hint = ("It matches a row maximum or row sum taken without keepdims=True: a shape (N,) array "
                         "lines up with the COLUMNS of A. Use A.max(axis=1, keepdims=True) and "
                         "E.sum(axis=1, keepdims=True).")
            E = np.exp(A - A.max(axis=1)[None, :])
            wrong.append((E / E.sum(axis=1, keepdims=True), keep_hint))
            E = np.exp(A - A.max(axis=1, keepdims=True))
            wrong.append((E / E.sum(axis=1)[None, :], keep_hint))
        for q, hint in wrong:  # recognised by finite numbers only, never by a shared nan or inf
            value = np.float64(-(Y * np.log(q)).sum() / N)
            if np.isfinite(q).all() and not np.allclose(q, p, rtol=1e-9, atol=1e-12):
                grad.append(((q - Y) / N, hint))
                if np.isfinite(value):
                    loss.append((value, hint))
    return loss, grad


@guarded("CrossEntropyLoss")
def check_cross_entropy(CrossEntropyLoss: type, seed: int = 0, hard: bool = False,
                        points: float | None = None) -> float | None:
    """CrossEntropyLoss: forward(A logits, Y target probabilities) = mean over the
    batch of -sum_c Y log softmax(A); backward = (softmax(A) - Y) / N. With ``points``,
    each case earns its share (:mod:`.partial`)."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, C in _shapes(rng, hard):
        if C == 1:
            C = 2
        cases.append((rng.normal(size=(N, C)) * 3, _targets(rng, N, C, soft=hard), ""))
    big = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    cases.append((big, np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), ", logits of +-1000"))
    cases.append((big[:1] * 1.0 + 500.0, np.array([[1.0, 0.0, 0.0]]), ", logits of 1500, -500 and 500"))
    if hard:
        cases.append((np.array([[-1000.0, -1001.0, -999.0]]), np.array([[0.2, 0.3, 0.5]]),
                      ", logits near -1000, soft targets"))
    overflow = ("Overflow: exp of a large logit is inf. Subtract the row maximum before exp "
                "(log-sum-exp: log sum exp(a) = m + log sum exp(a - m)).")

    def case(A: np.ndarray, Y: np.ndarray, extra: str) -> None:
        N, C = A.shape
        desc = f"with A, Y of shape ({N}, {C}){extra}"
        want, want_grad = _torch_loss(lambda a, y: F.cross_entropy(a, y), A, Y)
        loss, grad = _run(CrossEntropyLoss, "CrossEntropyLoss", A, Y, desc)
        factors = [(float(N), "It is N times too large: average over the batch (divide by N), "
                    "do not sum.")] if N > 1 else []
        loss_mistakes, grad_mistakes = _ce_mistakes(A, Y)
        _check_value("CrossEntropyLoss", desc, loss, want, factors, nonfinite_hint=overflow,
                     mistakes=loss_mistakes)
        compare("CrossEntropyLoss.backward", f"dL/dA {desc}", grad, want_grad, grad_mistakes,
                factors=factors[:1] and [(float(N), "It is N times too large: backward of a mean "
                                          "over N rows divides (softmax(A) - Y) by N.")],
                nonfinite_hint=overflow)

    parts = [(f"A, Y of shape {A.shape}{extra}", functools.partial(case, A, Y, extra)) for A, Y, extra in cases]
    return score("CrossEntropyLoss", parts, points, "forward and backward match torch, finite for logits of +-1000")


# --------------------------------------------------------------------- BCE
@guarded("BCELoss")
def check_bce(BCELoss: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """BCELoss: forward(A probabilities, Y in [0, 1]) = mean over all N*C entries of
    -(Y log A + (1 - Y) log(1 - A)); finite when A is exactly 0 or 1. With ``points``,
    each case earns its share (:mod:`.partial`)."""
    rng = np.random.default_rng(seed)
    drawn = []
    for N, C in _shapes(rng, hard):
        A = rng.uniform(0.02, 0.98, size=(N, C))
        Y = (rng.random((N, C)) < 0.5).astype(float)
        if hard:
            Y = rng.random((N, C))
        drawn.append((N, C, A, Y))

    def case(N: int, C: int, A: np.ndarray, Y: np.ndarray) -> None:
        desc = f"with A, Y of shape ({N}, {C})"
        want, want_grad = _torch_loss(lambda a, y: F.binary_cross_entropy(a, y), A, Y)
        loss, grad = _run(BCELoss, "BCELoss", A, Y, desc)
        _check_value("BCELoss", desc, loss, want, [
            (float(N * C), "It is the sum over entries: take the mean over all N*C entries."),
            (float(C), "It is C times too large: divide by N*C, not only by N."),
            (float(N), "It is N times too large: divide by N*C, not only by C."),
        ])
        compare("BCELoss.backward", f"dL/dA {desc}", grad, want_grad,
                factors=[(float(N * C), "Divide by N*C in backward too."),
                         (float(C), "Divide by N*C in backward too."),
                         (float(N), "Divide by N*C in backward too.")])
    # probabilities exactly 0 and 1: a perfect prediction and a confident mistake
    clip = ("log(0) is -inf, and 0 * log(0) is nan: clip A into [eps, 1 - eps] "
            "(for example eps = 1e-12) before taking logs and dividing.")
    edge = [
        (np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]]), np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]),
         "A with entries exactly 0 and 1 that equal Y"),
        (np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), "A = [[0, 1]] and Y = [[1, 0]] (confidently wrong)"),
    ]

    def edge_case(A: np.ndarray, Y: np.ndarray, what: str) -> None:
        desc = f"with {what}"
        loss, grad = _run(BCELoss, "BCELoss", A, Y, desc)
        if not np.isfinite(loss):
            raise CheckFailure(f"BCELoss.forward: the loss {desc} is {fmt(loss)}; it should be finite. {clip}")
        g = np.asarray(grad, dtype=np.float64)
        if g.shape != A.shape or not np.all(np.isfinite(g)):
            raise CheckFailure(f"BCELoss.backward: dL/dA {desc} is {np.array2string(g, precision=4)}; "
                               f"every entry should be finite, shape {A.shape}. {clip}")
        if what.startswith("A with"):
            want, want_grad = _torch_loss(lambda a, y: F.binary_cross_entropy(a, y), A, Y)
            if abs(loss - want) > 1e-6:
                raise CheckFailure(f"BCELoss.forward: the loss {desc} is {fmt(loss, want)} but should be "
                                   f"{fmt(want, loss)} (exact predictions cost nothing). Is eps too large?")
        elif loss < 5.0 or g[0, 0] >= 0 or g[0, 1] <= 0:
            raise CheckFailure(f"BCELoss: {desc} the loss is {fmt(loss)} and dL/dA is "
                               f"{np.array2string(g, precision=4)}; a confident mistake should cost a "
                               f"lot (loss > 5) and the gradient should push A towards Y.")

    parts = [(f"A, Y of shape ({N}, {C})", functools.partial(case, N, C, A, Y)) for N, C, A, Y in drawn]
    parts += [(what, functools.partial(edge_case, A, Y, what)) for A, Y, what in edge]
    return score("BCELoss", parts, points, "forward and backward match torch, finite for probabilities 0 and 1")
