"""course_lib: the infrastructure of Problem Set 1, "backpropagation from scratch".

It checks students' work against independent oracles, draws computation
graphs and figures, loads data with offline fallbacks, and helps build and
grade the workbook. It holds no solution.
"""
from __future__ import annotations

#: The one version string of course_lib: the wheel's version (pyproject.toml reads it),
#: stamped by ``make release`` into every release notebook and its setup cell.
__version__ = "0.1.0"

from .notebook import setup_notebook

__all__ = ["__version__", "setup_notebook", "submit"]


def submit(student: str | None = None, folder: str = ".", assignment: str = "ps1", **kwargs):
    """Validate every notebook of the assignment and write ``<student>_<assignment>.zip``
    to hand in (on Colab it is also downloaded). The notebook-cell form of
    ``course-submit``; see :mod:`course_lib.student.submit`."""
    from .student.submit import submit_in_notebook

    return submit_in_notebook(student, folder, assignment, **kwargs)
