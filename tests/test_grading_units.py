"""The parts of ``course-grade`` one at a time (fast): submissions and zips,
the journal, per-problem statuses, fingerprints, the sandbox's command line
and limits, and the guarded Execute on an unconfined kernel."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course_lib.instructor.grading import integrity, sandbox, submissions
from course_lib.instructor.grading.execute import GuardedExecute
from course_lib.instructor.grading.journal import Journal, fingerprint
from course_lib.instructor.grading.summary import (Problem, StudentResult, notebook_events, notebook_problems,
                                                   table, write_csv)
from course_lib.instructor.tamper import Finding


# ------------------------------------------------------------------ submissions
@pytest.mark.parametrize("name, sid", [("alice_ps1.zip", "alice"), ("alice.zip", "alice"), ("bob-ps1.zip", "bob"),
                                       ("Smith, J_ps1.zip", "Smith_J"), ("../../x_ps1.zip", "x"),
                                       ("_ps1.zip", "ps1")])
def test_student_id_from_a_file_name(name, sid):
    assert submissions.student_id(name, "ps1") == sid


def _zip(path: Path, files: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return path


def test_unzip_takes_the_shallowest_notebook_folder(tmp_path):
    z = _zip(tmp_path / "a.zip", {"export/ps1/01.ipynb": b"{}", "export/ps1/w.pt": b"w", "export/readme.txt": b"r",
                                  "__MACOSX/export/ps1/._01.ipynb": b"junk"})
    submissions.unzip(z, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["01.ipynb", "w.pt"]


@pytest.mark.parametrize("files, links, why", [
    ({"../evil.ipynb": b"{}"}, (), "unsafe path"),
    ({"/etc/evil.ipynb": b"{}"}, (), "unsafe path"),
    ({"ps1/01.ipynb": b"{}"}, ("ps1/link",), "symbolic link"),
    ({"notes.txt": b"x"}, (), "no notebook"),
])
def test_unzip_refuses_dangerous_or_empty_archives(tmp_path, files, links, why):
    z = _zip(tmp_path / "a.zip", files, links)
    with pytest.raises(ValueError, match=why):
        submissions.unzip(z, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.ipynb").exists()


def test_unzip_limits_files_and_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_FILES", 3)
    z = _zip(tmp_path / "a.zip", {f"{i}.ipynb": b"{}" for i in range(4)})
    with pytest.raises(ValueError, match="holds 4 files"):
        submissions.unzip(z, tmp_path / "out")
    monkeypatch.setattr(submissions, "MAX_BYTES", 10)
    z = _zip(tmp_path / "b.zip", {"01.ipynb": b"x" * 11})
    with pytest.raises(ValueError, match="more than"):
        submissions.unzip(z, tmp_path / "out")


def test_unzip_reports_a_corrupt_file(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="not a readable zip"):
        submissions.unzip(bad, tmp_path / "out")


def test_collect_folder_layouts(tmp_path):
    src, course = tmp_path / "in", tmp_path / "course"
    (src / "ann" / "ps1").mkdir(parents=True)
    (src / "ann" / "ps1" / "01.ipynb").write_text("{}")
    (src / "ann" / "ps1" / ".ipynb_checkpoints").mkdir()
    (src / "ben").mkdir()
    (src / "ben" / "01.ipynb").write_text("{}")
    (src / "cat").mkdir()
    (src / "cat" / "notes.txt").write_text("no notebook")
    _zip(src / "dan_ps1.zip", {"ps1/01.ipynb": b"{}"})
    students, problems = submissions.collect(src, course, "ps1")
    assert students == ["ann", "ben", "dan"]
    assert set(problems) == {"cat"} and "no notebook" in problems["cat"]
    for s in students:
        assert (course / "submitted" / s / "ps1" / "01.ipynb").is_file()
    assert not (course / "submitted" / "ann" / "ps1" / ".ipynb_checkpoints").exists()
    with pytest.raises(FileNotFoundError):
        submissions.collect(tmp_path / "nowhere", course, "ps1")


# ------------------------------------------------------------------ submissions are data: regular files only
def _hostile_tree(root: Path, outside: Path) -> Path:
    """``root``: two regular files and one of everything that is not one (and points ``outside``)."""
    import socket

    root.mkdir(parents=True)
    (root / "01.ipynb").write_text("{}")
    (root / "sub").mkdir()
    (root / "sub" / "w.pt").write_bytes(b"weights")
    (outside / "secret.db").write_bytes(b"SQLite format 3 secret")
    (root / "gradebook.db").symlink_to(os.path.relpath(outside / "secret.db", root))
    (root / "sub" / "up").symlink_to(outside)                          # a link to a folder
    os.link(outside / "secret.db", root / "hard.db")                   # a hard link
    os.mkfifo(root / "pipe")
    (root / os.fsdecode(b"bad\xffname.txt")).write_text("x")            # not UTF-8
    (root / "new\nline.txt").write_text("x")
    if len(str(root / "sock")) < 100:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(root / "sock"))
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for level in range(20):                                            # beyond PATH_MAX
        name = f"{level:02d}" + "d" * 248
        os.mkdir(name, dir_fd=fd)
        deeper = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    return root


def _tree(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        out += [os.path.relpath(os.path.join(root, n), folder) for n in files]
    return sorted(out)


def test_copy_regular_refuses_links_devices_and_long_paths(tmp_path):
    outside = tmp_path / "course"
    outside.mkdir()
    src = _hostile_tree(tmp_path / "in", outside)
    refused = submissions.copy_regular(src, tmp_path / "out")
    assert _tree(tmp_path / "out") == ["01.ipynb", "sub/w.pt"]
    assert (tmp_path / "out" / "sub" / "w.pt").read_bytes() == b"weights"
    why = {r.split(": ", 1)[0]: r.split(": ", 1)[1] for r in refused}
    assert "symbolic link (to '../course/secret.db')" in why["gradebook.db"]
    assert "symbolic link" in why["sub/up"] and "hard link" in why["hard.db"] and "named pipe" in why["pipe"]
    assert why["bad\\xffname.txt"] == "a name that is not UTF-8 text"
    assert why["new\\nline.txt"] == "a name with control characters"
    assert any(k.startswith("00dddd") and "longer than 1024 bytes" in v for k, v in why.items())
    if "sock" in os.listdir(src):
        assert why["sock"] == "a socket"
    assert (outside / "secret.db").read_bytes() == b"SQLite format 3 secret"  # nothing followed or changed
    with pytest.raises(ValueError, match="symbolic link"):
        submissions.copy_regular(src / "gradebook.db", tmp_path / "out2")


def test_copy_regular_limits_nesting(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_DEPTH", 2)
    (tmp_path / "in" / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "in" / "a" / "b" / "ok.txt").write_text("x")
    (tmp_path / "in" / "a" / "b" / "c" / "deep.txt").write_text("x")
    refused = submissions.copy_regular(tmp_path / "in", tmp_path / "out")
    assert _tree(tmp_path / "out") == ["a/b/ok.txt"]
    assert refused == ["a/b/c: folders nested more than 2 deep"]


def test_keep_regular_removes_in_place_never_what_links_point_at(tmp_path):
    outside = tmp_path / "course"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    folder = _hostile_tree(tmp_path / "in", outside)
    refused = submissions.keep_regular(folder)
    assert _tree(folder) == ["01.ipynb", "sub/w.pt"] and len(refused) >= 7  # (the deep chain's top folders stay)
    assert not os.path.lexists(folder / "gradebook.db") and not os.path.lexists(folder / "sub" / "up")
    assert (outside / "secret.db").read_bytes() == b"SQLite format 3 secret"
    assert os.stat(outside / "secret.db").st_nlink == 1 and (outside / "keep.txt").read_text() == "mine"
    assert submissions.irregular(folder) == [] and submissions.keep_regular(folder) == []


def test_collect_takes_regular_files_only_and_keeps_the_reasons(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "gradebook.db").write_bytes(b"SQLite format 3")
    inbox = tmp_path / "inbox"
    (inbox / "ann" / "ps1").mkdir(parents=True)
    (inbox / "ann" / "ps1" / "01.ipynb").write_text("{}")
    (inbox / "ann" / "ps1" / "gb.db").symlink_to(course / "gradebook.db")
    (inbox / "ann" / "ps1" / ".ipynb_checkpoints").mkdir()
    (inbox / "ann" / "ps1" / ".ipynb_checkpoints" / "x").symlink_to("/etc/passwd")  # litter: left out silently
    (tmp_path / "elsewhere" / "ps1").mkdir(parents=True)
    (tmp_path / "elsewhere" / "ps1" / "01.ipynb").write_text("{}")
    (inbox / "lnk").symlink_to(tmp_path / "elsewhere")                 # the student folder is a link
    (inbox / "ps1dir").mkdir()
    (inbox / "ps1dir" / "ps1").symlink_to(tmp_path / "elsewhere" / "ps1")
    (inbox / "zed_ps1.zip").symlink_to(tmp_path / "nowhere.zip")
    students, problems = submissions.collect(inbox, course, "ps1")
    assert students == ["ann"]
    assert sorted(problems) == ["lnk", "ps1dir", "zed"] and all("symbolic link" in w for w in problems.values())
    assert _tree(course / "submitted" / "ann" / "ps1") == ["01.ipynb"]
    found = submissions.refused(course, "ps1", "ann")
    assert len(found) == 1 and "[refused-file] gb.db: a symbolic link" in found[0] and "not copied" in found[0]
    assert not [p for p in (course / "submitted").iterdir() if p.name.startswith(".")]  # no half-made copy
    # the course's own submitted/, graded in place: removed there, and remembered while the folder is unchanged
    bob = course / "submitted" / "bob" / "ps1"
    bob.mkdir(parents=True)
    (bob / "01.ipynb").write_text("{}")
    os.mkfifo(bob / "pipe")
    (bob / "hard.txt").write_text("x")
    os.link(bob / "hard.txt", course / "other.txt")
    students, problems = submissions.collect(course / "submitted", course, "ps1")
    assert students == ["ann", "bob"] and not problems
    assert _tree(bob) == ["01.ipynb"] and (course / "other.txt").read_text() == "x"
    first = submissions.refused(course, "ps1", "bob")
    assert [f.split("] ", 1)[1].split(":")[0] for f in first] == ["hard.txt", "pipe"]
    assert all("removed from submitted/" in f for f in first)
    assert submissions.collect(course / "submitted", course, "ps1")[0] == ["ann", "bob"]
    assert submissions.refused(course, "ps1", "bob") == first          # a second run still knows
    (bob / "01.ipynb").write_text('{"cells": []}')                      # a new submission: not any more
    assert submissions.refused(course, "ps1", "bob") == []
    assert submissions.refused(course, "ps1", "nobody") == []


def test_a_name_that_is_not_utf8_cannot_break_the_run(tmp_path):
    """It is refused at collection; the journal's fingerprint (str.encode) would raise on it."""
    inbox, course = tmp_path / "inbox", tmp_path / "course"
    (inbox / "ann" / "ps1").mkdir(parents=True)
    (inbox / "ann" / "ps1" / "01.ipynb").write_text("{}")
    (inbox / "ann" / "ps1" / os.fsdecode(b"\xff\xfe.py")).write_text("x")
    assert submissions.collect(inbox, course, "ps1")[0] == ["ann"]
    assert fingerprint(course / "submitted" / "ann" / "ps1")
    assert "not UTF-8" in submissions.refused(course, "ps1", "ann")[0]


@pytest.mark.parametrize("name, why", [("ps1/" + "n" * 300 + ".ipynb", "longer than 255 bytes"),
                                       ("ps1/a\x01b.ipynb", "control characters"),
                                       ("ps1/" + "/".join(["d"] * 20) + "/01.ipynb", "nested more than")])
def test_unzip_refuses_names_that_break_the_path_rules(tmp_path, name, why):
    z = _zip(tmp_path / "a.zip", {"ps1/01.ipynb": b"{}", name: b"x"})
    with pytest.raises(ValueError, match=why):
        submissions.unzip(z, tmp_path / "out")


def test_the_kernels_copy_never_follows_a_link(tmp_path):
    from course_lib.instructor.grading.kernel import ConfinedKernelManager

    outside = tmp_path / "course"
    outside.mkdir()
    sub = _hostile_tree(tmp_path / "submitted", outside)
    cwd = tmp_path / "autograded"
    cwd.mkdir()
    (cwd / "given.csv").write_text("a,b")
    (cwd / "01.ipynb").write_text("autograded: holds hidden tests")
    (cwd / "src.ipynb").symlink_to(outside / "secret.db")
    km = ConfinedKernelManager(submission=str(sub), confine=False)
    km._scratch = tmp_path / "scratch"
    (km._scratch / "work").mkdir(parents=True)
    km._private_copy(cwd)
    work = km._scratch / "work"
    assert _tree(work) == ["01.ipynb", "given.csv", "sub/w.pt"]
    assert (work / "01.ipynb").read_text() == "{}"  # the student's, never the autograded one


# ------------------------------------------------------------------ journal
def test_journal_round_trip_and_atomic_files(tmp_path):
    j = Journal(tmp_path / "results")
    r = StudentResult("ann", [Problem("01", "t", 1.0, 1.0, "passed")], findings=["x"], events=["e"], seconds=1.5,
                      submission="abc")
    j.record(r)
    assert j.get("ann") == r
    assert j.get("nobody") is None
    (tmp_path / "results" / "ben.json").write_text('{"student": "ben", "probl')  # a torn write
    assert j.get("ben") is None
    assert [p.name for p in (tmp_path / "results").iterdir() if p.name.startswith(".tmp")] == []
    j.forget("ann")
    assert j.get("ann") is None


def test_fingerprint_sees_content_and_names(tmp_path):
    (tmp_path / "a.ipynb").write_text("1")
    first = fingerprint(tmp_path)
    (tmp_path / "a.ipynb").write_text("2")
    second = fingerprint(tmp_path)
    (tmp_path / "a.ipynb").rename(tmp_path / "b.ipynb")
    assert len({first, second, fingerprint(tmp_path)}) == 3


# ------------------------------------------------------------------ statuses
def _test_cell(gid, points=1.0, source="check()"):
    c = new_code_cell(source)
    c.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": gid, "points": points,
                              "schema_version": 3}
    return c


def _answer(gid, source="x = 1"):
    c = new_code_cell(source)
    c.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": gid,
                              "schema_version": 3}
    return c


def _err(ename, evalue=""):
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


@pytest.fixture
def three(tmp_path):
    """A source notebook with answers a, b, c, d and tests t1..t4; writers for the rest."""
    source = new_notebook(cells=[_answer("a"), _test_cell("t1"), _answer("b"), _test_cell("t2", 2),
                                 _answer("c"), _test_cell("t3"), _answer("d"), _test_cell("t4")])
    nbformat.write(source, str(tmp_path / "source.ipynb"))
    nbformat.write(source, str(tmp_path / "submitted.ipynb"))
    return tmp_path, source


def test_statuses_from_outputs(three):
    folder, source = three
    graded = nbformat.from_dict(json.loads(nbformat.writes(source)))
    graded.cells[1].outputs = []                                                    # t1 passes
    graded.cells[2].outputs = [_err("CellTimeoutError")]                            # b times out ...
    graded.cells[3].outputs = [_err("NameError", "name 'b' is not defined")]        # ... so t2 fails
    graded.cells[5].outputs = [_err("CheckFailure", "wrong sign")]                  # t3 fails on its own
    graded.cells[6].outputs = [_err("KernelDied", "the kernel died (exit status 0)")]
    graded.cells[7].outputs = [_err("NotRun", "not run: the kernel died (exit status 0) (in code cell 7)")]
    nbformat.write(graded, str(folder / "graded.ipynb"))
    got = notebook_problems("nb", folder / "source.ipynb", folder / "submitted.ipynb", folder / "graded.ipynb",
                            {"t1": 1.0, "t2": 0.0, "t3": 0.0, "t4": 0.0}, [])
    assert [(p.grade_id, p.status) for p in got] == [("t1", "passed"), ("t2", "timed out"), ("t3", "failed"),
                                                     ("t4", "crashed")]
    assert "wrong sign" in got[2].detail
    assert [p.points for p in got] == [1.0, 2.0, 1.0, 1.0]
    events = notebook_events("nb", folder / "graded.ipynb")
    assert events == ["nb cell 3: timed out (ran past the time limit)",
                      "nb cell 7: crashed (the kernel died (exit status 0))"]


def test_statuses_for_tampering_and_missing_things(three):
    folder, source = three
    graded = nbformat.from_dict(json.loads(nbformat.writes(source)))
    nbformat.write(graded, str(folder / "graded.ipynb"))
    sub = nbformat.from_dict(json.loads(nbformat.writes(source)))
    sub.cells = [c for c in sub.cells if c.metadata["nbgrader"]["grade_id"] != "t2"]
    nbformat.write(sub, str(folder / "submitted.ipynb"))
    edited = Finding("t3", 1, "test-cell-edited", "pass", "edited")
    args = (folder / "source.ipynb", folder / "submitted.ipynb", folder / "graded.ipynb",
            {"t1": 1.0, "t2": 2.0, "t3": 1.0, "t4": 1.0})
    got = {p.grade_id: p.status for p in notebook_problems("nb", *args, [edited])}
    assert got == {"t1": "passed", "t2": "missing cell", "t3": "tampered", "t4": "passed"}
    patch = Finding("cell 1", 2, "patches-course_lib", "cl.check = None", "patches")
    assert {p.status for p in notebook_problems("nb", *args, [patch])} == {"tampered", "missing cell"}
    (folder / "submitted.ipynb").write_text("{ not json")
    assert {p.status for p in notebook_problems("nb", *args, [])} == {"unreadable"}
    (folder / "submitted.ipynb").unlink()
    missing = notebook_problems("nb", *args, [])
    assert {p.status for p in missing} == {"missing"} and sum(p.score for p in missing) == 0


def test_table_and_csv(tmp_path):
    ok = StudentResult("ann", [Problem("01", "t1", 1, 1, "passed"), Problem("02", "t2", 2, 0, "timed out")],
                       events=["02 cell 3: timed out (ran past the time limit)"])
    bad = StudentResult("ben", [Problem("01", "t1", 1, 1, "tampered")], findings=["01: cell 2 [network] x"])
    text = table([bad, ok])
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["student", "score", "passed"] and lines[2].startswith("ann")
    assert "1/3" in lines[2] and "timed out" in lines[2] and "YES" not in lines[2]
    assert "YES" in lines[3] and "FLAGGED" in lines[3]
    write_csv([ok, bad], tmp_path / "grades.csv", tmp_path / "problems.csv")
    grades = (tmp_path / "grades.csv").read_text().splitlines()
    assert grades[0] == "student,auto_score,auto_max,01,02,flagged,events,error,course_lib,released_with"
    assert grades[1].startswith("ann,1,3,1,0,,02 cell 3")
    assert len((tmp_path / "problems.csv").read_text().splitlines()) == 4


def test_course_lib_versions_in_csv_table_and_report(tmp_path):
    """The grader's course_lib version and each notebook's release version reach grades.csv,
    the table and the end-of-run report, with a warning only where they differ."""
    from course_lib.instructor.grading.summary import version_report

    same = StudentResult("ann", [Problem("01", "t1", 1, 1, "passed")], graded_with="0.2.0",
                         released_with={"01": "0.2.0", "02": "0.2.0"})
    old = StudentResult("ben", [Problem("01", "t1", 1, 1, "passed")], graded_with="0.2.0",
                        released_with={"01": "0.1.0", "02": "0.2.0"})
    unknown = StudentResult("cat", [Problem("01", "t1", 1, 0, "failed")], graded_with="0.2.0",
                            released_with={"01": ""})
    write_csv([same, old, unknown], tmp_path / "grades.csv", tmp_path / "problems.csv")
    with open(tmp_path / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert [(rows[s]["course_lib"], rows[s]["released_with"]) for s in ("ann", "ben", "cat")] == [
        ("0.2.0", "0.2.0"), ("0.2.0", "0.1.0; 0.2.0"), ("0.2.0", "unknown")]
    assert same.version_note() == "" and unknown.version_note() == ""
    assert old.version_note() == "released with course_lib 0.1.0 (01), graded with 0.2.0"
    lines = table([same, old, unknown]).splitlines()
    assert "released with course_lib 0.1.0" in lines[3] and "released with" not in lines[2] + lines[4]
    report = version_report([same, old, unknown], "0.2.0")
    assert report == ["graded with course_lib 0.2.0",
                      "WARNING: ben: released with course_lib 0.1.0 (01), graded with 0.2.0"]
    earlier = StudentResult("dan", graded_with="0.1.9", released_with={"01": "0.2.0"})
    assert "dan was graded with course_lib 0.1.9 in an earlier run" in version_report([earlier], "0.2.0")[1]
    assert StudentResult.from_dict(old.to_dict()) == old                      # the journal keeps both
    assert StudentResult.from_dict({"student": "eve"}).released_with == {}    # records of older runs still load


def test_released_versions_read_the_submitted_notebooks(tmp_path):
    from course_lib.instructor import stamp

    nb = nbformat.v4.new_notebook()
    nbformat.write(stamp.stamp(nb, "0.3.1"), str(tmp_path / "01.ipynb"))
    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "02.ipynb"))
    (tmp_path / "03.ipynb").write_text("{ broken")
    assert stamp.released_versions(tmp_path, ["01", "02", "03", "04"]) == {"01": "0.3.1", "02": "", "03": ""}


# ------------------------------------------------------------------ fingerprints
def test_snapshot_notices_changes(tmp_path):
    course = tmp_path
    (course / "source_notebooks" / "ps1").mkdir(parents=True)
    (course / "source_notebooks" / "ps1" / "01.ipynb").write_text("{}")
    (course / "submitted" / "ann" / "ps1").mkdir(parents=True)
    (course / "submitted" / "ann" / "ps1" / "01.ipynb").write_text("{}")
    (course / "nbgrader_config.py").write_text("c = 1")
    before = integrity.snapshot(course, "ps1")
    assert integrity.changed(before, integrity.snapshot(course, "ps1")) == []
    (course / "submitted" / "ann" / "ps1" / "01.ipynb").write_text("{ }")
    (course / "source_notebooks" / "ps1" / "planted.py").write_text("x")
    (course / "nbgrader_config.py").unlink()
    diffs = integrity.changed(before, integrity.snapshot(course, "ps1"))
    assert sorted(d.rsplit(" ", 1)[1] for d in diffs) == ["added", "changed", "deleted"]
    assert any(d.endswith("planted.py added") for d in diffs)
    assert any(d.endswith("submitted/ann/ps1/01.ipynb changed") for d in diffs)
    assert any(d.endswith("nbgrader_config.py deleted") for d in diffs)


def test_snapshot_cache_rehashes_only_what_was_touched(tmp_path, monkeypatch):
    sub = tmp_path / "submitted" / "ann" / "ps1"
    sub.mkdir(parents=True)
    nb = sub / "01.ipynb"
    nb.write_text("{}")
    cache: dict = {}
    before = integrity.snapshot(tmp_path, "ps1", cache=cache)
    hashed = []
    real = integrity._digest
    monkeypatch.setattr(integrity, "_digest", lambda p: hashed.append(p.name) or real(p))
    assert integrity.changed(before, integrity.snapshot(tmp_path, "ps1", cache=cache)) == [] and hashed == []
    # same size, mtime put back: the ctime still moves, so the file is hashed and the change seen
    st = nb.stat()
    nb.write_text("[]")
    os.utime(nb, ns=(st.st_atime_ns, st.st_mtime_ns))
    diffs = integrity.changed(before, integrity.snapshot(tmp_path, "ps1", cache=cache))
    assert hashed == ["01.ipynb"] and [d.rsplit(" ", 1)[1] for d in diffs] == ["changed"]


def test_snapshot_never_follows_a_link_and_changes_can_be_told_apart(tmp_path):
    course = tmp_path
    (course / "gradebook.db").write_text("1")
    ann = course / "submitted" / "ann" / "ps1"
    ann.mkdir(parents=True)
    (ann / "01.ipynb").write_text("{}")
    (ann / "gb").symlink_to("../../../gradebook.db")
    (course / "submitted" / "ben" / "ps1").mkdir(parents=True)
    (course / "submitted" / "ben" / "ps1" / "01.ipynb").write_text("{}")
    (course / "source_notebooks" / "ps1").mkdir(parents=True)
    (course / "source_notebooks" / "ps1" / "01.ipynb").write_text("{}")
    before = integrity.snapshot(course, "ps1")
    assert before[str(ann / "gb")] == "link to ../../../gradebook.db"
    (course / "gradebook.db").write_text("2")                     # what the link points at: not a change
    assert integrity.changed(before, integrity.snapshot(course, "ps1")) == []
    (ann / "01.ipynb").write_text("[]")
    (course / "source_notebooks" / "ps1" / "01.ipynb").write_text("[]")
    after = integrity.snapshot(course, "ps1")
    submitted = course / "submitted"
    assert [d.rsplit("/", 1)[1] for d in integrity.changed(before, after)] == ["01.ipynb changed"] * 2
    assert integrity.changed(before, after, outside=submitted) == [
        f"{course}/source_notebooks/ps1/01.ipynb changed"]
    assert integrity.changed(before, after, within=ann) == [f"{ann}/01.ipynb changed"]
    assert integrity.changed(before, after, within=submitted / "ben" / "ps1") == []
    assert integrity.changed(before, after, within=submitted / "an") == []  # a prefix is not a folder


# ------------------------------------------------------------------ sandbox
def test_probe_explains_why_it_cannot_confine(monkeypatch):
    sandbox.probe.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert "bubblewrap is not installed" in sandbox.probe()
    sandbox.probe.cache_clear()
    monkeypatch.setattr(sandbox.sys, "platform", "darwin")
    assert "needs Linux" in sandbox.probe()
    sandbox.probe.cache_clear()


def test_bwrap_command_line_hides_the_course(tmp_path):
    argv = sandbox.bwrap_argv(uid=60003, workdir=tmp_path / "w", work_at=Path("/course/autograded/ann/ps1"),
                              tmp=tmp_path / "t", sockets=tmp_path / "s", read_only=[Path(sys.prefix)],
                              env={"HOME": "/tmp/home"})
    text = " ".join(argv)
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv", "--no-new-privs",
                 "--reuid=60003", "--bounding-set=-all"):
        assert flag in argv or flag in text, flag
    binds = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")]
    writable = [dest for (src, dest), kind in zip(binds, [a for a in argv if a in ("--bind", "--ro-bind")])
                if kind == "--bind"]
    assert sorted(writable) == sorted(["/tmp", str(tmp_path / "s"), "/course/autograded/ann/ps1"])
    assert not any(dest in ("/", "/course", "/course/autograded") for _, dest in binds)
    assert argv[argv.index("--chdir") + 1] == "/course/autograded/ann/ps1"
    assert ["--perms", "0755", "--dir", "/course"] == argv[argv.index("/course") - 3: argv.index("/course") + 1]


def test_limits_apply_in_a_child():
    limits = sandbox.Limits(cpu_seconds=77, memory_bytes=3 << 30, processes=99, file_bytes=1 << 20)
    code = ("import resource as r; print([r.getrlimit(x)[0] for x in "
            "(r.RLIMIT_CPU, r.RLIMIT_AS, r.RLIMIT_NPROC, r.RLIMIT_FSIZE)])")
    out = subprocess.run([sys.executable, "-c", code], preexec_fn=limits.apply, capture_output=True, text=True)
    assert json.loads(out.stdout) == [77, 3 << 30, 99, 1 << 20]


# ------------------------------------------------------------------ guarded execute (no sandbox needed)
def _execute(cells: list[str], tmp_path: Path, **settings) -> nbformat.NotebookNode:
    from traitlets.config import Config

    cfg = Config()
    cfg.ConfinedKernelManager.confine = False
    cfg.ConfinedKernelManager.submission = str(tmp_path)
    cfg.GuardedExecute.kernel_manager_class = "course_lib.instructor.grading.kernel.ConfinedKernelManager"
    for k, v in settings.items():
        setattr(cfg.GuardedExecute, k, v)
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    GuardedExecute(config=cfg).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb


def _enames(nb) -> list[list[str]]:
    return [[o.get("ename") or o.get("name") for o in c.outputs] for c in nb.cells]


@pytest.mark.timeout(300)
def test_guarded_execute_kills_what_ignores_the_interrupt(tmp_path):
    nb = _execute(["print(1)", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
                   "print(2)"], tmp_path, timeout=3, interrupt_grace=2)
    assert _enames(nb) == [["stdout"], ["KernelDied"], ["NotRun"]]
    assert "ignored the interrupt" in nb.cells[1].outputs[0].evalue


@pytest.mark.timeout(300)
def test_guarded_execute_interrupts_a_plain_loop_and_goes_on(tmp_path):
    nb = _execute(["while True: pass", "print('after')"], tmp_path, timeout=3, interrupt_grace=5)
    assert _enames(nb)[0][-1] == "CellTimeoutError" and _enames(nb)[1] == ["stdout"]


@pytest.mark.timeout(300)
def test_guarded_execute_survives_os_exit_and_floods(tmp_path):
    nb = _execute(["import os; os._exit(3)", "print(1)"], tmp_path)
    assert _enames(nb) == [["KernelDied"], ["NotRun"]]
    assert "the kernel died: exited with status 3 (os._exit" in nb.cells[0].outputs[0].evalue
    assert "exited with status 3" in nb.cells[1].outputs[0].evalue
    # a flood of up to 100 MB/s: without the pause, ipykernel buffers about 1 GB between two flushes (0.2 s)
    # and the kernel may run out of address space (MemoryError) before the grader has read 5 MB of it
    nb = _execute(["print('x' * 3000)", "import time\nwhile True:\n    print('y' * 100000)\n    time.sleep(0.001)",
                   "print(1)"], tmp_path, max_cell_output=1000, max_output=5 << 20)
    assert "more bytes of output dropped" in nb.cells[0].outputs[-1].text
    assert sum(len(o.get("text", "")) for o in nb.cells[0].outputs if o.get("name") == "stdout") <= 1000
    assert _enames(nb)[1][-1] == "OutputLimitExceeded" and _enames(nb)[2] == ["NotRun"]


@pytest.mark.timeout(300)
def test_kernel_runs_in_a_private_copy(tmp_path):
    (tmp_path / "weights.pt").write_bytes(b"w")
    nb = _execute(["import os; print(sorted(os.listdir('.')), os.getcwd())", "open('junk.txt', 'w').write('x')"],
                  tmp_path)
    listing = nb.cells[0].outputs[0].text
    assert "weights.pt" in listing and str(tmp_path) not in listing
    assert not (tmp_path / "junk.txt").exists()


@pytest.mark.timeout(300)
def test_a_reply_whose_wake_up_was_lost_is_still_read(tmp_path, monkeypatch):
    """Every poll of a shell (DEALER) socket longer than 2 s here misses its wake-up,
    as a zmq.asyncio poll sometimes does while nbclient sends on the same socket: it
    sleeps through its timeout and reports nothing although the reply is waiting.
    GuardedExecute polls in 1 s steps (also on nbconvert's sync set-up path, which
    once skipped the override), so the cell still completes and is not timed out."""
    import asyncio
    from queue import Empty

    import zmq
    from jupyter_client.channels import AsyncZMQSocketChannel

    real_get_msg = AsyncZMQSocketChannel.get_msg
    lost = []

    async def lossy_get_msg(self, timeout=None):
        if self.socket.type == zmq.DEALER and (timeout is None or timeout > 2):
            lost.append(timeout)
            await asyncio.sleep(min(timeout or 30, 30))
            raise Empty
        return await real_get_msg(self, timeout=timeout)

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", lossy_get_msg)
    nb = _execute(["print(1)", "x = 2", "print(x)"], tmp_path, timeout=8, interrupt_grace=3)
    assert _enames(nb) == [["stdout"], [], ["stdout"]], _enames(nb)
    assert lost == [], f"long polls reached the socket: {lost}"


@pytest.mark.timeout(600)
def test_output_widgets_do_not_hang_cells(tmp_path):
    """Real Output widgets: nbclient answers each output they capture with a comm_msg on
    the shell socket (the sends that can cost a poll its wake-up). 60 such cells complete,
    none timed out (the lost wake-up itself is simulated in the test above)."""
    cells = ["import ipywidgets as w\nfrom IPython.display import display"]
    cells += [f"out = w.Output()\nwith out:\n    print({i})\n    display({i})\ndisplay(out)" for i in range(60)]
    nb = _execute(cells, tmp_path, timeout=20)
    assert not [i for i, names in enumerate(_enames(nb)) if "CellTimeoutError" in names]
    assert all(not any(n in ("KernelDied", "NotRun") for n in names) for names in _enames(nb))


# ------------------------------------------------------------------ why a kernel died
@pytest.mark.parametrize("status, confined, says", [
    (-9, False, "killed by signal SIGKILL (9): the kernel was killed (a signal from the student's code to every "
                "process of its user, the out-of-memory killer, or the CPU-time limit of 900 s)"),
    (137, True, "killed by signal SIGKILL (9)"),
    (137, False, "exited with status 137"),
    (139, True, "killed by signal SIGSEGV (11): a crash in native code"),
    (134, True, "killed by signal SIGABRT (6): it aborted"),
    (152, True, "killed by signal SIGXCPU (24): it hit the CPU-time limit of 900 s"),
    (-15, False, "killed by signal SIGTERM (15): a signal from the student's code"),
    (3, True, "exited with status 3 (os._exit or sys.exit in the student's code, or a fatal error in Python)"),
    (0, False, "exited with status 0 (os._exit or sys.exit in the student's code)"),
])
def test_death_cause(status, confined, says):
    from course_lib.instructor.grading.execute import death_cause

    text = death_cause(status, confined=confined, cpu_seconds=900)
    assert text.startswith("the kernel died: ") and says in text, text


def test_death_cause_unknown():
    from course_lib.instructor.grading.execute import UNKNOWN_DEATH, death_cause

    assert death_cause(None) == UNKNOWN_DEATH


@pytest.mark.skipif(sandbox.probe() is not None, reason="needs bubblewrap")
def test_bubblewrap_passes_on_how_the_kernel_died(tmp_path):
    """Measured: bubblewrap exits with the confined process's status, or 128 + N when it died
    of signal N (what death_cause decodes)."""
    from course_lib.instructor.grading.execute import death_cause

    for sub in ("work", "tmp", "sock"):
        (tmp_path / sub).mkdir()
    sandbox.chown_tree(tmp_path, sandbox.UID_BASE + 9)
    argv = sandbox.bwrap_argv(uid=sandbox.UID_BASE + 9, workdir=tmp_path / "work", work_at=tmp_path / "work",
                              tmp=tmp_path / "tmp", sockets=tmp_path / "sock", read_only=sandbox.read_only_paths(),
                              env={"PATH": "/usr/bin"})
    got = {}
    for code in ("import os; os._exit(3)", "import os; os.kill(os.getpid(), 9)", "import os; os.abort()"):
        got[code] = subprocess.run([*argv, sys.executable, "-c", code], capture_output=True, timeout=60).returncode
    assert list(got.values()) == [3, 137, 134]
    assert [death_cause(c, confined=True).split(": ")[1] for c in got.values()] == [
        "exited with status 3 (os._exit or sys.exit in the student's code, or a fatal error in Python)",
        "killed by signal SIGKILL (9)", "killed by signal SIGABRT (6)"]


def test_process_limit_is_an_event(tmp_path):
    nb = new_notebook(cells=[new_code_cell("t = start()"), new_code_cell("os.fork()"), new_code_cell("1")])
    nb.cells[0].outputs = [_err("RuntimeError", "can't start new thread")]
    nb.cells[1].outputs = [_err("BlockingIOError", "[Errno 11] Resource temporarily unavailable")]
    nbformat.write(nb, str(tmp_path / "g.ipynb"))
    assert notebook_events("nb", tmp_path / "g.ipynb") == [
        "nb cell 1: hit the process limit (RuntimeError: can't start new thread)",
        "nb cell 2: hit the process limit (BlockingIOError: [Errno 11] Resource temporarily unavailable)"]


def test_the_kernels_sockets_retry_connecting_every_few_milliseconds():
    """The grader connects to a forked kernel before it has bound its sockets: with ZeroMQ's
    default (a new try every 100 ms) each notebook waited 50 to 140 ms for nothing."""
    import zmq

    from course_lib.instructor.grading.kernel import RECONNECT_MS, ConfinedKernelManager

    km = ConfinedKernelManager(confine=False)
    kc = km.client()
    assert RECONNECT_MS <= 10
    for context in (km.context, kc.context):
        sock = context.socket(zmq.DEALER)
        try:
            assert sock.getsockopt(zmq.RECONNECT_IVL) == RECONNECT_MS
        finally:
            sock.close(linger=0)
    assert zmq.Context().socket(zmq.DEALER).getsockopt(zmq.RECONNECT_IVL) == 100  # no other context changed
