"""Checks of notebook 03's activation layers (numpy, MyTorch's names):
``forward(Z)`` returns ``A``, ``backward(dLdA)`` returns ``dLdZ = dLdA ⊙ dA/dZ``.

- ``Sigmoid``: σ(z) = 1 / (1 + e^(−z)), dA/dZ = A(1 − A);
- ``Tanh``: dA/dZ = 1 − A² (without ``np.tanh``);
- ``ReLU``: max(0, z); at z = 0 either one-sided slope is accepted;
- ``GELU`` (exact): z Φ(z) = ½ z (1 + erf(z/√2)), dA/dZ = Φ(z) + z φ(z);
- ``Swish``: A = Z σ(βZ) with a learnable ``beta``; ``backward`` also stores the
  scalar ``dLdbeta`` = Σ dLdA ⊙ Z² σ(βZ)(1 − σ(βZ));
- ``Softmax``, row-wise: a = e^z / Σ e^z; each row's Jacobian is diag(a) − a aᵀ.

Every activation also gets inputs of ±1000 and ±400, where exp overflows; the
failure names the nan and the stable form. The oracle is PyTorch autograd in float64.
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

from ._arrays import NONFINITE, Mistakes, as_array, quiet, shape_text as _shape
from ._harness import CheckFailure, fmt, guarded
from ._layer_harness import STORED, as_numpy, call_quiet, compare_layer, layer_attr, make_layer, tensor, to_numpy
from .partial import score

__all__ = ["check_sigmoid", "check_tanh", "check_relu", "check_gelu", "check_swish", "check_softmax"]


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * (1.0 + erf(x / math.sqrt(2)))


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
    layer = make_layer(title, Cls)
    rng = np.random.default_rng(seed + act.offset + 1)
    cases = _activation_inputs(act, seed, hard)
    fwd_hint, bwd_hint = act.overflow

    def forward(Z: np.ndarray, where: str, want_A: np.ndarray, check: bool = True) -> None:
        with _forbid(f"{title}.forward", act.forbidden):
            A = call_quiet(f"{title}.forward", f"{where}, forward(Z)", layer.forward, Z.copy())
        if check:
            with quiet():
                mistakes = _finite_only(act.forward_mistakes(Z))
            compare_layer(f"{title}.forward", where, "A", A, want_A, mistakes, entry=_entry(Z),
                          nonfinite_hint=fwd_hint or NONFINITE)

    def backward(Z: np.ndarray, where: str, want_A: np.ndarray, G: np.ndarray, want_dZ: np.ndarray) -> None:
        forward(Z, where, want_A, check=False)
        with quiet():
            mistakes = _finite_only(act.backward_mistakes(Z, want_A, G))
        with _forbid(f"{title}.backward", act.forbidden):
            dZ = call_quiet(f"{title}.backward", f"{where}, backward(dLdA)", layer.backward, G.copy())
        accept = []
        if act.kink is not None:
            at_kink = Z == act.kink
            if at_kink.any():
                other = want_dZ.copy()
                other[at_kink] = G[at_kink] - want_dZ[at_kink]  # the other one-sided slope (0 <-> 1)
                accept.append(other)
        compare_layer(f"{title}.backward", f"{where}, after forward(Z) and backward(dLdA)",
                      "the returned dLdZ", dZ, want_dZ, mistakes,
                      accept=accept, entry=_entry(Z), nonfinite_hint=bwd_hint or NONFINITE)

    parts = []
    for Z, note in cases:
        G = np.round(rng.normal(size=Z.shape), 3)
        Zt = tensor(Z)
        At = act.oracle(Zt)
        (At * tensor(G, False)).sum().backward()
        want_A, want_dZ = to_numpy(At), to_numpy(Zt.grad)
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
    layer = make_layer("Swish", Swish)
    if not hasattr(layer, "beta"):
        raise CheckFailure("Swish.__init__: after Swish() the layer has no attribute beta. Store the "
                           "learnable parameter as self.beta (1.0 at the start).")
    drawn = [(beta, Z, note, np.round(rng.normal(size=Z.shape), 3)) for beta, Z, note in cases]

    def case(beta: float, Z: np.ndarray, note: str, G: np.ndarray) -> None:
        layer.beta = beta
        Zt, bt = tensor(Z), torch.tensor(beta, dtype=torch.float64, requires_grad=True)
        At = Zt * torch.sigmoid(bt * Zt)
        (At * tensor(G, False)).sum().backward()
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
        A = call_quiet("Swish.forward", f"{where}, forward(Z)", layer.forward, Z.copy())
        compare_layer("Swish.forward", where, "A", A, to_numpy(At), fwd_mistakes, entry=entry,
                      nonfinite_hint=_SWISH_OVERFLOW)
        bwhere = f"{where}, after forward(Z) and backward(dLdA)"
        dZ = call_quiet("Swish.backward", f"{where}, backward(dLdA)", layer.backward, G.copy())
        compare_layer("Swish.backward", bwhere, "the returned dLdZ", dZ, to_numpy(Zt.grad), bwd_mistakes, entry=entry,
                      nonfinite_hint=_SWISH_OVERFLOW_BWD)
        got = layer_attr("Swish.backward", layer, "dLdbeta", f"{bwhere},")
        arr = as_array("Swish.backward", "dLdbeta", as_numpy(got), where=bwhere, none_hint=STORED)
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
        compare_layer("Swish.backward", bwhere, "dLdbeta", arr.reshape(()), np.float64(want), _finite_only(mistakes),
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
    layer = make_layer("Softmax", Softmax)
    rng = np.random.default_rng(seed + 701)
    cases = [(Z, note, np.round(rng.normal(size=Z.shape), 3)) for Z, note in _softmax_inputs(seed, hard)]

    def case(Z: np.ndarray, note: str, G: np.ndarray) -> None:
        Zt = tensor(Z)
        At = torch.softmax(Zt, dim=1)
        (At * tensor(G, False)).sum().backward()
        want = to_numpy(At)
        where = f"for Z of shape {_shape(Z.shape)}{note} (seed {seed})"

        def entry(idx, Z=Z):
            return f"row {idx[0]} of Z is [{', '.join(fmt(float(v)) for v in Z[idx[0]][:6])}{', ...' if Z.shape[1] > 6 else ''}]"

        with quiet():
            E = np.exp(Z)
            unshifted = E / E.sum(axis=1, keepdims=True)
            global_shift = np.exp(Z - Z.max())
            global_shift = global_shift / global_shift.sum(axis=1, keepdims=True)
        A = call_quiet("Softmax.forward", f"{where}, forward(Z)", layer.forward, Z.copy())
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
        compare_layer("Softmax.forward", where, "A", A, want, fwd_mistakes, entry=entry)
        dZ = call_quiet("Softmax.backward", f"{where}, backward(dLdA)", layer.backward, G.copy())
        a = want
        compare_layer("Softmax.backward", f"{where}, after forward(Z) and backward(dLdA)", "the returned dLdZ",
                      dZ, to_numpy(Zt.grad), [
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
