"""``course-grade``: grade a whole class safely with one command, then close the loop.

    course-grade SUBMISSIONS [--course ROOT] [--assignment ps1] [--jobs N] ...
    course-grade SUBMISSIONS --scheduler tcp://HOST:PORT --db-url postgresql+psycopg://...
                              the same, on the workers of a Dask cluster
    course-grade rubric       the written answers' rubric page, to keep beside formgrader
    course-grade final        final grades (auto + written - late penalty): final.csv,
                              canvas.csv, grades_generic.csv, and every feedback page
    course-grade feedback     only the feedback pages
    course-grade similarity   pairs of students with near-identical solution code
    course-grade clear S      a person cleared flagged student S: their withheld points count

SUBMISSIONS is ``submitted/`` (``<student>/ps1/*.ipynb``) or a folder of
per-student zip files (a folder named like a subcommand: write ``./final``).
See :mod:`course_lib.instructor.grading` for what happens.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ..release import course_root
from .run import Options, grade_class


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-grade", description=__doc__.split("\n\n")[0])
    p.add_argument("submissions", type=Path, help="submitted/ or a folder of per-student zip files")
    p.add_argument("--course", type=Path, default=None, help="course root (folder of nbgrader_config.py)")
    p.add_argument("--assignment", default="ps1")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="students graded at once")
    p.add_argument("--db-url", default=None, help="gradebook URL (e.g. postgresql+psycopg://user@host/db)")
    p.add_argument("--unconfined", action="store_true", help="do not confine kernels (trusted code only)")
    p.add_argument("--no-guard", dest="guard", action="store_false",
                   help="benchmarks only: kernels without the run-time guard and the signed verdicts (not safe "
                        "for grades)")
    p.add_argument("--fresh-kernels", dest="fork_kernels", action="store_false",
                   help="start every kernel from nothing instead of forking it from the slot's zygote "
                        "(slower; for comparison)")
    p.add_argument("--run-demos", dest="skip_demos", action="store_false",
                   help="also run the demonstration cells (figures, dreams) the source notebooks tag `demo` "
                        "(slower; no grade changes)")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: Execute.timeout)")
    p.add_argument("--notebook-timeout", type=int, default=1800, help="seconds per notebook")
    p.add_argument("--student-timeout", type=int, default=None, help="seconds per student (default: generous)")
    p.add_argument("--interrupt-grace", type=int, default=10,
                   help="seconds a timed-out cell has to answer the interrupt before its kernel is killed")
    p.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit per kernel")
    p.add_argument("--regrade", action="store_true", help="grade everyone again, even students already recorded")
    p.add_argument("--no-feedback", dest="feedback", action="store_false")
    p.add_argument("--student", action="append", default=[], help="grade only this student (repeatable)")
    p.add_argument("--output", type=Path, default=None, help="grades CSV (default grading/<assignment>/grades.csv)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="grade on the workers of this Dask scheduler (needs a PostgreSQL --db-url; see README)")
    p.add_argument("--worker-course", default=None, metavar="PATH",
                   help="with --scheduler: the course checkout on the workers (default: the same path as here; "
                        "a worker's $COURSE_GRADE_COURSE wins)")
    p.add_argument("--retries", type=int, default=1,
                   help="with --scheduler: Dask retries of a student whose task failed (lost workers: the "
                        "scheduler's allowed-failures)")
    return p


SUBCOMMANDS = ("final", "feedback", "rubric", "similarity", "clear")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        from . import loop

        return loop.main(argv[0], argv[1:])
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="course-grade: %(message)s")
    logging.getLogger("traitlets").setLevel(logging.WARNING)
    try:
        course = (args.course or course_root()).resolve()
        opts = Options(submissions=args.submissions, course=course, assignment=args.assignment,
                       jobs=max(1, args.jobs), db_url=args.db_url, unconfined=args.unconfined, guard=args.guard,
                       fork_kernels=args.fork_kernels, skip_demos=args.skip_demos,
                       cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                       student_timeout=args.student_timeout, memory_gb=args.memory_gb, interrupt_grace=args.interrupt_grace, regrade=args.regrade,
                       feedback=args.feedback, output=args.output, progress=not args.quiet,
                       students=args.student, scheduler=args.scheduler, worker_course=args.worker_course,
                       retries=max(0, args.retries))
        _, _, abort = grade_class(opts)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"course-grade: {err}", file=sys.stderr)
        return 2
    return 3 if abort else 0


if __name__ == "__main__":
    sys.exit(main())
