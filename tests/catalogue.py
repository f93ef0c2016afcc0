"""What the catalogue tests share: a wrong implementation must fail its check."""
from __future__ import annotations

import pytest

from course_lib.checks import CheckFailure


def failure(check, obj) -> str:
    """The message of the :class:`CheckFailure` that ``check`` raises on ``obj`` in the visible
    cell's call, or else in the hidden cell's (``seed=2026, hard=True``); the test fails when
    neither raises."""
    with pytest.raises(CheckFailure) as info:
        check(obj)
        check(obj, seed=2026, hard=True)  # the hidden cell's call
    return str(info.value)
