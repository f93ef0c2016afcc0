"""Check of part (a) of notebook 02: ``Value.backward()``, reverse-mode
differentiation. It seeds ``out.grad = 1``, then calls every node's ``_backward``
in reverse topological order (each node after every node that uses it), so that
each input's gradient accumulates the chain rule over all paths,
dL/dx = Σ over paths of the product of local derivatives. The graphs use only
the given ``+`` and unary ``-``: two operands, an input used twice, a diamond
(one node reached along paths of different length) and a deep chain. Gradients
are compared with PyTorch autograd in float64.
"""
from __future__ import annotations

import functools

from ._harness import CheckFailure, as_number, call, close, fmt, guarded
from ._value_cases import Case, Mistake, draw, make_rng, require_methods, verify_case
from .partial import score

__all__ = ["check_backward", "backward_problem", "require_backward"]


def _backward_cases(seed: int, hard: bool) -> list[Case]:
    rng = make_rng(seed)
    a, b, x = draw(rng, -3, 3), draw(rng, -3, 3), draw(rng, -3, 3)
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
        y = draw(rng, -2, 2)

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


def backward_problem(Value: type) -> str | None:
    """The message of the backward check on its visible cases, or None if it passes."""
    try:
        require_methods(Value, "Value.backward", ["backward"])
        _seed_and_leaf(Value)
        for case in _backward_cases(0, hard=False):
            verify_case(Value, case)
    except CheckFailure as failure:
        return failure.message
    return None


def require_backward(Value: type, title: str) -> None:
    problem = backward_problem(Value)
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
    require_methods(Value, "Value.backward", ["backward"])
    cases = _backward_cases(seed, hard)
    parts = [("a lone leaf and the seed 1.0", functools.partial(_seed_and_leaf, Value))]
    parts += [(case.where(), functools.partial(verify_case, Value, case)) for case in cases]
    return score("Value.backward", parts, points,
                 f"{len(cases) + 2} graphs, including a diamond and a chain; gradients match PyTorch autograd")
