"""Exact count of the linear pieces of a ReLU network from R to R.

The network is f = L_{D+1} ∘ relu ∘ L_D ∘ ... ∘ relu ∘ L_1 with L_d(h) = W_d h + b_d,
one input, hidden widths W_1..W_D and one output. On an interval [a, b], f is
continuous and piecewise linear; κ(f) is the smallest number of linear pieces,
i.e. 1 + the number of interior points where the slope of f changes.

:func:`count_pieces` follows the network layer by layer and carries every unit
h_j of the current layer exactly, as a common sorted list of knots
a = x_0 < x_1 < ... < x_K = b, the values h_j(x_k) and the slopes h_j' on each
segment [x_k, x_{k+1}] (all units are linear between consecutive knots):

- Linear: V ← W V + b, S ← W S (values V, slopes S, one row per unit);
- ReLU: a unit whose values v_0, v_1 at the ends of a segment have opposite
  signs vanishes at x* = x_k + (x_{k+1} - x_k) v_0 / (v_0 - v_1); these zero
  crossings join the knots, every unit is re-evaluated at the new knots by
  linear interpolation, keeps its slope where it is positive and gets slope 0
  where it is not, and V ← max(0, V);
- then knots where no unit changes slope are dropped, so that after each
  hidden layer the knots are exactly the breakpoints of the vector-valued map
  x ↦ h_d(x).

Floating point: two neighbouring slopes s, s' count as equal when
|s − s'| <= max(rtol |s| + atol A, rtol |s'| + atol A'), where A = Σ|W||h'| is the
size of the terms the slope is summed from (carried alongside the slopes; the
rounding error of s is a small multiple of ε A). So cancellations such as
0.1 relu(x) + 0.2 relu(x) − 0.3 relu(x) merge as they should; but a real kink
smaller than atol A merges too (A/|s| = 3^D for :func:`sawtooth`, which stays
exact up to depth 25). Zero crossings
closer than ``xtol`` times max(b − a, |a|, |b|) to a knot or to each other
count as one point.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["Pieces", "bound", "count_pieces", "random_net", "sawtooth", "to_sequential"]

#: Tolerances of "equal slopes": relative to the slopes, and to the size A of their terms.
RTOL, ATOL = 1e-9, 1e-12
#: Zero crossings closer than this (times max(b - a, |a|, |b|)) count as one point.
XTOL = 1e-12

Layer = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class Pieces:
    """The linear pieces of f on ``interval``.

    ``count`` = κ(f) = len(slopes) = len(breakpoints) + 1; ``breakpoints``: the
    sorted interior x where the slope changes; ``slopes[i]``: f' on piece i;
    ``knots_x``, ``knots_y``: x and f(x) at the interval ends and breakpoints;
    ``layer_counts[d - 1]``: κ(h_d), the number of linear pieces of the
    vector-valued map x ↦ h_d(x), the outputs of the d-th ReLU layer: 1 + the
    number of x where some unit of h_d changes slope (so κ(f) <= κ(h_D)); a ReLU
    after the output layer counts as a layer of width 1, here and in ``bound``;
    ``bound`` = 2^D ∏ W_d over the ReLU layers.
    """

    count: int
    breakpoints: np.ndarray
    slopes: np.ndarray
    knots_x: np.ndarray
    knots_y: np.ndarray
    interval: tuple[float, float]
    layer_counts: list[int]
    bound: int

    def __call__(self, x: Any) -> float | np.ndarray:
        """f(x) by linear interpolation between the knots; x must lie in the interval."""
        x = np.asarray(x, dtype=np.float64)
        a, b = self.interval
        if not np.all((x >= a) & (x <= b)):
            raise ValueError(f"x must lie in the interval [{a}, {b}] where the pieces were counted")
        y = np.interp(x, self.knots_x, self.knots_y)
        return float(y) if y.ndim == 0 else y


def bound(widths: Sequence[int]) -> int:
    """2^D ∏ W_d for hidden widths [W_1..W_D] (each layer at most multiplies κ by W_d + 1 ≤ 2 W_d)."""
    widths = [int(w) for w in widths]
    if any(w < 1 for w in widths):
        raise ValueError(f"widths must be positive integers, got {widths}")
    return 2 ** len(widths) * prod(widths)


# --------------------------------------------------------------------------
# Reading a network
# --------------------------------------------------------------------------
def _array(a: Any, name: str) -> np.ndarray:
    if a is None:
        raise ValueError(f"{name} is missing")
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    try:
        return np.array(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} is not an array of numbers: {e}") from None


def _layers(net: Any) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """[(W, b, relu after?)] of a torch nn.Sequential or a list of (W, b) pairs, checked."""
    layers: list[list] = []
    if isinstance(net, nn.Module):
        if not isinstance(net, nn.Sequential):
            raise ValueError(f"expected an nn.Sequential of nn.Linear and nn.ReLU, got {type(net).__name__}")
        for i, m in enumerate(net):
            if isinstance(m, nn.Linear):
                if layers and not layers[-1][2]:
                    raise ValueError(f"module {i}: two nn.Linear in a row; layers must alternate "
                                     "Linear, ReLU, Linear, ...")
                b = m.bias if m.bias is not None else torch.zeros(m.out_features)
                layers.append([_array(m.weight, f"module {i} weight"), _array(b, f"module {i} bias"), False])
            elif isinstance(m, nn.ReLU):
                if not layers or layers[-1][2]:
                    raise ValueError(f"module {i}: nn.ReLU must follow an nn.Linear")
                layers[-1][2] = True
            else:
                raise ValueError(f"module {i}: {type(m).__name__} is not allowed; only nn.Linear and nn.ReLU")
    elif isinstance(net, (list, tuple)):
        for i, pair in enumerate(net):
            if isinstance(pair, (np.ndarray, torch.Tensor)) or not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"layer {i}: expected a (W, b) pair")
            W, b = _array(pair[0], f"layer {i} W"), _array(pair[1], f"layer {i} b")
            if W.ndim != 2:
                raise ValueError(f"layer {i}: W must have shape (out, in), got shape {W.shape}")
            if b.size != W.shape[0] or b.ndim > 1:
                raise ValueError(f"layer {i}: b must have shape ({W.shape[0]},), got shape {b.shape}")
            layers.append([W, b.reshape(-1), i < len(net) - 1])
    else:
        raise ValueError("expected an nn.Sequential of nn.Linear/nn.ReLU or a list of (W, b) pairs, "
                         f"got {type(net).__name__}")
    if not layers:
        raise ValueError("the network has no layers")
    if layers[0][0].shape[1] != 1:
        raise ValueError(f"the first layer must take 1 input, it takes {layers[0][0].shape[1]}")
    for i, ((W0, _, _), (W1, _, _)) in enumerate(zip(layers, layers[1:])):
        if W1.shape[1] != W0.shape[0]:
            raise ValueError(f"shapes do not chain: layer {i} gives {W0.shape[0]} outputs, "
                             f"layer {i + 1} takes {W1.shape[1]} inputs")
    if layers[-1][0].shape[0] != 1:
        raise ValueError(f"the last layer must give 1 output, it gives {layers[-1][0].shape[0]}")
    if not all(np.isfinite(W).all() and np.isfinite(b).all() for W, b, _ in layers):
        raise ValueError("the weights must be finite (no nan or inf)")
    return [(W, b, relu) for W, b, relu in layers]


# --------------------------------------------------------------------------
# The piecewise-linear state of a layer of n units: knots x (K+1,), values
# V (n, K+1), slopes S (n, K) on the K segments and the size of their terms
# A = Σ|W||h'| (n, K)
# --------------------------------------------------------------------------
def _relu(x: np.ndarray, V: np.ndarray, S: np.ndarray, A: np.ndarray, xtol: float):
    """Insert every unit's zero crossings into the knots, then apply max(0, ·) (may reuse V, S, A)."""
    K = len(x) - 1
    pos, neg = V > 0, V < 0
    crossing = np.flatnonzero((pos[:, :-1] & neg[:, 1:]) | (neg[:, :-1] & pos[:, 1:]))  # unit K + seg
    unit, seg = np.divmod(crossing, K)
    at = crossing + unit  # the index of V[unit, seg] in V.ravel()
    x0, x1, v0, v1 = x[seg], x[seg + 1], np.take(V, at), np.take(V, at + 1)
    c = x0 + (x1 - x0) * (v0 / (v0 - v1))
    inside = (c - x0 > xtol) & (x1 - c > xtol)  # else: it is (almost) a knot already
    if inside.any():
        c, seg = c[inside], seg[inside]
        xn = np.concatenate([x, c])
        order = np.argsort(xn, kind="stable")  # merges sorted runs: x, then c by unit
        xn = xn[order]
        twin = np.concatenate([[False], (order[1:] > K) & (np.diff(xn) <= xtol)])
        if twin.any():  # crossings of several units at (almost) the same x
            order, xn = order[~twin], xn[~twin]
        left, t = np.take(V, seg, axis=1), (c - x0[inside]) / (x1 - x0)[inside]
        at_c = left + t * (np.take(V, seg + 1, axis=1) - left)  # V_k + t (V_{k+1} - V_k)
        V = np.take(np.concatenate([V, at_c], axis=1), order, axis=1)
        parent = np.cumsum(order[:-1] <= K) - 1  # the old segment each new one lies in
        x, S, A = xn, np.take(S, parent, axis=1), np.take(A, parent, axis=1)
    active = V[:, :-1] + V[:, 1:] > 0  # the sign of each unit at the middle of each segment
    S *= active
    A *= active
    return x, np.maximum(V, 0.0, out=V), S, A


def _merge(x: np.ndarray, V: np.ndarray, S: np.ndarray, A: np.ndarray, rtol: float, atol: float):
    """Drop the knots where no unit changes slope.

    Slopes s, s' are equal when |s − s'| <= max(rtol |s| + atol A, rtol |s'| + atol A').
    """
    change = np.abs(np.diff(S, axis=1))
    kink = (change > rtol * max(S.max(), -S.min()) + atol * A.max()).any(axis=0)  # above any tol
    unsure = np.flatnonzero(~kink)  # compare these with their own tolerance
    if len(unsure):
        def tol(k: np.ndarray) -> np.ndarray:
            return rtol * np.abs(S[:, k]) + atol * A[:, k]
        kink[unsure] = (change[:, unsure] > np.maximum(tol(unsure), tol(unsure + 1))).any(axis=0)
    keep = np.concatenate([[True], kink])
    if keep.all():
        return x, V, S, A
    knots = np.append(keep, True)
    return (x[knots], np.compress(knots, V, axis=1), np.compress(keep, S, axis=1),
            np.compress(keep, A, axis=1))


def count_pieces(net: Any, interval: tuple[float, float] = (-1.0, 1.0), *,
                 rtol: float = RTOL, atol: float = ATOL, xtol: float = XTOL) -> Pieces:
    """κ(f) and the pieces of the network f on the closed interval [a, b].

    ``net``: an ``nn.Sequential`` of alternating ``nn.Linear``/``nn.ReLU`` from 1
    input to 1 output (a trailing ReLU is applied), or a list of (W, b) pairs
    meaning Linear, ReLU, Linear, ..., ReLU, Linear (W of shape (out, in)).
    ``rtol``, ``atol``, ``xtol``: see the module's docstring.
    """
    layers = _layers(net)
    a, b = (float(v) for v in interval)
    if not (np.isfinite(a) and np.isfinite(b) and a < b):
        raise ValueError(f"interval must be two finite numbers a < b, got {interval}")
    xtol = xtol * max(b - a, abs(a), abs(b))
    x, V = np.array([a, b]), np.array([[a, b]])
    S, A = np.ones((1, 1)), np.ones((1, 1))
    layer_counts, widths = [], []
    for W, bias, relu in layers:
        V, S, A = W @ V, W @ S, np.abs(W) @ A
        V += bias[:, None]
        if relu:
            x, V, S, A = _merge(*_relu(x, V, S, A, xtol), rtol, atol)
            layer_counts.append(len(x) - 1)
            widths.append(W.shape[0])
    x, V, S, A = _merge(x, V, S, A, rtol, atol)
    arrays = dict(breakpoints=x[1:-1], slopes=S[0], knots_x=x, knots_y=V[0])
    for arr in arrays.values():
        arr.setflags(write=False)
    return Pieces(count=len(x) - 1, interval=(a, b), layer_counts=layer_counts,
                  bound=bound(widths), **arrays)


# --------------------------------------------------------------------------
# Constructions
# --------------------------------------------------------------------------
def sawtooth(depth: int) -> list[Layer]:
    """The tent map t(x) = 2 relu(x) − 4 relu(x − 1/2) composed ``depth`` times, width 2 per layer.

    On the interval (0, 1), t^depth is a triangle wave with exactly 2^depth
    pieces (breakpoints k / 2^depth, k = 1..2^depth − 1): exponential in depth,
    where a single hidden layer of width W has at most W + 1 pieces. On the
    default (−1, 1) it has one more piece, as it is constant 0 for x < 0.
    """
    if int(depth) != depth or depth < 0:
        raise ValueError(f"depth must be a non-negative integer, got {depth}")
    if depth == 0:
        return [(np.ones((1, 1)), np.zeros(1))]
    shift = np.array([0.0, -0.5])
    tent = np.array([[2.0, -4.0]])
    return ([(np.ones((2, 1)), shift)] + [(np.repeat(tent, 2, axis=0), shift)] * (depth - 1)
            + [(tent, np.zeros(1))])


def random_net(depth: int, width: int | Sequence[int], seed: int = 0, scale: float = 1.0,
               interval: tuple[float, float] = (-1.0, 1.0)) -> list[Layer]:
    """A random network as (W, b) pairs: W ~ N(0, scale² · 2 / fan_in) (He), ``width`` per hidden layer.

    ``width``: one width for all ``depth`` hidden layers, or a list of them. Each
    hidden unit's bias is chosen so that its pre-activation vanishes at a point
    ξ drawn uniformly from ``interval``: b_j = −W_j · h(ξ_j), with h the previous
    layer's output. Every unit that is not flat at ξ_j therefore has a breakpoint
    inside the interval. The output bias is N(0, scale²).
    """
    widths = [int(width)] * depth if np.ndim(width) == 0 else [int(w) for w in width]
    if len(widths) != depth or any(w < 1 for w in widths):
        raise ValueError(f"need {depth} positive widths, got {width}")
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    for fan_in, fan_out in zip([1, *widths], [*widths, 1]):
        W = rng.normal(0.0, scale * np.sqrt(2.0 / fan_in), (fan_out, fan_in))
        if len(layers) < depth:
            h = rng.uniform(*interval, size=(fan_out, 1))
            for W_prev, b_prev in layers:
                h = np.maximum(h @ W_prev.T + b_prev, 0.0)
            b = -(W * h).sum(axis=1)
        else:
            b = rng.normal(0.0, scale, fan_out)
        layers.append((W, b))
    return layers


def to_sequential(layers: Sequence[Layer]) -> nn.Sequential:
    """The (W, b) pairs as a float64 ``nn.Sequential``: Linear, ReLU, ..., ReLU, Linear."""
    modules: list[nn.Module] = []
    for W, b, relu in _layers(layers):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        modules += [linear, nn.ReLU()] if relu else [linear]
    return nn.Sequential(*modules)
