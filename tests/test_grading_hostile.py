"""``course-grade`` against hostile submissions, next to clean ones.

A scratch course of notebook 01 is graded twice with 2 workers: once with only
the clean students (``alice``, ``bob``: the solution), once with them and one
student per hostile behaviour (tests/grading_course.py). For each hostile
student: the run finishes, the summary gives the right reason, the harm is
contained; and the clean students' grades are identical in both runs.
"""
from __future__ import annotations

import csv
import json
import socket
import threading

import pytest

import grading_course as G
from course_lib.instructor.grading import sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CONFINED = sandbox.probe() is None
needs_bwrap = pytest.mark.skipif(not CONFINED, reason=f"kernels cannot be confined here: {sandbox.probe()}")
CELL_TIMEOUT = "8"


class Listener:
    """A TCP server on the host loopback that records whatever connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(1000) or b"<connected>")
                except OSError:
                    self.received.append(b"<connected>")

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def _sandbox_processes() -> list[str]:
    """Processes still running as a sandbox uid."""
    return [f"{pid} uid {uid}" for pid, (uid, _) in sandbox.processes().items()
            if sandbox.UID_BASE <= uid < sandbox.UID_BASE + 256]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = G.make_course(tmp_path_factory.mktemp("clean"))
    for student in G.CLEAN:
        G.submit(root, student, G.solved(root))
    proc = G.course_grade(root, "submitted", "--jobs", "2", "--cell-timeout", CELL_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, proc


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = G.make_course(tmp_path_factory.mktemp("hostile"))
    listener = Listener()
    try:
        for student in G.CLEAN:
            G.submit(root, student, G.solved(root))
        for kind in G.HOSTILE:
            G.plant(root, kind, G.submit(root, kind, G.hostile(root, kind, listener.port)))
        before = {s: (root / "submitted" / s / "ps1" / G.NOTEBOOK).read_bytes() for s in G.CLEAN}
        proc = G.course_grade(root, "submitted", "--jobs", "2", "--cell-timeout", CELL_TIMEOUT,
                              "--interrupt-grace", "4")
    finally:
        listener.close()
    return {"root": root, "proc": proc, "results": G.results(root), "received": listener.received,
            "before": before}


def test_clean_run_gives_full_automatic_marks(baseline):
    root, proc = baseline
    results = G.results(root)
    assert sorted(results) == sorted(G.CLEAN)
    for student, r in results.items():
        assert r["problems"] and all(p["status"] == "passed" for p in r["problems"]), (student, r["problems"])
        assert not r["findings"] and not r["events"] and not r["error"], r
    assert "alice" in proc.stdout and "passed" in proc.stdout  # the summary table


@needs_bwrap
def test_hostile_run_finishes_and_grades_everyone(hostile_run):
    proc = hostile_run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(hostile_run["results"]) == sorted([*G.CLEAN, *G.HOSTILE])
    assert "confined (bubblewrap)" in proc.stderr
    assert not _sandbox_processes(), "sandboxed processes outlived the run"
    assert not any((hostile_run["root"] / "grading" / "ps1" / "scratch").iterdir()), "scratch folders left behind"


@needs_bwrap
def test_clean_students_unaffected_by_hostile_neighbours(baseline, hostile_run):
    clean_root, _ = baseline
    base = G.results(clean_root)
    for student in G.CLEAN:
        r = hostile_run["results"][student]
        assert G.scores(r) == G.scores(base[student]), f"{student}'s grades changed next to hostile submissions"
        assert not r["findings"] and not r["events"], (student, r["findings"], r["events"])
        assert G.gradebook_scores(hostile_run["root"], student) == G.gradebook_scores(clean_root, student)
        after = (hostile_run["root"] / "submitted" / student / "ps1" / G.NOTEBOOK).read_bytes()
        assert after == hostile_run["before"][student], f"{student}'s submission was modified"


# kind -> (an event that must be reported, a finding kind that must flag it, problem statuses that must appear)
EXPECTED = {
    "infinite_loop": ("timed out", None, {"timed out"}),
    "ignores_interrupt": ("ignored the interrupt", None, {"timed out"}),
    "catches_interrupt": ("timed out", None, set()),
    "fork_bomb": ("timed out", "[subprocess]", {"tampered"}),
    "huge_allocation": ("out of memory", None, {"failed"}),
    "reads_source": (None, "[file-outside]", {"tampered"}),
    "reads_gradebook": (None, "[file-outside]", {"tampered"}),
    "writes_gradebook": (None, "[file-outside]", {"tampered"}),
    "edits_other_student": (None, "[file-outside]", {"tampered"}),
    "network": (None, "[network]", {"tampered"}),
    "shadows_check": (None, "[shadows-check]", {"tampered"}),
    "patches_course_lib": (None, "[patches-course_lib]", {"tampered"}),
    "gigabytes_of_output": ("printed more than", None, {"crashed"}),
    "os_exit": ("kernel died", None, {"crashed"}),
    "echoes_cells": (None, "restored IPython's post_run_cell event callbacks", {"tampered"}),
    "edits_test_cell": (None, "[test-cell-edited]", {"tampered"}),
    "deletes_test_cell": (None, "[test-cell-missing]", {"missing cell"}),
    "retypes_test_cell": (None, "[test-cell-retyped]", {"tampered"}),
    "corrupt_json": (None, None, {"unreadable"}),
    # signals: refused by the run-time guard (os.kill), or the kernel dies and the summary says of what
    "kills_everyone": (None, "[subprocess]", {"tampered"}),
    "kills_itself": (None, "[subprocess]", {"tampered"}),
    "raises_sigkill": ("killed by signal SIGKILL (9)", None, {"crashed"}),
    "exits_3": ("exited with status 3 (os._exit", None, {"crashed"}),
    # submissions are data: what is not a regular file is refused (a finding), never followed or copied
    "links_gradebook": (None, "[refused-file]", {"passed"}),
    "links_source": (None, "[refused-file]", {"passed"}),
    "links_notebook": (None, "[refused-file]", {"missing"}),
    "hard_link": (None, "[refused-file]", {"passed"}),
    "fifo": (None, "[refused-file]", {"passed"}),
    "long_path": (None, "[refused-file]", {"passed"}),
}


@needs_bwrap
@pytest.mark.parametrize("kind", G.HOSTILE)
def test_hostile_submission_reported_for_the_right_reason(hostile_run, kind):
    event, finding, statuses = EXPECTED[kind]
    r = hostile_run["results"][kind]
    seen = {p["status"] for p in r["problems"]}
    if event:
        assert any(event in e for e in r["events"]), f"{kind}: events {r['events']} should mention {event!r}"
    if finding:
        assert any(finding in f for f in r["findings"]), f"{kind}: findings {r['findings']} should have {finding}"
    else:
        assert not r["findings"], f"{kind}: unexpected findings {r['findings']}"
    assert statuses <= seen, f"{kind}: statuses {seen} should include {statuses}"
    assert "not graded" not in seen and not r["error"], f"{kind}: nbgrader failed to grade it: {r['error']}"
    if kind == "corrupt_json":
        assert all(p["score"] == 0 for p in r["problems"])
    # the summary table names the student, and flags the ones with findings
    row = next(line for line in hostile_run["proc"].stdout.splitlines() if line.startswith(kind + " "))
    assert ("YES" in row) == bool(finding), row


@needs_bwrap
def test_confined_kernels_saw_nothing_of_the_course(hostile_run):
    root = hostile_run["root"]

    def first_answer_outputs(student: str) -> str:
        import nbformat

        from course_lib import nbmeta

        nb = nbformat.read(str(root / "autograded" / student / "ps1" / G.NOTEBOOK), as_version=4)
        cell = next(c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code")
        return str(cell.get("outputs", []))

    assert "FileNotFoundError" in first_answer_outputs("reads_source")
    assert "BEGIN HIDDEN TESTS" not in first_answer_outputs("reads_source")
    assert "FileNotFoundError" in first_answer_outputs("reads_gradebook")
    assert "SQLite format" not in first_answer_outputs("reads_gradebook")
    assert "OperationalError" in first_answer_outputs("writes_gradebook")
    assert "FileNotFoundError" in first_answer_outputs("edits_other_student")
    assert any(e in first_answer_outputs("network") for e in ("ConnectionRefusedError", "OSError",
                                                             "refused by the grading guard"))
    assert hostile_run["received"] == [], "a sandboxed kernel reached a server on the host"
    assert "MemoryError" in first_answer_outputs("huge_allocation")


@needs_bwrap
def test_flagged_students_get_a_banner_in_their_feedback(hostile_run):
    root = hostile_run["root"]
    page = (root / "feedback" / "patches_course_lib" / "ps1" / "feedback.html").read_text()
    assert "Flagged for review by a person" in page and "patches-course_lib" in page
    clean = (root / "feedback" / "alice" / "ps1" / "feedback.html").read_text()
    assert "Flagged for review" not in clean


@needs_bwrap
def test_no_feedback_page_shows_a_hidden_test(hostile_run):
    """Every student's page (clean, tampered, crashed, and one whose code echoes each cell it
    runs, hidden tests included, into the outputs) is free of every hidden-test line."""
    import html
    import re

    import nbformat

    from course_lib import nbmeta

    root = hostile_run["root"]
    source = nbformat.read(str(root / "source_notebooks" / "ps1" / G.NOTEBOOK), as_version=4)
    hidden = {line.strip() for c in source.cells for line in nbmeta.hidden_test_lines(c) if line.strip()}
    # the guard removes the echoing callback before the next cell runs, so no test cell is echoed
    graded = nbformat.read(str(root / "autograded" / "echoes_cells" / "ps1" / G.NOTEBOOK), 4)
    echoed = json.dumps([c.get("outputs", []) for c in graded.cells])  # outputs only: sources hold the tests
    assert not any(h in echoed for h in hidden), "the echo attack echoed a hidden test despite the guard"
    pages = sorted((root / "feedback").rglob("*.html")) + sorted((root / "grading" / "ps1" / "feedback").glob("*"))
    graded = [s for s, r in hostile_run["results"].items() if not any(p["status"] == "unreadable"
                                                                      for p in r["problems"])]
    assert len(pages) >= 2 * len(graded)
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        assert not [h for h in hidden if h in text], f"{page} shows a hidden test"


@needs_bwrap
def test_grades_csv_has_every_student(hostile_run):
    root = hostile_run["root"]
    with open(root / "grading" / "ps1" / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == {*G.CLEAN, *G.HOSTILE}
    assert rows["alice"]["auto_score"] == rows["alice"]["auto_max"] != "0"
    assert rows["shadows_check"]["flagged"]
    with open(root / "grading" / "ps1" / "problems.csv") as f:
        problems = list(csv.DictReader(f))
    assert {p["status"] for p in problems if p["student"] == "os_exit"} >= {"crashed"}


def _first_answer_outputs(root, student: str) -> str:
    import nbformat

    from course_lib import nbmeta

    nb = nbformat.read(str(root / "autograded" / student / "ps1" / G.NOTEBOOK), as_version=4)
    cell = next(c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code")
    return str(cell.get("outputs", []))


REFUSAL = {"links_gradebook": "symbolic link", "links_source": "symbolic link", "links_notebook": "symbolic link",
           "hard_link": "hard link", "fifo": "named pipe", "long_path": "longer than 1024 bytes"}


@needs_bwrap
def test_submissions_are_regular_files_only(hostile_run):
    """Links, a hard link, a FIFO and an over-long path in a submitted folder: refused with the
    reason in the student's findings, the summary row and grades.csv; removed from submitted/
    (graded in place); never followed: their targets reach no kernel, autograded/ or feedback/."""
    import os

    root = hostile_run["root"]
    with open(root / "grading" / "ps1" / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    table = {line.split()[0]: line for line in hostile_run["proc"].stdout.splitlines() if line.strip()}
    for kind, name in G.HOSTILE_FILES.items():
        mark = name if kind != "long_path" else "00dddd"
        refused = [f for f in hostile_run["results"][kind]["findings"] if "[refused-file]" in f]
        assert any(mark in f and REFUSAL[kind] in f for f in refused), (kind, refused)
        assert "[refused-file]" in rows[kind]["flagged"] and REFUSAL[kind] in rows[kind]["flagged"], rows[kind]
        assert "FLAGGED" in table[kind] and "refused-file" in table[kind], table[kind]
        for folder in (root / "submitted" / kind / "ps1", root / "autograded" / kind / "ps1",
                       root / "feedback" / kind / "ps1"):
            assert not os.path.lexists(folder / name), folder / name
            assert not [f for _, _, files in os.walk(folder) for f in files if f == "deep.txt"], folder
    for kind in ("links_gradebook", "links_source", "hard_link", "fifo"):
        out = _first_answer_outputs(root, kind)
        assert "cannot read it: FileNotFoundError" in out and "SQLite format" not in out, (kind, out)
    # the symbolic link to the source notebook in the notebook's place gives nothing: the notebook is missing
    r = hostile_run["results"]["links_notebook"]
    assert all(p["status"] == "missing" and p["score"] == 0 for p in r["problems"]), r["problems"]
    assert not (root / "autograded" / "links_notebook" / "ps1" / G.NOTEBOOK).exists()
    # nothing under autograded/ or feedback/, of anyone, is the gradebook or the source notebook
    source = (root / "source_notebooks" / "ps1" / G.NOTEBOOK).read_bytes()
    for top in ("autograded", "feedback"):
        for folder, dirs, files in os.walk(root / top):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                path = os.path.join(folder, name)
                assert not os.path.islink(path), f"a link reached {path}"
                data = open(path, "rb").read()
                assert not data.startswith(b"SQLite format 3") and data != source, f"{path} is a course file"
    # the link targets are intact: a hard link or symbolic link was removed, never what it points at
    assert (root / "gradebook.db").read_bytes()[:15] == b"SQLite format 3"
    assert os.stat(root / "source_notebooks" / "ps1" / G.NOTEBOOK).st_nlink == 1


@needs_bwrap
def test_a_dead_kernel_says_why(hostile_run):
    """A kernel killed by a signal, or one whose code exited, is an event with the cause; the
    problem's detail (which the feedback pages show) says it too. os.kill is refused by the
    run-time guard; if it ever is not, the kernel dies of SIGKILL and the summary says so."""
    root, results = hostile_run["root"], hostile_run["results"]
    with open(root / "grading" / "ps1" / "problems.csv") as f:
        problems = list(csv.DictReader(f))
    for kind, cause in (("raises_sigkill", "killed by signal SIGKILL (9): the kernel was killed"),
                        ("exits_3", "exited with status 3 (os._exit or sys.exit")):
        assert any(cause in e for e in results[kind]["events"]), (kind, results[kind]["events"])
        crashed = [p for p in problems if p["student"] == kind and p["status"] == "crashed"]
        assert crashed and all(cause in p["detail"] for p in crashed), (kind, crashed)
    for kind in ("kills_everyone", "kills_itself"):
        out = _first_answer_outputs(root, kind)
        killed = any("killed by signal SIGKILL (9)" in e for e in results[kind]["events"])
        assert killed or "refused by the grading guard" in out or "ProcessLookupError" in out, (kind, out)
