"""Checks. A check takes the student's object, exercises it, compares with an
independent oracle, and prints ``PASSED`` or raises :class:`CheckFailure` with a
message that says what is wrong; called with ``points=P`` it scores each case
(:mod:`.partial`). Hidden calls draw their seeds from :mod:`.seeds`. The modules
follow the notebooks' topics (``autograd``, ``layers``, ``losses``, ``optim``, ...);
``_harness`` is the one place a student's failure becomes a message."""
from ._harness import CheckFailure, NotImplementedYet

__all__ = ["CheckFailure", "NotImplementedYet"]
