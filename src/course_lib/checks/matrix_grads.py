"""Checks for notebook 04, part 2: gradients of Linear -> f -> Linear -> g by hand.

The student's function ``grads(X, Y, W1, b1, W2, b2)`` gets a batch (one sample a
row: ``X`` is (B, n), ``Y`` is (B, K), ``W1`` (h, n), ``b1`` (h,), ``W2`` (K, h),
``b2`` (K,)) and returns a dict with

==============  ==========  ====================================================
key             shape       meaning (numerator layout, per sample b)
==============  ==========  ====================================================
``dl_dyhat``    (B, K)      row b: the row vector dl/dyhat_b
``dyhat_dz3``   (B, K, K)   Jacobian dyhat_b/dz3_b
``dz3_dz2``     (B, K, h)   Jacobian dz3_b/dz2_b
``dz2_dz1``     (B, h, h)   Jacobian dz2_b/dz1_b
``dW1``...      shape of W1, b1, W2, b2: the gradient of the batch loss
==============  ==========  ====================================================

The oracle is torch autograd in float64 (``torch.autograd.functional.jacobian``
for the Jacobians, ``backward`` for the rest); the student's solution is never
used.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ._arrays import compare
from ._harness import CheckFailure, call, guarded, passed
from .partial import score

__all__ = ["CASES", "check_regression", "check_classification_mse",
           "check_classification_bce", "check_relu_tanh", "check_expression_grads", "oracle"]

KEYS = ("dl_dyhat", "dyhat_dz3", "dz3_dz2", "dz2_dz1", "dW2", "db2", "dW1", "db1")


def _mse(yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((yhat - y) ** 2).sum(dim=1).mean()


def _bce(yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy(yhat, y)


@dataclass(frozen=True)
class NetCase:
    """One network of part 2: nonlinearities, loss, and the usual wrong Jacobians."""

    name: str
    title: str
    f: Callable[[torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    classify: bool
    f_text: str
    g_text: str


CASES = {
    "regression": NetCase("regression", "f = 5 ReLU, g = identity, MSE",
                          lambda z: 5 * torch.relu(z), lambda z: z, _mse, False, "5 ReLU", "identity"),
    "classification_mse": NetCase("classification_mse", "f = tanh, g = sigmoid, MSE",
                                  torch.tanh, torch.sigmoid, _mse, True, "tanh", "sigmoid"),
    "classification_bce": NetCase("classification_bce", "f = tanh, g = sigmoid, BCE",
                                  torch.tanh, torch.sigmoid, _bce, True, "tanh", "sigmoid"),
    "relu_tanh": NetCase("relu_tanh", "f = ReLU, g = tanh, MSE",
                         torch.relu, torch.tanh, _mse, False, "ReLU", "tanh"),
}


def oracle(case: NetCase, X, Y, W1, b1, W2, b2) -> dict[str, np.ndarray]:
    """Every quantity of the table above, by torch autograd (float64)."""
    T = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in ("W1", "b1", "W2", "b2"))
         for k, v in dict(X=X, Y=Y, W1=W1, b1=b1, W2=W2, b2=b2).items()}
    z1 = T["X"] @ T["W1"].T + T["b1"]
    z2 = case.f(z1)
    z3 = z2 @ T["W2"].T + T["b2"]
    yhat = case.g(z3)
    yhat.retain_grad()
    loss = case.loss(yhat, T["Y"])
    loss.backward()
    jac = torch.autograd.functional.jacobian
    W2d, b2d = T["W2"].detach(), T["b2"].detach()
    out = {
        "dl_dyhat": yhat.grad,
        "dyhat_dz3": torch.stack([jac(case.g, z) for z in z3.detach()]),
        "dz3_dz2": torch.stack([jac(lambda v: W2d @ v + b2d, z) for z in z2.detach()]),
        "dz2_dz1": torch.stack([jac(case.f, z) for z in z1.detach()]),
        "dW1": T["W1"].grad, "db1": T["b1"].grad, "dW2": T["W2"].grad, "db2": T["b2"].grad,
        "z1": z1.detach(), "z3": z3.detach(), "yhat": yhat.detach(),
    }
    return {k: v.numpy().copy() for k, v in out.items()}


def _data(case: NetCase, rng: np.random.Generator, B: int, n: int, h: int, K: int):
    X = rng.normal(size=(B, n))
    Y = (rng.random((B, K)) < 0.5).astype(float) if case.classify else rng.normal(size=(B, K))
    W1 = rng.normal(size=(h, n)) * 0.8
    b1 = rng.normal(size=h) * 0.5
    W2 = rng.normal(size=(K, h)) * 0.8
    b2 = rng.normal(size=K) * 0.5
    return X, Y, W1, b1, W2, b2


def _diag(v: np.ndarray) -> np.ndarray:
    return np.stack([np.diag(r) for r in v])


def _mistakes(case: NetCase, key: str, o: dict[str, np.ndarray], B: int):
    """Arrays that a usual wrong formula gives for ``key``, with their hints."""
    z1, z3, yhat = o["z1"], o["z3"], o["yhat"]
    out = []
    if key == "dyhat_dz3" and case.g_text == "sigmoid":
        out.append((_diag(z3 * (1 - z3)), "sigma'(z) = sigma(z)(1 - sigma(z)) must use the OUTPUT "
                    "yhat = sigma(z3), not the input z3: the diagonal is yhat*(1 - yhat)."))
        out.append((_diag(yhat), "The derivative of sigma is sigma(1 - sigma), not sigma."))
    if key == "dyhat_dz3" and case.g_text == "tanh":
        out.append((_diag(1 - z3 ** 2), "tanh'(z) = 1 - tanh(z)**2 uses the OUTPUT yhat = tanh(z3), "
                    "not z3."))
    if key == "dz2_dz1" and case.f_text == "tanh":
        out.append((_diag(1 - z1 ** 2), "tanh'(z) = 1 - tanh(z)**2: square tanh(z1) = z2, not z1."))
    if key == "dz2_dz1" and case.f_text == "5 ReLU":
        out.append((o[key] / 5, "The factor 5 of f = 5 ReLU is missing: f'(z) = 5 where z > 0."))
    if key == "dz2_dz1" and "ReLU" in case.f_text:
        out.append((_diag(np.maximum(z1, 0) * (5 if case.f_text == "5 ReLU" else 1)),
                    "The derivative of ReLU is 1 where z1 > 0 and 0 elsewhere (a step), "
                    "not ReLU itself."))
    if key == "db1" or key == "db2":
        out.append((o[key] / B, "Divided by the batch size twice: the 1/B of the loss is already in "
                    "dl/dyhat."))
    if key == "dl_dyhat":
        out.append((o[key] * B, "It is B times too large: the loss is a mean over the batch, so "
                    "each row carries a factor 1/B."))
        if case.loss is _mse:
            out.append((o[key] / 2, "The factor 2 from the square is missing: dl/dyhat = 2(yhat - y)/B."))
    return out


def _shape_hints(key: str, B: int, want_shape: tuple[int, ...]):
    hints = []
    if key in ("db1", "db2"):
        hints.append(((B, want_shape[0]), "One row per sample: sum over the batch (axis 0) to get the "
                      "gradient of the bias."))
    if key in ("dW1", "dW2") and len(want_shape) == 2:
        hints.append(((want_shape[1], want_shape[0]), "It is transposed: return the gradient in the "
                      "shape of the weight (as torch's .grad), dW = (dl/dz)^T X summed over the batch. "
                      "Numerator layout gives its transpose."))
    if key in ("dyhat_dz3", "dz2_dz1", "dz3_dz2") and len(want_shape) == 3:
        hints.append((want_shape[1:], f"Stack one Jacobian per sample: shape (B, out, in) = {want_shape}."))
    if key in ("dyhat_dz3", "dz2_dz1") and len(want_shape) == 3:
        hints.append((want_shape[:2], "That is only the diagonal: the Jacobian of an elementwise map is "
                      "the diagonal MATRIX with the derivatives on its diagonal (np.diag per sample)."))
    return hints


def _check(fn: Any, case: NetCase, seed: int, hard: bool, points: float | None = None) -> float | None:
    """Every Jacobian and gradient on every size; with ``points``, each key (``dW1``, ...) earns its
    share over all sizes (:mod:`.partial`)."""
    method = getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise CheckFailure(f"{case.title}: expected a function, got a {type(fn).__name__}.")
    rng = np.random.default_rng(seed)
    sizes = [(5, 4, 3, 2), (1, 3, 4, 2)]
    if hard:
        sizes += [(7, 2, 6, 3), (1, 1, 1, 1), (3, 5, 2, 4)]
    drawn = []
    for B, n, h, K in sizes:
        data = _data(case, rng, B, n, h, K)
        if case.loss is _bce:  # keep yhat away from 0 and 1, where torch clamps
            data = (data[0], data[1], data[2], data[3], data[4] * 0.5, data[5] * 0.5)
        drawn.append(((B, n, h, K), data, oracle(case, *data)))
    results: dict[int, Any] = {}

    def result(i: int) -> dict:
        """The student's dict for size i (called once; a failure is kept and raised again)."""
        if i not in results:
            (B, n, h, K), data, _ = drawn[i]
            desc = f"with B={B}, n={n}, h={h}, K={K}"
            try:
                got = call(method, f"{method}(X, Y, W1, b1, W2, b2) {desc}", fn, *(np.array(d) for d in data))
                if not isinstance(got, dict):
                    raise CheckFailure(f"{method}: {desc} it returned a {type(got).__name__}; it should return a "
                                       f"dict with keys {', '.join(KEYS)}.")
                missing = [k for k in KEYS if k not in got]
                if missing:
                    raise CheckFailure(f"{method}: the returned dict has no key {missing[0]!r} "
                                       f"(expected keys: {', '.join(KEYS)}).")
                results[i] = got
            except CheckFailure as failure:
                results[i] = failure
        if isinstance(results[i], CheckFailure):
            raise results[i]
        return results[i]

    def key_part(key: str) -> None:
        for i, ((B, n, h, K), _, o) in enumerate(drawn):
            got = result(i)
            desc = f"with B={B}, n={n}, h={h}, K={K}"
            factors = [(5.0, "It is 5 times too large."), (0.2, "The factor 5 of f = 5 ReLU is missing.")] \
                if case.f_text == "5 ReLU" else []
            if B > 1:
                factors.append((float(B), f"It is B={B} times too large: the loss is a mean over the batch."))
            compare(method, f"[{key!r}] ({case.title}) {desc}", got[key], o[key],
                    mistakes=_mistakes(case, key, o, B), shape_hints=_shape_hints(key, B, o[key].shape),
                    factors=factors)

    return score(f"{method} ({case.title})", [(key, functools.partial(key_part, key)) for key in KEYS], points,
                 "every Jacobian and gradient matches torch autograd")


@guarded("regression network")
def check_regression(fn: Callable, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """f = 5 ReLU, g = identity, loss = mean over the batch of ||yhat - y||^2."""
    return _check(fn, CASES["regression"], seed, hard, points)


@guarded("classification network (MSE)")
def check_classification_mse(fn: Callable, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """f = tanh, g = sigmoid, loss = mean over the batch of ||yhat - y||^2."""
    return _check(fn, CASES["classification_mse"], seed, hard, points)


@guarded("classification network (BCE)")
def check_classification_bce(fn: Callable, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """f = tanh, g = sigmoid, loss = BCE averaged over all B*K entries."""
    return _check(fn, CASES["classification_bce"], seed, hard, points)


@guarded("ReLU / tanh network")
def check_relu_tanh(fn: Callable, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """f = ReLU, g = tanh, loss = mean over the batch of ||yhat - y||^2."""
    return _check(fn, CASES["relu_tanh"], seed, hard, points)


# ------------------------------------------------ w = (x + y) * (z * o) + z
@guarded("expression_grads")
def check_expression_grads(fn: Callable, seed: int = 0, hard: bool = False) -> None:
    """``fn(x, y, z, o)`` returns ``{"w": ..., "x": dw/dx, "y": ..., "z": ..., "o": ...}``
    for w = (x + y) * (z * o) + z; compared with torch autograd."""
    if not callable(fn):
        raise CheckFailure(f"expression_grads: expected a function, got a {type(fn).__name__}.")
    rng = np.random.default_rng(seed)
    points = [(1.0, 2.0, -1.0, 3.0), tuple(float(v) for v in np.round(rng.normal(size=4) * 2, 3))]
    if hard:
        points += [(0.0, 0.0, 0.0, 0.0), (-2.5, 2.5, 4.0, -0.5)]
    for vals in points:
        t = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals]
        x, y, z, o = t
        w = (x + y) * (z * o) + z
        w.backward()
        want = {"w": float(w.detach()), **{k: float(v.grad) for k, v in zip("xyzo", t)}}
        shown = ", ".join(f"{k}={v:g}" for k, v in zip("xyzo", vals))
        got = call("expression_grads", f"expression_grads({shown})", fn, *vals)
        if not isinstance(got, dict):
            raise CheckFailure(f"expression_grads: it returned a {type(got).__name__}; return a dict "
                               f"with keys 'w', 'x', 'y', 'z', 'o'.")
        x_, y_, z_, o_ = vals
        usual = {
            "z": [((x_ + y_) * o_, "z is used twice (in z * o and in the final + z): add the "
                   "gradients of both paths, (x + y) * o + 1."),
                  (1.0, "z is used twice: besides the + z path (gradient 1) there is the path through "
                   "z * o, worth (x + y) * o.")],
            "o": [(z_, "dw/do = (x + y) * z: the factor x + y is missing.")],
            "x": [(z_, "dw/dx = z * o: the factor o is missing."), (o_, "dw/dx = z * o: the factor z is missing.")],
            "y": [(z_, "dw/dy = z * o: the factor o is missing."), (o_, "dw/dy = z * o: the factor z is missing.")],
        }
        for k in ("w", "x", "y", "z", "o"):
            if k not in got:
                raise CheckFailure(f"expression_grads: the returned dict has no key {k!r}.")
            what = "w" if k == "w" else f"dw/d{k}"
            compare("expression_grads", f"{what} at {shown}", got[k], np.float64(want[k]),
                    mistakes=[(np.float64(v), h) for v, h in usual.get(k, [])])
    passed("expression_grads", "w and its four gradients match torch autograd")
