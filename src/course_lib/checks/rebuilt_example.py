"""Check of part (i) of notebook 02: problem 1 rebuilt with ``Value``. With
``L = (w1 + w2) · w3`` one ``L.backward()`` gives

    dL/dw1 = dL/dw2 = w3,   dL/dw3 = w1 + w2,

then one step ``w ← w − eta · dL/dw`` and ``L_new`` at the updated values; all
are compared with PyTorch. Gradients that have added up (``backward()`` run
twice without resetting) and a step applied twice are named, and a wrong engine
is told apart from a wrong use of it.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import torch

from ..problems import HAND_GRADIENTS
from ._harness import CheckFailure, as_number, call, close, fmt, guarded, passed
from .backprop import backward_problem
from .local_derivatives import method_problem

__all__ = ["check_rebuilt_example"]


_REBUILD_TITLE = "rebuilt example"

#: What to run again after the gradients of part (i) have added up.
_START_OVER = ("re-run the cell that builds w1, w2, w3, s and L (it makes fresh Values whose .grad is 0), "
               "then the step cell once (the cell that calls L.backward() and sets L_new), then this check")


def _integer_multiple(got: float, want: float) -> int | None:
    """k when ``got`` is k times ``want`` for an integer k >= 2, else None."""
    if close(want, 0.0):
        return None
    k = round(got / want)
    return k if k >= 2 and close(got, k * want) else None


def _fresh_rebuild_problem(Value: type, want: Sequence[float]) -> str | None:
    """None when one backward() on a fresh L = (w1 + w2) * w3 made with the
    student's class gives the right gradients; else what is wrong with the engine."""
    p, title = HAND_GRADIENTS, _REBUILD_TITLE
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            v = [call(title, f"Value({fmt(x)})", Value, x) for x in (p.w1, p.w2, p.w3)]
            fresh = call(title, "computing L = (w1 + w2) * w3", lambda: (v[0] + v[1]) * v[2])
            call(title, "calling backward() on a fresh L", fresh.backward)
            got = [as_number(title, f"w{i + 1}.grad", x.grad) for i, x in enumerate(v)]
        if all(close(g, w) for g, w in zip(got, want)):
            return None
        seen = (f"one backward() on a fresh L = (w1 + w2) * w3 built with your Value gives "
                f"w1.grad, w2.grad, w3.grad = {', '.join(fmt(g) for g in got)}")
    except CheckFailure as failure:
        seen = f"a fresh L = (w1 + w2) * w3 built with your Value fails: {failure.message}"
    problem = backward_problem(Value)
    if problem is None:
        failure = method_problem(Value, "__mul__")
        problem = failure.message if failure is not None else None
    if problem is not None:
        return (f"Your Value itself is at fault ({seen}); L uses + (given), * (part b) and backward() "
                f"(part a). Fix parts (a)-(b) first:\n  {problem}")
    return (f"Your Value itself is at fault: {seen}, not {', '.join(fmt(w) for w in want)}. "
            f"L uses only +, * and backward(): check that their _backward functions and backward() are "
            f"as in parts (a)-(b).")


def _gradient_problem(names: Sequence[str], grads: Sequence[float], want: Sequence[float], i: int,
                      Value: type) -> str:
    """Why gradient ``i`` of part (i) is wrong (it is neither right nor 0)."""
    base = f"{_REBUILD_TITLE}: {names[i]}.grad is {fmt(grads[i])} but dL/d{names[i]} is {fmt(want[i])}."
    engine = _fresh_rebuild_problem(Value, want)
    if engine is not None:
        return f"{base} {engine}"
    multiples = {n: k for n, g, w in zip(names, grads, want) if (k := _integer_multiple(g, w))}
    if multiples:
        runs = multiples.get("w3")  # dL/dw3 = s.data, which no step changes: w3.grad = (runs) * s
        ran = (f"L.backward() ran {runs} times on this same L" if runs else
               "backward() ran more than once on Values built from w1, w2, w3")
        shown = ", ".join(f"{n}.grad = {fmt(g)} is {multiples[n]} x {fmt(w)}"
                          for n, g, w in zip(names, grads, want) if n in multiples)
        return (f"{base} The gradients have added up ({shown}): {ran} "
                f"without the gradients being set back to 0 in between, and each run adds (+=) to every "
                f".grad. Call L.backward() exactly once, in the step cell (the one that sets L_new), and not "
                f"also in the cell that builds L. To start over, {_START_OVER}.")
    return f"{base} Is L built as (w1 + w2) * w3 from these same Value objects?"


@guarded(_REBUILD_TITLE)
def check_rebuilt_example(L: Any, L_new: Any, w1: Any, w2: Any, w3: Any) -> None:
    """Part (i): ``L = (w1 + w2) * w3`` built from Values, ``L.backward()``, one
    step with eta, then ``L_new``: gradients, updated data and L_new against torch."""
    p = HAND_GRADIENTS
    title = _REBUILD_TITLE
    w = torch.tensor([p.w1, p.w2, p.w3], dtype=torch.float64, requires_grad=True)
    loss = (w[0] + w[1]) * w[2]
    loss.backward()
    want = w.grad.tolist()
    start = (p.w1, p.w2, p.w3)
    new = (w.detach() - p.eta * w.grad).tolist()
    names = ("w1", "w2", "w3")
    objs = (w1, w2, w3)
    for name, obj in zip(names, objs):
        if not hasattr(obj, "grad") or not hasattr(obj, "data"):
            raise CheckFailure(f"{title}: {name} should be a Value (with .data and .grad), got a {type(obj).__name__}.")
    if not hasattr(L, "data"):
        raise CheckFailure(f"{title}: L should be the Value of (w1 + w2) * w3, got a {type(L).__name__}.")
    if not callable(getattr(L, "backward", None)):
        raise CheckFailure(
            f"{title}: your Value has no backward() method, so L.backward() cannot compute the gradients. "
            f"Part (a) asks you to write it: run its cell (it ends with `Value.backward = backward`), then "
            f"the cell that builds w1, w2, w3, s and L, the step cell, and this check.")
    got_L = as_number(title, "L.data", L.data)
    if not close(got_L, loss.item()):
        raise CheckFailure(f"{title}: L.data is {fmt(got_L)} but L = (w1 + w2) * w3 at w1={p.w1}, "
                           f"w2={p.w2}, w3={p.w3} is {fmt(loss.item())}. Build L from the starting values.")
    grads = [as_number(title, f"{name}.grad", obj.grad) for name, obj in zip(names, objs)]
    for i, name in enumerate(names):
        if close(grads[i], 0.0):
            engine = _fresh_rebuild_problem(type(w1), want)
            raise CheckFailure(f"{title}: {name}.grad is 0.0 but dL/d{name} is {fmt(want[i])}. " + (
                engine or "Call L.backward() once, at the start of the step cell, before the update step."))
        if not close(grads[i], want[i]):
            raise CheckFailure(_gradient_problem(names, grads, want, i, type(w1)))
    for i, (name, obj) in enumerate(zip(names, objs)):
        d = as_number(title, f"{name}.data", obj.data)
        if close(d, start[i]):
            raise CheckFailure(f"{title}: {name}.data is still {fmt(d)}: apply the step "
                               f"{name}.data -= eta * {name}.grad.")
        if not close(d, new[i]):
            steps = _integer_multiple(start[i] - d, start[i] - new[i])
            if steps:
                raise CheckFailure(
                    f"{title}: after the step {name}.data is {fmt(d)} but should be {fmt(new[i])} "
                    f"(= {fmt(start[i])} - {p.eta} * {fmt(want[i])}): the step was applied {steps} times. "
                    f"Apply it once; to start over, {_START_OVER}.")
            raise CheckFailure(f"{title}: after the step {name}.data is {fmt(d)} but should be {fmt(new[i])} "
                               f"(= {fmt(start[i])} - {p.eta} * {fmt(want[i])}).")
    got_new = as_number(title, "L_new", getattr(L_new, "data", L_new))
    want_new = (new[0] + new[1]) * new[2]
    if not close(got_new, want_new):
        raise CheckFailure(f"{title}: L_new is {fmt(got_new)} but (w1 + w2) * w3 at the updated values is "
                           f"{fmt(want_new)}. Recompute L from the updated Values.")
    passed(title, "gradients, updated parameters and the new L agree with PyTorch and with problem 1")
