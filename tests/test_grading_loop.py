"""The grading loop after autograde, without kernels: the late policy, submission
times, extensions, the final grades and their LMS files, and feedback that
never shows a hidden test.

The gradebook tests build a real nbgrader gradebook for notebook 01 and put
scores in it as autograde and formgrader would (nbgrader's own API), so every
number is known exactly. ``test_semester.py`` runs the whole loop for real.
"""
from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import grading_course
from course_lib import nbmeta
from course_lib.instructor.grading import feedback, final, late, submissions
from course_lib.instructor.hide_hidden_tests import PLACEHOLDER, HideHiddenTests

DUE = dt.datetime(2026, 10, 9, 23, 59)
HOUR = 3600.0


def policy(**kw) -> late.LatePolicy:
    p = late.LatePolicy(percent_per_day=10, max_percent=50, zero_after_days=7, grace_minutes=15)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


@pytest.mark.parametrize("seconds, percent", [
    (0, 0), (15 * 60, 0),                 # on time, and inside the grace
    (15 * 60 + 1, 10),                    # one second past the grace: a started day
    (24 * HOUR + 15 * 60, 10),            # exactly one day
    (24 * HOUR + 15 * 60 + 1, 20),        # into the second day
    (2 * 24 * HOUR, 20),
    (6 * 24 * HOUR, 50),                  # capped
    (7 * 24 * HOUR + 15 * 60, 50),        # exactly 7 days: still capped, not zero
    (7 * 24 * HOUR + 15 * 60 + 1, 100),   # more than 7 days: zero
])
def test_late_policy_counts_started_days_with_grace_cap_and_zero(seconds, percent):
    assert policy().percent(seconds) == percent


def test_no_policy_means_no_penalty():
    p = late.LatePolicy()
    assert p.percent(30 * 24 * HOUR) == 0 and p.describe() == "no late penalty"


def test_lateness_uses_the_extension_and_unknown_time_is_no_penalty_with_a_note():
    p = policy()
    two_days = late.lateness(p, DUE, DUE + dt.timedelta(days=2), None)
    assert (two_days.days_late, two_days.percent, two_days.penalty(80)) == (2, 20, 16.0)
    extended = late.lateness(p, DUE, DUE + dt.timedelta(days=2), dt.timedelta(days=3))
    assert (extended.percent, extended.due) == (0, DUE + dt.timedelta(days=3))
    unknown = late.lateness(p, DUE, None, None)
    assert unknown.percent == 0 and "unknown" in unknown.note
    assert late.lateness(p, None, DUE, None).percent == 0  # no deadline: nothing is late


def test_extensions_csv_days_due_assignment_and_bad_rows(tmp_path):
    path = tmp_path / "extensions.csv"
    path.write_text("student,assignment,days,due\nalice,,3,\nbob,ps1,,2026-10-12 12:00 UTC\n"
                    "carol,ps2,5,\ndave,,,\n,,1,\nerin,,soon,\n")
    ext, problems = late.read_extensions(path, "ps1")
    assert set(ext) == {"alice", "bob"}
    assert ext["alice"].extension(DUE) == dt.timedelta(days=3)
    assert ext["bob"].extension(DUE) == dt.datetime(2026, 10, 12, 12) - DUE
    assert len(problems) == 3 and any("line 5" in p for p in problems)  # dave: no value
    assert late.read_extensions(tmp_path / "none.csv", "ps1") == ({}, [])


def test_times_in_zone_are_stored_in_utc():
    assert late.parse_time("2026-10-10 12:00:00 +0200") == dt.datetime(2026, 10, 10, 10)
    assert late.parse_time("2026-10-10T12:00:00Z") == dt.datetime(2026, 10, 10, 12)
    with pytest.raises(ValueError):
        late.parse_time("yesterday-ish")


# --------------------------------------------------------------------- submission times
def _zip(path: Path, files: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)


def test_a_zips_own_timestamp_is_never_trusted_the_lms_record_is(tmp_path):
    inbox, course = tmp_path / "inbox", tmp_path / "course"
    inbox.mkdir()
    nb = nbformat.writes(nbformat.v4.new_notebook())
    _zip(inbox / "alice_ps1.zip", {"ps1/01.ipynb": nb, "ps1/timestamp.txt": "2000-01-01 00:00:00 UTC"})
    _zip(inbox / "bob_ps1.zip", {"ps1/01.ipynb": nb, "ps1/timestamp.txt": "2000-01-01 00:00:00 UTC"})
    (inbox / "carol" / "ps1").mkdir(parents=True)
    (inbox / "carol" / "ps1" / "01.ipynb").write_text(nb)
    (inbox / "carol" / "ps1" / "timestamp.txt").write_text("2026-10-08 10:00:00.000000 UTC")  # nbgrader exchange
    (inbox / "dave" / "ps1").mkdir(parents=True)
    (inbox / "dave" / "ps1" / "01.ipynb").write_text(nb)
    (inbox / "dave" / "ps1" / "timestamp.txt").write_text("not a time")
    (inbox / "submission_times.csv").write_text("student,submitted_at\nalice,2026-10-11 09:30:00 +0200\n")
    students, rejected = submissions.collect(inbox, course, "ps1")
    assert sorted(students) == ["alice", "bob", "carol", "dave"] and not rejected
    stamp = lambda s: course / "submitted" / s / "ps1" / "timestamp.txt"  # noqa: E731
    assert late.parse_time(stamp("alice").read_text()) == dt.datetime(2026, 10, 11, 7, 30)
    assert not stamp("bob").exists(), "a student's own timestamp.txt in a zip was kept"
    assert late.parse_time(stamp("carol").read_text()) == dt.datetime(2026, 10, 8, 10)
    assert not stamp("dave").exists(), "an unreadable timestamp.txt would fail nbgrader's autograde"


def test_a_malformed_times_file_stops_with_its_line(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "submission_times.csv").write_text("student,submitted_at\nalice,noon\n")
    with pytest.raises(ValueError, match="line 2"):
        submissions.collect(inbox, tmp_path / "course", "ps1")


# --------------------------------------------------------------------- final grades from a gradebook
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course of notebook 01 whose gradebook holds four students, scored by hand
    as autograde and formgrader would: alice on time, bob 2 days late, carol 2 days
    late with a 3-day extension, dave with no known time and a written answer left."""
    from nbgrader.api import Gradebook

    from course_lib.instructor.grading import course as course_mod

    root = grading_course.make_course(tmp_path_factory.mktemp("loop"))
    (root / "extensions.csv").write_text("student,days\ncarol,3\nnobody,1\n")
    source = nbformat.read(str(root / "source_notebooks" / "ps1" / grading_course.NOTEBOOK), as_version=4)
    manual = [nbmeta.grade_id(c) for c in source.cells if nbmeta.is_manual_answer(c)]
    times = {"alice": DUE - dt.timedelta(hours=1), "bob": DUE + dt.timedelta(days=2),
             "carol": DUE + dt.timedelta(days=2), "dave": None}
    with Gradebook(course_mod.db_url(root), course_mod.course_id(root)) as gb:
        gb.update_or_create_assignment("ps1", duedate=DUE)
        for student, when in times.items():
            gb.update_or_create_student(student)
            gb.add_submission("ps1", student, timestamp=when)
            nb = gb.find_submission_notebook("01_hand_gradients", "ps1", student)
            for g in nb.grades:
                if g.name in manual:
                    g.auto_score, g.needs_manual_grade = None, not (student != "dave" or g.name != manual[0])
                    g.manual_score = None if g.needs_manual_grade else 1.0
                else:
                    g.auto_score, g.needs_manual_grade = float(g.max_score), False
            for c in nb.comments:
                if c.name == manual[0]:
                    c.manual_comment = "Clear, and the slope is named."
        gb.db.commit()
    return root, manual


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_final_grades_apply_the_penalty_once_and_only_where_due(graded):
    root, manual = graded
    grades, problems = final.final_grades(root, "ps1")
    by = {g.student: g for g in grades}
    assert [p for p in problems if "nobody" in p], "an extension for an unknown student must be reported"
    # 7 autograded points + 3 written = 10 each (dave: 2 written graded, 1 not)
    assert (by["alice"].raw, by["alice"].penalty, by["alice"].total, by["alice"].status) == (10, 0, 10, "final")
    assert (by["bob"].late.days_late, by["bob"].penalty, by["bob"].total) == (2, 2.0, 8.0)
    assert (by["carol"].late.percent, by["carol"].total) == (0, 10)
    assert by["dave"].status == "held" and by["dave"].ungraded == [f"01_hand_gradients/{manual[0]}"]
    assert "unknown" in by["dave"].notes
    # running it again changes nothing: the penalty is computed from raw points, never from a penalised total
    again = {g.student: g.total for g in final.final_grades(root, "ps1")[0]}
    assert again == {s: g.total for s, g in by.items()}


def test_nbgrader_export_agrees_with_the_final_grades(graded, tmp_path):
    root, _ = graded
    grades = {g.student: g for g in final.final_grades(root, "ps1")[0]}
    out = tmp_path / "export.csv"
    run = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", "--to", str(out)], cwd=root,
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader(open(out))}
    for student, g in grades.items():
        assert float(rows[student]["raw_score"]) == pytest.approx(g.raw)
        assert float(rows[student]["late_submission_penalty"]) == pytest.approx(g.penalty)
        assert float(rows[student]["score"]) == pytest.approx(g.total)


def test_canvas_and_generic_csvs_export_final_grades_and_say_who_is_held(graded, tmp_path):
    root, _ = graded
    grades, _ = final.final_grades(root, "ps1")
    canvas = _csv(final.write_canvas_csv(grades, tmp_path / "canvas.csv", "Problem Set 1 (4242)")[0])
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Problem Set 1 (4242)"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "10"
    assert {r[3]: r[-1] for r in canvas[2:]} == {"alice": "10", "bob": "8", "carol": "10", "dave": ""}
    generic = {r[0]: r for r in _csv(final.write_generic_csv(grades, tmp_path / "generic.csv"))}
    assert generic["student_id"] == ["student_id", "01_hand_gradients", "late_penalty", "total", "max_score", "status"]
    assert generic["bob"][1:5] == ["10", "2", "8", "10"] and generic["bob"][5].startswith("final")
    assert generic["dave"][3] == "" and generic["dave"][5].startswith("held")


def test_canvas_roster_keeps_canvas_ids_and_reports_the_unmatched(graded, tmp_path):
    root, _ = graded
    grades, _ = final.final_grades(root, "ps1")
    roster = tmp_path / "export.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Problem Set 1 (4242)\n"
                      "    Points Possible,,,,,10\n"
                      "\"Smith, Alice\",101,S101,alice,Sec A,\n\"Jones, Bob\",102,S102,BOB,Sec A,\n"
                      "\"Lee, Carol\",103,carol,c.lee,Sec B,\n")
    path, unmatched = final.write_canvas_csv(grades, tmp_path / "canvas.csv", "Problem Set 1 (4242)", roster)
    rows = {r[0]: r for r in _csv(path)[2:]}
    assert rows["Smith, Alice"] == ["Smith, Alice", "101", "S101", "alice", "Sec A", "10"]
    assert rows["Jones, Bob"][-1] == "8"          # matched case-insensitively
    assert rows["Lee, Carol"][1] == "103"         # matched by SIS User ID
    assert unmatched == ["dave"]


def test_course_grade_final_writes_every_file_and_exits_1_while_someone_is_held(graded):
    root, _ = graded
    run = subprocess.run([sys.executable, "-m", "course_lib.instructor.grading.cli", "final",
                          "--canvas-column", "Problem Set 1 (4242)"], cwd=root, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "dave: HELD (no grade exported)" in run.stderr
    out = root / "grading" / "ps1"
    header = _csv(out / "final.csv")[0]
    assert {"01_hand_gradients auto", "01_hand_gradients manual", "penalty", "total",
            "ungraded_written_answers"} <= set(header)
    assert (out / "feedback" / "bob_ps1_feedback.html").is_file()
    page = (root / "feedback" / "bob" / "ps1" / "feedback.html").read_text()
    assert "Late penalty" in page and "2 started day(s) late" in page and "&minus;2 points" in page
    assert "Clear, and the slope is named." in page       # the grader's comment
    assert "Rubric" not in page                           # the rubric stays with the graders
    assert "Late penalty" not in (root / "feedback" / "carol" / "ps1" / "feedback.html").read_text()


# --------------------------------------------------------------------- feedback never shows a hidden test
def _autograded_cell(source: str, outputs: list) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


HIDDEN = "assert abs(float(secret_value) - 42.125) < 1e-9"
TEST_SOURCE = f"check_x(x)\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"


def test_hide_hidden_tests_strips_regions_tracebacks_and_quotes():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_autograded_cell(TEST_SOURCE, [
        {"output_type": "stream", "name": "stdout", "text": f"ok\n    {HIDDEN}\nmore\n"},
        {"output_type": "error", "ename": "AssertionError", "evalue": "",
         "traceback": ["Traceback", f"----> 3 {HIDDEN}", "AssertionError"]}])]
    out, _ = HideHiddenTests().preprocess(nb, {})
    cell = out.cells[0]
    assert cell.source == "check_x(x)"
    assert cell.outputs[0]["text"] == f"ok\n{PLACEHOLDER}\nmore\n"
    assert cell.outputs[1]["traceback"] == ["AssertionError: "]
    assert HIDDEN not in nbformat.writes(out)


def test_feedback_message_shows_the_check_message_never_the_traceback(tmp_path):
    secrets = feedback.Secrets({HIDDEN})
    cell = _autograded_cell(TEST_SOURCE, [
        {"output_type": "stream", "name": "stdout", "text": "PASSED: check_x\nc2VjcmV0 (what a hook printed)\n"},
        {"output_type": "error", "ename": "CheckFailure", "evalue": f"x.f: for a=2.0 got 1 want 3\nstack: {HIDDEN}",
         "traceback": [f"\x1b[31m{HIDDEN}\x1b[0m"]}])
    text = feedback.message(cell, secrets)
    assert "CHECK FAILED" in text and "for a=2.0 got 1 want 3" in text and "PASSED: check_x" in text
    assert HIDDEN not in text and feedback.REDACTED in text
    assert "c2VjcmV0" not in text, "lines student code printed (a hook echoing cells) reached the feedback"
    flood = _autograded_cell("x", [{"output_type": "stream", "name": "stdout", "text": "y" * 50_000}])
    assert len(feedback.message(flood, secrets)) < feedback.MAX_MESSAGE + 100


def test_secrets_are_the_hidden_lines_no_release_notebook_shows():
    secrets = feedback.Secrets.of(grading_course.nbrun.SOURCE_DIR, grading_course.nbrun.RELEASE_DIR)
    assert secrets.lines, "no hidden-test line found in the source notebooks"
    release = {line.strip() for p in grading_course.nbrun.RELEASE_DIR.glob("*.ipynb")
               for c in nbformat.read(str(p), as_version=4).cells for line in nbmeta.source_lines(c)}
    assert not secrets.lines & release


def test_a_students_exception_text_is_cut_in_check_messages():
    from course_lib.checks._harness import MAX_EXC_TEXT, CheckFailure, call

    def noisy():
        raise ValueError("x" * 10_000)

    with pytest.raises(CheckFailure) as err:
        call("Value.__mul__", "a * b", noisy)
    assert "raised ValueError: xxx" in str(err.value) and len(str(err.value)) < MAX_EXC_TEXT + 200


def test_flagged_notebooks_are_withheld_until_a_person_clears_them(graded):
    from course_lib.instructor.grading.journal import Journal
    from course_lib.instructor.grading.summary import StudentResult

    root, _ = graded
    journal = Journal(root / "grading" / "ps1" / "results")
    journal.record(StudentResult("alice", findings=["01_hand_gradients.ipynb: run time:0: [guard] refused gc"]))
    try:
        alice = {g.student: g for g in final.final_grades(root, "ps1")[0]}["alice"]
        assert (alice.status, alice.withheld, alice.total) == ("held", ["01_hand_gradients"], 0)
        assert "held for review" in alice.notes
        run = subprocess.run([sys.executable, "-m", "course_lib.instructor.grading.cli", "clear", "alice", "--note",
                              "the gc call was a debugging leftover"], cwd=root, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        alice = {g.student: g for g in final.final_grades(root, "ps1")[0]}["alice"]
        assert (alice.status, alice.withheld, alice.total) == ("final", [], 10)
        assert "cleared by a person: the gc call was a debugging leftover" in alice.notes
    finally:
        journal.forget("alice")
        (root / "grading" / "ps1" / final.CLEARED).unlink(missing_ok=True)
