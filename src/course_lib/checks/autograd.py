"""Checks of notebook 02, a scalar autograd engine in micrograd's convention, under
the path its test cells import from (``from course_lib.checks.autograd import
check_mul``). The checks live by concept: :mod:`.backprop` (part a, ``backward``),
:mod:`.local_derivatives` (parts b-h, the operators), :mod:`.rebuilt_example`
(part i), with the shared case machinery in :mod:`._value_cases`. Here: the whole
engine at once (:func:`check_engine`) and the one message for a later notebook
built on an engine that fails (:func:`engine_refusal`).
"""
from __future__ import annotations

import contextlib
import io

from ._harness import CheckFailure
from .backprop import check_backward
from .local_derivatives import (check_mul, check_pow, check_relu, check_sigmoid, check_sub, check_tanh,
                                check_truediv)
from .rebuilt_example import check_rebuilt_example

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
