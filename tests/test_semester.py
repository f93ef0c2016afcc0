"""The semester, end to end, as an instructor runs it (README, "For instructors").

1. **Release**: ``nbgrader generate_assignment`` in a scratch course root; the
   deadline set with ``nbgrader db assignment add ps1 --duedate=...``.
2. **Submissions**: six students as an LMS hands them over, one zip each, plus
   the LMS's record of when each was uploaded (``submission_times.csv``):
   ``solved`` (every problem, on time), ``blank`` (nothing, on time),
   ``mistake`` (notebook 01 with the usual sign slip in the update, on time),
   ``late2`` (notebook 01 with its written answers, two days late),
   ``extended`` (the same, two days late, with a three-day extension in
   ``extensions.csv``), ``copycat`` (``solved``'s work with every name of its own
   renamed and its comments changed, on time). Each zip also carries a forged
   ``timestamp.txt`` from long before the deadline, which must be ignored.
3. ``course-grade inbox --jobs 2``: confined autograding, feedback, similarity.
4. **Written answers**: one graded in formgrader in headless Chromium (a score
   and a comment), the rest through nbgrader's API as the TA's other clicks.
5. ``course-grade final``: the Canvas CSV holds exactly the expected totals;
   the penalty is applied once, to late2 only; ``nbgrader export`` agrees;
   the similarity report holds exactly (copycat, solved); no feedback page
   (course-grade's own, and nbgrader's via ``generate_feedback``) holds any
   hidden-test line of the source notebooks.

The time of each step goes to ``test-artifacts/semester/timings.json``.
"""
from __future__ import annotations

import csv
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

import grading_course
import nbrun
from course_lib import nbmeta
from course_lib.instructor.release import solution_filled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
pytest.importorskip("nbgrader", reason="nbgrader is not installed (the grading extra)")
pytest.importorskip("copydetect", reason="copydetect is not installed (the grading extra)")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the tests extra)")
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the `all` extra)")
if not (shutil.which("chromium") or shutil.which("chromium-browser")):
    pytest.skip("no chromium on this machine (scripts/setup.sh installs Debian's chromium)", allow_module_level=True)

ARTIFACTS = nbrun.ROOT / "test-artifacts" / "semester"
DUE = dt.datetime(2026, 10, 9, 23, 59)
CANVAS_COLUMN = "Problem Set 1 (4242)"
COMMENT = "Right: dL/dw3 is s, named and explained."
# the repository's nbgrader_config.py: 10% per started day, 15 minutes' grace
ON_TIME = DUE - dt.timedelta(hours=3)
TWO_DAYS_LATE = DUE + dt.timedelta(days=2) - dt.timedelta(minutes=30)   # 47.5 h late: 2 started days


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _run(cmd: list[str], cwd: Path, timeout: int = 1500) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env())


def _with_mistake(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Notebook 01 with the usual slip: the update steps *up* the gradient."""
    for cell in nb.cells:
        if nbmeta.grade_id(cell) == "c_values":
            assert "w1 - eta" in cell.source
            cell.source = cell.source.replace(" - eta", " + eta")
    return nb


def _zip(inbox: Path, student: str, files: dict[str, nbformat.NotebookNode | Path]) -> None:
    with zipfile.ZipFile(inbox / f"{student}_ps1.zip", "w") as zf:
        for name, content in files.items():
            if isinstance(content, Path):
                zf.write(content, f"ps1/{name}")
            else:
                zf.writestr(f"ps1/{name}", nbformat.writes(content))
        zf.writestr("ps1/timestamp.txt", "2020-01-01 00:00:00 UTC")  # forged: never trusted


def _class(root: Path, inbox: Path, weights: list[Path]) -> None:
    from classmates import disguised

    release, source = root / "release" / "ps1", root / "source_notebooks" / "ps1"
    names = sorted(p.name for p in release.glob("*.ipynb"))
    blank = {n: nbformat.read(str(release / n), as_version=4) for n in names}
    solved = {n: solution_filled(release / n, source / n) for n in names}
    copy = {n: disguised(solved[n], blank[n], attributes=False) for n in names}
    artifacts = {p.name: p for p in weights}
    nb01 = "01_hand_gradients.ipynb"
    _zip(inbox, "solved", {**solved, **artifacts})
    _zip(inbox, "copycat", {**copy, **artifacts})
    _zip(inbox, "blank", blank)
    _zip(inbox, "mistake", {**blank, nb01: _with_mistake(solution_filled(release / nb01, source / nb01))})
    for student in ("late2", "extended"):
        _zip(inbox, student, {**blank, nb01: solved[nb01]})
    times = {"solved": ON_TIME, "copycat": ON_TIME, "blank": ON_TIME, "mistake": ON_TIME,
             "late2": TWO_DAYS_LATE, "extended": TWO_DAYS_LATE}
    with open(inbox / "submission_times.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "submitted_at"])
        for student, when in times.items():
            w.writerow([student, when.strftime("%Y-%m-%dT%H:%M:%SZ")])
    (root / "extensions.csv").write_text("student,days\nextended,3\n")


def _grade_written_answers(root: Path, skip: tuple[str, str, str]) -> None:
    """Every written answer a student wrote, graded as a TA would in formgrader (full points,
    but late2's last answer 0), except ``skip`` = (student, notebook, grade id)."""
    from nbgrader.api import Gradebook

    from course_lib.instructor.grading import course as course_mod

    with Gradebook(course_mod.db_url(root), course_mod.course_id(root)) as gb:
        for sub in gb.assignment_submissions("ps1"):
            for nb in sub.notebooks:
                for g in nb.grades:
                    if not g.needs_manual_grade or (sub.student.id, nb.name, g.name) == skip:
                        continue
                    g.manual_score = 0.0 if (sub.student.id, g.name) == ("late2", "d_analysis") else g.max_score
                    g.needs_manual_grade = False  # what formgrader's save does
        gb.db.commit()


def _page_text(path: Path) -> str:
    """What a reader of the page sees: tags dropped (highlighted code is split into spans)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _hidden_lines() -> set[str]:
    public = {line.strip() for p in nbrun.RELEASE_DIR.glob("*.ipynb")
              for c in nbformat.read(str(p), as_version=4).cells for line in nbmeta.source_lines(c)}
    hidden = {line.strip() for p in nbrun.SOURCE_DIR.glob("*.ipynb")
              for c in nbformat.read(str(p), as_version=4).cells for line in nbmeta.hidden_test_lines(c)}
    return {h for h in hidden - public if h}


def _leaks(folder: Path, hidden: set[str]) -> list[str]:
    out = []
    for page in sorted(folder.rglob("*.html")):
        text = _page_text(page)
        out += [f"{page.relative_to(folder)}: {h}" for h in hidden if h in text]
    return out


@pytest.fixture(scope="module")
def semester(tmp_path_factory, runs) -> dict:
    from course_lib.instructor.grading import course as course_mod

    timings: dict[str, float] = {}
    tmp = tmp_path_factory.mktemp("semester")
    root, inbox = tmp / "course", tmp / "inbox"
    inbox.mkdir()
    (root / "source_notebooks").mkdir(parents=True)
    shutil.copy(nbrun.ROOT / "nbgrader_config.py", root)
    shutil.copytree(nbrun.SOURCE_DIR, root / "source_notebooks" / "ps1", ignore=nbrun.LITTER)

    started = time.monotonic()
    import logging

    course_mod.ensure_assignment(root, "ps1", course_mod.db_url(root), logging.getLogger("semester"))
    due = _run([_bin("nbgrader"), "db", "assignment", "add", "ps1", f"--duedate={DUE:%Y-%m-%d %H:%M:%S} UTC"], root)
    assert due.returncode == 0, due.stderr[-2000:]
    timings["release and deadline"] = time.monotonic() - started

    weights = runs.artifacts("source", "03_mlp.ipynb")
    assert [p.name for p in weights] == ["fashion_mlp.pt"], weights
    _class(root, inbox, weights)

    started = time.monotonic()
    graded = grading_course.course_grade(root, str(inbox), "--jobs", "2")
    timings["course-grade (6 students, 7 notebooks, --jobs 2)"] = time.monotonic() - started
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-5000:]
    return {"root": root, "inbox": inbox, "graded": graded, "timings": timings}


@pytest.fixture(scope="module")
def finished(semester) -> dict:
    """Written answers graded (one in the browser), then ``course-grade final``."""
    import formgrader_ui

    root, timings = semester["root"], semester["timings"]
    target = ("solved", "01_hand_gradients", "a_expression")
    started = time.monotonic()
    with formgrader_ui.start_formgrader(root) as (base, token, _):
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=formgrader_ui.CHROMIUM, args=formgrader_ui.LAUNCH_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            blocked = formgrader_ui.block_foreign_requests(context)
            page = context.new_page()
            graded = formgrader_ui.grade_written_answer(page, base, token, "ps1", target[0], target[1], target[2],
                                                        1, COMMENT, screenshot_dir=ARTIFACTS)
            browser.close()
    timings["one written answer in formgrader (browser, server start included)"] = time.monotonic() - started
    assert all(url.startswith(formgrader_ui.MATHJAX_CDN) for url in blocked), blocked
    assert graded.grade["manual_score"] == 1 and graded.comment["manual_comment"] == COMMENT
    started = time.monotonic()
    _grade_written_answers(root, target)
    timings["the other written answers (gradebook API)"] = time.monotonic() - started

    started = time.monotonic()
    final = _run([sys.executable, "-m", "course_lib.instructor.grading.cli", "final", "--canvas-column",
                  CANVAS_COLUMN], root)
    timings["course-grade final (grades, LMS files, 6 feedback pages)"] = time.monotonic() - started
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=1))
    return {**semester, "final": final}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


EXPECTED = {  # autograded + written answers - late penalty
    "solved": 149.0,      # 104 autograded + 45 written
    "copycat": 149.0,     # renamed names change no check
    "blank": 0.0,
    "mistake": 5.0,       # notebook 01: test_a 1 + test_b 1 (the update (4) and the new loss (1) are wrong) + 3 written
    "late2": 7.2,         # notebook 01: 7 autograded + 2 written = 9, 2 started days late: -20%
    "extended": 10.0,     # 7 + 3, two days late inside a three-day extension: no penalty
}


def test_every_student_was_graded_and_the_forged_timestamps_were_ignored(semester):
    root = semester["root"]
    assert sorted(grading_course.results(root)) == sorted(EXPECTED)
    for student in EXPECTED:
        stamp = (root / "submitted" / student / "ps1" / "timestamp.txt").read_text()
        assert not stamp.startswith("2020"), f"{student}'s own timestamp.txt was trusted"


def test_canvas_csv_holds_exactly_the_expected_totals(finished):
    assert finished["final"].returncode == 0, finished["final"].stdout[-3000:] + finished["final"].stderr[-3000:]
    with open(finished["root"] / "grading" / "ps1" / "canvas.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", CANVAS_COLUMN]
    assert rows[1] == ["Points Possible", "", "", "", "", "149"]
    assert {r[3]: float(r[5]) for r in rows[2:]} == EXPECTED


def test_the_penalty_is_applied_once_and_only_where_due(finished):
    root = finished["root"]
    rows = {r["student"]: r for r in _rows(root / "grading" / "ps1" / "final.csv")}
    assert {s: float(r["penalty"]) for s, r in rows.items()} == {s: (1.8 if s == "late2" else 0.0) for s in EXPECTED}
    assert rows["late2"]["days_late"] == "2" and rows["extended"]["days_late"] == "0"
    assert all(r["status"] == "final" and not r["ungraded_written_answers"] for r in rows.values())
    # nbgrader's own export reads the same gradebook and agrees
    out = root / "export.csv"
    export = _run([_bin("nbgrader"), "export", "--to", str(out)], root)
    assert export.returncode == 0, export.stderr[-2000:]
    assert {r["student_id"]: float(r["score"]) for r in _rows(out)} == pytest.approx(EXPECTED)
    # and a second final run gives the same numbers (nothing is subtracted twice)
    again = _run([sys.executable, "-m", "course_lib.instructor.grading.cli", "final", "--no-feedback",
                  "--canvas-column", CANVAS_COLUMN], root)
    assert again.returncode == 0
    assert {r["student"]: float(r["total"]) for r in _rows(root / "grading" / "ps1" / "final.csv")} == EXPECTED


def test_the_formgrader_score_and_comment_reach_the_feedback_page(finished):
    page = _page_text(finished["root"] / "grading" / "ps1" / "feedback" / "solved_ps1_feedback.html")
    assert COMMENT in page
    late2 = _page_text(finished["root"] / "feedback" / "late2" / "ps1" / "feedback.html")
    assert "Late penalty: 2 started day(s) late: −20% = −1.8 points" in late2
    assert "Late penalty" not in _page_text(finished["root"] / "feedback" / "extended" / "ps1" / "feedback.html")


def test_the_similarity_report_holds_exactly_the_renamed_copy(finished):
    rows = _rows(finished["root"] / "grading" / "ps1" / "similarity.csv")
    assert [sorted((r["student_a"], r["student_b"])) for r in rows] == [["copycat", "solved"]]
    assert "similarity: 1 pair(s)" in finished["graded"].stdout


def test_no_feedback_page_holds_a_hidden_test_line(finished):
    root = finished["root"]
    hidden = _hidden_lines()
    assert len(hidden) > 40
    pages = sorted((root / "feedback").rglob("*.html")) + sorted((root / "grading" / "ps1" / "feedback").glob("*"))
    assert len(pages) == 2 * len(EXPECTED)
    assert _leaks(root / "feedback", hidden) == [] and _leaks(root / "grading" / "ps1" / "feedback", hidden) == []
    # nbgrader's own route (formgrader's Generate Feedback button) is filtered as well
    nbg = _run([_bin("nbgrader"), "generate_feedback", "ps1", "--force"], root)
    assert nbg.returncode == 0, nbg.stderr[-3000:]
    own = sorted((root / "feedback").rglob("*.html"))
    assert len(own) >= 7 * len(EXPECTED) - 6, own  # a page per graded notebook
    assert _leaks(root / "feedback", hidden) == []
