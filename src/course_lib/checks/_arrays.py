"""Comparing a student's numpy array with the oracle's, for the numpy checks of
notebooks 03 and 04: shape, values, and a hint when the wrong array is a usual
mistake (a known wrong formula, a transpose, a constant factor, nan or inf)."""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ._harness import CheckFailure, fmt

RTOL, ATOL = 1e-6, 1e-9

#: (what a usual wrong formula gives, or None where it does not apply; the hint).
Mistakes = Sequence[tuple[Any, str]]
#: (factor, hint) pairs tried when got == factor * want everywhere.
Factors = Sequence[tuple[float, str]]

NONFINITE = ("It contains nan or inf: something overflowed (exp of a large number?) or "
             "divided by zero.")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Overflow in a student's exp is reported by the comparison, not as warnings."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def shape_text(shape: Sequence[int]) -> str:
    """``(2, 3)``, ``(3,)``, ``()``: a shape as Python writes a tuple."""
    return "(" + ", ".join(str(int(n)) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _label(what: str, where: str) -> str:
    return f"{where}, {what}" if where else what


def as_array(method: str, what: str, x: Any, *, where: str = "",
             none_hint: str = "Did you forget to `return` it?") -> np.ndarray:
    """``x`` as a float64 array, or a CheckFailure that says what it was
    (``none_hint`` follows when it is None)."""
    if x is None:
        raise CheckFailure(f"{method}: {_label(what, where)} is None. {none_hint}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except Exception:
        raise CheckFailure(f"{method}: {_label(what, where)} is a {type(x).__name__} ({x!r:.60}); "
                           f"it should be a numpy array of numbers.") from None
    return arr


def as_scalar(method: str, what: str, x: Any) -> float:
    """``x`` as a Python float: a number or an array with exactly one element."""
    arr = as_array(method, what, x)
    if arr.size != 1:
        raise CheckFailure(
            f"{method}: {what} has shape {arr.shape}; it should be a single number "
            f"(the loss is reduced to a scalar)."
        )
    return float(arr.reshape(()))


def _close(got: np.ndarray, other: Any, rtol: float, atol: float) -> bool:
    """Same shape and every entry close (nan where ``other`` has nan)."""
    if other is None:
        return False
    other = np.asarray(other, dtype=np.float64)
    with quiet():
        return got.shape == other.shape and bool(np.allclose(got, other, rtol=rtol, atol=atol,
                                                             equal_nan=True))


def mistake_hint(got: np.ndarray, mistakes: Mistakes, rtol: float = RTOL, atol: float = ATOL) -> str:
    """The hint of the first mistake ``got`` equals (shape and every entry), else ``""``."""
    return next((hint for predicted, hint in mistakes if _close(got, predicted, rtol, atol)), "")


def compare(method: str, what: str, got: Any, want: Any, mistakes: Mistakes = (), *,
            where: str = "", accept: Sequence[np.ndarray] = (),
            entry: Callable[[tuple[int, ...]], str] | None = None, factors: Factors = (),
            shape_hints: Sequence[tuple[tuple[int, ...], str]] = (),
            nonfinite_hint: str = NONFINITE, none_hint: str = "Did you forget to `return` it?",
            rtol: float = RTOL, atol: float = ATOL) -> None:
    """Raise a CheckFailure unless ``got`` has ``want``'s shape and every entry
    is within ``atol + rtol·|want|`` of ``want`` (or of an array in ``accept``).

    The failure names ``what`` (after ``where``, the context, if given), the
    wrong shape or the worst wrong entry (``entry(index)`` adds a note on it),
    and the first hint that fits: a ``mistakes`` array ``got`` equals, a shape
    in ``shape_hints``, right numbers in the wrong shape, a transpose, nan or
    inf (``nonfinite_hint``), ``got == factor · want`` for ``factors``, a
    flipped sign.
    """
    got = as_array(method, what, got, where=where, none_hint=none_hint)
    want = np.asarray(want, dtype=np.float64)
    label = _label(what, where)
    if got.shape != want.shape:
        hint = (mistake_hint(got, mistakes, rtol, atol)
                or next((h for s, h in shape_hints if tuple(s) == got.shape), ""))
        if not hint and got.size == want.size > 0 and _close(got.reshape(want.shape), want, rtol, atol):
            hint = "The numbers are right; only the shape is not (reshape it)."
        if not hint and want.ndim == 2 and got.shape == want.T.shape:
            hint = "It looks transposed."
        raise CheckFailure(f"{method}: {label} has shape {shape_text(got.shape)} but should have shape "
                           f"{shape_text(want.shape)}." + (f" {hint}" if hint else ""))
    with quiet():
        ok = np.isclose(got, want, rtol=rtol, atol=atol)
        for alt in accept:
            ok |= np.isclose(got, alt, rtol=rtol, atol=atol)
        if ok.all():
            return
        gap = np.where(ok, -1.0, np.abs(got - want))  # nan (a nan entry) counts as the largest
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(gap)), want.shape))
    hint = mistake_hint(got, mistakes, rtol, atol)
    if not hint and not np.isfinite(got).all() and np.isfinite(want).all():
        hint = nonfinite_hint
    if not hint and want.ndim == 2 and want.shape[0] == want.shape[1] and _close(got, want.T, rtol, atol):
        hint = "It is the transpose of the right matrix."
    if not hint and np.any(np.abs(want) > atol):
        hint = next((h for factor, h in [*factors, (-1.0, "The sign is flipped.")]
                     if _close(got, factor * want, rtol, atol)), "")
    at = f"[{', '.join(map(str, idx))}]" if idx else ""
    named = f"{where}, {what}{at}" if where else f"{what}: " + (f"entry {at}" if at else "it")
    note = entry(idx) if entry else ""
    detail = f" ({note})" if note else ""
    g, w = float(got[idx]), float(want[idx])
    raise CheckFailure(f"{method}: {named} is {fmt(g, w)} but should be "
                       f"{fmt(w, g)}{detail}." + (f" {hint}" if hint else ""))


def same_update(got_shape: Sequence[int], want_shape: Sequence[int]) -> bool:
    """A gradient of ``got_shape`` changes a parameter of ``want_shape`` exactly as one
    of ``want_shape`` would: ``P - lr * dP`` keeps ``P``'s shape and every value
    (e.g. ``(C,)`` for a ``1 × C`` parameter; not ``(C, 1)``, which broadcasts to ``C × C``)."""
    got_shape, want_shape = tuple(int(n) for n in got_shape), tuple(int(n) for n in want_shape)
    if got_shape == want_shape or int(np.prod(got_shape)) != int(np.prod(want_shape)):
        return False
    try:
        return np.broadcast_shapes(want_shape, got_shape) == want_shape
    except ValueError:
        return False
