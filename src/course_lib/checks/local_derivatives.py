"""Checks of parts (b)-(h) of notebook 02: each operation of ``Value`` and its local
derivative in ``_backward``, multiplied by ``out.grad`` (the chain rule) and added
with ``+=``:

    d(ab)/da = b,   d(a − b)/db = −1,   d(aⁿ)/da = n aⁿ⁻¹,   d(a/b)/db = −a/b²,
    relu′(a) = 1[a > 0],   σ′(a) = σ(a)(1 − σ(a)),   tanh′(a) = 1 − tanh(a)².

Each operator has a case with upstream gradient 3 and one that uses an input
twice (an ``=`` instead of ``+=`` shows there). Besides the method under test the
cases use only the given ``+`` and unary ``-``; when the student's method calls
another of theirs (``/`` through ``*`` and ``**``) that fails its own check, the
message names that one.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import math
import types
from typing import Any, Callable, Sequence

from ._harness import CheckFailure, NotImplementedYet, call, guarded
from ._value_cases import PARTS, Case, Mistake, ValueOps, draw, make_rng, require_methods, verify_case, with_upstream
from .backprop import require_backward
from .partial import score

__all__ = ["check_mul", "check_sub", "check_pow", "check_truediv", "check_relu", "check_sigmoid", "check_tanh",
           "method_problem"]

# --------------------------------------------------------------------------
# When a case fails: is it another method that the student's code calls?
# --------------------------------------------------------------------------
_ABSENT = object()  # a method that the class itself does not define (it inherits it)


def _methods_used(Value: type, case: Case, exclude: Sequence[str]) -> list[str]:
    """The methods of ``PARTS`` (but not ``exclude``) that building ``case``
    with the student's ``Value`` calls, in the order of ``PARTS``. Each is
    wrapped for the time of one forward pass and put back afterwards."""
    used: set[str] = set()
    saved: dict[str, Any] = {}
    try:
        for name in PARTS:
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
                call(case.method, "", case.build, ValueOps, **xs)
    except CheckFailure:
        pass
    finally:
        for name, raw in saved.items():
            if raw is _ABSENT:
                delattr(Value, name)
            else:
                setattr(Value, name, raw)
    return [name for name in PARTS if name in used]


def method_problem(Value: type, name: str) -> CheckFailure | None:
    """The failure of the visible cases of the check of ``name``, or None if they pass."""
    title, cases_for, names = _CHECKS_OF[name]
    try:
        require_methods(Value, title, names)
        for case in cases_for(0, False):
            verify_case(Value, case)
    except CheckFailure as failure:
        return failure
    return None


def _blame_helpers(Value: type, title: str, case: Case, own: Sequence[str], failure: CheckFailure) -> CheckFailure:
    """``failure``, or a failure that names the other method at fault when the
    student's code for ``case`` calls one that does not pass its own check."""
    for name in _methods_used(Value, case, own):
        problem = method_problem(Value, name)
        if problem is not None:
            part = PARTS[name][0]
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
    require_methods(Value, title, ["backward", *own])
    require_backward(Value, title)

    def run(case: Case) -> None:
        try:
            verify_case(Value, case, upstream=3.0 if case.note == "upstream gradient 3" else None)
        except CheckFailure as failure:
            raise _blame_helpers(Value, title, case, own, failure) from None

    parts = [(case.where(), functools.partial(run, case)) for case in cases]
    return score(title, parts, points, f"{len(cases)} expressions, values and gradients match PyTorch autograd")


# --------------------------------------------------------------------------
# (b)-(e) arithmetic
# --------------------------------------------------------------------------
_ACCUMULATE = "When a Value is used twice, its gradient must be accumulated with += in _backward, not overwritten with =."


def _mul_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed)
    a, b = draw(rng, -3, 3), draw(rng, -3, 3)
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
    cases.insert(1, with_upstream(cases[0]))
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
                          {"a": draw(rng, -2, 2), "b": draw(rng, -2, 2)},
                          {"a": "dc/da = 2ab^2", "b": "dc/db = 2a^2 b"}))
    return cases


def _sub_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed + 1)
    a, b = draw(rng, -3, 3), draw(rng, -3, 3)
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
    cases.insert(1, with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.__sub__", "c = a - (b - (a - b))", lambda ops, a, b: a - (b - (a - b)),
                          {"a": draw(rng, -3, 3), "b": draw(rng, -3, 3)}, {"a": "dc/da = 2", "b": "dc/db = -2"}))
    return cases


def _pow_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed + 2)
    a = draw(rng, 0.5, 3)      # positive base: every real exponent is defined
    neg = draw(rng, -3, -0.5)

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
    cases.insert(1, with_upstream(cases[0]))
    if hard:
        b = draw(rng, 0.5, 2)
        cases += [
            Case("Value.__pow__", "c = a ** 2.5", lambda ops, a: a ** 2.5, {"a": b}, {"a": "dc/da = 2.5 a^1.5"}),
            Case("Value.__pow__", "c = a ** -2 + a ** 3", lambda ops, a: a ** -2 + a ** 3, {"a": b},
                 {"a": "dc/da = -2a^(-3) + 3a^2"}),
        ]
    return cases


def _truediv_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed + 3)
    a, b = draw(rng, -3, 3), draw(rng, -3, 3, avoid=0.0, margin=0.5)
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
    cases.insert(1, with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.__truediv__", "c = (a / b) / (b / a)",
                          lambda ops, a, b: (a / b) / (b / a),
                          {"a": draw(rng, 0.5, 2), "b": draw(rng, 0.5, 2)},
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
    rng = make_rng(seed + 4)
    pos, neg = draw(rng, 0.3, 3), draw(rng, -3, -0.3)
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
    cases.insert(1, with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.relu", "c = (a + -100.0).relu() + (-a).relu()",
                          lambda ops, a: ops.relu(a + -100.0) + ops.relu(-a), {"a": pos},
                          {"a": "dc/da = 0: both inputs are negative"}))
    return cases


def _sigmoid_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed + 5)
    xs = [draw(rng, -4, 4), draw(rng, -4, 4)]
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
    cases.insert(1, with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.sigmoid", "c = (a + -b).sigmoid()", lambda ops, a, b: ops.sigmoid(a + -b),
                          {"a": draw(rng, -3, 3), "b": draw(rng, -3, 3)}, {"a": "dc/da = c(1 - c)", "b": "dc/db = -c(1 - c)"}))
        cases.append(Case("Value.sigmoid", "c = a.sigmoid()", lambda ops, a: ops.sigmoid(a), {"a": -60.0},
                          {"a": "dc/da = c(1 - c)"}, note="a very negative input"))
    return cases


def _tanh_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed + 6)
    xs = [draw(rng, -3, 3), draw(rng, -3, 3)]
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
    cases.insert(1, with_upstream(cases[0]))
    if hard:
        cases.append(Case("Value.tanh", "c = (a + b).tanh()", lambda ops, a, b: ops.tanh(a + b),
                          {"a": draw(rng, -2, 2), "b": draw(rng, -2, 2)}, {"a": "dc/da = 1 - c^2", "b": "dc/db = 1 - c^2"}))
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
