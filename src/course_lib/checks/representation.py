"""Checks for notebook 06: what linear layers, single perceptrons and ReLU
networks can represent."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ._harness import CheckFailure, call, fmt, guarded, passed

__all__ = ["check_bottleneck", "check_collapse", "check_gate", "check_pieces_target"]


def _matrix(name: str, x: Any, ndim: int = 2) -> np.ndarray:
    try:
        arr = np.asarray(x.detach().numpy() if isinstance(x, torch.Tensor) else x, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailure(f"{name} should be a numpy array of numbers, got {type(x).__name__}.") from None
    if arr.ndim != ndim:
        raise CheckFailure(f"{name} should have {ndim} dimensions, got shape {arr.shape}.")
    return arr


# --------------------------------------------------------------------------
# 1. Linear layers collapse
# --------------------------------------------------------------------------
def _layers(rng: np.random.Generator, sizes: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    Ws = [np.round(rng.normal(size=(b, a)), 2) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.round(rng.normal(size=b), 2) for b in sizes[1:]]
    return Ws, bs


@guarded("collapse")
def check_collapse(collapse: Any, seed: int = 0, hard: bool = False) -> None:
    """``collapse(Ws, bs)`` returns ``(W, b)`` with ``W x + b`` equal to the
    layers ``x ↦ W_i x + b_i`` applied in order, for every x."""
    rng = np.random.default_rng(seed)
    shapes = [[3, 4, 2], [2, 5], [4, 3, 3, 5, 2]] + ([[1, 6, 1, 6, 3], [5, 5, 5, 5, 5, 5]] if hard else [])
    for sizes in shapes:
        Ws, bs = _layers(rng, sizes)
        where = f"for {len(Ws)} layers of sizes {' → '.join(map(str, sizes))}"
        out = call("collapse", f"collapse(Ws, bs) {where}", collapse, [W.copy() for W in Ws], [b.copy() for b in bs])
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CheckFailure(f"collapse: {where} it returned {type(out).__name__}; return a pair (W, b).")
        W = _matrix("collapse's W", out[0])
        b = _matrix("collapse's b", np.reshape(out[1], -1) if np.size(out[1]) else out[1], ndim=1)

        def stacked(x: np.ndarray) -> np.ndarray:
            for weight, bias in zip(Ws, bs):
                x = weight @ x + bias
            return x

        want_b = stacked(np.zeros(sizes[0]))                       # f(0) = b
        want_W = np.stack([stacked(e) - want_b for e in np.eye(sizes[0])], axis=1)   # columns f(e_j) - f(0)
        if W.shape != want_W.shape:
            raise CheckFailure(f"collapse: {where} W has shape {W.shape} but should be {want_W.shape} (outputs × "
                               f"inputs). The first layer acts first: W = W_L ⋯ W_2 W_1.")
        if not np.allclose(W, want_W, atol=1e-8):
            hint = ""
            if len(Ws) > 1 and all(M.shape[0] == M.shape[1] for M in Ws):
                if np.allclose(W, np.linalg.multi_dot([*Ws, np.eye(sizes[0])]), atol=1e-8):
                    hint = " That is W_1 W_2 ⋯ W_L: the first layer acts first, so it stands on the RIGHT."
            raise CheckFailure(f"collapse: {where} W is wrong (e.g. W[0, 0] = {fmt(float(W[0, 0]))}, should be "
                               f"{fmt(float(want_W[0, 0]))}).{hint}")
        if b.shape != want_b.shape or not np.allclose(b, want_b, atol=1e-8):
            hint = (" That is only the last bias: the earlier biases pass through the later layers, "
                    "b = W_L(⋯(W_2 b_1 + b_2)⋯) + b_L." if b.shape == bs[-1].shape and np.allclose(b, bs[-1])
                    else " Is each earlier bias multiplied by the weights of every later layer?")
            raise CheckFailure(f"collapse: {where} b is {np.round(b, 4).tolist()} but should be "
                               f"{np.round(want_b, 4).tolist()}.{hint}")
    passed("collapse", f"{len(shapes)} stacks of linear layers, each equal to the single layer W x + b")


# --------------------------------------------------------------------------
# 2. A bottleneck caps the rank
# --------------------------------------------------------------------------
@guarded("bottleneck")
def check_bottleneck(W1: Any, W2: Any, n: int = 3, k: int = 1) -> None:
    """``W1`` (k×n) then ``W2`` (n×k): the composition ``W2 W1`` is n×n but has
    rank at most k < n, while a single n×n layer can have rank n."""
    A, B = _matrix("W1", W1), _matrix("W2", W2)
    if A.shape != (k, n) or B.shape != (n, k):
        raise CheckFailure(f"bottleneck: W1 should be {k}×{n} (the narrow layer) and W2 {n}×{k}; got {A.shape} "
                           f"and {B.shape}.")
    product = B @ A
    rank = int(np.linalg.matrix_rank(product))
    if rank == 0:
        raise CheckFailure("bottleneck: W2 W1 is the zero map; choose nonzero weights, so that the rank you see "
                           "comes from the bottleneck and not from zeros.")
    if rank > k:
        raise CheckFailure(f"bottleneck: W2 W1 has rank {rank} > {k}, which cannot be: check the shapes.")
    passed("bottleneck", f"{n} → {k} → {n}: W2 W1 is {n}×{n} with rank {rank}, while one {n}×{n} layer can have "
                         f"rank {n}")


# --------------------------------------------------------------------------
# 3. Logic gates with one perceptron
# --------------------------------------------------------------------------
_TABLES = {"AND": (0, 0, 0, 1), "OR": (0, 1, 1, 1), "NAND": (1, 1, 1, 0), "NOR": (1, 0, 0, 0)}
_INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))


@guarded("gate")
def check_gate(w: Any, b: Any, gate: str = "AND") -> None:
    """The perceptron ``step(w · x + b)`` (1 when positive, else 0) computes
    ``gate`` on the four inputs of {0, 1}², none of them exactly on the boundary."""
    table = _TABLES[gate]
    wv = _matrix(f"w for {gate}", w, ndim=1) if np.ndim(w) == 1 else _matrix(f"w for {gate}", w).reshape(-1)
    if wv.shape != (2,):
        raise CheckFailure(f"{gate}: w should hold 2 weights (one per input), got shape {wv.shape}.")
    try:
        bias = float(np.asarray(b, dtype=float).reshape(-1)[0]) if np.size(b) == 1 else None
    except (TypeError, ValueError):
        bias = None
    if bias is None:
        raise CheckFailure(f"{gate}: b should be one number, got {b!r:.60}.")
    for (x1, x2), want in zip(_INPUTS, table):
        s = wv[0] * x1 + wv[1] * x2 + bias
        if s == 0:
            raise CheckFailure(f"{gate}: for x = ({x1}, {x2}), w · x + b is exactly 0: on the boundary the output "
                               f"is ambiguous. Move the line so that every input is strictly on one side.")
        got = int(s > 0)
        if got != want:
            raise CheckFailure(f"{gate}: for x = ({x1}, {x2}), w · x + b = {fmt(float(s))}, so the perceptron outputs "
                               f"{got}, but {x1} {gate} {x2} is {want}.")
    passed(gate, f"w = {wv.tolist()}, b = {fmt(bias)} computes the truth table of {gate}")


# --------------------------------------------------------------------------
# 4. A ReLU network with a given number of pieces
# --------------------------------------------------------------------------
def _hidden_widths(net: Any) -> list[int] | None:
    """Widths of the hidden layers: every Linear's output size but the last."""
    if isinstance(net, torch.nn.Module):
        sizes = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
    elif isinstance(net, (list, tuple)):
        sizes = [int(np.shape(pair[0])[0]) for pair in net]
    else:
        return None
    return sizes[:-1]


@guarded("pieces")
def check_pieces_target(net: Any, target: int, interval: tuple[float, float] = (0.0, 1.0), max_depth: int = 3,
                        max_width: int = 2) -> None:
    """``net`` (a list of ``(W, b)``, or an ``nn.Sequential`` of Linear/ReLU) has at
    most ``max_depth`` hidden layers of at most ``max_width`` units, and exactly
    ``target`` linear pieces on ``interval`` (counted exactly by ``count_pieces``)."""
    from ..pieces import count_pieces

    try:
        result = count_pieces(net, interval)
    except ValueError as exc:
        raise CheckFailure(f"pieces: your network cannot be read: {exc}") from None
    widths = _hidden_widths(net)
    if widths is not None:
        if len(widths) > max_depth or max(widths, default=0) > max_width:
            raise CheckFailure(f"pieces: the network has hidden widths {widths}; this task allows at most "
                               f"{max_depth} hidden layers of at most {max_width} units.")
    if result.count != target:
        bps = ", ".join(fmt(float(x)) for x in result.breakpoints[:12])
        raise CheckFailure(f"pieces: on [{fmt(interval[0])}, {fmt(interval[1])}] your network has {result.count} "
                           f"linear pieces (breakpoints at {bps or 'none'}), not {target}.")
    passed("pieces", f"exactly {target} pieces on [{fmt(interval[0])}, {fmt(interval[1])}]"
                     + (f" with hidden widths {widths}" if widths is not None else ""))
