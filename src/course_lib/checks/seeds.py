"""Seeds of the hidden test calls: fixed on a student's own run, per student at grading.

A hidden test call passes ``seed=hidden_seed(2026)``. On a student's laptop (and
under plain ``nbgrader autograde``) that is 2026. Under ``course-grade`` the
grader sets ``COURSE_HIDDEN_SEED`` in the kernel's environment from the student's
id and the course's secret salt (:func:`student_seed`), so two students with the
same wrong answer meet different hidden inputs, each regrade of one student meets
the same ones, and no student can work theirs out at home.
The variable is read into :data:`HIDDEN_SEED` when the checks are imported, and
again by the graded kernel as it starts (one forked from a zygote imported the checks
before it had a student), before any student line runs; then it is removed.
"""
from __future__ import annotations

import hashlib
import os

ENV = "COURSE_HIDDEN_SEED"


def from_env() -> int | None:
    """The seed in ``$COURSE_HIDDEN_SEED``, None without one."""
    text = os.environ.get(ENV, "")
    return int(text) if text.isdigit() else None


#: The grader's per-student seed, or None on a student's own run.
HIDDEN_SEED: int | None = from_env()


def student_seed(salt: str, assignment: str, student: str) -> int:
    """``sha256("salt/assignment/student")`` as a 31-bit integer: stable, different per student."""
    return int(hashlib.sha256(f"{salt}/{assignment}/{student}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def hidden_seed(default: int) -> int:
    """``default`` on a student's own run; at grading, a seed mixed from the student's and ``default``
    (so the hidden calls of one cell stay different from each other)."""
    if HIDDEN_SEED is None:
        return default
    return int(hashlib.sha256(f"{HIDDEN_SEED}/{default}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF
