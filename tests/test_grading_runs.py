"""``course-grade`` end to end: resume after a kill, PostgreSQL, zips, no confinement.

Every run grades a scratch course of notebook 01 (tests/grading_course.py).
"""
from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

import grading_course as G
import pg_server
from course_lib.instructor.grading import sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

STUDENTS = {"ann": "solved", "ben": "blank", "cat": "solved", "dan": "infinite_loop", "eve": "solved"}


def _populate(root: Path) -> None:
    from course_lib.instructor.release import blank

    for student, kind in STUDENTS.items():
        nb = {"solved": lambda: G.solved(root), "blank": lambda: blank(root / "release" / "ps1" / G.NOTEBOOK)}.get(
            kind, lambda: G.hostile(root, kind))()
        G.submit(root, student, nb)


def _grades_csv(root: Path) -> list[dict]:
    with open(root / "grading" / "ps1" / "grades.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = G.make_course(tmp_path_factory.mktemp("straight"))
    _populate(root)
    proc = G.course_grade(root, "submitted", "--jobs", "2", "--cell-timeout", "6", "--interrupt-grace", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_killed_grader_resumes_without_losing_or_duplicating_grades(uninterrupted, tmp_path):
    root = G.make_course(tmp_path / "course")
    _populate(root)
    args = [sys.executable, "-m", "course_lib.instructor.grading.cli", "submitted", "--jobs", "1", "--quiet",
            "--cell-timeout", "6", "--interrupt-grace", "3"]
    proc = subprocess.Popen(args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = root / "grading" / "ps1" / "results"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.2)
    time.sleep(1.0)  # kill it in the middle of the next student
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.stem for p in results.glob("*.json"))
    assert 2 <= len(done_before) < len(STUDENTS), f"the kill came too late or too early: {done_before}"
    time.sleep(2)
    leftovers = subprocess.run(["pgrep", "-f", "course_lib.instructor.grading.worker"], capture_output=True, text=True)
    assert not leftovers.stdout.strip(), "worker processes outlived the killed grader"

    again = G.course_grade(root, "submitted", "--jobs", "2", "--cell-timeout", "6", "--interrupt-grace", "3")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{len(done_before)} already graded (resumed)" in again.stderr
    assert sorted(G.results(root)) == sorted(STUDENTS)
    strip = lambda rows: [{k: v for k, v in r.items()} for r in rows]  # noqa: E731
    assert strip(_grades_csv(root)) == strip(_grades_csv(uninterrupted)), "a resumed run must give the same grades"
    for student in STUDENTS:
        assert G.gradebook_scores(root, student) == G.gradebook_scores(uninterrupted, student), student
    with sqlite3.connect(root / "gradebook.db") as db:  # one submission per student, no duplicate
        assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == len(STUDENTS)
    assert not any((root / "grading" / "ps1" / "scratch").iterdir())


def test_dan_timed_out_and_the_others_did_not(uninterrupted):
    results = G.results(uninterrupted)
    assert any("timed out" in e for e in results["dan"]["events"])
    for student in ("ann", "cat", "eve"):
        assert all(p["status"] == "passed" for p in results[student]["problems"])
    assert all(p["status"] == "failed" and p["score"] == 0 for p in results["ben"]["problems"])


def test_rerun_skips_everyone_and_regrades_a_changed_submission(uninterrupted, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(uninterrupted, root)
    before = _grades_csv(root)
    G.submit(root, "ben", G.solved(root))  # ben hands in again, now solved
    proc = G.course_grade(root, "submitted", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{len(STUDENTS) - 1} already graded (resumed)" in proc.stderr
    after = {r["student"]: r for r in _grades_csv(root)}
    assert after["ben"]["auto_score"] == after["ben"]["auto_max"]
    assert {r["student"]: r for r in before if r["student"] != "ben"} == \
        {s: r for s, r in after.items() if s != "ben"}


def test_zip_files_from_a_learning_management_system(tmp_path):
    root = G.make_course(tmp_path / "course")
    inbox = tmp_path / "inbox"
    staged = tmp_path / "staged"
    G.submit(root, "zoe", G.solved(root), folder=staged)
    with zipfile.ZipFile(inbox.mkdir() or inbox / "zoe_ps1.zip", "w") as zf:  # course-submit's layout
        zf.write(staged / "zoe" / "ps1" / G.NOTEBOOK, f"ps1/{G.NOTEBOOK}")
    with zipfile.ZipFile(inbox / "yan.zip", "w") as zf:  # notebooks at the top
        zf.write(staged / "zoe" / "ps1" / G.NOTEBOOK, G.NOTEBOOK)
    with zipfile.ZipFile(inbox / "evil_ps1.zip", "w") as zf:  # zip slip
        zf.writestr("../../gradebook.db", "overwritten")
    (inbox / "broken_ps1.zip").write_bytes(b"PK\x03\x04 not really a zip")
    proc = G.course_grade(root, str(inbox), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = G.results(root)
    assert sorted(results) == ["yan", "zoe"]
    assert all(p["status"] == "passed" for r in results.values() for p in r["problems"])
    assert "evil: NOT GRADED" in proc.stdout and "unsafe path" in proc.stdout
    assert "broken: NOT GRADED" in proc.stdout and "not a readable zip" in proc.stdout
    assert (root / "gradebook.db").read_bytes()[:15] == b"SQLite format 3"


@pytest.mark.skipif(sandbox.probe() is not None, reason="needs confinement to compare with")
def test_unconfined_grading_says_so_and_still_checks(tmp_path):
    root = G.make_course(tmp_path / "course")
    G.submit(root, "alice", G.solved(root))
    nb = G.solved(root)
    first = next(c for c in nb.cells if c.cell_type == "code" and "BEGIN" not in c.source
                 and c.metadata.get("nbgrader", {}).get("solution"))
    first.source = f"open('{root}/source_notebooks/ps1/planted.txt', 'w').write('x')\n" + first.source
    G.submit(root, "mallory", nb)
    proc = G.course_grade(root, "submitted", "--unconfined", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "UNCONFINED GRADING" in proc.stderr and "--unconfined was given" in proc.stderr
    results = G.results(root)
    # unconfined, the run-time guard is the line that holds: the write is refused and reported
    assert any("[guard] refused opening" in f and "planted.txt" in f for f in results["mallory"]["findings"]), \
        results["mallory"]["findings"]
    assert any("[file-outside]" in f for f in results["mallory"]["findings"])
    assert not (root / "source_notebooks" / "ps1" / "planted.txt").exists()
    assert not results["alice"]["findings"]
    assert all(p["status"] == "passed" for p in results["alice"]["problems"])


def test_refuses_a_gradebook_whose_test_cells_were_changed(tmp_path):
    root = G.make_course(tmp_path / "course")
    G.submit(root, "alice", G.solved(root))
    with sqlite3.connect(root / "gradebook.db") as db:
        db.execute("UPDATE source_cell SET source = 'pass' WHERE name = 'test_a'")
    proc = G.course_grade(root, "submitted")
    assert proc.returncode == 2
    assert "test_a" in proc.stderr and "do not match source_notebooks" in proc.stderr
    assert not (root / "grading" / "ps1" / "results").exists() or not G.results(root)


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def postgres():
    yield from pg_server.server("course-pg-")


def test_parallel_grading_into_postgresql(postgres, uninterrupted, tmp_path):
    root = G.make_course(tmp_path / "course")  # its own SQLite gradebook holds the assignment
    _populate(root)
    proc = G.course_grade(root, "submitted", "--jobs", "2", "--db-url", postgres, "--cell-timeout", "6",
                          "--interrupt-grace", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _grades_csv(root) == _grades_csv(uninterrupted)
    for student in STUDENTS:
        assert G.gradebook_scores(root, student, postgres) == G.gradebook_scores(uninterrupted, student), student
    with sqlite3.connect(root / "gradebook.db") as db:  # nothing went to the SQLite file
        assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0] == 0
    # the final grades and nbgrader's own export read the same PostgreSQL gradebook and agree
    final = subprocess.run([sys.executable, "-m", "course_lib.instructor.grading.cli", "final", "--db-url", postgres],
                           cwd=root, capture_output=True, text=True, timeout=300)
    assert final.returncode == 1 and "PROVISIONAL" in final.stderr, final.stderr[-3000:]  # written answers wait
    with open(root / "grading" / "ps1" / "final.csv", newline="") as f:
        raw = {r["student"]: float(r["raw"]) for r in csv.DictReader(f)}
    export = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", "--to", str(tmp_path / "e.csv"),
                             f"--CourseDirectory.db_url={postgres}"], cwd=root, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert export.returncode == 0, export.stderr[-3000:]
    with open(tmp_path / "e.csv", newline="") as f:
        assert {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)} == raw


def test_one_course_grade_per_machine(tmp_path):
    import fcntl

    root = G.make_course(tmp_path / "course")
    G.submit(root, "alice", G.solved(root))
    with open(Path(tempfile.gettempdir()) / "course-grade.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = G.course_grade(root, "submitted")
    assert proc.returncode == 2 and "another course-grade is running" in proc.stderr
