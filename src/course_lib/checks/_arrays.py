"""Comparing a student's numpy array with the oracle's, for the checks of
notebook 04: shape, finiteness, values, and a hint when the wrong array is a
usual mistake (a transpose, a constant factor, a known wrong formula)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._harness import CheckFailure, fmt

RTOL, ATOL = 1e-6, 1e-9

#: (factor, hint) pairs tried when got == factor * want everywhere.
Factors = Sequence[tuple[float, str]]


def as_array(method: str, what: str, x: Any) -> np.ndarray:
    """``x`` as a float64 array, or a CheckFailure that says what it was."""
    if x is None:
        raise CheckFailure(f"{method}: {what} is None. Did you forget to `return` it?")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except Exception:
        raise CheckFailure(
            f"{method}: {what} is a {type(x).__name__} ({x!r:.60}); it should be a numpy array."
        ) from None
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


def _same(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))


def _worst(got: np.ndarray, want: np.ndarray) -> str:
    i = np.unravel_index(int(np.argmax(np.abs(got - want))), want.shape)
    where = f"[{', '.join(str(int(k)) for k in i)}]" if want.ndim else ""
    return f"entry {where} is {fmt(float(got[i]))} but should be {fmt(float(want[i]))}" if where \
        else f"it is {fmt(float(got))} but should be {fmt(float(want))}"


def compare(method: str, what: str, got_raw: Any, want: np.ndarray, *,
            factors: Factors = (), mistakes: Sequence[tuple[np.ndarray, str]] = (),
            shape_hints: Sequence[tuple[tuple[int, ...], str]] = (),
            nonfinite_hint: str = "", rtol: float = RTOL, atol: float = ATOL) -> None:
    """Raise a CheckFailure unless ``got_raw`` equals ``want`` (shape and values).

    ``mistakes`` are arrays a usual wrong formula gives, with the hint to show
    when the student's array equals one; ``factors`` turn a constant ratio
    into a hint; ``shape_hints`` a wrong shape.
    """
    want = np.asarray(want, dtype=np.float64)
    got = as_array(method, what, got_raw)
    if got.shape != want.shape:
        if got.size == want.size and got.ndim == want.ndim == 0:
            got = got.reshape(want.shape)
        else:
            hint = next((h for s, h in shape_hints if tuple(s) == got.shape), "")
            if not hint and want.ndim == 2 and got.shape == want.T.shape:
                hint = "It looks transposed."
            raise CheckFailure(
                f"{method}: {what} has shape {got.shape} but should have shape {want.shape}."
                + (f" {hint}" if hint else "")
            )
    if not np.all(np.isfinite(got)):
        bad = "nan" if np.any(np.isnan(got)) else "inf"
        raise CheckFailure(
            f"{method}: {what} contains {bad} where the right answer is finite."
            + (f" {nonfinite_hint}" if nonfinite_hint else "")
        )
    if _same(got, want, rtol, atol):
        return
    hint = ""
    for arr, h in mistakes:
        arr = np.asarray(arr, dtype=np.float64)
        if np.all(np.isfinite(arr)) and _same(got, arr, rtol, atol):
            hint = h
            break
    if not hint and want.ndim == 2 and want.shape[0] == want.shape[1] and _same(got, want.T, rtol, atol):
        hint = "It is the transpose of the right matrix."
    if not hint and np.any(np.abs(want) > atol):
        for factor, h in list(factors) + [(-1.0, "The sign is flipped.")]:
            if _same(got, factor * want, rtol, atol):
                hint = h
                break
    raise CheckFailure(f"{method}: {what}: {_worst(got, want)}." + (f" {hint}" if hint else ""))
