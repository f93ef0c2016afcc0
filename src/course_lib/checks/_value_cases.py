"""What the checks of the scalar ``Value`` engine (notebook 02) share: a :class:`Case`
is one expression, built by the same function on the student's ``Value`` and on
float64 torch tensors (the oracle); :func:`verify_case` compares the output's
``.data`` and every input's ``.grad`` after ``backward()``, and turns a wrong
gradient into a hint (a usual :class:`Mistake`, a missing chain-rule factor
``out.grad``, an ``=`` instead of ``+=``). :data:`PARTS` says which part of the
notebook asks for each method. Only the public surface of ``Value`` is used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ._harness import CheckFailure, as_number, call, close, fmt

__all__ = ["Case", "Mistake", "ValueOps", "verify_case", "with_upstream", "PARTS", "require_methods", "make_rng",
           "draw"]

RTOL, ATOL = 1e-6, 1e-9


# --------------------------------------------------------------------------
# Running one expression on the student's Value and on torch
# --------------------------------------------------------------------------
class ValueOps:
    """Nonlinearities as the student's engine spells them."""

    relu = staticmethod(lambda x: x.relu())
    sigmoid = staticmethod(lambda x: x.sigmoid())
    tanh = staticmethod(lambda x: x.tanh())


class _TorchOps:
    """The same nonlinearities in torch: the oracle."""

    relu = staticmethod(torch.relu)
    sigmoid = staticmethod(torch.sigmoid)
    tanh = staticmethod(torch.tanh)


@dataclass
class Mistake:
    """A usual wrong answer: ``grad(**inputs)`` gives the gradients that
    mistake produces; when the student's number matches, ``hint`` is shown."""

    hint: str
    grad: Callable[..., dict[str, float]]


@dataclass
class Case:
    """One expression to check.

    ``build(ops, **inputs)`` computes the output from the inputs with
    operators (and ``ops.relu`` ...); it runs unchanged on ``Value`` objects
    and on torch tensors.
    """

    method: str
    expr: str
    build: Callable[..., Any]
    inputs: dict[str, float]
    local: dict[str, str] = field(default_factory=dict)
    mistakes: Sequence[Mistake] = ()
    note: str = ""
    # inputs whose gradient may be either of two values (a kink: relu at 0)
    either: dict[str, tuple[float, float]] = field(default_factory=dict)

    def where(self) -> str:
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in self.inputs.items())
        return f"for {self.expr} with {shown}" + (f" ({self.note})" if self.note else "")


def _oracle(case: Case) -> tuple[float, dict[str, float]]:
    xs = {k: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
          for k, v in case.inputs.items()}
    out = case.build(_TorchOps, **xs)
    out.backward()
    grads = {k: (float(x.grad) if x.grad is not None else 0.0) for k, x in xs.items()}
    return float(out.detach()), grads


def _run_student(Value: type, case: Case) -> tuple[Any, dict[str, Any]]:
    """Build ``case`` with the student's class; return (output, input Values)."""
    xs = {}
    for k, v in case.inputs.items():
        xs[k] = call(case.method, f"Value({fmt(v)})", Value, v)
    out = call(case.method, f"computing {case.expr}", case.build, ValueOps, **xs)
    if not isinstance(out, Value):
        raise CheckFailure(
            f"{case.method}: {case.where()}, the result is a {type(out).__name__} "
            f"({out!r:.60}), not a Value. Return a new Value so that gradients can flow back."
        )
    return out, xs


def _generic_hint(got: float, want: float, upstream: float | None) -> str:
    if close(got, 0.0) and not close(want, 0.0):
        return ("No gradient reached it: is `out._backward` assigned, and does it add "
                "to the operand's .grad?")
    if close(got, -want):
        return "The sign is flipped."
    if close(got, 2 * want):
        return "It is twice too large: is a gradient added twice (a node processed twice)?"
    if not close(want, 0.0) and close(got, want / 2):
        return ("It is half of what it should be: when a Value is used twice, its gradient "
                "must be accumulated with += in _backward, not overwritten with =.")
    if upstream and not close(upstream, 1.0) and close(got * upstream, want):
        return ("The chain rule factor out.grad is missing: multiply the local derivative "
                "by out.grad in _backward.")
    return ""


def verify_case(Value: type, case: Case, upstream: float | None = None) -> None:
    want_data, want_grad = _oracle(case)
    out, xs = _run_student(Value, case)
    got_data = as_number(case.method, f"{case.where()}, the result's .data", out.data)
    if not close(got_data, want_data, RTOL, ATOL):
        raise CheckFailure(
            f"{case.method}: {case.where()}, the result's .data is {fmt(got_data)} "
            f"but should be {fmt(want_data)}. The forward value is wrong."
        )
    call(case.method, f"{case.where()}, calling backward() on the result", out.backward)
    out_name = case.expr.split("=")[0].strip() or "out"
    for k, x in xs.items():
        got = as_number(case.method, f"{case.where()}, {k}.grad", x.grad)
        want = want_grad[k]
        if k in case.either and any(close(got, w, RTOL, ATOL) for w in case.either[k]):
            continue
        if close(got, want, RTOL, ATOL):
            continue
        local = f" ({case.local[k]})" if k in case.local else ""
        hint = ""
        for mistake in case.mistakes:
            predicted = mistake.grad(**case.inputs).get(k)
            if predicted is not None and close(got, predicted, RTOL, ATOL):
                hint = mistake.hint
                break
        hint = hint or _generic_hint(got, want, upstream)
        raise CheckFailure(
            f"{case.method}: {case.where()}, after {out_name}.backward() {k}.grad is "
            f"{fmt(got)} but should be {fmt(want)}{local}." + (f" {hint}" if hint else "")
        )


def with_upstream(case: Case, k: float = 3) -> Case:
    """The same case with upstream gradient 3: out = c + c + c (uses only the given __add__)."""
    inner = case.build

    def build(ops, **xs):
        c = inner(ops, **xs)
        return c + c + c

    lhs = case.expr.split("=")[0].strip() or "c"
    return Case(
        method=case.method,
        expr=f"out = {lhs} + {lhs} + {lhs}, {case.expr}",
        build=build,
        inputs=case.inputs,
        local={n: f"dout/d{n} = 3 * ({d})" for n, d in case.local.items()},
        mistakes=[Mistake(m.hint, lambda m=m, **v: {n: 3 * g for n, g in m.grad(**v).items()})
                  for m in case.mistakes],
        note="upstream gradient 3",
        either={n: tuple(3 * w for w in ws) for n, ws in case.either.items()},
    )


# --------------------------------------------------------------------------
# The methods the student writes: which part asks for each, and whether it is there
# --------------------------------------------------------------------------
#: method -> (part of the notebook, an expression that calls it)
PARTS: dict[str, tuple[str, str]] = {
    "backward": ("a", "z.backward()"),
    "__mul__": ("b", "a * b"),
    "__rmul__": ("b", "2.0 * a"),
    "__sub__": ("c", "a - b"),
    "__rsub__": ("c", "2.0 - a"),
    "__pow__": ("d", "a ** 2"),
    "__truediv__": ("e", "a / b"),
    "__rtruediv__": ("e", "2.0 / b"),
    "relu": ("f", "a.relu()"),
    "sigmoid": ("g", "a.sigmoid()"),
    "tanh": ("h", "a.tanh()"),
}


def _missing_message(title: str, name: str) -> str:
    part, usage = PARTS[name]
    if name == "backward":
        return (f"{title}: your Value has no backward() method. Part (a) asks you to write it, and every "
                f"check computes the gradients with backward(). Write it in the cell of part (a), run that "
                f"cell (it ends with `Value.backward = backward`), then run this check again.")
    return (f"{title}: your Value has no {name} method ({usage} calls it). Part ({part}) asks you to write "
            f"it: write it in the cell of part ({part}), run that cell (it ends with "
            f"`Value.{name} = {name}`), then run this check again.")


def require_methods(Value: type, title: str, names: Sequence[str]) -> None:
    """A :class:`CheckFailure` naming the first of ``names`` that ``Value`` does not define."""
    for name in names:
        if not callable(getattr(Value, name, None)):
            raise CheckFailure(_missing_message(title, name))


def make_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def draw(rng: np.random.Generator, lo: float, hi: float, avoid: float = 0.0, margin: float = 0.2) -> float:
    """A random number in [lo, hi] at least ``margin`` away from ``avoid``, rounded for readable messages."""
    while True:
        x = round(float(rng.uniform(lo, hi)), 3)
        if abs(x - avoid) >= margin:
            return x
