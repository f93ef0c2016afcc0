"""Final grades: autograded + written-answer points − late penalty, for the LMS.

:func:`final_grades` reads everything from the gradebook (nbgrader's scores,
including the written answers graded in formgrader and any autograde score a
grader overrode there; the submission ``timestamp`` and the assignment's
``duedate``), the extensions CSV and ``course-grade``'s journal (flags). Per
student and notebook::

    auto   = sum of the scores of the autograded test cells
    manual = sum of the scores of the written answers graded so far
    raw    = auto + manual
    total  = raw - penalty,   penalty = percent / 100 * raw   (see :mod:`.late`)

The penalty is computed here once, from raw points, and written back into the
gradebook (each notebook's ``late_submission_penalty`` = percent × its score,
the extensions into ``SubmittedAssignment.extension``) so that nbgrader's own
``nbgrader export`` shows the same numbers.

A student's *status* is ``final``, ``provisional`` (written answers not graded
yet; they are named), or ``held`` (course-grade flagged the submission for a
person, or the assignment has a deadline but this submission's time is unknown). Only ``final`` rows get a grade in the LMS files unless
``include_provisional``; the others are listed, never exported silently.

Files (in ``grading/<assignment>/``): ``final.csv`` (everything),
``canvas.csv`` (Canvas's gradebook import: ``Student, ID, SIS User ID,
SIS Login ID, Section, <assignment column>`` and a ``Points Possible`` row),
``grades_generic.csv`` (``student_id``, one column per problem, penalty,
total: what Moodle's and Gradescope-style CSV imports take).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_lib import nbmeta
from . import course as course_mod
from .journal import Journal
from .summary import text_table
from .late import LatePolicy, Lateness, lateness, load_policy, read_extensions

STATUS_FINAL, STATUS_PROVISIONAL, STATUS_HELD = "final", "provisional", "held"


@dataclass
class NotebookGrade:
    auto: float = 0.0
    manual: float = 0.0
    auto_max: float = 0.0
    manual_max: float = 0.0
    ungraded: list[str] = field(default_factory=list)  # grade ids of written answers not graded yet
    scores: dict[str, float | None] = field(default_factory=dict)  # grade id -> score (None: not graded yet)
    comments: dict[str, str] = field(default_factory=dict)         # grade id -> the grader's comment

    @property
    def raw(self) -> float:
        return self.auto + self.manual


@dataclass
class StudentGrade:
    student: str
    notebooks: dict[str, NotebookGrade]
    late: Lateness
    flags: list[str] = field(default_factory=list)
    cleared: str = ""          # a person's note clearing the flags (cleared.csv)

    @property
    def withheld(self) -> list[str]:
        """Notebooks whose points are withheld: those a finding names (every notebook for a
        finding that names none), until a person clears the student."""
        if not self.flags or self.cleared:
            return []
        named = {f.split(".ipynb:", 1)[0] for f in self.flags if ".ipynb:" in f.split(" ", 1)[0]}
        if any(".ipynb:" not in f.split(" ", 1)[0] for f in self.flags):
            return list(self.notebooks)
        return [n for n in self.notebooks if n in named]

    def _counted(self) -> list[NotebookGrade]:
        held = set(self.withheld)
        return [n for name, n in self.notebooks.items() if name not in held]

    @property
    def auto(self) -> float:
        return sum(n.auto for n in self._counted())

    @property
    def manual(self) -> float:
        return sum(n.manual for n in self._counted())

    @property
    def raw(self) -> float:
        return self.auto + self.manual

    @property
    def max_score(self) -> float:
        return sum(n.auto_max + n.manual_max for n in self.notebooks.values())

    @property
    def penalty(self) -> float:
        return self.late.penalty(self.raw)

    @property
    def total(self) -> float:
        return round(max(0.0, self.raw - self.penalty), 2)

    @property
    def ungraded(self) -> list[str]:
        return [f"{nb}/{g}" for nb, n in self.notebooks.items() for g in n.ungraded]

    @property
    def status(self) -> str:
        if (self.flags and not self.cleared) or self.late.note:  # flagged, or a deadline but no known time
            return STATUS_HELD
        return STATUS_PROVISIONAL if self.ungraded else STATUS_FINAL

    @property
    def notes(self) -> str:
        out = []
        if self.flags and self.cleared:
            out.append(f"flagged, cleared by a person: {self.cleared}")
        elif self.flags:
            out.append(f"held for review: {', '.join(self.withheld)} withheld; flagged by course-grade "
                       f"({self.flags[0]}" + (f", +{len(self.flags) - 1} more" if len(self.flags) > 1 else "") + ")")
        if self.ungraded:
            out.append(f"{len(self.ungraded)} written answer(s) not graded yet")
        if self.late.note:
            out.append(self.late.note)
        return "; ".join(out)


CLEARED = "cleared.csv"


def read_cleared(path: Path) -> dict[str, str]:
    """``{student: note}``: students a person looked at and cleared (``course-grade clear``)."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["student"].strip(): (r.get("note") or "cleared").strip() for r in csv.DictReader(f)
                if (r.get("student") or "").strip()}


def clear(course: Path, assignment: str, student: str, note: str) -> Path:
    """Record that a person looked at ``student``'s findings and clears them."""
    path = Path(course) / "grading" / assignment / CLEARED
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["student", "note"])
        w.writerow([student, note])
    return path


def _manual_ids(source_dir: Path) -> dict[str, set[str]]:
    """``{notebook: grade ids of its written answers}`` from the source notebooks."""
    out = {}
    for path in sorted(source_dir.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        out[path.stem] = {nbmeta.grade_id(c) for c in nb.cells if nbmeta.is_manual_answer(c)}
    return out


def _fmt(x: float) -> str:
    return f"{round(x, 2):g}"


def final_grades(course: Path, assignment: str = "ps1", url: str | None = None,
                 policy: LatePolicy | None = None, write_back: bool = True,
                 students: list[str] | None = None) -> tuple[list[StudentGrade], list[str]]:
    """Every submitted student's final grade, and the problems found on the way
    (an extension for an unknown student, a malformed row, ...).

    With ``write_back``, the extensions and per-notebook penalties are stored in
    the gradebook (idempotent) so ``nbgrader export`` agrees.
    """
    from nbgrader.api import Gradebook, MissingEntry

    course = Path(course).resolve()
    url = course_mod.db_url(course, url)
    policy = policy or load_policy(course)
    manual = _manual_ids(course / "source_notebooks" / assignment)
    extensions, problems = read_extensions(course / policy.extensions_file, assignment)
    journal = Journal(course / "grading" / assignment / "results")
    cleared = read_cleared(course / "grading" / assignment / CLEARED)
    course_mod.alembic_on_path()
    out: list[StudentGrade] = []
    with Gradebook(url, course_mod.course_id(course)) as gb:
        try:
            duedate = gb.find_assignment(assignment).duedate
        except MissingEntry:
            raise RuntimeError(f"{assignment} is not in the gradebook: run course-grade first") from None
        submissions = sorted(gb.assignment_submissions(assignment), key=lambda s: s.student.id)
        known = {s.student.id for s in submissions}
        if students is None:
            problems += [f"extensions: {s!r} has no submission of {assignment}" for s in extensions if s not in known]
        else:
            submissions = [s for s in submissions if s.student.id in students]
        for sub in submissions:
            student = sub.student.id
            ext = extensions.get(student)
            extension = ext.extension(duedate) if ext is not None and duedate is not None else None
            if write_back and sub.extension != extension:
                sub.extension = extension
            late = lateness(policy, duedate, sub.timestamp, extension)
            notebooks: dict[str, NotebookGrade] = {}
            for nb in sorted(sub.notebooks, key=lambda n: n.name):
                ng = NotebookGrade()
                for c in nb.comments:
                    text = c.manual_comment if c.manual_comment is not None else c.auto_comment
                    if text:
                        ng.comments[c.name] = text
                for g in nb.grades:
                    is_manual = g.name in manual.get(nb.name, set())
                    score = float(g.score or 0.0)
                    ng.scores[g.name] = None if g.needs_manual_grade else score
                    if is_manual:
                        ng.manual_max += float(g.max_score or 0)
                        if g.needs_manual_grade:
                            ng.ungraded.append(g.name)
                        else:
                            ng.manual += score
                    else:
                        ng.auto_max += float(g.max_score or 0)
                        ng.auto += score
                        if g.needs_manual_grade:
                            ng.ungraded.append(g.name)
                notebooks[nb.name] = ng
            recorded = journal.get(student)
            grade = StudentGrade(student, notebooks, late, list(recorded.findings) if recorded else [],
                                 cleared.get(student, ""))
            if write_back:
                for nb in sub.notebooks:
                    nb.late_submission_penalty = round(notebooks[nb.name].raw * late.percent / 100.0, 6)
            out.append(grade)
        if write_back:
            gb.db.commit()
    return out, problems


# --------------------------------------------------------------------- files
def write_final_csv(grades: list[StudentGrade], path: Path) -> Path:
    notebooks = sorted({n for g in grades for n in g.notebooks})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *(f"{n} {k}" for n in notebooks for k in ("auto", "manual")), "auto", "manual",
                    "raw", "max", "submitted_at_utc", "due_utc", "days_late", "penalty_percent", "penalty",
                    "total", "status", "withheld", "ungraded_written_answers", "notes"])
        for g in grades:
            per = [_fmt(getattr(g.notebooks[n], k)) if n in g.notebooks else "" for n in notebooks
                   for k in ("auto", "manual")]
            w.writerow([g.student, *per, _fmt(g.auto), _fmt(g.manual), _fmt(g.raw), _fmt(g.max_score),
                        g.late.submitted or "", g.late.due or "", g.late.days_late, _fmt(g.late.percent),
                        _fmt(g.penalty), _fmt(g.total), g.status, " ".join(g.withheld), " ".join(g.ungraded), g.notes])
    return path


def _exported(g: StudentGrade, include_provisional: bool) -> bool:
    return g.status == STATUS_FINAL or (include_provisional and g.status == STATUS_PROVISIONAL)


def write_generic_csv(grades: list[StudentGrade], path: Path, include_provisional: bool = False) -> Path:
    """``student_id, <problem>..., late_penalty, total, max_score, status``; a student not
    exported as final has empty grade cells and says why in ``status``."""
    notebooks = sorted({n for g in grades for n in g.notebooks})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", *notebooks, "late_penalty", "total", "max_score", "status"])
        for g in grades:
            ok = _exported(g, include_provisional)
            cells = [_fmt(g.notebooks[n].raw) if ok and n in g.notebooks else "" for n in notebooks]
            w.writerow([g.student, *cells, _fmt(g.penalty) if ok else "", _fmt(g.total) if ok else "",
                        _fmt(g.max_score), g.status + (f": {g.notes}" if g.notes else "")])
    return path


CANVAS_IDS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def _roster(path: Path | None) -> list[dict[str, str]]:
    """Rows of a Canvas gradebook export (its first columns), without the Points Possible row."""
    if path is None:
        return []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if (r.get("Student") or "").strip() and "Points Possible" not in (r.get("Student") or "")]


def write_canvas_csv(grades: list[StudentGrade], path: Path, column: str, roster: Path | None = None,
                     include_provisional: bool = False) -> tuple[Path, list[str]]:
    """Canvas's gradebook import file; returns (path, students not matched in the roster).

    With ``roster`` (a gradebook CSV exported from Canvas) each student id is matched
    to a row by SIS Login ID, SIS User ID, ID or name (case-insensitive) and that
    row's identity columns are kept; without one, the id goes in Student and
    SIS Login ID. Students not exported as final get an empty cell (Canvas leaves
    an empty cell unchanged)."""
    people = _roster(roster)
    index: dict[str, dict[str, str]] = {}
    for row in people:
        for key in ("SIS Login ID", "SIS User ID", "ID", "Student"):
            value = (row.get(key) or "").strip().lower()
            if value:
                index.setdefault(value, row)
    unmatched = []
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*CANVAS_IDS, column])
        w.writerow(["Points Possible", "", "", "", "", _fmt(max((g.max_score for g in grades), default=0))])
        for g in grades:
            row = index.get(g.student.lower())
            if people and row is None:
                unmatched.append(g.student)
            ids = [(row or {}).get(k, "") for k in CANVAS_IDS] if row else [g.student, "", "", g.student, ""]
            w.writerow([*ids, _fmt(g.total) if _exported(g, include_provisional) else ""])
    return path, unmatched


def table(grades: list[StudentGrade]) -> str:
    cols = ["student", "auto", "manual", "late", "penalty", "total", "status", "notes"]
    rows = [[g.student, _fmt(g.auto), _fmt(g.manual), f"{g.late.days_late}d" if g.late.days_late else "",
             f"-{_fmt(g.penalty)} ({_fmt(g.late.percent)}%)" if g.late.percent else "",
             f"{_fmt(g.total)}/{_fmt(g.max_score)}", g.status, g.notes[:90]] for g in grades]
    return text_table(cols, rows)
