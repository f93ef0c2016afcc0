"""The student's last step: check the notebooks and write the one file to hand in.

    course-submit release/ps1 --student ada      # in a terminal (exit status 0, 1 or 2)

    import course_lib; course_lib.submit(student="ada")   # in a notebook cell

Both do the same three things (:mod:`course_lib.student.submit`):

1. :mod:`~course_lib.student.assignment` -- which notebooks the assignment has
   and which files the notebooks save beside themselves for the grader;
2. :mod:`~course_lib.student.validate` -- every notebook runs top to bottom in
   a fresh kernel under nbgrader's own validator, as the grader will run it,
   and the report names, per notebook, the checks that fail and why;
   :mod:`~course_lib.student.artifacts` -- the saved files (trained weights)
   are there, readable and not oversized;
3. :mod:`~course_lib.student.bundle` -- one zip, ``<student>_<assignment>.zip``,
   holding ``<assignment>/`` with the notebooks and those files, nothing else.

A corrupt or missing notebook stops it with a message and no zip; failing
checks and missing files are reported and the zip is still written (partial
work can be handed in).
"""
from __future__ import annotations

from .assignment import ASSIGNMENTS, Artifact, Assignment, get_assignment
from .errors import SubmitError

__all__ = ["ASSIGNMENTS", "Artifact", "Assignment", "SubmitError", "get_assignment"]
