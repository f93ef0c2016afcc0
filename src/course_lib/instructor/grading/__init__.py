"""Grading a whole class safely: ``course-grade``.

One command (:mod:`.cli`) collects submissions (:mod:`.submissions`), makes
sure the assignment is in the gradebook (:mod:`.course`), and autogrades each
student in its slot's worker process (:mod:`.slots`, :mod:`.worker`) running
nbgrader with a guarded Execute (:mod:`.execute`) whose kernels are forked from
the slot's zygote (:mod:`.zygote`) and confined in bubblewrap (:mod:`.kernel`,
:mod:`.sandbox`). After each student the static tamper scan
(:mod:`course_lib.instructor.tamper`) and the shared-state checks
(:mod:`.integrity`) run; per-problem statuses (:mod:`.summary`) go into a
crash-safe journal (:mod:`.journal`); :mod:`.run` ties it together. With
``--scheduler`` the students are graded on a Dask cluster (:mod:`.distributed`
on this machine, :mod:`.remote` on each worker) into one PostgreSQL gradebook.

After autograding (:mod:`.loop`, the ``course-grade`` subcommands): the late
policy (:mod:`.late`), the final grades and their LMS files (:mod:`.final`),
the feedback pages that never show a hidden test (:mod:`.feedback`), and the
similarity screen of solution code (:mod:`.similarity`). The rubric page for
formgrader is :mod:`course_lib.instructor.rubric`.
"""
import sys

# nbformat imports jsonschema, which imports rfc3987_syntax if it is installed (jupyter-events wants it), and
# that builds an IRI grammar at import: 1.3 s in every grading process (course-grade, each worker, each
# zygote) for a format no notebook schema uses. Marked missing here, jsonschema skips its IRI checkers.
sys.modules.setdefault("rfc3987_syntax", None)
