"""Partial credit: a check whose sub-cases each mean something alone.

nbgrader scores a test cell by its outputs: an error scores 0; a numeric result
(the cell's last expression) scores that many points; anything else scores full
points. A check called with ``points=P`` runs every sub-case (a size of a kernel,
a case of an operator, the forward or the backward of a layer) instead of
stopping at the first failure, prints ``PASSED`` or ``FAILED`` with the message
for each, and returns

    P × (sub-cases passed) / (sub-cases)

rounded to 2 decimals, which the test cell ends with. When no sub-case passes it
raises the first failure (the cell errors and scores 0, as before); a part that
is not implemented yet, or a failure marked ``whole`` (a kernel that does not
compile: every case would say the same), raises at once. Without ``points`` a
check stops at its first failure and prints one ``PASSED`` line (:func:`score`). nbgrader's ``validate`` still lists a
cell below full points as failing.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

from ._harness import CheckFailure, NotImplementedYet, passed

Part = tuple[str, Callable[[], None]]


def whole(failure: CheckFailure) -> CheckFailure:
    """Mark ``failure`` as one that fails every sub-case alike (raised at once)."""
    failure.whole = True
    return failure


def score(title: str, parts: Sequence[Part], points: float | None = None,
          detail: str | Callable[[], str] = "") -> float | None:
    """The check's verdict: without ``points``, every part in turn (the first failure raises) and one
    ``PASSED`` line with ``detail`` (or what ``detail()`` says after the parts ran); with ``points``,
    :func:`earn`."""
    if points is None:
        for _, run in parts:
            run()
        passed(title, detail() if callable(detail) else detail)
        return None
    return earn(title, points, parts)


def earn(title: str, points: float, parts: Iterable[Part]) -> float:
    """Run each ``(label, run)`` of ``parts``; return the points they earn (see the module)."""
    failures: list[CheckFailure] = []
    total = 0
    for label, run in parts:
        total += 1
        try:
            run()
        except NotImplementedYet:
            raise
        except CheckFailure as failure:
            if getattr(failure, "whole", False):
                raise
            failures.append(failure)
            print(f"FAILED: {title}: {label}: {failure.message}")
    if total == 0:
        raise CheckFailure(f"{title}: no case to check")
    if len(failures) == total:
        raise failures[0]
    earned = round(points * (total - len(failures)) / total, 2)
    print(f"{'PASSED' if not failures else 'PARTLY PASSED'}: {title}: {total - len(failures)} of {total} "
          f"cases, {earned:g} of {points:g} points")
    return float(earned)
