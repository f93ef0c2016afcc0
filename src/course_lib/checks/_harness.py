"""The machinery every check shares: failures that read well, safe calls into
student code, a time budget, and number formatting.

A check exercises a student's object, compares with an independent oracle and
either prints one plain-text ``PASSED`` line or raises :class:`CheckFailure`
whose message names the method, the input, expected vs got and the likely
mistake. Nothing a student writes can make a check die with a traceback from
inside ``course_lib`` or hang it.
"""
from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import traceback
from typing import Any, Callable, Iterator, TypeVar

from ..errors import PlainError

F = TypeVar("F", bound=Callable[..., Any])

#: Seconds a single call into student code may take before it is stopped.
CALL_BUDGET_S = 15.0  # generous: a first import of a heavy module (scipy.stats) inside student code counts


class CheckFailure(PlainError, AssertionError):
    """A check found a mistake. The message says what, where and why.

    It is an ``AssertionError`` so nbgrader and pytest count it as a failed
    test. In Jupyter only the message is shown, not course_lib's traceback.
    """

    heading = "CHECK FAILED"


class NotImplementedYet(CheckFailure):
    """The student's code still raises ``NotImplementedError``."""


class StudentTimeout(Exception):
    """Raised inside student code when its time budget runs out."""


def fmt(x: Any, other: Any = None) -> str:
    """A short, exact-enough rendering of a number for messages.

    With ``other`` (the number ``x`` is shown next to, e.g. got beside
    expected), two different floats that agree in their first
    :data:`FAR_DIGITS` significant digits are both written down to the place
    of their difference (at least as many digits as the short form), trailing
    zeros kept, so that they visibly differ: ``3.103780`` next to
    ``3.103785`` (not ``3.10378``), ``3.1037849`` next to ``3.1037851``. ``fmt(got, want)``
    and ``fmt(want, got)`` use the same places. Numbers further apart keep
    the short form.
    """
    if isinstance(x, bool) or x is None:
        return repr(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return repr(x)
        close_pair = _pair_text(x, other)
        if close_pair:
            return close_pair
        if x == 0:
            return "0.0"
        if abs(x) >= 1e5 or abs(x) < 1e-4:
            return f"{x:.6g}"
        text = f"{x:.6f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return repr(x)


#: Two numbers that differ within this many leading significant digits are far apart: ``fmt`` keeps them short.
FAR_DIGITS = 4


def _pair_text(x: float, other: Any) -> str:
    """``x`` written to the place where it differs from ``other``, or ``""`` when the
    short form serves (no ``other``, equal, or far apart)."""
    if isinstance(other, bool) or not isinstance(other, (int, float)):
        return ""
    other = float(other)
    if math.isnan(other) or math.isinf(other) or x == other or math.isinf(x - other):
        return ""
    top = math.floor(math.log10(max(abs(x), abs(other))))
    place = math.floor(math.log10(abs(x - other)) + 1e-6)  # 9.99999e-5 (rounding) counts as 1e-4
    if top - place < FAR_DIGITS:
        return ""
    if 1e-4 <= max(abs(x), abs(other)) < 1e5:   # fixed point, as the short form
        for decimals in range(max(6, -place), 18):   # never fewer than the short form's 6
            a, b = f"{x:.{decimals}f}", f"{other:.{decimals}f}"
            if a != b:
                return a
        return repr(x)
    for digits in range(max(5, top - place), 17):  # scientific: digits after the point
        a, b = f"{x:.{digits}e}", f"{other:.{digits}e}"
        if a != b:
            return a
    return repr(x)


def as_number(method: str, what: str, x: Any) -> float:
    """``float(x)``, or a :class:`CheckFailure` saying that ``what`` is not a number."""
    try:
        return float(x)
    except Exception:
        raise CheckFailure(
            f"{method}: {what} is a {type(x).__name__} ({x!r:.60}); it should be a number."
        ) from None


def close(got: float, want: float, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """``|got - want| <= atol + rtol * |want|``, and NaN never matches."""
    return abs(got - want) <= atol + rtol * abs(want)


@contextlib.contextmanager
def time_budget(seconds: float | None = None) -> Iterator[None]:
    """Interrupt the block with :class:`StudentTimeout` after ``seconds``.

    Uses a real-time interval timer, which works in the main thread on Unix
    (Jupyter kernels, nbgrader, pytest). Elsewhere the block runs unbounded.
    """
    seconds = CALL_BUDGET_S if seconds is None else seconds
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum, frame):  # noqa: ARG001
        raise StudentTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: Characters of a student's exception message quoted in a check's message (a longer one is cut).
MAX_EXC_TEXT = 300


def _exc_text(exc: BaseException) -> str:
    """The exception's message, cut at :data:`MAX_EXC_TEXT` characters."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a student's __str__ may raise too
        return f"<{type(exc).__name__} whose message cannot be printed>"
    return text if len(text) <= MAX_EXC_TEXT else text[:MAX_EXC_TEXT] + " [...]"


def _student_frame(exc: BaseException) -> str:
    """``' (line N of your code: `...`)'`` for the innermost frame outside course_lib."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        parts = frame.filename.replace("\\", "/").split("/")
        if not {"course_lib", "site-packages", "dist-packages"} & set(parts) and not (
            frame.filename.startswith("<frozen")
        ):
            code = (frame.line or "").strip()
            where = f"line {frame.lineno} of your code"
            return f" ({where}: `{code}`)" if code else f" ({where})"
    return ""


def call(method: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run student code ``fn(*args, **kwargs)``; turn every way it can go wrong
    into a :class:`CheckFailure` that names ``method`` and ``what`` was done."""
    try:
        with time_budget():
            return fn(*args, **kwargs)
    except CheckFailure:
        raise
    except NotImplementedError as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise NotImplementedYet(
            f"{method}: not implemented yet{detail}. Replace `raise NotImplementedError()` "
            f"with your code, run that cell again, then this one."
        ) from None
    except StudentTimeout:
        raise CheckFailure(
            f"{method}: {what} did not finish within {CALL_BUDGET_S:g} s. "
            f"Is there a loop that never ends (a graph walk that revisits nodes forever)?"
        ) from None
    except RecursionError:
        raise CheckFailure(
            f"{method}: {what} raised RecursionError (too deep recursion). "
            f"Does a method call itself without end, e.g. a node listed as its own child?"
        ) from None
    except Exception as exc:  # anything the student's code raised
        raise CheckFailure(
            f"{method}: {what} raised {type(exc).__name__}: {_exc_text(exc)}{_student_frame(exc)}"
        ) from None


def passed(title: str, detail: str = "") -> None:
    """Print the plain-text success line of a check."""
    print(f"PASSED: {title}" + (f" ({detail})" if detail else ""))


def guarded(title: str) -> Callable[[F], F]:
    """Decorator for a public check: any unexpected error inside the check
    (a student object missing an attribute, returning a strange type, ...) is
    reported as a :class:`CheckFailure` about ``title`` instead of an internal
    traceback."""

    def decorate(check: F) -> F:
        @functools.wraps(check)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return check(*args, **kwargs)
            except CheckFailure:
                raise
            except Exception as exc:
                raise CheckFailure(
                    f"{title}: the check could not use your object: "
                    f"{type(exc).__name__}: {exc}{_student_frame(exc)}"
                ) from None

        return wrapper  # type: ignore[return-value]

    return decorate
