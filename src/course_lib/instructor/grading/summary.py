"""What happened to each problem of each student, from the autograded notebooks.

A *problem* is an autograded test cell. Its status is one of :data:`STATUSES`:

``passed``        full points;
``failed``        fewer points (a failing check, an error in the student's code);
``timed out``     this cell, or a student cell since the previous test cell, ran past
                  the time limit (``CellTimeoutError``, or the kernel killed for it);
``crashed``       the kernel died (``os._exit``, a crash, a memory/CPU/process limit,
                  too much output) in or before this cell;
``tampered``      the test cell was edited, or the notebook has tamper findings: a person
                  must look before the score counts;
``missing cell``  the student deleted the test cell (nbgrader put it back);
``missing``       the notebook was not submitted;
``unreadable``    the notebook file is not a notebook (corrupt JSON);
``not graded``    grading of this student failed (see the log).

Each result also records the course_lib version that graded it and the one
each submitted notebook was released with (``metadata.course_lib.version``);
``grades.csv`` has both (columns ``course_lib``, ``released_with``) and the
summary warns when they differ.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_lib import nbmeta
from .outcomes import KERNEL_DIED, NOT_RUN, OUTPUT_LIMIT, TIMEOUT

STATUSES = ("passed", "failed", "timed out", "crashed", "tampered", "missing cell", "missing", "unreadable",
            "not graded")


@dataclass
class Problem:
    notebook: str
    grade_id: str
    points: float
    score: float
    status: str
    detail: str = ""


@dataclass
class StudentResult:
    student: str
    problems: list[Problem] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)   # tamper findings and shared-file changes
    events: list[str] = field(default_factory=list)     # timeouts, dead kernels, memory errors, by cell
    error: str = ""                                      # why grading failed, if it did
    seconds: float = 0.0
    submission: str = ""                                 # fingerprint of the graded submission
    graded_with: str = ""                                # the course_lib version that graded it
    released_with: dict[str, str] = field(default_factory=dict)  # notebook -> course_lib version stamped in it

    def version_note(self) -> str:
        """Which submitted notebooks were released with another course_lib than the grader's ("" if none)."""
        other: dict[str, list[str]] = {}
        for name, version in sorted(self.released_with.items()):
            if version and self.graded_with and version != self.graded_with:
                other.setdefault(version, []).append(name)
        return "; ".join(f"released with course_lib {v} ({', '.join(names)}), graded with {self.graded_with}"
                         for v, names in sorted(other.items()))

    @property
    def score(self) -> float:
        return sum(p.score for p in self.problems)

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.problems)

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    def counts(self) -> dict[str, int]:
        return {s: sum(p.status == s for p in self.problems) for s in STATUSES}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StudentResult":
        return cls(**{**d, "problems": [Problem(**p) for p in d.get("problems", [])]})


def _event(cell) -> tuple[str, str] | None:
    """(status, detail) if the cell's outputs show a timeout or a dead kernel."""
    for out in cell.get("outputs", []):
        if out.get("output_type") != "error":
            continue
        ename, evalue = out.get("ename", ""), str(out.get("evalue", ""))
        if ename == TIMEOUT:
            return "timed out", "ran past the time limit"
        if ename in (KERNEL_DIED, NOT_RUN, OUTPUT_LIMIT):
            return ("timed out" if "ran past" in evalue else "crashed"), evalue.removeprefix("not run: ")
    return None


def notebook_events(name: str, autograded: Path) -> list[str]:
    """``"<notebook> cell N: <what happened>"`` for each cell that timed out,
    killed the kernel (with why it died: a signal, an exit status, a limit), ran
    out of memory, or could not start a thread or process (the process limit)."""
    try:
        nb = nbmeta.read(autograded)
    except Exception:  # noqa: BLE001 - nothing graded, nothing to report
        return []
    out = []
    for n, cell in enumerate(nb.cells, 1):
        event = _event(cell)
        if event and not any(o.get("ename") == NOT_RUN for o in cell.get("outputs", [])):
            out.append(f"{name} cell {n}: {event[0]} ({event[1]})")
        elif any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
            out.append(f"{name} cell {n}: out of memory (MemoryError)")
        elif any(_process_limit(o) for o in cell.get("outputs", [])):
            out.append(f"{name} cell {n}: hit the process limit ({_error_line(cell)[:120]})")
    return out


def _process_limit(out) -> bool:
    """An error output of a thread or process that could not start (RLIMIT_NPROC)."""
    ename, evalue = out.get("ename", ""), str(out.get("evalue", ""))
    return (ename == "RuntimeError" and "can't start new thread" in evalue) or (
        ename in ("BlockingIOError", "OSError") and ("[Errno 11]" in evalue or "temporarily unavailable" in evalue))


def _error_line(cell) -> str:
    """The cell's error, or for a cell that earned partial credit its first failed case."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', '')}: {str(out.get('evalue', ''))[:160]}"
    for out in cell.get("outputs", []):
        failed = [line for line in str(out.get("text", "")).splitlines() if line.startswith("FAILED: ")]
        if out.get("output_type") == "stream" and failed:
            return f"partial credit; {len(failed)} case(s) failed, e.g. {failed[0][len('FAILED: '):][:160]}"
    return ""


def notebook_problems(name: str, source: Path, submitted: Path, autograded: Path,
                      scores: dict[str, float | None], findings: list) -> list[Problem]:
    """The problems of one notebook of one student."""
    src = nbmeta.read(source)
    tests = [(nbmeta.grade_id(c), nbmeta.points(c)) for c in src.cells if nbmeta.is_autograded_test(c)]
    if not submitted.is_file():
        return [Problem(name, g, p, 0.0, "missing", "notebook not submitted") for g, p in tests]
    try:
        sub = nbmeta.read(submitted)
        present = {nbmeta.grade_id(c) for c in sub.cells}
    except Exception as err:  # noqa: BLE001 - reported as the status
        return [Problem(name, g, p, 0.0, "unreadable", f"{type(err).__name__}") for g, p in tests]
    edited = {f.cell: f.why for f in findings if f.kind.startswith("test-cell")}
    static = [f for f in findings if not f.kind.startswith("test-cell")]
    try:
        graded = nbmeta.read(autograded)
    except Exception:  # noqa: BLE001 - grading failed before writing it
        return [Problem(name, g, p, float(scores.get(g) or 0), *(("tampered", edited[g]) if g in edited
                        else ("not graded", "nbgrader could not grade this notebook (see the log)")))
                for g, p in tests]
    points = dict(tests)
    out: list[Problem] = []
    pending: tuple[str, str] | None = None
    for cell in graded.cells:
        gid = nbmeta.grade_id(cell)
        event = _event(cell)
        if gid not in points:
            pending = event or pending
            continue
        score = float(scores.get(gid) or 0)
        if gid not in present:
            status, detail = "missing cell", "the student deleted this test cell"
        elif gid in edited:
            status, detail = "tampered", edited[gid]
        elif static:
            status, detail = "tampered", f"{len(static)} tamper finding(s) in this notebook, e.g. {static[0]}"
        elif event:
            status, detail = event
        elif score >= points[gid]:
            status, detail = "passed", ""
        elif pending:
            status, detail = pending
        else:
            status, detail = "failed", _error_line(cell)
        out.append(Problem(name, gid, points[gid], score, status, detail))
        pending = None
    seen = {p.grade_id for p in out}
    out += [Problem(name, g, p, 0.0, "not graded", "not in the autograded notebook") for g, p in tests
            if g not in seen]
    return out


def table(results: list[StudentResult]) -> str:
    """The summary table: one row per student."""
    cols = ["student", "score", *STATUSES[:6], "flagged", "notes"]
    rows = []
    for r in sorted(results, key=lambda r: r.student):
        c = r.counts()
        notes = []
        if r.error:
            notes.append(r.error)
        if r.version_note():
            notes.append(r.version_note())
        if r.flagged:
            notes.append(f"FLAGGED for a person: {r.findings[0]}" + (f" (+{len(r.findings) - 1} more)"
                                                                      if len(r.findings) > 1 else ""))
        bad = [f"{p.notebook}/{p.grade_id}: {p.status}" for p in r.problems
               if p.status not in ("passed", "failed", "tampered")]
        bad = r.events[:2] + bad
        if bad:
            notes.append("; ".join(bad[:3]) + (f" (+{len(bad) - 3})" if len(bad) > 3 else ""))
        rows.append([r.student, f"{r.score:g}/{r.max_score:g}", *(str(c[s] or "") for s in STATUSES[:6]),
                     "YES" if r.flagged else "", " | ".join(notes)[:200]])
    return text_table(cols, rows)


def text_table(cols: list[str], rows: list[list]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows)]
    line = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, rows)])


def write_csv(results: list[StudentResult], grades: Path, problems: Path) -> None:
    """``grades``: one row per student (total, per notebook, flags);
    ``problems``: one row per student and problem (score, status, detail)."""
    notebooks = sorted({p.notebook for r in results for p in r.problems})
    grades.parent.mkdir(parents=True, exist_ok=True)
    with open(grades, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "auto_score", "auto_max", *notebooks, "flagged", "events", "error",
                    "course_lib", "released_with"])
        for r in sorted(results, key=lambda r: r.student):
            per = {n: sum(p.score for p in r.problems if p.notebook == n) for n in notebooks}
            released = "; ".join(sorted({v or "unknown" for v in r.released_with.values()}))
            w.writerow([r.student, f"{r.score:g}", f"{r.max_score:g}", *(f"{per[n]:g}" for n in notebooks),
                        "; ".join(r.findings), "; ".join(r.events), r.error, r.graded_with, released])
    with open(problems, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "problem", "score", "points", "status", "detail"])
        for r in sorted(results, key=lambda r: r.student):
            for p in r.problems:
                w.writerow([r.student, p.notebook, p.grade_id, f"{p.score:g}", f"{p.points:g}", p.status, p.detail])


def version_report(results: list[StudentResult], version: str) -> list[str]:
    """Lines for the end of ``course-grade``: the course_lib version it grades with, and a
    warning per student whose notebooks were released with another one (or who was
    graded, in an earlier run, with another one)."""
    lines = [f"graded with course_lib {version}"]
    for r in sorted(results, key=lambda r: r.student):
        if r.graded_with and r.graded_with != version:
            lines.append(f"WARNING: {r.student} was graded with course_lib {r.graded_with} in an earlier run "
                         "(--regrade grades again)")
        elif r.version_note():
            lines.append(f"WARNING: {r.student}: {r.version_note()}")
    return lines
