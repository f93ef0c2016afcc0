"""The steps after autograding, as ``course-grade`` subcommands.

    course-grade rubric      [--course ROOT] [--assignment ps1]
    course-grade final       [--course ROOT] [--assignment ps1] [--db-url URL]
                             [--canvas-column NAME] [--canvas-roster CANVAS_EXPORT.csv]
                             [--include-provisional] [--no-feedback]
    course-grade feedback    [--course ROOT] [--assignment ps1] [--db-url URL]
    course-grade similarity  [--course ROOT] [--assignment ps1] [--min-tokens N] [--min-similarity F]
    course-grade clear STUDENT --note "what a person checked"   (a flagged student's points count again)

``final`` exits 0 when every student's grade is final, 1 when some are
provisional (written answers not graded) or held (flagged), 2 on an error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..release import course_root


def _common(prog: str, doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"course-grade {prog}", description=doc)
    p.add_argument("--course", type=Path, default=None, help="course root (folder of nbgrader_config.py)")
    p.add_argument("--assignment", default="ps1")
    p.add_argument("--db-url", default=None, help="gradebook URL (default: the course's nbgrader_config.py)")
    return p


def final(argv: list[str], pages_only: bool = False) -> int:
    from . import feedback, late
    from .final import (STATUS_FINAL, final_grades, table, write_canvas_csv, write_final_csv,
                        write_generic_csv)
    from .journal import Journal

    p = _common("feedback" if pages_only else "final",
                "Feedback pages only." if pages_only else
                "Final grades: autograded + written answers - late penalty, as CSVs an LMS imports.")
    if not pages_only:
        p.add_argument("--canvas-column", default=None,
                       help="the Canvas assignment column, e.g. 'Problem Set 1 (12345)' (default: the assignment)")
        p.add_argument("--canvas-roster", type=Path, default=None,
                       help="a gradebook CSV exported from Canvas: its students' ids are kept")
        p.add_argument("--include-provisional", action="store_true",
                       help="also export students whose written answers are not all graded")
        p.add_argument("--no-feedback", dest="feedback", action="store_false")
    args = p.parse_args(argv)
    course = (args.course or course_root()).resolve()
    policy = late.load_policy(course)
    grades, problems = final_grades(course, args.assignment, args.db_url, policy, write_back=not pages_only)
    for problem in problems:
        print(f"course-grade: warning: {problem}", file=sys.stderr)
    out = course / "grading" / args.assignment
    journal = Journal(out / "results")
    results = {g.student: journal.get(g.student) for g in grades}
    if pages_only or args.feedback:
        pages = feedback.write(course, args.assignment, grades, policy, results)
        print(f"feedback: {len(pages)} page(s) in {out / 'feedback'} (and feedback/<student>/{args.assignment}/)")
    if pages_only:
        return 0
    print(table(grades))
    write_final_csv(grades, out / "final.csv")
    write_generic_csv(grades, out / "grades_generic.csv", args.include_provisional)
    _, unmatched = write_canvas_csv(grades, out / "canvas.csv", args.canvas_column or args.assignment,
                                    args.canvas_roster, args.include_provisional)
    print(f"late policy: {policy.describe()}\nfinal table: {out / 'final.csv'}\n"
          f"Canvas import: {out / 'canvas.csv'}\ngeneric CSV (Moodle, Gradescope-style): {out / 'grades_generic.csv'}")
    if unmatched:
        print(f"NOT IN THE CANVAS ROSTER (no row written for them): {', '.join(unmatched)}", file=sys.stderr)
    waiting = [g for g in grades if g.status != STATUS_FINAL]
    for g in waiting:
        exported = args.include_provisional and g.status == "provisional"
        print(f"{g.student}: {g.status.upper()}{' (exported anyway)' if exported else ' (no grade exported)'}: "
              f"{g.notes}", file=sys.stderr)
    return 1 if waiting else 0


def clear(argv: list[str]) -> int:
    from .final import clear as record

    p = _common("clear", "A person looked at a flagged student's findings: their withheld points count again.")
    p.add_argument("student")
    p.add_argument("--note", required=True, help="what was checked, kept in grading/<assignment>/cleared.csv")
    args = p.parse_args(argv)
    course = (args.course or course_root()).resolve()
    path = record(course, args.assignment, args.student, args.note)
    print(f"{args.student} cleared ({path}); run `course-grade final` again")
    return 0


def main(command: str, argv: list[str]) -> int:
    try:
        if command == "clear":
            return clear(argv)
        if command == "final":
            return final(argv)
        if command == "feedback":
            return final(argv, pages_only=True)
        if command == "rubric":
            from ..rubric import main as rubric_main

            return rubric_main(argv)
        if command == "similarity":
            from .similarity import main as similarity_main

            return similarity_main(argv)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"course-grade {command}: {err}", file=sys.stderr)
        return 2
    raise SystemExit(f"unknown subcommand {command!r}")
