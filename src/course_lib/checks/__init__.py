"""Checks: one module per notebook. A check takes the student's object,
exercises it, compares with an independent oracle, and prints ``PASSED`` or
raises :class:`CheckFailure` with a message that says what is wrong."""
from ._harness import CheckFailure, NotImplementedYet

__all__ = ["CheckFailure", "NotImplementedYet"]
