"""Checks for notebook 01: gradients of L = (w1 + w2) * w3 by hand.

Oracle: PyTorch autograd in float64 on the problem's values
(``course_lib.problems.HAND_GRADIENTS``). The messages say what is wrong and
what the usual mistake behind such a number is, but never print the expected
value: the point of the problem is to find it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..problems import HAND_GRADIENTS, HandGradientProblem
from ._harness import CheckFailure, close, fmt, guarded, passed

__all__ = [
    "check_dL_dw3",
    "check_chain_rule",
    "check_update",
    "check_new_L",
]


@dataclass(frozen=True)
class _Truth:
    """Every number of the problem, computed by torch autograd."""

    s: float
    L: float
    dL_ds: float
    ds_dw1: float
    ds_dw2: float
    grad: tuple[float, float, float]  # dL/dw1, dL/dw2, dL/dw3
    new: tuple[float, float, float]  # parameters after one step
    L_new: float


def _truth(p: HandGradientProblem = HAND_GRADIENTS) -> _Truth:
    w = torch.tensor([p.w1, p.w2, p.w3], dtype=torch.float64, requires_grad=True)
    s = w[0] + w[1]
    s.retain_grad()
    L = s * w[2]
    L.backward()
    ds = torch.autograd.functional.jacobian(lambda v: v[0] + v[1], w.detach())
    grad = tuple(float(g) for g in w.grad)
    new = tuple(float(v) for v in (w.detach() - p.eta * w.grad))
    L_new = float((new[0] + new[1]) * new[2])
    return _Truth(s.item(), L.item(), s.grad.item(), float(ds[0]), float(ds[1]), grad, new, L_new)


def _number(name: str, value: Any) -> float:
    """The student's answer as a float, or a failure that says why it is not one."""
    if value is None:
        raise CheckFailure(
            f"{name} is still None: not answered yet. Assign a number (or an expression "
            f"in w1, w2, w3, s, L) to {name} and run that cell again."
        )
    if value is Ellipsis:
        raise CheckFailure(f"{name} is still `...`: not answered yet.")
    if isinstance(value, bool) or isinstance(value, (str, bytes, list, tuple, dict, set)):
        raise CheckFailure(
            f"{name} should be a number, but it is a {type(value).__name__}: {value!r}."
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CheckFailure(
            f"{name} should be a number, but it is a {type(value).__name__} "
            f"that float() cannot convert."
        ) from None
    if not math.isfinite(number):
        raise CheckFailure(f"{name} is {number}; it should be a finite number.")
    return number


def _wrong(name: str, got: float, hint: str) -> CheckFailure:
    return CheckFailure(f"{name} = {fmt(got)} is not right. {hint}")


@guarded("dL_dw3")
def check_dL_dw3(dL_dw3: Any) -> None:
    """Part (a): dL/dw3 at the problem's values."""
    p, t = HAND_GRADIENTS, _truth()
    got = _number("dL_dw3", dL_dw3)
    if close(got, t.grad[2]):
        passed("dL_dw3", "matches PyTorch autograd")
        return
    if close(got, p.w3):
        hint = "That is w3 itself. In L = s * w3, the derivative with respect to w3 is the factor that multiplies w3."
    elif close(got, t.L):
        hint = "That is L itself, not its rate of change."
    elif close(got, -t.grad[2]):
        hint = "The sign is flipped."
    elif close(got, p.w1) or close(got, p.w2):
        hint = "L depends on w1 and w2 only through s = w1 + w2: dL/dw3 involves both of them."
    else:
        hint = "Write L = s * w3, treat s as a constant and differentiate with respect to w3."
    raise _wrong("dL_dw3", got, hint)


@guarded("chain rule")
def check_chain_rule(ds_dw1: Any, ds_dw2: Any, dL_ds: Any, dL_dw1: Any, dL_dw2: Any) -> None:
    """Part (b): the local derivatives ds/dw1, ds/dw2, dL/ds and the chain-rule
    products dL/dw_i = dL/ds * ds/dw_i."""
    p, t = HAND_GRADIENTS, _truth()
    got = {
        "ds_dw1": _number("ds_dw1", ds_dw1),
        "ds_dw2": _number("ds_dw2", ds_dw2),
        "dL_ds": _number("dL_ds", dL_ds),
        "dL_dw1": _number("dL_dw1", dL_dw1),
        "dL_dw2": _number("dL_dw2", dL_dw2),
    }
    for name, want in (("ds_dw1", t.ds_dw1), ("ds_dw2", t.ds_dw2)):
        if not close(got[name], want):
            hint = "s = w1 + w2 changes one for one with each of w1 and w2."
            if close(got[name], p.w1) or close(got[name], p.w2):
                hint = "That is a parameter's value; the derivative of a sum with respect to one term does not depend on the values. " + hint
            raise _wrong(name, got[name], hint)
    if not close(got["dL_ds"], t.dL_ds):
        if close(got["dL_ds"], t.s):
            hint = "That is s. In L = s * w3, the factor multiplying s is w3."
        else:
            hint = "Treat w3 as a constant in L = s * w3 and differentiate with respect to s."
        raise _wrong("dL_ds", got["dL_ds"], hint)
    for name, local in (("dL_dw1", "ds_dw1"), ("dL_dw2", "ds_dw2")):
        want = t.grad[0] if name == "dL_dw1" else t.grad[1]
        if close(got[name], want):
            continue
        if close(got[name], got["dL_ds"] + got[local]):
            hint = "The chain rule multiplies the two derivatives; it does not add them."
        elif close(got[name], t.s) or close(got[name], t.grad[2]):
            hint = f"That is dL/dw3's value. {name} flows through s: {name} = dL_ds * {local}."
        elif close(got[name], -want):
            hint = "The sign is flipped."
        else:
            hint = f"Use the chain rule through s: {name} = dL_ds * {local}."
        raise _wrong(name, got[name], hint)
    passed("chain rule", "ds/dw1, ds/dw2, dL/ds, dL/dw1 and dL/dw2 match PyTorch autograd")


@guarded("gradient step")
def check_update(w1_new: Any, w2_new: Any, w3_new: Any) -> None:
    """Part (c): one step w <- w - eta * dL/dw, every gradient taken at the old values."""
    p, t = HAND_GRADIENTS, _truth()
    names = ("w1_new", "w2_new", "w3_new")
    got = tuple(_number(n, v) for n, v in zip(names, (w1_new, w2_new, w3_new)))
    old = (p.w1, p.w2, p.w3)
    for i, name in enumerate(names):
        if close(got[i], t.new[i]):
            continue
        g = t.grad[i]
        if close(got[i], old[i]):
            hint = "It did not move: subtract eta times the gradient."
        elif close(got[i], old[i] + p.eta * g):
            hint = "It moved along the gradient (uphill). Gradient descent subtracts: w - eta * dL/dw."
        elif close(got[i], old[i] - g):
            hint = "The learning rate is missing: the step is eta * dL/dw with eta = 0.01."
        elif close(got[i], -p.eta * g) or close(got[i], p.eta * g):
            hint = "That is the step alone; add it to the old value: w_new = w - eta * dL/dw."
        elif i == 2 and close(got[i], old[2] - p.eta * (got[0] + got[1])):
            hint = ("dL/dw3 was taken after w1 and w2 had already moved. Compute every "
                    "gradient at the old values first, then update all parameters.")
        elif i < 2 and close(got[i], old[i] - p.eta * got[2]):
            hint = ("dL/dw1 was taken after w3 had already moved. Compute every "
                    "gradient at the old values first, then update all parameters.")
        else:
            hint = f"Apply w_new = w - eta * dL/dw with eta = {p.eta} and the gradients from (a) and (b)."
        raise _wrong(name, got[i], hint)
    passed("gradient step", "w1_new, w2_new and w3_new match one step of gradient descent")


@guarded("L_new")
def check_new_L(L_new: Any, w1_new: Any = None, w2_new: Any = None, w3_new: Any = None) -> None:
    """Part (d): L at the updated parameters. Pass the updated parameters too,
    to be told whether a wrong L_new comes from them or from the formula."""
    t = _truth()
    got = _number("L_new", L_new)
    if close(got, t.L_new):
        passed("L_new", "matches L at the updated parameters")
        return
    if close(got, t.L):
        hint = "That is the old L. Recompute L = (w1 + w2) * w3 with the updated parameters."
    else:
        hint = "Recompute L = (w1 + w2) * w3 with w1_new, w2_new, w3_new."
        try:
            mine = (float(w1_new) + float(w2_new)) * float(w3_new)
        except (TypeError, ValueError):
            mine = None
        if mine is not None and close(got, mine):
            hint = ("It is L at your updated parameters, but those are not right yet: "
                    "fix part (c) first (run its check).")
    raise _wrong("L_new", got, hint)
