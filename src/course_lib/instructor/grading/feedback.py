"""Feedback pages that teach without leaking: one HTML file per student.

nbgrader's ``generate_feedback`` renders the *autograded* notebook, into which
autograde has put the hidden tests back (and whose tracebacks quote them). This
page is built from data instead, never from that notebook's code:

- per autograded test cell: the visible check call (the *release* notebook's
  cell, which never held a hidden test), what the student's code got (the
  checks' ``PASSED`` (and partial credit's ``FAILED``) lines and the error's name and message, never a traceback
  nor anything else printed: student code can print the cells it ran), the
  points and the status;
- per written answer: the student's own text, the points and the grader's
  comment from formgrader (or "not graded yet"); the rubric never appears;
- the totals, the late penalty with the policy, and a banner when the
  submission is held for a person.

Everything the student or their code wrote is HTML-escaped. As a second line,
any line of a message that contains a hidden-test line of the source notebooks
is replaced, and each message is capped (:data:`MAX_MESSAGE`).

Files: ``feedback/<student>/<assignment>/feedback.html`` (nbgrader's folder, so
``nbgrader release_feedback`` hands it out; older nbgrader pages there are
deleted) and a flat copy ``grading/<assignment>/feedback/<student>_<assignment>_feedback.html``
to upload to an LMS.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib import nbmeta
from ..hide_hidden_tests import MIN_SECRET, PLACEHOLDER, redact
from .outcomes import KERNEL_DIED, NOT_RUN, OUTPUT_LIMIT, TIMEOUT
from .final import NotebookGrade, StudentGrade
from .late import LatePolicy

MAX_MESSAGE = 3000          # characters of one test cell's message
REDACTED = PLACEHOLDER       # what a line quoting a hidden test becomes (one rule with nbgrader's feedback)
#: how the checks' own lines start: success (checks._harness.passed), and a sub-case's failure or a part's
#: score under partial credit (checks.partial.earn)
CHECK_LINES = ("PASSED: ", "PARTLY PASSED: ", "FAILED: ")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Secrets:
    """Hidden-test lines of the source notebooks that a student must never see."""

    lines: set[str]

    @classmethod
    def of(cls, source_dir: Path, release_dir: Path) -> "Secrets":
        public: set[str] = set()
        for path in release_dir.glob("*.ipynb"):
            for cell in nbformat.read(str(path), as_version=4).cells:
                public.update(line.strip() for line in nbmeta.source_lines(cell))
        secret: set[str] = set()
        for path in source_dir.glob("*.ipynb"):
            for cell in nbformat.read(str(path), as_version=4).cells:
                secret.update(line.strip() for line in nbmeta.hidden_test_lines(cell))
        return cls({s for s in secret - public if len(s) >= MIN_SECRET})

    def redact(self, text: str) -> str:
        return redact(text, self.lines)


def _text(output) -> str:
    if output.get("output_type") == "stream":  # only the checks' own lines, never what student code printed
        return "\n".join(line for line in output.get("text", "").split("\n") if line.startswith(CHECK_LINES))
    if output.get("output_type") == "error":
        ename, evalue = output.get("ename", ""), str(output.get("evalue", ""))
        if ename in (TIMEOUT, KERNEL_DIED, NOT_RUN, OUTPUT_LIMIT):
            return f"{ename}: {evalue}"
        if ename == "CheckFailure":
            return "CHECK FAILED\n" + evalue
        if ename == "AssertionError" and not evalue.strip():
            return "AssertionError: a hidden test found a wrong value"
        return f"{ename}: {evalue}"
    return ""


def message(cell, secrets: Secrets) -> str:
    """What one autograded test cell said: printed lines and the error, redacted and capped."""
    text = _ANSI.sub("", "\n".join(t.rstrip("\n") for t in map(_text, cell.get("outputs", [])) if t.strip()))
    text = secrets.redact(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "\n[... message cut]"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.25rem .6rem;text-align:left}
pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere;border-radius:4px}
.passed{color:#0a5c2f}.failed{color:#8b0000}.item{border-left:4px solid #999;padding-left:.8rem;margin:1rem 0}
.item.passed{border-color:#1e7b45}.item.failed{border-color:#b00020}.comment{background:#eef4ff;padding:.5rem}
.alert{border:3px solid #b00020;padding:1em;margin:1em 0}
"""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _pts(x: float) -> str:
    return f"{round(float(x), 2):g}"


def render(course: Path, assignment: str, grade: StudentGrade, policy: LatePolicy, secrets: Secrets,
           problems: dict | None = None) -> str:
    """The student's feedback page (HTML)."""
    student = grade.student
    release_dir = course / "release" / assignment
    source_dir = course / "source_notebooks" / assignment
    graded_dir = course / "autograded" / student / assignment
    problems = problems or {}
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Feedback: {_esc(assignment)}, "
             f"{_esc(student)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>Feedback on {_esc(assignment)} for {_esc(student)}</h1>"]
    if grade.flags:
        items = "".join(f"<li>{_esc(f)}</li>" for f in grade.flags[:50])
        parts.append('<div role="alert" class="alert"><strong>Flagged for review by a person.</strong> The points '
                     "below are provisional and held until a person has looked at what the grading found in this "
                     f"submission:<ul>{items}</ul></div>")
    parts.append("<table><thead><tr><th>Problem</th><th>Autograded</th><th>Written answers</th></tr></thead><tbody>")
    for name, ng in grade.notebooks.items():
        written = f"{_pts(ng.manual)} / {_pts(ng.manual_max)}" + (f" ({len(ng.ungraded)} not graded yet)"
                                                                  if ng.ungraded else "")
        parts.append(f"<tr><td><a href=\"#{_esc(name)}\">{_esc(name)}</a></td><td>{_pts(ng.auto)} / "
                     f"{_pts(ng.auto_max)}</td><td>{written if ng.manual_max else '&ndash;'}</td></tr>")
    parts.append("</tbody></table>")
    late = grade.late
    lines = [f"<p><strong>Points:</strong> {_pts(grade.raw)} of {_pts(grade.max_score)}.</p>"]
    if late.due is not None:
        when = f"submitted {late.submitted:%Y-%m-%d %H:%M} UTC" if late.submitted else "submission time unknown"
        ext = f" (with an extension of {late.extension})" if late.extension else ""
        lines.append(f"<p><strong>Deadline:</strong> {late.due:%Y-%m-%d %H:%M} UTC{_esc(ext)}; {_esc(when)}. "
                     f"Late policy: {_esc(policy.describe())}.</p>")
        if late.percent:
            lines.append(f"<p><strong>Late penalty:</strong> {late.days_late} started day(s) late: "
                         f"&minus;{_pts(late.percent)}% = &minus;{_pts(grade.penalty)} points.</p>")
        elif late.note:
            lines.append(f"<p>{_esc(late.note)}.</p>")
    lines.append(f"<p><strong>Total:</strong> {_pts(grade.total)} / {_pts(grade.max_score)}"
                 + (" (provisional: written answers are still being graded)" if grade.ungraded else "") + "</p>")
    parts += lines
    for name in grade.notebooks:
        parts.append(_notebook(name, grade.notebooks[name], release_dir / f"{name}.ipynb",
                               source_dir / f"{name}.ipynb", graded_dir / f"{name}.ipynb", secrets,
                               problems.get(name, [])))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _cells(path: Path) -> dict:
    """``{grade id: cell}`` of a notebook; ``{}`` when it is missing or unreadable."""
    try:
        return {nbmeta.grade_id(c): c for c in nbformat.read(str(path), as_version=4).cells if nbmeta.grade_id(c)}
    except Exception:  # noqa: BLE001 - not submitted or unreadable: the status says so
        return {}


def _notebook(name: str, ng: NotebookGrade, release: Path, source: Path, graded: Path, secrets: Secrets,
              problems: list) -> str:
    out = [f'<section id="{_esc(name)}"><h2>{_esc(name)}</h2>']
    visible, graded_cells = _cells(release), _cells(graded)
    if not graded_cells:
        status = problems[0].status if problems else "not graded"
        out.append(f"<p>This notebook was not graded: {_esc(status)}.</p>")
    for cell in (c for c in nbformat.read(str(source), as_version=4).cells if nbmeta.is_grade(c)):
        gid, points = nbmeta.grade_id(cell), nbmeta.points(cell)
        got = ng.scores.get(gid)
        comment = ng.comments.get(gid)
        remark = f'<p class="comment"><strong>Grader:</strong> {_esc(comment)}</p>' if comment else ""
        if nbmeta.is_manual_answer(cell):
            answer = graded_cells[gid].source if gid in graded_cells else ""
            score = "not graded yet" if got is None else f"{_pts(got)} / {_pts(points)}"
            out.append(f'<div class="item"><h3>Written answer <code>{_esc(gid)}</code>: {_esc(score)}</h3>'
                       f"<p>Your answer:</p><pre>{_esc(answer)}</pre>{remark}</div>")
            continue
        prob = next((p for p in problems if p.grade_id == gid), None)
        score = got or 0.0
        ok = score >= points
        status = prob.status if prob else ("passed" if ok else "failed")
        msg = message(graded_cells[gid], secrets) if gid in graded_cells else ""
        css = "passed" if ok else "failed"
        out.append(f'<div class="item {css}"><h3>Test <code>{_esc(gid)}</code>: {_pts(score)} / {_pts(points)} '
                   f'<span class="{css}">({_esc(status)})</span></h3>'
                   f"<p>The check (the graders also ran it with other inputs):</p>"
                   f"<pre>{_esc(visible[gid].source.strip() if gid in visible else '')}</pre>"
                   + (f"<p>What your code got:</p><pre>{_esc(msg)}</pre>" if msg else "") + remark + "</div>")
    out.append("</section>")
    return "\n".join(out)


def write(course: Path, assignment: str, grades: list[StudentGrade], policy: LatePolicy,
          results: dict | None = None) -> list[Path]:
    """Write every student's page (both places); returns the flat copies for the LMS.
    ``results``: ``{student: StudentResult}`` from course-grade's journal (statuses)."""
    course = Path(course)
    secrets = Secrets.of(course / "source_notebooks" / assignment, course / "release" / assignment)
    flat = course / "grading" / assignment / "feedback"
    flat.mkdir(parents=True, exist_ok=True)
    out = []
    for grade in grades:
        recorded = (results or {}).get(grade.student)
        problems: dict[str, list] = {}
        for p in (recorded.problems if recorded else []):
            problems.setdefault(p.notebook, []).append(p)
        page = render(course, assignment, grade, policy, secrets, problems)
        folder = course / "feedback" / grade.student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.html"):  # nbgrader's own pages hold the hidden tests
            old.unlink()
        (folder / "feedback.html").write_text(page, encoding="utf-8")
        target = flat / f"{grade.student}_{assignment}_feedback.html"
        target.write_text(page, encoding="utf-8")
        out.append(target)
    return out
