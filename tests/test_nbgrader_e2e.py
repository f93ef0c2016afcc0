"""The grading pipeline end to end, with the nbgrader CLI as an instructor runs it.

In a scratch course root (a copy of nbgrader_config.py and source_notebooks/):
generate_assignment, then autograde four submissions of every notebook:

- ``solved``: the release with the source's solutions filled in, and the files
  that running the source notebooks saved (trained weights) -> full marks on
  every autograded test cell; written answers wait for a person;
- ``blank``: the release as is -> 0 on every graded cell;
- ``corrupt``: like ``solved``, but one notebook file is not JSON -> nbgrader
  fails that student (exit status 1) and still grades the others;
- ``tampered``: the blank release with its written answers and every other
  test cell deleted, the other test cells rewritten to ``pass`` -> the locked
  cells come back from the gradebook (``OverwriteCells.add_missing_cells``,
  course_lib's version) and score 0, not None; written answers come back
  flagged for a person;

then generate_feedback writes one HTML page per notebook per graded student.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

import nbrun
from course_lib import nbmeta
from course_lib.instructor.release import blank, solution_filled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SOURCES = nbrun.source_notebooks()
STUDENTS = ("blank", "corrupt", "solved", "tampered")  # nbgrader grades them in this order
CORRUPT = SOURCES[0].name if SOURCES else None  # the notebook the corrupt student breaks
LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s | %(levelname)s] %(message)s"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` run from the course root (nbgrader reads its config from the
    cwd), with the venv's bin first on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ, PATH=f"{nbrun.VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NBGRADER_EXECUTION", None)
    return subprocess.run(
        [str(nbrun.VENV_BIN / "nbgrader"), *args, f"--Application.log_format={LOG_FORMAT}"],
        cwd=course, env=env, capture_output=True, text=True, timeout=4 * 3600,
    )


def _tampered(release_nb: Path) -> nbformat.NotebookNode:
    """The blank release with every written answer and every other autograded
    test cell deleted, the remaining test cells rewritten to ``pass``."""
    nb = blank(release_nb)
    tests = [nbmeta.grade_id(c) for c in nb.cells if nbmeta.is_autograded_test(c)]
    gone = set(tests[::2]) | {nbmeta.grade_id(c) for c in nb.cells if nbmeta.is_manual_answer(c)}
    nb.cells = [c for c in nb.cells if nbmeta.grade_id(c) not in gone]
    for cell in nb.cells:
        if nbmeta.is_autograded_test(cell):
            cell.source = "pass"
    return nb


def _notebook_seconds(log: str) -> dict[str, float]:
    """Seconds per ``student/notebook``: from nbgrader's 'Sanitizing' line to the
    next notebook, student or the permissions step (timestamps from LOG_FORMAT)."""
    events = []
    for line in log.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \[", line)
        if m:
            events.append((datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f"), line))
    boundary = ("Sanitizing", "Creating/updating student", "Setting destination file permissions",
                "There was an error processing")
    times: dict[str, float] = {}
    for i, (t0, line) in enumerate(events):
        m = re.search(r"Sanitizing .*/submitted/([^/]+)/[^/]+/([^/]+)\.ipynb", line)
        if m:
            t1 = next((t for t, later in events[i + 1:] if any(b in later for b in boundary)), events[-1][0])
            times[f"{m.group(1)}/{m.group(2)}"] = (t1 - t0).total_seconds()
    return times


def _submit(student: str, release_nb: Path, dest: Path) -> None:
    """Write ``student``'s version of the release notebook ``release_nb`` to ``dest``."""
    source_nb = nbrun.SOURCE_DIR / release_nb.name
    if student == "corrupt" and release_nb.name == CORRUPT:
        dest.write_text('{"cells": [ this is not JSON', encoding="utf-8")
    elif student in ("solved", "corrupt"):
        nbrun.write(solution_filled(release_nb, source_nb), dest)
    elif student == "blank":
        nbrun.write(blank(release_nb), dest)
    elif student == "tampered":
        nbrun.write(_tampered(release_nb), dest)
    else:
        raise ValueError(student)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, runs) -> dict:
    if not SOURCES:
        pytest.skip("no source notebooks yet")
    root = tmp_path_factory.mktemp("course")
    shutil.copy(nbrun.ROOT / "nbgrader_config.py", root)
    shutil.copytree(nbrun.SOURCE_DIR, root / "source_notebooks" / nbrun.ASSIGNMENT, ignore=nbrun.LITTER)
    generated = nbgrader(root, "generate_assignment", nbrun.ASSIGNMENT)
    assert generated.returncode == 0, generated.stderr[-5000:]

    release = root / "release" / nbrun.ASSIGNMENT
    for student in STUDENTS:
        folder = root / "submitted" / student / nbrun.ASSIGNMENT
        shutil.copytree(release, folder)  # the files beside the notebooks too
        for nb_path in sorted(release.glob("*.ipynb")):
            _submit(student, nb_path, folder / nb_path.name)
            if student in ("solved", "corrupt"):
                # what the student's own session saved beside the notebook (trained weights):
                # nbgrader never trains, it grades these files
                for artifact in runs.artifacts("source", nb_path.name):
                    shutil.copy(artifact, folder / artifact.name)

    started = datetime.now()
    autograded = nbgrader(root, "autograde", nbrun.ASSIGNMENT)
    seconds = (datetime.now() - started).total_seconds()
    feedback = nbgrader(root, "generate_feedback", nbrun.ASSIGNMENT)
    return {"root": root, "release": release, "autograde": autograded,
            "autograde_seconds": seconds, "feedback": feedback}


def _grades(course: dict, student: str) -> dict[str, dict[str, object]]:
    """{notebook: {grade_id: {"auto": score, "max": points, "manual": needs a person}}}
    of ``student`` in the scratch course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}", "backprop-ps1") as gb:
        submission = gb.find_submission(nbrun.ASSIGNMENT, student)
        return {
            nb.name: {g.name: {"auto": g.auto_score, "max": g.max_score, "manual": g.needs_manual_grade}
                      for g in nb.grades}
            for nb in submission.notebooks
        }


def _graded_cells(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """({test grade_id: points}, {written answer grade_id: points}) of a source notebook."""
    nb = nbformat.read(str(path), as_version=4)
    tests = {nbmeta.grade_id(c): nbmeta.points(c) for c in nb.cells if nbmeta.is_autograded_test(c)}
    answers = {nbmeta.grade_id(c): nbmeta.points(c) for c in nb.cells if nbmeta.is_manual_answer(c)}
    return tests, answers


def test_cli_release_is_the_committed_release(course):
    for path in sorted(course["release"].rglob("*")):
        if path.is_file():
            committed = nbrun.RELEASE_DIR / path.relative_to(course["release"])
            assert committed.is_file() and committed.read_bytes() == path.read_bytes(), (
                f"`nbgrader generate_assignment` writes {path.name} differently from release/: "
                "run `make release`")


@pytest.mark.parametrize("path", nbrun.params(SOURCES))
def test_solution_gets_full_automatic_marks(course, path: Path):
    tests, answers = _graded_cells(path)
    grades = _grades(course, "solved")[path.stem]
    assert set(tests) | set(answers) <= set(grades), f"grade cells missing: {set(tests) | set(answers) - set(grades)}"
    wrong = {g: grades[g]["auto"] for g, pts in tests.items() if grades[g]["auto"] != pts}
    assert not wrong, (f"{path.name}: the solution scores {wrong} on test cells worth "
                       f"{ {g: tests[g] for g in wrong} } under nbgrader autograde")
    assert sum(grades[g]["auto"] for g in tests) == sum(tests.values())
    waiting = [g for g in answers if not grades[g]["manual"]]
    assert not waiting, f"{path.name}: written answers {waiting} should be flagged for manual grading"


@pytest.mark.parametrize("path", nbrun.params(SOURCES))
def test_blank_gets_zero(course, path: Path):
    tests, answers = _graded_cells(path)
    grades = _grades(course, "blank")[path.stem]
    assert set(tests) | set(answers) <= set(grades)
    nonzero = {g: grades[g]["auto"] for g in [*tests, *answers] if grades[g]["auto"] != 0}
    assert not nonzero, f"{path.name}: the blank notebook scores {nonzero} (None = not graded)"


@pytest.mark.parametrize("path", nbrun.params(SOURCES))
def test_tampered_tests_are_restored_and_score_zero(course, path: Path):
    tests, answers = _graded_cells(path)
    grades = _grades(course, "tampered")[path.stem]
    nonzero = {g: grades[g]["auto"] for g in tests if grades[g]["auto"] != 0}
    assert not nonzero, (f"{path.name}: test cells rewritten to `pass` or deleted score {nonzero}; "
                         "nbgrader should restore them from the gradebook")
    restored = nbformat.read(str(course["root"] / "autograded" / "tampered" / nbrun.ASSIGNMENT / path.name), 4)
    in_order = [nbmeta.grade_id(c) for c in nbformat.read(str(path), 4).cells if nbmeta.is_grade(c)]
    ids = [nbmeta.grade_id(c) for c in restored.cells if nbmeta.is_grade(c)]
    assert ids == in_order, f"{path.name}: graded cells after autograde {ids}, in the source {in_order}"
    unflagged = [g for g in answers if not grades[g]["manual"]]
    assert not unflagged, f"{path.name}: restored written answers {unflagged} should wait for a person"


def test_corrupt_submission_fails_alone(course):
    result, root = course["autograde"], course["root"]
    log = result.stdout + result.stderr
    # What nbgrader 0.9.6 does: logs NotJSONError, removes autograded/corrupt/ps1
    # (an empty autograded/corrupt may stay), grades everyone else, and exits 1 at the end.
    assert result.returncode == 1, log[-5000:]
    assert "NotJSONError" in log and "for student 'corrupt'" in log, log[-5000:]
    assert not (root / "autograded" / "corrupt" / nbrun.ASSIGNMENT).exists()
    for student in ("solved", "tampered"):  # graded after 'corrupt'
        for path in SOURCES:
            assert (root / "autograded" / student / nbrun.ASSIGNMENT / path.name).is_file(), log[-5000:]
    # its gradebook entry exists, with every grade None (not graded)
    corrupt = _grades(course, "corrupt")[SOURCES[0].stem]
    assert all(g["auto"] is None for g in corrupt.values())


def test_feedback_is_written(course):
    result, root = course["feedback"], course["root"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    missing = [
        f"{student}/{path.stem}.html" for student in ("solved", "blank", "tampered") for path in SOURCES
        if not (root / "feedback" / student / nbrun.ASSIGNMENT / f"{path.stem}.html").is_file()
    ]
    assert not missing, f"no feedback for {missing}"


def test_report_autograde_time(course, record_property):
    log = course["autograde"].stdout + course["autograde"].stderr
    per_notebook = _notebook_seconds(log)
    record_property("autograde_seconds", course["autograde_seconds"])
    record_property("autograde_seconds_per_notebook", per_notebook)
    print(f"\nnbgrader autograde: {course['autograde_seconds']:.1f} s for {len(STUDENTS)} students "
          f"x {len(SOURCES)} notebooks")
    for key, s in sorted(per_notebook.items()):
        print(f"  {key}: {s:.1f} s")
    assert per_notebook
