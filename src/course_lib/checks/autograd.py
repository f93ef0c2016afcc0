"""Checks for notebook 02: a scalar autograd engine in micrograd's convention.

Each check builds small expressions with the student's ``Value`` class, runs
``backward()`` and compares every value and gradient with PyTorch autograd in
float64 (the oracle). Only the public surface is used: ``Value(x)``,
``.data``, ``.grad``, the operators, ``relu``/``sigmoid``/``tanh`` and
``backward``, so any correct implementation passes.

Every case names its method, the expression, the inputs and the local
derivative; a table of usual mistakes turns a wrong number into a hint. Each
operator has a case that uses an input twice, so an ``=`` instead of ``+=`` in
``_backward`` is caught by the visible call. Besides the method under test,
cases use only the given ``+`` and unary ``-``; a method that is not there is
named with the part that asks for it, and when the student's method calls
another one of theirs (``/`` through ``*`` and ``**``) that fails its own
check, the message names that one.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import math
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..problems import HAND_GRADIENTS
from ._harness import CheckFailure, NotImplementedYet, as_number, call, close, fmt, guarded, passed
from .partial import score

__all__ = [
    "check_backward",
    "check_mul",
    "check_sub",
    "check_pow",
    "check_truediv",
    "check_relu",
    "check_sigmoid",
    "check_tanh",
    "check_rebuilt_example",
    "check_engine",
    "engine_problem",
    "engine_refusal",
]

RTOL, ATOL = 1e-6, 1e-9


# --------------------------------------------------------------------------
# Running one expression on the student's Value and on torch
# --------------------------------------------------------------------------
class _ValueOps:
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
    out = call(case.method, f"computing {case.expr}", case.build, _ValueOps, **xs)
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


def _check_case(Value: type, case: Case, upstream: float | None = None) -> None:
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


def _with_upstream(case: Case, k: float = 3) -> Case:
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
_PARTS: dict[str, tuple[str, str]] = {
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
    part, usage = _PARTS[name]
    if name == "backward":
        return (f"{title}: your Value has no backward() method. Part (a) asks you to write it, and every "
                f"check computes the gradients with backward(). Write it in the cell of part (a), run that "
                f"cell (it ends with `Value.backward = backward`), then run this check again.")
    return (f"{title}: your Value has no {name} method ({usage} calls it). Part ({part}) asks you to write "
            f"it: write it in the cell of part ({part}), run that cell (it ends with "
            f"`Value.{name} = {name}`), then run this check again.")


def _require_methods(Value: type, title: str, names: Sequence[str]) -> None:
    """A :class:`CheckFailure` naming the first of ``names`` that ``Value`` does not define."""
    for name in names:
        if not callable(getattr(Value, name, None)):
            raise CheckFailure(_missing_message(title, name))


# --------------------------------------------------------------------------
# When a case fails: is it another method that the student's code calls?
# --------------------------------------------------------------------------
_ABSENT = object()  # a method that the class itself does not define (it inherits it)


def _methods_used(Value: type, case: Case, exclude: Sequence[str]) -> list[str]:
    """The methods of ``_PARTS`` (but not ``exclude``) that building ``case``
    with the student's ``Value`` calls, in the order of ``_PARTS``. Each is
    wrapped for the time of one forward pass and put back afterwards."""
    used: set[str] = set()
    saved: dict[str, Any] = {}
    try:
        for name in _PARTS:
            if name == "backward" or name in exclude:
                continue
            raw = inspect.getattr_static(Value, name, None)
            if not isinstance(raw, types.FunctionType):
                continue

            def spy(*args: Any, _fn: Any = raw, _name: str = name, **kwargs: Any) -> Any:
                used.add(_name)
                return _fn(*args, **kwargs)

            try:
                saved[name] = Value.__dict__.get(name, _ABSENT)
                setattr(Value, name, spy)
            except Exception:  # noqa: BLE001 - a class that refuses new attributes: no spying
                saved.pop(name, None)
        if saved:
            with contextlib.redirect_stdout(io.StringIO()):
                xs = {k: call(case.method, "", Value, v) for k, v in case.inputs.items()}
                call(case.method, "", case.build, _ValueOps, **xs)
    except CheckFailure:
        pass
    finally:
        for name, raw in saved.items():
            if raw is _ABSENT:
                delattr(Value, name)
            else:
                setattr(Value, name, raw)
    return [name for name in _PARTS if name in used]


def _method_problem(Value: type, name: str) -> CheckFailure | None:
    """The failure of the visible cases of the check of ``name``, or None if they pass."""
    title, cases_for, names = _CHECKS_OF[name]
    try:
        _require_methods(Value, title, names)
        for case in cases_for(0, False):
            _check_case(Value, case)
    except CheckFailure as failure:
        return failure
    return None


def _blame_helpers(Value: type, title: str, case: Case, own: Sequence[str], failure: CheckFailure) -> CheckFailure:
    """``failure``, or a failure that names the other method at fault when the
    student's code for ``case`` calls one that does not pass its own check."""
    for name in _methods_used(Value, case, own):
        problem = _method_problem(Value, name)
        if problem is not None:
            part = _PARTS[name][0]
            cls = NotImplementedYet if isinstance(problem, NotImplementedYet) else CheckFailure
            return cls(
                f"{title}: {case.where()}, your code calls Value.{name}, which does not pass its own "
                f"check (part {part}) yet, so this check cannot pass either. Fix {name} first:\n  "
                f"{problem.message}"
            )
    return failure


def _run_cases(Value: type, title: str, cases: Sequence[Case], own: Sequence[str] = (),
               points: float | None = None) -> float | None:
    """Every case (with ``points``, each earns its share: :mod:`.partial`); a missing method or a
    backward() that fails its own check fails the whole check."""
    if not isinstance(Value, type):
        raise CheckFailure(f"{title}: expected the class Value itself, got a {type(Value).__name__}.")
    _require_methods(Value, title, ["backward", *own])
    _require_backward(Value, title)

    def run(case: Case) -> None:
        try:
            _check_case(Value, case, upstream=3.0 if case.note == "upstream gradient 3" else None)
        except CheckFailure as failure:
            raise _blame_helpers(Value, title, case, own, failure) from None

    parts = [(case.where(), functools.partial(run, case)) for case in cases]
    return score(title, parts, points, f"{len(cases)} expressions, values and gradients match PyTorch autograd")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _u(rng: np.random.Generator, lo: float, hi: float, avoid: float = 0.0, margin: float = 0.2) -> float:
    """A random number in [lo, hi] at least ``margin`` away from ``avoid``, rounded for readable messages."""
    while True:
        x = round(float(rng.uniform(lo, hi)), 3)
        if abs(x - avoid) >= margin:
            return x


# --------------------------------------------------------------------------
# (a) backward, on graphs made of the given + and unary - only
# --------------------------------------------------------------------------
def _backward_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed)
    a, b, x = _u(rng, -3, 3), _u(rng, -3, 3), _u(rng, -3, 3)
    n = 600 if hard else 300

    def chain(ops, x):
        s = x
        for _ in range(n):
            s = s + x
        return s

    def diamond(ops, x):
        a = x + x          # a reaches w along two paths of different length
        b = a + 1.0
        c = b + 2.0
        return c + a

    def shared(ops, x, y):
        a = x + y
        b = a + a          # a used twice
        return b + (-a)

    cases = [
        Case("Value.backward", "c = a + b", lambda ops, a, b: a + b, {"a": a, "b": b},
             {"a": "dc/da = 1", "b": "dc/db = 1"}),
        Case("Value.backward", "c = a + a", lambda ops, a: a + a, {"a": a}, {"a": "dc/da = 2, a is used twice"}),
        Case("Value.backward", "c = -(a + b) + 2.0", lambda ops, a, b: -(a + b) + 2.0, {"a": a, "b": b},
             {"a": "dc/da = -1", "b": "dc/db = -1"}),
        Case("Value.backward", "w = c + a, with a = x + x, b = a + 1, c = b + 2", diamond, {"x": x},
             {"x": "dw/dx = 4: a reaches w directly and through b and c"},
             [Mistake("A node's _backward ran before all of its gradient had arrived: call "
                      "_backward on the nodes in reverse topological order (each node only after "
                      "every node that uses it).", lambda x: {"x": 2.0}),
              Mistake("A node reached along two paths was processed twice: keep a set of visited "
                      "nodes so that each node appears once in the topological order.",
                      lambda x: {"x": 6.0})]),
        Case("Value.backward", "w = b + (-a), with a = x + y, b = a + a", shared, {"x": x, "y": b},
             {"x": "dw/dx = 1", "y": "dw/dy = 1"}),
        Case("Value.backward", f"s = x + x + ... + x ({n + 1} terms, a chain {n} deep)", chain, {"x": x},
             {"x": f"ds/dx = {n + 1}"}),
    ]
    if hard:
        y = _u(rng, -2, 2)

        def wide(ops, x, y):
            t = x + y
            total = t
            for _ in range(50):
                total = total + t
            return total + (-x)

        cases.append(Case("Value.backward", "w = 51 * (x + y) - x, by repeated +", wide, {"x": x, "y": y},
                          {"x": "dw/dx = 50", "y": "dw/dy = 51"}))
    return cases


def _seed_and_leaf(Value: type) -> None:
    """backward() seeds the output's gradient with 1.0, also on a lone leaf."""
    m = "Value.backward"
    leaf = call(m, "Value(2.0)", Value, 2.0)
    a = call(m, "Value(1.5)", Value, 1.5)
    b = call(m, "Value(-0.5)", Value, -0.5)
    c = call(m, "computing c = a + b", lambda: a + b)
    for out, name, where in ((leaf, "x", "a single node x = Value(2.0)"),
                             (c, "c", "c = a + b with a=1.5, b=-0.5")):
        call(m, f"calling {name}.backward() for {where}", out.backward)
        got = as_number(m, f"{name}.grad", out.grad)
        if not close(got, 1.0):
            raise CheckFailure(
                f"{m}: for {where}, after {name}.backward() {name}.grad is {fmt(got)} but should be "
                f"1.0 (d{name}/d{name} = 1). backward() must seed self.grad = 1.0 before propagating."
            )


def _backward_problem(Value: type) -> str | None:
    """The message of the backward check on its visible cases, or None if it passes."""
    try:
        _require_methods(Value, "Value.backward", ["backward"])
        _seed_and_leaf(Value)
        for case in _backward_cases(0, hard=False):
            _check_case(Value, case)
    except CheckFailure as failure:
        return failure.message
    return None


def _require_backward(Value: type, title: str) -> None:
    problem = _backward_problem(Value)
    if problem is not None:
        raise CheckFailure(
            f"{title}: gradients are checked through backward(), and backward() does not pass "
            f"its own check (part a) yet. Fix that first:\n  {problem}"
        )


@guarded("Value.backward")
def check_backward(Value: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """Part (a): ``backward`` visits nodes in reverse topological order, seeds 1.0
    and accumulates; tested on graphs built from the given ``+`` and ``-x``. With
    ``points``, each graph earns its share (:mod:`.partial`)."""
    if not isinstance(Value, type):
        raise CheckFailure(f"Value.backward: expected the class Value itself, got a {type(Value).__name__}.")
    _require_methods(Value, "Value.backward", ["backward"])
    cases = _backward_cases(seed, hard)
    parts = [("a lone leaf and the seed 1.0", functools.partial(_seed_and_leaf, Value))]
    parts += [(case.where(), functools.partial(_check_case, Value, case)) for case in cases]
    return score("Value.backward", parts, points,
                 f"{len(cases) + 2} graphs, including a diamond and a chain; gradients match PyTorch autograd")


# --------------------------------------------------------------------------
# (b)-(e) arithmetic
# --------------------------------------------------------------------------
_ACCUMULATE = "When a Value is used twice, its gradient must be accumulated with += in _backward, not overwritten with =."


def _mul_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed)
    a, b = _u(rng, -3, 3), _u(rng, -3, 3)
    cases = [
        Case("Value.__mul__", "c = a * b", lambda ops, a, b: a * b, {"a": a, "b": b},
             {"a": "dc/da = b", "b": "dc/db = a"},
             [Mistake("Each operand's gradient is the OTHER operand's value times out.grad.",
                      lambda a, b: {"a": a, "b": b})]),
        Case("Value.__mul__", "c = a * a", lambda ops, a: a * a, {"a": a}, {"a": "dc/da = 2a"},
             [Mistake(_ACCUMULATE, lambda a: {"a": a})]),
        Case("Value.__mul__", "c = a * 2.0", lambda ops, a: a * 2.0, {"a": a},
             {"a": "dc/da = 2.0"}, note="a plain float on the right"),
        Case("Value.__rmul__", "c = 2.0 * a", lambda ops, a: 2.0 * a, {"a": a},
             {"a": "dc/da = 2.0"}, note="a plain float on the left"),
        Case("Value.__rmul__", "c = 3 * a", lambda ops, a: 3 * a, {"a": a},
             {"a": "dc/da = 3"}, note="a plain int on the left"),
        Case("Value.__mul__", "c = (a * b) * a", lambda ops, a, b: (a * b) * a, {"a": a, "b": b},
             {"a": "dc/da = 2ab", "b": "dc/db = a^2"}),
        Case("Value.__mul__", "c = a * 0.0", lambda ops, a: a * 0.0, {"a": a}, {"a": "dc/da = 0"}),
        # after every case of __mul__: an __rmul__ that calls __mul__ shows __mul__'s slips there first
        Case("Value.__rmul__", "c = 2.0 * a + a", lambda ops, a: 2.0 * a + a, {"a": a},
             {"a": "dc/da = 2 + 1, a is used twice"}, [Mistake(_ACCUMULATE, lambda a: {"a": 2.0})]),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        xs = {f"x{i}": round(float(rng.uniform(0.8, 1.25)), 3) for i in range(12)}

        def product(ops, **v):
            p = v["x0"]
            for i in range(1, 12):
                p = p * v[f"x{i}"]
            return p

        cases.append(Case("Value.__mul__", "p = x0 * x1 * ... * x11", product, xs,
                          {k: "dp/dxi = p / xi" for k in xs}))
        cases.append(Case("Value.__mul__", "c = a * (b * a) * b", lambda ops, a, b: a * (b * a) * b,
                          {"a": _u(rng, -2, 2), "b": _u(rng, -2, 2)},
                          {"a": "dc/da = 2ab^2", "b": "dc/db = 2a^2 b"}))
    return cases


def _sub_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed + 1)
    a, b = _u(rng, -3, 3), _u(rng, -3, 3)
    sign = Mistake("The subtracted operand's gradient must be negative: d(a - b)/db = -1.",
                   lambda a, b=0.0: {"b": 1.0})
    cases = [
        Case("Value.__sub__", "c = a - b", lambda ops, a, b: a - b, {"a": a, "b": b},
             {"a": "dc/da = 1", "b": "dc/db = -1"}, [sign]),
        Case("Value.__sub__", "c = a - a", lambda ops, a: a - a, {"a": a}, {"a": "dc/da = 1 - 1 = 0, a is used twice"},
             [Mistake(_ACCUMULATE, lambda a: {"a": -1.0}), Mistake(_ACCUMULATE, lambda a: {"a": 1.0})]),
        Case("Value.__sub__", "c = a - 2.0", lambda ops, a: a - 2.0, {"a": a}, {"a": "dc/da = 1"},
             note="a plain float on the right"),
        Case("Value.__rsub__", "c = 2.0 - a", lambda ops, a: 2.0 - a, {"a": a}, {"a": "dc/da = -1"},
             [Mistake("2.0 - a calls a.__rsub__(2.0): compute other - self, not self - other.",
                      lambda a: {"a": 1.0})], note="a plain float on the left"),
        Case("Value.__sub__", "c = (a - b) - b", lambda ops, a, b: (a - b) - b, {"a": a, "b": b},
             {"a": "dc/da = 1", "b": "dc/db = -2"}),
        Case("Value.__rsub__", "c = (2.0 - a) + a", lambda ops, a: (2.0 - a) + a, {"a": a},
             {"a": "dc/da = -1 + 1 = 0, a is used twice"}, [Mistake(_ACCUMULATE, lambda a: {"a": -1.0})]),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.__sub__", "c = a - (b - (a - b))", lambda ops, a, b: a - (b - (a - b)),
                          {"a": _u(rng, -3, 3), "b": _u(rng, -3, 3)}, {"a": "dc/da = 2", "b": "dc/db = -2"}))
    return cases


def _pow_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed + 2)
    a = _u(rng, 0.5, 3)      # positive base: every real exponent is defined
    neg = _u(rng, -3, -0.5)

    def no_factor(n):
        return Mistake(f"The exponent factor is missing: d(a^n)/da = n * a^(n-1), here {n} * a^{n - 1}.",
                       lambda a: {"a": a ** (n - 1)})

    cases = [
        Case("Value.__pow__", "c = a ** 2", lambda ops, a: a ** 2, {"a": a}, {"a": "dc/da = 2a"}, [no_factor(2)]),
        Case("Value.__pow__", "c = a ** 3", lambda ops, a: a ** 3, {"a": neg}, {"a": "dc/da = 3a^2"},
             [no_factor(3)], note="a negative base"),
        Case("Value.__pow__", "c = a ** 0.5", lambda ops, a: a ** 0.5, {"a": a}, {"a": "dc/da = 0.5 a^(-0.5)"},
             [no_factor(0.5)]),
        Case("Value.__pow__", "c = a ** -1", lambda ops, a: a ** -1, {"a": neg}, {"a": "dc/da = -a^(-2)"},
             [no_factor(-1)]),
        Case("Value.__pow__", "c = a ** 0", lambda ops, a: a ** 0, {"a": a}, {"a": "dc/da = 0"}),
        Case("Value.__pow__", "c = a ** 1", lambda ops, a: a ** 1, {"a": neg}, {"a": "dc/da = 1"}),
        Case("Value.__pow__", "c = (a ** 2) ** 3", lambda ops, a: (a ** 2) ** 3, {"a": a}, {"a": "dc/da = 6a^5"}),
        Case("Value.__pow__", "c = a ** 2 + a", lambda ops, a: a ** 2 + a, {"a": a},
             {"a": "dc/da = 2a + 1, a is used twice"}, [Mistake(_ACCUMULATE, lambda a: {"a": 2 * a})]),
        Case("Value.__pow__", "c = a ** 3 + a", lambda ops, a: a ** 3 + a, {"a": neg},
             {"a": "dc/da = 3a^2 + 1, a is used twice"}, [Mistake(_ACCUMULATE, lambda a: {"a": 3 * a * a})],
             note="a negative base"),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        b = _u(rng, 0.5, 2)
        cases += [
            Case("Value.__pow__", "c = a ** 2.5", lambda ops, a: a ** 2.5, {"a": b}, {"a": "dc/da = 2.5 a^1.5"}),
            Case("Value.__pow__", "c = a ** -2 + a ** 3", lambda ops, a: a ** -2 + a ** 3, {"a": b},
                 {"a": "dc/da = -2a^(-3) + 3a^2"}),
        ]
    return cases


def _truediv_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed + 3)
    a, b = _u(rng, -3, 3), _u(rng, -3, 3, avoid=0.0, margin=0.5)
    cases = [
        Case("Value.__truediv__", "c = a / b", lambda ops, a, b: a / b, {"a": a, "b": b},
             {"a": "dc/da = 1/b", "b": "dc/db = -a/b^2"}),
        Case("Value.__truediv__", "c = a / 2.0", lambda ops, a: a / 2.0, {"a": a}, {"a": "dc/da = 0.5"},
             note="a plain float on the right"),
        Case("Value.__rtruediv__", "c = 2.0 / b", lambda ops, b: 2.0 / b, {"b": b}, {"b": "dc/db = -2/b^2"},
             [Mistake("2.0 / b calls b.__rtruediv__(2.0): compute other / self, not self / other.",
                      lambda b: {"b": 0.5})], note="a plain float on the left"),
        Case("Value.__rtruediv__", "c = 1 / b", lambda ops, b: 1 / b, {"b": b}, {"b": "dc/db = -1/b^2"},
             note="a plain int on the left"),
        Case("Value.__truediv__", "c = b / b", lambda ops, b: b / b, {"b": b}, {"b": "dc/db = 1/b - b/b^2 = 0, b is used twice"},
             [Mistake(_ACCUMULATE, lambda b: {"b": -1 / b}), Mistake(_ACCUMULATE, lambda b: {"b": 1 / b})]),
        Case("Value.__rtruediv__", "c = 2.0 / b + b", lambda ops, b: 2.0 / b + b, {"b": b},
             {"b": "dc/db = -2/b^2 + 1, b is used twice"}, [Mistake(_ACCUMULATE, lambda b: {"b": -2 / b ** 2})]),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.__truediv__", "c = (a / b) / (b / a)",
                          lambda ops, a, b: (a / b) / (b / a),
                          {"a": _u(rng, 0.5, 2), "b": _u(rng, 0.5, 2)},
                          {"a": "dc/da = 2a/b^2", "b": "dc/db = -2a^2/b^3"}))
    return cases


# --------------------------------------------------------------------------
# (f)-(h) nonlinearities
# --------------------------------------------------------------------------
def _sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * x))


def _twice_plus_input(f: Callable[..., Any]) -> Callable[..., Any]:
    """``c = y + y + a`` with ``y = f(a)``: y's upstream gradient is 2, and ``a``
    is used twice (by f and by +), so an ``=`` in f's _backward overwrites the
    1 that + already sent to a. Only the given + is used besides f."""

    def build(ops, a):
        y = f(ops, a)
        return y + y + a

    return build


def _relu_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed + 4)
    pos, neg = _u(rng, 0.3, 3), _u(rng, -3, -0.3)
    leak = Mistake("ReLU is flat (slope 0) where its input is negative: no gradient may pass there.",
                   lambda a: {"a": 1.0})
    cases = [
        Case("Value.relu", "c = a.relu()", lambda ops, a: ops.relu(a), {"a": pos}, {"a": "dc/da = 1 for a > 0"}),
        Case("Value.relu", "c = a.relu()", lambda ops, a: ops.relu(a), {"a": neg}, {"a": "dc/da = 0 for a < 0"},
             [leak], note="a negative input"),
        Case("Value.relu", "c = a.relu()", lambda ops, a: ops.relu(a), {"a": 0.0},
             {"a": "either 0 or 1 is accepted at the kink"}, note="input exactly 0",
             either={"a": (0.0, 1.0)}),
        Case("Value.relu", "c = a.relu() + a.relu()", lambda ops, a: ops.relu(a) + ops.relu(a), {"a": pos},
             {"a": "dc/da = 1 + 1 for a > 0, a is used twice"}, [Mistake(_ACCUMULATE, lambda a: {"a": 1.0})]),
        Case("Value.relu", "c = (a + b).relu()", lambda ops, a, b: ops.relu(a + b),
             {"a": pos, "b": round(neg - pos, 3)},
             {"a": "dc/da = 0: a + b < 0", "b": "dc/db = 0"}, [Mistake(leak.hint, lambda a, b: {"a": 1.0, "b": 1.0})],
             note="a negative input made by +"),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.relu", "c = (a + -100.0).relu() + (-a).relu()",
                          lambda ops, a: ops.relu(a + -100.0) + ops.relu(-a), {"a": pos},
                          {"a": "dc/da = 0: both inputs are negative"}))
    return cases


def _sigmoid_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed + 5)
    xs = [_u(rng, -4, 4), _u(rng, -4, 4)]
    with_input = Mistake("The derivative is sigma(a) * (1 - sigma(a)), written with the OUTPUT "
                         "sigma(a), not with the input a.",
                         lambda a: {"a": a * (1 - a)})
    cases = [
        Case("Value.sigmoid", "c = a.sigmoid()", lambda ops, a: ops.sigmoid(a), {"a": x},
             {"a": "dc/da = c(1 - c)"}, [with_input]) for x in xs
    ]
    cases += [
        Case("Value.sigmoid", "c = a.sigmoid()", lambda ops, a: ops.sigmoid(a), {"a": 0.0},
             {"a": "dc/da = 0.25"}, [with_input], note="input 0"),
        Case("Value.sigmoid", "c = a.sigmoid()", lambda ops, a: ops.sigmoid(a), {"a": -30.0},
             {"a": "dc/da = c(1 - c), tiny"}, [with_input], note="a large negative input"),
        Case("Value.sigmoid", "c = a.sigmoid()", lambda ops, a: ops.sigmoid(a), {"a": 30.0},
             {"a": "dc/da = c(1 - c), tiny"}, [with_input], note="a large positive input"),
        Case("Value.sigmoid", "c = s + s + a, s = a.sigmoid()", _twice_plus_input(lambda ops, a: ops.sigmoid(a)),
             {"a": xs[0]}, {"a": "dc/da = 2 s(1 - s) + 1: s.grad is 2 and a is used twice"},
             [Mistake(_ACCUMULATE, lambda a: {"a": 2 * _sigmoid(a) * (1 - _sigmoid(a))}),
              Mistake("The chain rule factor out.grad is missing: multiply the local derivative "
                      "by out.grad in _backward.", lambda a: {"a": _sigmoid(a) * (1 - _sigmoid(a)) + 1})]),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.sigmoid", "c = (a + -b).sigmoid()", lambda ops, a, b: ops.sigmoid(a + -b),
                          {"a": _u(rng, -3, 3), "b": _u(rng, -3, 3)}, {"a": "dc/da = c(1 - c)", "b": "dc/db = -c(1 - c)"}))
        cases.append(Case("Value.sigmoid", "c = a.sigmoid()", lambda ops, a: ops.sigmoid(a), {"a": -60.0},
                          {"a": "dc/da = c(1 - c)"}, note="a very negative input"))
    return cases


def _tanh_cases(seed: int, hard: bool) -> list[Case]:
    rng = _rng(seed + 6)
    xs = [_u(rng, -3, 3), _u(rng, -3, 3)]
    with_input = Mistake("The derivative is 1 - tanh(a)^2, written with the OUTPUT tanh(a), "
                         "not 1 - a^2 with the input.", lambda a: {"a": 1 - a * a})
    cases = [
        Case("Value.tanh", "c = a.tanh()", lambda ops, a: ops.tanh(a), {"a": x}, {"a": "dc/da = 1 - c^2"},
             [with_input]) for x in xs
    ]
    cases += [
        Case("Value.tanh", "c = a.tanh()", lambda ops, a: ops.tanh(a), {"a": 0.0}, {"a": "dc/da = 1"}, note="input 0"),
        Case("Value.tanh", "c = a.tanh()", lambda ops, a: ops.tanh(a), {"a": 20.0}, {"a": "dc/da = 1 - c^2, tiny"},
             [with_input], note="a large input"),
        Case("Value.tanh", "c = t + t + a, t = a.tanh()", _twice_plus_input(lambda ops, a: ops.tanh(a)), {"a": xs[0]},
             {"a": "dc/da = 2(1 - t^2) + 1: t.grad is 2 and a is used twice"},
             [Mistake(_ACCUMULATE, lambda a: {"a": 2 * (1 - math.tanh(a) ** 2)}),
              Mistake("The chain rule factor out.grad is missing: multiply the local derivative "
                      "by out.grad in _backward.", lambda a: {"a": (1 - math.tanh(a) ** 2) + 1})]),
    ]
    cases.insert(1, _with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.tanh", "c = (a + b).tanh()", lambda ops, a, b: ops.tanh(a + b),
                          {"a": _u(rng, -2, 2), "b": _u(rng, -2, 2)}, {"a": "dc/da = 1 - c^2", "b": "dc/db = 1 - c^2"}))
        cases.append(Case("Value.tanh", "c = a.tanh()", lambda ops, a: ops.tanh(a), {"a": -25.0},
                          {"a": "dc/da = 1 - c^2"}, note="a large negative input"))
    return cases


#: method -> (title of its check, its cases, the methods that check is about)
_CHECKS_OF: dict[str, tuple[str, Callable[[int, bool], list[Case]], tuple[str, ...]]] = {}


def _make_check(title: str, cases_for: Callable[[int, bool], list[Case]], part: str, own: tuple[str, ...]):
    @guarded(title)
    def check(Value: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
        return _run_cases(Value, title, cases_for(seed, hard), own, points)

    check.__name__ = check.__qualname__ = "check_" + own[0].strip("_")
    check.__doc__ = f"Part ({part}): ``{title}``: values and gradients against PyTorch autograd."
    for name in own:
        _CHECKS_OF[name] = (title, cases_for, own)
    return check


check_mul = _make_check("Value.__mul__ / __rmul__", _mul_cases, "b", ("__mul__", "__rmul__"))
check_sub = _make_check("Value.__sub__ / __rsub__", _sub_cases, "c", ("__sub__", "__rsub__"))
check_pow = _make_check("Value.__pow__", _pow_cases, "d", ("__pow__",))
check_truediv = _make_check("Value.__truediv__ / __rtruediv__", _truediv_cases, "e", ("__truediv__", "__rtruediv__"))
check_relu = _make_check("Value.relu", _relu_cases, "f", ("relu",))
check_sigmoid = _make_check("Value.sigmoid", _sigmoid_cases, "g", ("sigmoid",))
check_tanh = _make_check("Value.tanh", _tanh_cases, "h", ("tanh",))

_ALL = [check_backward, check_mul, check_sub, check_pow, check_truediv, check_relu, check_sigmoid, check_tanh]


def check_engine(Value: type, seed: int = 0, hard: bool = False) -> None:
    """Every check of notebook 02 in order; stops at the first failure."""
    for check in _ALL:
        check(Value, seed=seed, hard=hard)


def engine_problem(Value: type) -> str | None:
    """Why ``Value`` fails notebook 02's checks (the first message, without its
    final full stop), or None when it passes. Prints nothing: for notebooks
    that build on the student's engine and must say first that it is broken."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check_engine(Value)
    except CheckFailure as failure:
        return failure.message.rstrip().rstrip(".")
    return None


def engine_refusal(Value: type, notebook: str = "02_autograd.ipynb") -> str | None:
    """The one message for a later notebook built on a ``Value`` that fails notebook 02's
    checks (:func:`engine_problem`), or None when it passes."""
    problem = engine_problem(Value)
    if problem is None:
        return None
    return (f"Your Value from {notebook} does not pass its own checks yet: {problem}. Fix notebook 02 first: "
            f"save it, then run load_value() again and this cell.")


# --------------------------------------------------------------------------
# (i) problem 1 rebuilt with Value
# --------------------------------------------------------------------------
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
    problem = _backward_problem(Value)
    if problem is None:
        failure = _method_problem(Value, "__mul__")
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
