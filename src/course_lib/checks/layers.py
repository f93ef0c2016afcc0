"""Checks for notebook 03: numpy layers with MyTorch's names and signatures.

Each check takes the student's CLASS, makes one instance, sets its parameters
from a fixed-seed generator, and compares ``forward`` and ``backward`` with
PyTorch (``torch.nn.functional`` and autograd, in float64): the oracle.

Conventions (as in MyTorch):

- batches are rows: an input ``A`` or ``Z`` is ``N×C``;
- ``Linear(in_features, out_features)``: ``W`` is ``out×in``, ``b`` is a
  column ``out×1``; ``forward(A) = A Wᵀ + 1 bᵀ``; ``backward(dLdZ)`` stores
  ``dLdW`` (``out×in``) and ``dLdb`` (``out×1``), SUMMED over the batch, and
  returns ``dLdA``;
- activations ``Sigmoid``, ``Tanh``, ``ReLU``, ``GELU`` (exact, with erf),
  ``Swish`` (``A = Z σ(βZ)``, learnable ``beta``, ``backward`` also stores the
  scalar ``dLdbeta``) and ``Softmax`` (row-wise): ``forward(Z)`` returns ``A``,
  ``backward(dLdA)`` returns ``dLdZ``;
- ``SGD(model, lr, momentum)`` updates every layer in ``model.layers`` (each
  with ``W``, ``b``, ``dLdW``, ``dLdb``) in ``step()``: ``v ← μv + dLdW``,
  ``W ← W − lr·v`` (PyTorch's convention), one velocity per parameter;
- ``BatchNorm1d(num_features, alpha=0.9)``: ``BW``, ``Bb``, ``running_M``,
  ``running_V`` are ``1×C``; training uses the batch mean and the biased batch
  variance (÷N) with ``eps = 1e-8`` and updates
  ``running = alpha·running + (1 − alpha)·batch statistic``; ``eval=True``
  uses the running statistics and updates nothing; ``backward(dLdBZ)`` stores
  ``dLdBW``, ``dLdBb`` (``1×C``) and returns ``dLdZ``; one training batch has a
  feature whose variance is close to eps, where eps slips show;
- a parameter's gradient of another shape that gives the very same update
  ``P − lr·dP`` (``(C,)`` for a ``1×C`` parameter) is accepted with a printed
  NOTE naming the expected shape; one that broadcasts differently (a flat
  ``dLdb`` for a column ``b``) is not;
- every activation gets inputs of ±1000 (and ±400), forward and backward:
  exp overflows there, and the failure names the nan and the stable form;
- a whole model (``check_model``) keeps its layers in ``model.layers``;
  ``forward(A0)`` applies them in order, ``backward(dLdA)`` in reverse.

The SGD check's model holds only layers with parameters (as in MyTorch), so an
SGD that skips parameter-free layers passes too.

A failure names the method, the input, expected vs got at the worst wrong
entry, and the likely mistake. ``seed=`` and ``hard=True`` serve the hidden
tests.
"""
from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._arrays import NONFINITE, Mistakes, as_array, compare, quiet, same_update, shape_text as _shape
from ._harness import CheckFailure, call, fmt, guarded, passed
from .partial import score

__all__ = [
    "check_linear",
    "check_sigmoid",
    "check_tanh",
    "check_relu",
    "check_gelu",
    "check_swish",
    "check_softmax",
    "check_sgd",
    "check_batchnorm",
    "check_model",
    "describe_layers",
    "BN_EPS",
]

RTOL, ATOL = 1e-5, 1e-7
#: The epsilon of MyTorch's BatchNorm1d.
BN_EPS = 1e-8

# --------------------------------------------------------------------------
# Helpers: arrays from student code, comparisons that explain (see _arrays)
# --------------------------------------------------------------------------
_STORED = "Did you forget to return it (or to store it in self)?"


def _run(method: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with quiet():
        return call(method, what, fn, *args, **kwargs)


def _make(title: str, Cls: Any, *args: Any, **kwargs: Any) -> Any:
    if not isinstance(Cls, type):
        raise CheckFailure(f"{title}: expected the class {title} itself, got a {type(Cls).__name__}. "
                           f"Pass the class, e.g. check({title}), not an instance.")
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return call(f"{title}.__init__", f"creating {title}({shown})", Cls, *args, **kwargs)


def _numpy(x: Any) -> Any:
    """A torch tensor (a layer may return one) as a numpy array; anything else as it is."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def _compare(method: str, where: str, quantity: str, got: Any, want: np.ndarray,
             mistakes: Mistakes = (), accept: Sequence[np.ndarray] = (),
             entry: Callable[[tuple[int, ...]], str] | None = None,
             nonfinite_hint: str = NONFINITE) -> None:
    """:func:`compare` with this module's tolerance (``RTOL``, ``ATOL``), for
    a value returned by the layer or stored in it; torch tensors are accepted."""
    compare(method, quantity, _numpy(got), want, mistakes, where=where, accept=accept, entry=entry,
            none_hint=_STORED, nonfinite_hint=nonfinite_hint, rtol=RTOL, atol=ATOL)


def _compare_grad(method: str, where: str, quantity: str, got: Any, want: np.ndarray, param: str,
                  noted: set[str], mistakes: Mistakes = (),
                  entry: Callable[[tuple[int, ...]], str] | None = None) -> None:
    """:func:`_compare` for the gradient of the parameter ``param``: a shape that gives
    the very same update ``param − lr · gradient`` (``(C,)`` for a ``1 × C`` parameter)
    is accepted, with a printed note (once per check, in ``noted``) naming the
    expected shape; its values are then compared as usual."""
    arr = _numpy(got)
    shape = np.shape(arr) if isinstance(arr, np.ndarray) or np.isscalar(arr) else None
    if shape is not None and same_update(shape, want.shape):
        _compare(method, where, quantity, np.asarray(arr, dtype=np.float64).reshape(want.shape), want,
                 mistakes, entry=entry)
        if quantity not in noted:
            noted.add(quantity)
            print(f"NOTE: {method}: {quantity} has shape {_shape(shape)}; the expected shape is "
                  f"{_shape(want.shape)}, the shape of {param}. Accepted, because {param} − lr · {quantity} "
                  f"is the same update, but keep {param}'s shape (keepdims=True, or reshape).")
        return
    _compare(method, where, quantity, got, want, mistakes, entry=entry)


def _attr(method: str, obj: Any, name: str, when: str) -> Any:
    if not hasattr(obj, name):
        raise CheckFailure(f"{method}: {when} the layer has no attribute {name}. "
                           f"Store it as self.{name}.")
    return getattr(obj, name)


def _t(x: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().copy()


def _batch(n: int) -> str:
    return " (batch size 1)" if n == 1 else ""


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * (1.0 + erf(x / math.sqrt(2)))


# --------------------------------------------------------------------------
# Linear
# --------------------------------------------------------------------------
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
        layer = _make("Linear", Linear, cin, cout)
        init = f"after Linear({cin}, {cout})"
        W0 = _attr("Linear.__init__", layer, "W", init + ",")
        b0 = _attr("Linear.__init__", layer, "b", init + ",")
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
        Z = _run("Linear.forward", f"{where}, forward(A)", layer.forward, A.copy())
        if check:
            _compare("Linear.forward", where, "Z", Z, want_Z, [
                (A @ W.T, "The bias is missing: Z = A · Wᵀ + 1 · bᵀ."),
                ((A @ W.T + b.T).T, "Z is transposed: it has one row per sample, Z = A · Wᵀ + 1 · bᵀ (N × out)."),
                (A @ W.T + b.T * n if n > 1 else None, "The bias is added N times."),
            ])
        return layer

    def backward(n, cin, cout, W, b, A, where, want_Z, G, want) -> None:
        layer = forward(n, cin, cout, W, b, A, where, want_Z, check=False)
        bwhere = f"{where}, after forward(A) and backward(dLdZ) with dLdZ of shape {_shape(G.shape)}"
        dLdA = _run("Linear.backward", f"{where}, backward(dLdZ)", layer.backward, G.copy())
        _compare("Linear.backward", bwhere, "the returned dLdA", dLdA, want["A"], [
            ((G @ W).T, "dLdA is transposed: dLdA = dLdZ · W has the shape of A (N × in)."),
            (G @ W / n if n > 1 else None, "dLdA must not be divided by the batch size."),
        ])
        dLdW = _attr("Linear.backward", layer, "dLdW", f"{bwhere},")
        _compare_grad("Linear.backward", bwhere, "dLdW", dLdW, want["W"], "W", noted, [
            (A.T @ G, "dLdW is transposed: dLdW = dLdZᵀ · A has the shape of W (out × in)."),
            (G.T @ A / n if n > 1 else None,
             "dLdW is averaged over the batch: MyTorch's dLdW is the SUM over the batch, dLdZᵀ · A "
             "(the loss does the averaging)."),
            (W, "dLdW equals W: store the gradient, not the weights."),
        ])
        dLdb = _attr("Linear.backward", layer, "dLdb", f"{bwhere},")
        _compare_grad("Linear.backward", bwhere, "dLdb", dLdb, want["b"], "b", noted, [
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
        At, Wt, bt = _t(A), _t(W), _t(b)
        Zt = F.linear(At, Wt, bt.reshape(-1))
        (Zt * _t(G, False)).sum().backward()
        where = (f"for A of shape {_shape(A.shape)}{_batch(n)}, W of shape {_shape(W.shape)} "
                 f"and b of shape {_shape(b.shape)} (seed {seed})")
        want = {"A": _np(At.grad), "W": _np(Wt.grad), "b": _np(bt.grad)}
        parts += [(f"forward {where}", functools.partial(forward, n, cin, cout, W, b, A, where, _np(Zt))),
                  (f"backward {where}", functools.partial(backward, n, cin, cout, W, b, A, where, _np(Zt), G, want))]
    return score("Linear", parts, points,
                 f"{len(cases)} shapes including batch size 1; Z, dLdA, dLdW, dLdb match PyTorch autograd")


# --------------------------------------------------------------------------
# Element-wise activations
# --------------------------------------------------------------------------
#: Inputs where exp of a large number overflows to inf (e^710 already does): every activation
#: must stay finite there, as the notebook asks ("mind the extremes").
EXTREMES = (-1000.0, 1000.0, -400.0, 400.0, 0.0)
EXTREME_NOTE = " (extreme values ±1000 and ±400)"


def _overflow_hint(stable: str) -> str:
    return ("It is nan or inf where the right value is finite: exp of a large number overflows to inf "
            "(e^1000 = inf in float64), and inf / inf or inf − inf is nan. " + stable)


def _finite_only(mistakes: Mistakes) -> list[tuple[Any, str]]:
    """The predicted mistakes that are finite everywhere: a usual wrong formula is
    recognised by its numbers, never by a nan it shares with an overflowing answer."""
    out = []
    with quiet():
        for predicted, hint in mistakes:
            if predicted is None:
                continue
            arr = np.asarray(predicted, dtype=np.float64)
            if np.isfinite(arr).all():
                out.append((arr, hint))
    return out


@dataclass
class _Activation:
    name: str
    oracle: Callable[[torch.Tensor], torch.Tensor]
    forward_mistakes: Callable[[np.ndarray], Mistakes]
    backward_mistakes: Callable[[np.ndarray, np.ndarray, np.ndarray], Mistakes]  # (Z, A, dLdA)
    edges: tuple[float, ...]
    offset: int
    overflow: tuple[str, str] = ("", "")  # (forward, backward) hints for nan/inf at extreme inputs
    kink: float | None = None   # where either one-sided derivative is accepted
    forbidden: tuple[str, ...] = ()  # numpy functions the layer must not call


def _activation_inputs(act: _Activation, seed: int, hard: bool) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed + act.offset)
    c = int(rng.integers(3, 7))
    cases = [
        (np.round(rng.normal(0, 2, size=(1, c)), 3), " (batch size 1)"),
        (np.round(rng.normal(0, 2, size=(int(rng.integers(3, 7)), c + 1)), 3), ""),
        (np.array([act.edges]), " (edge values)"),
        (np.array([EXTREMES]), EXTREME_NOTE),
    ]
    if hard:
        cases.append((np.round(rng.normal(0, 4, size=(int(rng.integers(20, 40)), int(rng.integers(8, 20)))), 4), ""))
        cases.append((np.array([act.edges[::-1], act.edges]), " (edge values)"))
        cases.append((np.array([EXTREMES[::-1], EXTREMES, [v / 2 for v in EXTREMES]]), EXTREME_NOTE))
    return cases


@contextlib.contextmanager
def _forbid(method: str, names: Sequence[str]) -> Iterator[None]:
    """While the block runs, calling ``np.<name>`` for a name in ``names`` fails the check."""
    saved = {name: getattr(np, name) for name in names}

    def refuse(name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise CheckFailure(f"{method}: your code calls np.{name}, which this problem asks you not to "
                               f"use: write it with np.exp (see the table of definitions) instead.")
        return refused

    for name in names:
        setattr(np, name, refuse(name))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(np, name, fn)


def _check_activation(act: _Activation, Cls: type, seed: int, hard: bool, points: float | None = None) -> float | None:
    """Forward and backward on every input; with ``points``, the forward and the backward of each input
    earn their shares (:mod:`.partial`)."""
    title = act.name
    layer = _make(title, Cls)
    rng = np.random.default_rng(seed + act.offset + 1)
    cases = _activation_inputs(act, seed, hard)
    fwd_hint, bwd_hint = act.overflow

    def forward(Z: np.ndarray, where: str, want_A: np.ndarray, check: bool = True) -> None:
        with _forbid(f"{title}.forward", act.forbidden):
            A = _run(f"{title}.forward", f"{where}, forward(Z)", layer.forward, Z.copy())
        if check:
            with quiet():
                mistakes = _finite_only(act.forward_mistakes(Z))
            _compare(f"{title}.forward", where, "A", A, want_A, mistakes, entry=_entry(Z),
                     nonfinite_hint=fwd_hint or NONFINITE)

    def backward(Z: np.ndarray, where: str, want_A: np.ndarray, G: np.ndarray, want_dZ: np.ndarray) -> None:
        forward(Z, where, want_A, check=False)
        with quiet():
            mistakes = _finite_only(act.backward_mistakes(Z, want_A, G))
        with _forbid(f"{title}.backward", act.forbidden):
            dZ = _run(f"{title}.backward", f"{where}, backward(dLdA)", layer.backward, G.copy())
        accept = []
        if act.kink is not None:
            at_kink = Z == act.kink
            if at_kink.any():
                other = want_dZ.copy()
                other[at_kink] = G[at_kink] - want_dZ[at_kink]  # the other one-sided slope (0 <-> 1)
                accept.append(other)
        _compare(f"{title}.backward", f"{where}, after forward(Z) and backward(dLdA)",
                 "the returned dLdZ", dZ, want_dZ, mistakes,
                 accept=accept, entry=_entry(Z), nonfinite_hint=bwd_hint or NONFINITE)

    parts = []
    for Z, note in cases:
        G = np.round(rng.normal(size=Z.shape), 3)
        Zt = _t(Z)
        At = act.oracle(Zt)
        (At * _t(G, False)).sum().backward()
        want_A, want_dZ = _np(At), _np(Zt.grad)
        where = f"for Z of shape {_shape(Z.shape)}{note} (seed {seed})"
        parts += [(f"forward {where}", functools.partial(forward, Z, where, want_A)),
                  (f"backward {where}", functools.partial(backward, Z, where, want_A, G, want_dZ))]
    return score(title, parts, points, f"{len(cases)} inputs including batch size 1, ±1000 and "
                                       f"{', '.join(fmt(e) for e in act.edges[:2])}, ...; forward and backward "
                                       f"match PyTorch autograd")


def _entry(Z: np.ndarray) -> Callable[[Any], str]:
    """How a message names an entry of Z."""
    return lambda idx: f"at Z{list(idx)} = {fmt(float(Z[idx]))}"


_MISSING_UPSTREAM = ("The upstream gradient is missing: dLdZ = dLdA ⊙ dA/dZ (multiply by dLdA "
                     "element-wise).")


def _sigmoid_fwd(Z):
    return [(1 / (1 + np.exp(Z)), "The sign in the exponent is wrong: σ(z) = 1 / (1 + exp(−z))."),
            (np.exp(-Z) / (1 + np.exp(-Z)), "That is 1 − σ(z): σ(z) = 1 / (1 + exp(−z)).")]


def _sigmoid_bwd(Z, A, G):
    return [(G * Z * (1 - Z), "The derivative must use the OUTPUT A = σ(Z): dA/dZ = A(1 − A), "
                              "not Z(1 − Z)."),
            (A * (1 - A), _MISSING_UPSTREAM),
            (G * A, "dA/dZ = A(1 − A): the factor (1 − A) is missing.")]


def _tanh_fwd(Z):
    return [(np.tanh(Z / 2), "tanh(z) = (e^z − e^−z) / (e^z + e^−z)."),
            (2 * _sig(Z) - 1, "2σ(z) − 1 is tanh(z/2); tanh(z) = 2σ(2z) − 1.")]


def _tanh_bwd(Z, A, G):
    return [(G * (1 - Z ** 2), "The derivative must use the OUTPUT A = tanh(Z): dA/dZ = 1 − A², "
                               "not 1 − Z²."),
            (1 - A ** 2, _MISSING_UPSTREAM),
            (G * (1 - A), "dA/dZ = 1 − A²: the square is missing.")]


def _relu_fwd(Z):
    return [(np.minimum(Z, 0), "ReLU is max(0, z), not min(0, z)."),
            ((Z > 0).astype(float), "That is the derivative (0 or 1); the forward pass returns max(0, z).")]


def _relu_bwd(Z, A, G):
    return [(G, "The gradient must be 0 where Z < 0: dLdZ = dLdA where Z > 0, else 0."),
            (G * (Z < 0), "The mask is inverted: the gradient passes where Z > 0."),
            ((Z > 0).astype(float), _MISSING_UPSTREAM),
            (G * A, "dLdZ = dLdA ⊙ 1[Z > 0]: multiply by the indicator (0 or 1), not by A.")]


def _gelu_fwd(Z):
    approx = 0.5 * Z * (1 + np.tanh(math.sqrt(2 / math.pi) * (Z + 0.044715 * Z ** 3)))
    return [(approx, "That is the tanh approximation of GELU; use the exact form "
                     "A = ½ Z (1 + erf(Z/√2)) (math.erf or scipy.special.erf)."),
            (_Phi(Z), "The factor Z is missing: GELU(z) = z Φ(z) = ½ z (1 + erf(z/√2)).")]


def _gelu_bwd(Z, A, G):
    return [(G * _Phi(Z), "The second term is missing: dA/dZ = Φ(Z) + Z φ(Z), with "
                          "φ(z) = exp(−z²/2)/√(2π)."),
            (G * (_Phi(Z) + _phi(Z)), "The factor Z in the second term is missing: "
                                      "dA/dZ = Φ(Z) + Z φ(Z)."),
            (_Phi(Z) + Z * _phi(Z), _MISSING_UPSTREAM)]


_STABLE_SIGMOID = ("Use only exp(−|z|), which never overflows: σ(z) = 1 / (1 + e^(−|z|)) where z ≥ 0 and "
                   "e^(−|z|) / (1 + e^(−|z|)) where z < 0 (np.where).")
_FROM_OUTPUT = ("In backward, use the stored output A, which is finite: no exp of Z there.")

_ACTIVATIONS = {
    "Sigmoid": _Activation("Sigmoid", torch.sigmoid, _sigmoid_fwd, _sigmoid_bwd,
                           (-30.0, 30.0, 0.0, -5.0, 5.0), 200,
                           (_overflow_hint(_STABLE_SIGMOID),
                            _overflow_hint("dA/dZ = A(1 − A) with the stored output A = σ(Z). " + _FROM_OUTPUT))),
    "Tanh": _Activation("Tanh", torch.tanh, _tanh_fwd, _tanh_bwd, (-20.0, 20.0, 0.0, -2.5, 2.5), 300,
                        (_overflow_hint("Use only exp(−2|z|), which never overflows: "
                                        "tanh(z) = sign(z) · (1 − e^(−2|z|)) / (1 + e^(−2|z|))."),
                         _overflow_hint("dA/dZ = 1 − A² with the stored output A = tanh(Z). " + _FROM_OUTPUT)),
                        forbidden=("tanh",)),
    "ReLU": _Activation("ReLU", torch.relu, _relu_fwd, _relu_bwd, (-3.0, 3.0, 0.0, -0.001, 0.001), 400,
                        (_overflow_hint("ReLU needs no exp: A = max(0, Z) (np.maximum)."),
                         _overflow_hint("dLdZ = dLdA where Z > 0, else 0: no exp needed.")),
                        kink=0.0),
    "GELU": _Activation("GELU", lambda z: F.gelu(z, approximate="none"), _gelu_fwd, _gelu_bwd,
                        (-6.0, 6.0, 0.0, -1.0, 1.0), 500,
                        (_overflow_hint("GELU needs no exp of a large number: A = ½ Z (1 + erf(Z/√2)), "
                                        "and erf is ±1 far out."),
                         _overflow_hint("dA/dZ = Φ(Z) + Z φ(Z) with φ(z) = exp(−z²/2)/√(2π), which "
                                        "underflows harmlessly to 0 far out."))),
}


def _activation_check(name: str):
    act = _ACTIVATIONS[name]

    @guarded(name)
    def check(Cls: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
        return _check_activation(act, Cls, seed, hard, points)

    check.__name__ = f"check_{name.lower()}"
    check.__doc__ = (f"``{name}()``: ``forward(Z)`` and ``backward(dLdA)`` element-wise against "
                     f"PyTorch autograd (float64), batch size 1 and edge values included.")
    return check


check_sigmoid = _activation_check("Sigmoid")
check_tanh = _activation_check("Tanh")
check_relu = _activation_check("ReLU")
check_gelu = _activation_check("GELU")


# --------------------------------------------------------------------------
# Swish with a learnable beta
# --------------------------------------------------------------------------
_SWISH_OVERFLOW = _overflow_hint("Compute S = σ(βZ) stably, with exp(−|βz|) only: 1 / (1 + e^(−|βz|)) where "
                                 "βz ≥ 0 and e^(−|βz|) / (1 + e^(−|βz|)) where βz < 0 (np.where); "
                                 "then A = Z S.")
_SWISH_OVERFLOW_BWD = _overflow_hint("Use the stored S = σ(βZ) (finite, computed stably in forward): "
                                     "dA/dZ = S + βZ S(1 − S), dA/dβ = Z² S(1 − S); no exp of Z in backward.")


@guarded("Swish")
def check_swish(Swish: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``Swish()`` with ``beta`` set by the check: ``A = Z σ(βZ)``; ``backward``
    returns ``dLdZ`` and stores the scalar ``dLdbeta`` (summed over every entry).
    With ``points``, each input earns its share (:mod:`.partial`)."""
    rng = np.random.default_rng(seed + 600)
    c = int(rng.integers(3, 7))
    cases = [
        (1.0, np.round(rng.normal(0, 2, size=(1, c)), 3), " (batch size 1)"),
        (round(float(rng.uniform(0.3, 0.8)), 2), np.round(rng.normal(0, 2, size=(int(rng.integers(3, 7)), c)), 3), ""),
        (round(float(rng.uniform(1.5, 2.5)), 2), np.array([[-20.0, 20.0, 0.0, -1.5, 1.5]]), " (edge values)"),
        (round(float(rng.uniform(0.5, 2.5)), 2), np.array([EXTREMES]), EXTREME_NOTE),
    ]
    if hard:
        cases.append((round(float(rng.uniform(-1.5, -0.5)), 2), np.round(rng.normal(0, 3, size=(25, 11)), 4), ""))
        cases.append((round(float(rng.uniform(-1.5, -0.5)), 2), np.array([EXTREMES, EXTREMES[::-1]]), EXTREME_NOTE))
    layer = _make("Swish", Swish)
    if not hasattr(layer, "beta"):
        raise CheckFailure("Swish.__init__: after Swish() the layer has no attribute beta. Store the "
                           "learnable parameter as self.beta (1.0 at the start).")
    drawn = [(beta, Z, note, np.round(rng.normal(size=Z.shape), 3)) for beta, Z, note in cases]

    def case(beta: float, Z: np.ndarray, note: str, G: np.ndarray) -> None:
        layer.beta = beta
        Zt, bt = _t(Z), torch.tensor(beta, dtype=torch.float64, requires_grad=True)
        At = Zt * torch.sigmoid(bt * Zt)
        (At * _t(G, False)).sum().backward()
        where = f"for Z of shape {_shape(Z.shape)}{note} and beta = {fmt(beta)} (seed {seed})"

        def entry(idx, Z=Z):
            return f"at Z{list(idx)} = {fmt(float(Z[idx]))}"

        with quiet():
            s = _sig(beta * Z)
            fwd_mistakes = _finite_only([
                (Z * _sig(Z) if beta != 1.0 else None, "beta is not used: A = Z σ(beta Z), with the "
                                                       "layer's current self.beta."),
                (s, "The factor Z is missing: A = Z σ(βZ)."),
            ])
            bwd_mistakes = _finite_only([
                (G * (s + Z * s * (1 - s)) if beta != 1.0 else None,
                 "The chain-rule factor beta is missing in the second term: "
                 "dA/dZ = σ(βZ) + βZ σ(βZ)(1 − σ(βZ))."),
                (G * s, "The second term is missing: dA/dZ = σ(βZ) + βZ σ(βZ)(1 − σ(βZ))."),
                (s + beta * Z * s * (1 - s), _MISSING_UPSTREAM),
            ])
        A = _run("Swish.forward", f"{where}, forward(Z)", layer.forward, Z.copy())
        _compare("Swish.forward", where, "A", A, _np(At), fwd_mistakes, entry=entry,
                 nonfinite_hint=_SWISH_OVERFLOW)
        bwhere = f"{where}, after forward(Z) and backward(dLdA)"
        dZ = _run("Swish.backward", f"{where}, backward(dLdA)", layer.backward, G.copy())
        _compare("Swish.backward", bwhere, "the returned dLdZ", dZ, _np(Zt.grad), bwd_mistakes, entry=entry,
                 nonfinite_hint=_SWISH_OVERFLOW_BWD)
        got = _attr("Swish.backward", layer, "dLdbeta", f"{bwhere},")
        arr = as_array("Swish.backward", "dLdbeta", _numpy(got), where=bwhere, none_hint=_STORED)
        want = float(bt.grad)
        per_entry = G * Z * Z * s * (1 - s)
        mistakes = [
            (np.sum(G * Z * s * (1 - s)), "A factor Z is missing: dA/dβ = Z² σ(βZ)(1 − σ(βZ))."),
            (np.sum(Z * Z * s * (1 - s)), "The upstream gradient is missing: dLdβ = Σ dLdA ⊙ dA/dβ."),
            (np.mean(per_entry), "dLdbeta is averaged; it is the SUM over every entry of "
                                 "dLdA ⊙ Z² σ(βZ)(1 − σ(βZ))."),
            (np.sum(per_entry) / Z.shape[0] if Z.shape[0] > 1 else None,
             "dLdbeta is divided by the batch size; it is the plain SUM over every entry."),
            (np.sum(G * beta * Z * Z * s * (1 - s)), "An extra factor beta: dA/dβ = Z² σ(βZ)(1 − σ(βZ))."),
        ]
        if arr.size != 1:
            hint = (" It must be ONE number: sum dLdA ⊙ Z² σ(βZ)(1 − σ(βZ)) over the batch AND the "
                    "features." if arr.size > 1 else "")
            raise CheckFailure(f"Swish.backward: {bwhere}, dLdbeta has shape {_shape(arr.shape)}; it "
                               f"should be a single number ({fmt(want)}).{hint}")
        _compare("Swish.backward", bwhere, "dLdbeta", arr.reshape(()), np.float64(want), _finite_only(mistakes),
                 entry=lambda idx: "dLdβ = Σ dLdA ⊙ Z² σ(βZ)(1 − σ(βZ))", nonfinite_hint=_SWISH_OVERFLOW_BWD)
    parts = [(f"for Z of shape {_shape(Z.shape)}{note} and beta = {fmt(beta)}", functools.partial(case, *args))
             for args in drawn for beta, Z, note, _ in [args]]
    return score("Swish", parts, points,
                 f"{len(cases)} inputs and betas, ±1000 included; A, dLdZ and dLdbeta match PyTorch autograd")


# --------------------------------------------------------------------------
# Softmax
# --------------------------------------------------------------------------
def _softmax_np(Z: np.ndarray, axis: int) -> np.ndarray:
    """Softmax along ``axis`` by torch (used to predict a wrong-axis mistake)."""
    return torch.softmax(torch.as_tensor(Z, dtype=torch.float64), dim=axis).numpy()


def _softmax_inputs(seed: int, hard: bool) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed + 700)
    c = int(rng.integers(3, 6))
    big = np.round(rng.normal(0, 3, size=(3, c)), 3)
    big[0] += 1000.0
    big[1] -= 1000.0
    big[2, 0], big[2, -1] = 1000.0, -1000.0
    cases = [
        (np.round(rng.normal(0, 2, size=(1, c)), 3), " (batch size 1)"),
        (np.round(rng.normal(0, 2, size=(int(rng.integers(3, 6)), c + 1)), 3), ""),
        (big, " (large inputs: rows near +1000, near −1000, and mixed)"),
    ]
    if hard:
        wide = np.round(rng.normal(0, 5, size=(int(rng.integers(20, 40)), int(rng.integers(8, 15)))), 3)
        wide[::3] += 800.0
        cases += [(wide, " (large inputs)"), (np.round(rng.normal(size=(4, 1)), 3), " (one class)")]
    return cases


@guarded("Softmax")
def check_softmax(Softmax: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``Softmax()``: row-wise, numerically stable ``forward(Z)``; ``backward(dLdA)``
    through each row's Jacobian ``diag(a) − a aᵀ``, against PyTorch autograd. With
    ``points``, each input earns its share (:mod:`.partial`)."""
    layer = _make("Softmax", Softmax)
    rng = np.random.default_rng(seed + 701)
    cases = [(Z, note, np.round(rng.normal(size=Z.shape), 3)) for Z, note in _softmax_inputs(seed, hard)]

    def case(Z: np.ndarray, note: str, G: np.ndarray) -> None:
        Zt = _t(Z)
        At = torch.softmax(Zt, dim=1)
        (At * _t(G, False)).sum().backward()
        want = _np(At)
        where = f"for Z of shape {_shape(Z.shape)}{note} (seed {seed})"

        def entry(idx, Z=Z):
            return f"row {idx[0]} of Z is [{', '.join(fmt(float(v)) for v in Z[idx[0]][:6])}{', ...' if Z.shape[1] > 6 else ''}]"

        with quiet():
            E = np.exp(Z)
            unshifted = E / E.sum(axis=1, keepdims=True)
            global_shift = np.exp(Z - Z.max())
            global_shift = global_shift / global_shift.sum(axis=1, keepdims=True)
        A = _run("Softmax.forward", f"{where}, forward(Z)", layer.forward, Z.copy())
        fwd_mistakes: list[tuple[Any, str]] = [
            (_softmax_np(Z, 0),  # with batch size 1: all ones
             "Softmax is normalised over the batch (axis=0); normalise each ROW instead (axis=1, keepdims=True)."),
            (np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum() if Z.shape[0] > 1 else None,
             "Divided by the sum over the whole matrix; divide each row by its own sum."),
        ]
        if not np.isfinite(unshifted).all():
            fwd_mistakes.append((unshifted, "exp overflows for large inputs: subtract each row's maximum "
                                            "before exp (softmax(z) = softmax(z − max z))."))
        if not np.allclose(global_shift, want, equal_nan=False):
            fwd_mistakes.append((global_shift, "Subtract each ROW's maximum (max over axis=1, keepdims=True), "
                                               "not the maximum of the whole batch: rows far below it underflow to 0/0."))
        _compare("Softmax.forward", where, "A", A, want, fwd_mistakes, entry=entry)
        dZ = _run("Softmax.backward", f"{where}, backward(dLdA)", layer.backward, G.copy())
        a = want
        _compare("Softmax.backward", f"{where}, after forward(Z) and backward(dLdA)", "the returned dLdZ",
                 dZ, _np(Zt.grad), [
                     (G * a * (1 - a), "Only the diagonal of the Jacobian is used; J = diag(a) − a aᵀ also "
                                       "has the off-diagonal terms −a_m a_n, so dLdZ = dLdA · J row by row."),
                     (a * (G - (G * a).sum(axis=0, keepdims=True)) if Z.shape[0] > 1 else None,
                      "The Jacobian of a row uses only that row: sum over axis=1, not over the batch."),
                     (-(G * a) * a.sum(axis=1, keepdims=True), "The diagonal term a_m of the Jacobian is missing."),
                     (a * (1 - a), _MISSING_UPSTREAM.replace("⊙ dA/dZ (multiply by dLdA element-wise)",
                                                             "· J for each row")),
                 ], entry=entry)
    parts = [(f"for Z of shape {_shape(Z.shape)}{note}", functools.partial(case, Z, note, G)) for Z, note, G in cases]
    return score("Softmax", parts, points,
                 f"{len(cases)} inputs including batch size 1 and ±1000; A and dLdZ match PyTorch autograd")


# --------------------------------------------------------------------------
# SGD with momentum
# --------------------------------------------------------------------------
class _ParamLayer:
    """What SGD sees of a layer: W, b and their gradients."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b
        self.dLdW, self.dLdb = np.zeros_like(W), np.zeros_like(b)

    def __repr__(self) -> str:
        return f"Layer(W of shape {self.W.shape}, b of shape {self.b.shape})"


class _Model:
    """A model as SGD sees it: a list of layers."""

    def __init__(self, layers: list[_ParamLayer]):
        self.layers = layers


def _simulate(variant: str, params: list[np.ndarray], grads: list[list[np.ndarray]], lr: float, mu: float
              ) -> list[list[np.ndarray]]:
    """Parameters after each step under a (possibly wrong) update rule."""
    p = [x.copy() for x in params]
    v = [np.zeros_like(x) for x in params]
    out = []
    for k, gs in enumerate(grads):
        for i, g in enumerate(gs):
            if variant == "no_momentum":
                p[i] = p[i] - lr * g
            elif variant == "ascent":
                v[i] = mu * v[i] + g
                p[i] = p[i] + lr * v[i]
            elif variant == "velocity_minus":
                v[i] = -mu * v[i] + g
                p[i] = p[i] - lr * v[i]
            elif variant == "lr_twice":
                v[i] = mu * v[i] + lr * g
                p[i] = p[i] - lr * v[i]
            elif variant == "dampened":
                v[i] = mu * v[i] + (1 - mu) * g
                p[i] = p[i] - lr * v[i]
            elif variant == "nothing":
                pass
            elif variant == "bias_frozen":
                if i % 2 == 0:
                    v[i] = mu * v[i] + g
                    p[i] = p[i] - lr * v[i]
            elif variant == "no_decay":
                v[i] = v[i] + g
                p[i] = p[i] - lr * v[i]
        out.append([x.copy() for x in p])
    return out


_SGD_HINTS = {
    "ascent": "The update goes uphill: W := W − lr · v (minus), moving AGAINST the gradient.",
    "no_momentum": "The momentum is ignored or the velocity is not kept between steps: keep v_W[i], "
                   "v_b[i] in self (made in __init__), v := μ v + dLdW, then W := W − lr · v.",
    "velocity_minus": "The velocity's sign: v := μ v + dLdW (plus μ v), then W := W − lr · v.",
    "lr_twice": "The learning rate is applied twice: v := μ v + dLdW (no lr here), then W := W − lr · v.",
    "dampened": "No dampening: v := μ v + dLdW, not μ v + (1 − μ) dLdW.",
    "bias_frozen": "b is not updated: step() updates W AND b of every layer.",
    "nothing": "Nothing changed: step() must update each layer's own arrays (self.l[i].W = ... "
               "where self.l = model.layers), not copies.",
    "no_decay": "The velocity is not scaled by the momentum: v := μ v + dLdW.",
}


class _TorchSGD:
    """PyTorch's SGD update (``torch.optim.SGD``'s own functional form, which
    avoids the ~1 s import of torch._dynamo that the class pays on first use)."""

    def __init__(self, params: list[torch.Tensor], lr: float, momentum: float):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buffers: list[torch.Tensor | None] = [None] * len(params)
        self._opt = None

    def step(self, grads: list[torch.Tensor]) -> None:
        try:
            from torch.optim.sgd import sgd

            with torch.no_grad():
                sgd(self.params, grads, self.buffers, weight_decay=0.0, momentum=self.momentum,
                    lr=self.lr, dampening=0.0, nesterov=False, maximize=False, foreach=False)
            return
        except (ImportError, TypeError):  # another torch version: use the class
            pass
        if self._opt is None:
            for p in self.params:
                p.requires_grad_(True)
            self._opt = torch.optim.SGD(self.params, lr=self.lr, momentum=self.momentum)
        for p, g in zip(self.params, grads):
            p.grad = g
        self._opt.step()


@guarded("SGD")
def check_sgd(SGD: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``SGD(model, lr=..., momentum=...)``, several ``step()`` calls on a model
    with ``.layers`` (each with ``W``, ``b``, ``dLdW``, ``dLdb``), against
    ``torch.optim.SGD`` (momentum μ, no dampening). With ``points``, each setting earns its share
    (:mod:`.partial`)."""
    if not isinstance(SGD, type):
        raise CheckFailure(f"SGD: expected the class SGD itself, got a {type(SGD).__name__}. "
                           f"Pass the class, e.g. check(SGD), not an instance.")
    rng = np.random.default_rng(seed + 800)
    settings = [(0.1, 0.0), (round(float(rng.uniform(0.05, 0.3)), 3), 0.9)]
    if hard:
        settings.append((round(float(rng.uniform(0.01, 0.1)), 3), round(float(rng.uniform(0.5, 0.8)), 2)))
    steps = 5 if hard else 3
    def case(lr: float, mu: float) -> None:
        sizes = [(3, 4), (2, 3)] if not hard else [(5, 3), (4, 5), (2, 4)]
        layers = [_ParamLayer(np.round(rng.normal(size=s), 3), np.round(rng.normal(size=(s[0], 1)), 3))
                  for s in sizes]
        params0 = [x for layer in layers for x in (layer.W.copy(), layer.b.copy())]
        grads = [[np.round(rng.normal(size=x.shape), 3) for x in params0] for _ in range(steps)]
        tparams = [torch.tensor(x, dtype=torch.float64) for x in params0]
        oracle = _TorchSGD(tparams, lr, mu)
        model = _Model(layers)
        desc = f"SGD(model, lr={lr}, momentum={mu}) on a model of {len(layers)} layers"
        optimizer = call("SGD.__init__", f"creating {desc}", SGD, model, lr=lr, momentum=mu)
        variants = {name: _simulate(name, params0, grads, lr, mu) for name in _SGD_HINTS}
        for k, gs in enumerate(grads):
            for i, layer in enumerate(layers):
                layer.dLdW, layer.dLdb = gs[2 * i].copy(), gs[2 * i + 1].copy()
            oracle.step([torch.tensor(g, dtype=torch.float64) for g in gs])
            _run("SGD.step", f"{desc}, step {k + 1}", optimizer.step)
            for i, layer in enumerate(layers):
                for j, name in enumerate(("W", "b")):
                    idx = 2 * i + j
                    got = getattr(layer, name)
                    mistakes = [(v[k][idx], hint) for key, v in variants.items()
                                for hint in [_SGD_HINTS[key]]]
                    if mu == 0.0:
                        mistakes = [m for m in mistakes if "momentum" not in m[1] and "velocity" not in m[1]]
                    _compare("SGD.step", f"for {desc}, after step {k + 1}", f"model.layers[{i}].{name}",
                             got, _np(tparams[idx]), mistakes)
    parts = [(f"lr={lr}, momentum={mu}", functools.partial(case, lr, mu)) for lr, mu in settings]
    return score("SGD", parts, points,
                 f"{len(settings)} settings (with and without momentum), {steps} steps each; parameters match "
                 "torch.optim.SGD")


# --------------------------------------------------------------------------
# BatchNorm1d
# --------------------------------------------------------------------------
def _bn_train_oracle(Z, BW, Bb, M, V, alpha, G):
    Zt, BWt, Bbt = _t(Z), _t(BW), _t(Bb)
    BZ = F.batch_norm(Zt, None, None, BWt.reshape(-1), Bbt.reshape(-1), training=True, eps=BN_EPS)
    (BZ * _t(G, False)).sum().backward()
    with torch.no_grad():
        mean = Zt.mean(dim=0, keepdim=True)
        var = Zt.var(dim=0, unbiased=False, keepdim=True)
    M_new = alpha * M + (1 - alpha) * mean.numpy()
    V_new = alpha * V + (1 - alpha) * var.numpy()
    return _np(BZ), _np(Zt.grad), _np(BWt.grad), _np(Bbt.grad), M_new, V_new


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
    out = F.batch_norm(_t(Z, False), torch.tensor(M.reshape(-1)), torch.tensor(V.reshape(-1)),
                       torch.tensor(BW.reshape(-1)), torch.tensor(Bb.reshape(-1)), training=False, eps=BN_EPS)
    return _np(out)


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
    bn = _make(title, BatchNorm1d, C, alpha=alpha)
    init = f"after BatchNorm1d({C}, alpha={alpha})"
    for name, value, what in (("BW", np.ones((1, C)), "ones"), ("Bb", np.zeros((1, C)), "zeros"),
                              ("running_M", np.zeros((1, C)), "zeros"), ("running_V", np.ones((1, C)), "ones")):
        got = _attr(f"{title}.__init__", bn, name, init + ",")
        _compare(f"{title}.__init__", init, name, got, value,
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
        BZ = _run(f"{title}.forward", f"{where}, forward(Z)", bn.forward, Z.copy())
        _compare(f"{title}.forward", where, "the returned BZ", BZ, BZ_w, [*eps_mistakes,
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
            got = _attr(f"{title}.forward", bn, got_name, f"{where}, after forward(Z)")
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
            _compare(f"{title}.forward", f"{where}, after forward(Z)", name, got, want, mistakes)
        M, V = M_w, V_w

        bwhere = f"{where}, after forward(Z) and backward(dLdBZ)"
        dZ = _run(f"{title}.backward", f"{where}, backward(dLdBZ)", bn.backward, G.copy())
        dBW = _attr(f"{title}.backward", bn, "dLdBW", bwhere + ",")
        dBb = _attr(f"{title}.backward", bn, "dLdBb", bwhere + ",")
        # a (C,) gradient gives BW − lr · dLdBW the same update: accepted with a note
        _compare_grad(f"{title}.backward", bwhere, "dLdBW", dBW, dBW_w, "BW", noted, [
            (G.sum(axis=0, keepdims=True), "dLdBW and dLdBb look swapped: dLdBW = Σ_i dLdBZ ⊙ NZ, dLdBb = Σ_i dLdBZ."),
            (G * NZ, "dLdBW is not summed over the batch: sum over axis=0 with keepdims=True (shape 1 × C)."),
            ((G * NZ).mean(axis=0, keepdims=True), "dLdBW is averaged; it is the SUM over the batch."),
        ])
        _compare_grad(f"{title}.backward", bwhere, "dLdBb", dBb, dBb_w, "Bb", noted, [
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
        _compare(f"{title}.backward", bwhere, "the returned dLdZ", dZ, dZ_w, [*eps_mistakes,
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
        where = (f"for Z of shape {_shape(Z.shape)}{_batch(n)} with eval=True, after "
                 f"{len(sizes)} training batches (seed {seed})")
        out = _run(f"{title}.forward", f"{where}, forward(Z, eval=True)", bn.forward, Z.copy(), eval=True)
        mistakes = []
        # with batch size 1 the batch statistics give BZ = Bb exactly
        mistakes.append((BW * (Z - Z.mean(axis=0, keepdims=True)) / np.sqrt(Z.var(axis=0, keepdims=True) + BN_EPS) + Bb,
                         "With eval=True normalise with running_M and running_V, not the batch's "
                         "own mean and variance."))
        mistakes.append(((Z - M) / np.sqrt(V + BN_EPS), "The scale and shift are missing in eval: BZ = BW ⊙ NZ + Bb."))
        mistakes.append((BW * (Z - M) / (V + BN_EPS) + Bb, "Divide by √(running_V + eps), not by running_V + eps."))
        _compare(f"{title}.forward", where, "the returned BZ", out, want, mistakes)
        for name, old in (("running_M", M), ("running_V", V)):
            got = _attr(f"{title}.forward", bn, name, f"{where}, after forward(Z, eval=True)")
            _compare(f"{title}.forward", f"{where}, after forward(Z, eval=True)", name, got, old,
                     [(np.asarray(got), f"{name} changed in eval mode: update the running statistics "
                                        f"only when eval=False.")] if np.shape(got) == old.shape else [])
    passed(title, f"{len(sizes)} training batches (forward, backward, running statistics) and "
                  f"{len(evals)} eval batches including batch size 1; match torch.nn.functional.batch_norm")


# --------------------------------------------------------------------------
# A whole model: layers in a list, forward in order, backward in reverse
# --------------------------------------------------------------------------
_MODEL_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Identity": lambda z: z,
    "ReLU": torch.relu,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "GELU": lambda z: F.gelu(z, approximate="none"),
    "Softmax": lambda z: torch.softmax(z, dim=1),
}


def _is_linear(layer: Any) -> bool:
    return hasattr(layer, "W") and hasattr(layer, "b") and np.ndim(layer.W) == 2


def describe_layers(layers: Sequence[Any]) -> list[str]:
    """``["Linear(2, 3)", "ReLU", ...]``: a model's layers as the check sees them."""
    out = []
    for layer in layers:
        if _is_linear(layer):
            o, i = np.shape(layer.W)
            out.append(f"Linear({i}, {o})")
        else:
            out.append(type(layer).__name__)
    return out


@guarded("model")
def check_model(model: Any, architecture: Sequence[str] | None = None, seed: int = 0,
                hard: bool = False) -> None:
    """A model with ``.layers`` (Linear-like layers with ``W``, ``b`` and the
    activations ``ReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``Swish``,
    ``Softmax``, ``Identity``), ``forward(A0)`` through the layers in order and
    ``backward(dLdA)`` through them in reverse: output, returned gradient (if
    any) and every Linear's ``dLdW``/``dLdb`` against the same network in
    PyTorch. ``architecture``, e.g. ``["Linear(2, 3)", "ReLU"]``, is compared
    with ``model.layers`` first. ``model`` may be an instance or a class that
    takes no arguments. The check OVERWRITES every Linear's ``W`` and ``b``
    with its own random values: pass a fresh model, not a trained one."""
    title = type(model).__name__ if not isinstance(model, type) else model.__name__
    if isinstance(model, type):
        model = call(f"{title}.__init__", f"creating {title}()", model)
    layers = _attr(f"{title}.__init__", model, "layers", "after creating the model,")
    if not isinstance(layers, (list, tuple)) or not layers:
        raise CheckFailure(f"{title}.__init__: model.layers should be a non-empty list of layers, "
                           f"got {type(layers).__name__} ({layers!r:.60}).")
    desc = describe_layers(layers)
    if architecture is not None and list(architecture) != desc:
        raise CheckFailure(f"{title}.__init__: model.layers is [{', '.join(desc)}] but should be "
                           f"[{', '.join(architecture)}].")
    if not any(_is_linear(layer) for layer in layers):
        raise CheckFailure(f"{title}.__init__: model.layers has no Linear layer (one with W and b): {desc}.")
    rng = np.random.default_rng(seed + 1000)
    params: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    width = None
    for i, (layer, d) in enumerate(zip(layers, desc)):
        if _is_linear(layer):
            o, n_in = np.shape(layer.W)
            if width is not None and n_in != width:
                raise CheckFailure(f"{title}.__init__: layer {i}, {d}, takes {n_in} features but the "
                                   f"layer before it gives {width}.")
            W = np.round(rng.normal(0, 1 / math.sqrt(n_in), size=(o, n_in)), 3)
            b = np.round(rng.normal(0, 0.5, size=(o, 1)), 3)
            layer.W, layer.b = W.copy(), b.copy()
            params[i] = (W, b)
            width = o
        elif d not in _MODEL_ACTIVATIONS and d != "Swish":
            raise CheckFailure(f"{title}: layer {i} is a {d}, which this check does not know. Use "
                               f"Linear layers (with W and b) and the activations "
                               f"{', '.join(sorted([*_MODEL_ACTIVATIONS, 'Swish']))}.")
    n_in0 = np.shape(layers[next(iter(params))].W)[1]

    def torch_forward(At, Ws, skip=None):
        x = At
        for i, (layer, d) in enumerate(zip(layers, desc)):
            if i == skip:
                continue
            if i in Ws:
                W, b = Ws[i]
                x = F.linear(x, W, b.reshape(-1))
            elif d == "Swish":
                beta = float(getattr(layer, "beta", 1.0))
                x = x * torch.sigmoid(beta * x)
            else:
                x = _MODEL_ACTIVATIONS[d](x)
        return x

    sizes = [1, int(rng.integers(3, 7))] + ([int(rng.integers(20, 40))] if hard else [])
    noted: set[str] = set()
    for n in sizes:
        A0 = np.round(rng.normal(size=(n, n_in0)), 3)
        At = _t(A0)
        Ws = {i: (_t(W), _t(b)) for i, (W, b) in params.items()}
        out = torch_forward(At, Ws)
        G = np.round(rng.normal(size=tuple(out.shape)), 3)
        (out * _t(G, False)).sum().backward()
        where = f"for A0 of shape {_shape(A0.shape)}{_batch(n)} through [{', '.join(desc)}] (seed {seed})"
        skipped = []
        with torch.no_grad():
            for k in range(len(layers)):
                if k not in params:
                    pred = torch_forward(torch.tensor(A0), {i: (torch.tensor(W), torch.tensor(b))
                                                            for i, (W, b) in params.items()}, skip=k)
                    skipped.append((pred.numpy(), f"That is the output without layer {k} ({desc[k]}): "
                                                  f"forward must apply EVERY layer in order."))
        got = _run(f"{title}.forward", f"{where}, forward(A0)", model.forward, A0.copy())
        _compare(f"{title}.forward", where, "the output", got, _np(out), skipped)
        bwhere = f"{where}, after forward(A0) and backward(dLdA) with dLdA of shape {_shape(G.shape)}"
        try:
            ret = _run(f"{title}.backward", f"{where}, backward(dLdA)", model.backward, G.copy())
        except CheckFailure as failure:
            if "ValueError" not in failure.message or "not implemented yet" in failure.message:
                raise
            raise CheckFailure(failure.message + " The shapes do not fit: does backward go through the "
                               "layers from the LAST to the first (reversed(self.layers)), passing each "
                               "returned gradient on to the layer before?") from None
        for i, (Wt, bt) in sorted(Ws.items(), reverse=True):
            layer = layers[i]
            for name, want in (("dLdW", _np(Wt.grad)), ("dLdb", _np(bt.grad))):
                got = getattr(layer, name, None)
                if got is None:
                    raise CheckFailure(f"{title}.backward: {bwhere}, layer {i} ({desc[i]}) has no {name}: "
                                       f"backward must call every layer's backward, last layer first.")
                _compare_grad(f"{title}.backward", bwhere, f"layers[{i}].{name}", got, want,
                              f"layers[{i}].{name[3:]}", noted, [
                    (np.zeros_like(want), f"It is still zero: was layer {i}'s backward called?"),
                ])
        if ret is not None:
            _compare(f"{title}.backward", bwhere, "the returned dLdA0", ret, _np(At.grad))
    passed(title, f"{len(layers)} layers, {len(sizes)} batches including batch size 1; output and "
                  f"gradients match the same network in PyTorch")
