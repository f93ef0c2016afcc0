"""The student command (``course-submit`` / ``course_lib.submit()``): what goes into the
zip, what is refused, and what the validator reports.

Most tests write the zip without running the notebooks (``validate=False``);
the validator tests run notebook 01 (a few seconds each) in a fresh kernel
under nbgrader's ``Validator``; one slow test runs the console script on a whole
solved assignment, as a student would before handing in.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

import nbrun
from course_lib import nbmeta
from course_lib.instructor.release import blank, solution_filled
from course_lib.data.saved_mlp import MAX_FILE_MB, save_mlp
from course_lib.student import ASSIGNMENTS, SubmitError, get_assignment
from course_lib.student.assignment import PS1
from course_lib.student.bundle import safe_student_id, zip_name
from course_lib.student.submit import main, submit
from course_lib.student.validate import validate_notebook

NB01 = "01_hand_gradients.ipynb"


# --------------------------------------------------------------------------
# the assignment's manifest agrees with the notebooks
# --------------------------------------------------------------------------
def test_the_manifest_lists_exactly_the_release_notebooks():
    assert list(PS1.notebooks) == [p.name for p in nbrun.release_notebooks()]


_SAVED_NAME = re.compile(r"""["']([\w.-]+\.(?:pt|pth|ckpt|npz|npy|pkl|png|jpe?g|gif|csv))["']""")


@pytest.mark.parametrize("path", nbrun.params(nbrun.release_notebooks()))
def test_every_file_a_notebook_names_is_a_declared_artifact(path):
    """A notebook that saves a file for the grader must list it in course_lib.student.assignment,
    or course-submit would leave it out of the zip."""
    nb = nbformat.read(path, as_version=4)
    named = {m for c in nb.cells if c.cell_type == "code" for m in _SAVED_NAME.findall(c.source)}
    declared = {a.name for a in PS1.artifacts if a.notebook == path.name}
    assert named == declared, f"{path.name} names {sorted(named)}; declared artifacts: {sorted(declared)}"


def test_the_weights_limit_is_the_loaders():
    (weights,) = PS1.artifacts
    assert weights.max_mb == MAX_FILE_MB


def test_an_unknown_assignment_is_refused():
    with pytest.raises(SubmitError, match="unknown assignment 'ps9'.*ps1"):
        get_assignment("ps9")
    assert set(ASSIGNMENTS) == {"ps1"}


# --------------------------------------------------------------------------
# a student's folder
# --------------------------------------------------------------------------
def _weights(path: Path) -> Path:
    """A small MLP saved the way notebook 03 saves it."""
    torch.manual_seed(0)
    return save_mlp(nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)), path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``home/ps1/``: the seven release notebooks, the weights, and the litter a laptop collects."""
    ps1 = tmp_path / "home" / "ps1"
    ps1.mkdir(parents=True)
    for path in nbrun.release_notebooks():
        shutil.copy(path, ps1 / path.name)
    _weights(ps1 / "fashion_mlp.pt")
    litter = {".ipynb_checkpoints/01_hand_gradients-checkpoint.ipynb": b"{}", "__pycache__/x.cpython-311.pyc": b"x",
              "data/FashionMNIST/raw/train-images-idx3-ubyte": os.urandom(4096), "notes.txt": b"todo",
              "old_model.pt": b"not needed", "ada_ps1.zip": b"an old zip"}
    for name, data in litter.items():
        (ps1 / name).parent.mkdir(parents=True, exist_ok=True)
        (ps1 / name).write_bytes(data)
    return ps1


def test_the_zip_holds_exactly_the_notebooks_and_the_weights(folder, tmp_path):
    out = tmp_path / "out"
    result = submit("ada", folder, validate=False, out_dir=out, progress=False, echo=lambda *_: None)
    assert result.zip_path == out / "ada_ps1.zip" and result.exit_status == 0
    with zipfile.ZipFile(result.zip_path) as zf:
        names = zf.namelist()
        assert names == [f"ps1/{n}" for n in PS1.notebooks] + ["ps1/fashion_mlp.pt"]
        for name in names:  # byte for byte what the student saved
            assert zf.read(name) == (folder / name.split("/", 1)[1]).read_bytes(), name
    assert not list(out.glob(".submit-*")), "a temporary file was left behind"


def test_the_grader_unpacks_the_zip_into_submitted_student_ps1(folder, tmp_path):
    """course-grade's reader of LMS zips (course_lib.instructor.grading.submissions) gets the same files back."""
    from course_lib.instructor.grading.submissions import collect

    export = tmp_path / "lms-export"
    submit("Ada Lovelace", folder, validate=False, out_dir=export, progress=False, echo=lambda *_: None)
    course = tmp_path / "course"
    students, problems = collect(export, course, "ps1")
    assert (students, problems) == (["Ada_Lovelace"], {})
    got = sorted(p.name for p in (course / "submitted" / "Ada_Lovelace" / "ps1").iterdir())
    assert got == sorted([*PS1.notebooks, "fashion_mlp.pt"])


def test_a_folder_holding_ps1_is_found(folder, tmp_path):
    result = submit("ada", folder.parent, validate=False, out_dir=tmp_path, progress=False, echo=lambda *_: None)
    assert result.folder == folder


@pytest.mark.parametrize("given, expected", [("ada", "ada"), ("Ada Lovelace", "Ada_Lovelace"),
                                             ("s1234567@uni.edu", "s1234567@uni.edu"),
                                             ("../../etc/passwd", "etc_passwd"), ("  éva  ", "va")])
def test_student_ids_are_safe_file_names_the_grader_reads_back(given, expected):
    from course_lib.instructor.grading.submissions import student_id

    assert safe_student_id(given) == expected
    assert student_id(zip_name(given, "ps1"), "ps1") == expected


def test_no_student_id_is_refused(folder, tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_STUDENT_ID", raising=False)
    with pytest.raises(SubmitError, match="Give your student id"):
        submit(None, folder, validate=False, out_dir=tmp_path)
    with pytest.raises(SubmitError, match="cannot be a student id"):
        submit("../..", folder, validate=False, out_dir=tmp_path)
    monkeypatch.setenv("COURSE_STUDENT_ID", "bob")
    assert submit(None, folder, validate=False, out_dir=tmp_path, echo=lambda *_: None).zip_path.name == "bob_ps1.zip"


# --------------------------------------------------------------------------
# refusals: nothing is written
# --------------------------------------------------------------------------
def _refused(folder: Path, out: Path, capsys) -> str:
    status = main([str(folder), "--student", "ada", "--out", str(out), "--no-validate"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert not out.exists() or not list(out.iterdir()), "a refused submission wrote something"
    return err


def test_a_corrupt_notebook_is_refused_with_its_name_and_why(folder, tmp_path, capsys):
    (folder / "02_autograd.ipynb").write_text('{"cells": [ {"cell_type": "code", "source": "x = ', encoding="utf-8")
    err = _refused(folder, tmp_path / "out", capsys)
    assert "02_autograd.ipynb is not a notebook: it is not valid JSON" in err
    assert "take a fresh copy of 02_autograd.ipynb from the release" in err


def test_a_notebook_that_lost_its_nbgrader_cells_is_refused(folder, tmp_path, capsys):
    nb = nbformat.read(folder / NB01, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    nbformat.write(nb, folder / NB01)
    err = _refused(folder, tmp_path / "out", capsys)
    assert "01_hand_gradients.ipynb has lost its nbgrader cells" in err


def test_a_missing_notebook_is_refused(folder, tmp_path, capsys):
    (folder / "05_gpu.ipynb").rename(folder / "05_gpu (1).ipynb")
    err = _refused(folder, tmp_path / "out", capsys)
    assert "missing: 05_gpu.ipynb" in err and "under its own name" in err


def test_a_folder_that_is_not_there_is_refused(tmp_path, capsys):
    err = _refused(tmp_path / "nowhere", tmp_path / "out", capsys)
    assert "nowhere is not a folder" in err


# --------------------------------------------------------------------------
# artifacts: warned about, left out, the zip still written
# --------------------------------------------------------------------------
def test_missing_weights_are_named_with_how_to_make_them(folder, tmp_path, capsys):
    (folder / "fashion_mlp.pt").unlink()
    status = main([str(folder), "--student", "ada", "--out", str(tmp_path), "--no-validate"])
    out = capsys.readouterr().out
    assert status == 1
    assert "fashion_mlp.pt is MISSING" in out and "run the training cells of 03_mlp.ipynb" in out
    with zipfile.ZipFile(tmp_path / "ada_ps1.zip") as zf:
        assert zf.namelist() == [f"ps1/{n}" for n in PS1.notebooks]


def test_weights_that_cannot_be_rebuilt_are_left_out(folder, tmp_path):
    torch.save({"model": nn.Linear(784, 10)}, folder / "fashion_mlp.pt")  # a pickled module, not save_mlp's file
    lines: list[str] = []
    result = submit("ada", folder, validate=False, out_dir=tmp_path, echo=lines.append)
    (report,) = result.artifacts
    assert report.status == "unreadable" and "save_mlp" in report.detail
    assert result.exit_status == 1 and "ps1/fashion_mlp.pt" not in result.members()
    assert any("fashion_mlp.pt is UNREADABLE" in line for line in lines)


def test_oversized_weights_are_left_out(folder, tmp_path, monkeypatch):
    from dataclasses import replace

    small = replace(PS1, artifacts=(replace(PS1.artifacts[0], max_mb=0.001),))
    monkeypatch.setitem(ASSIGNMENTS, "ps1", small)
    result = submit("ada", folder, validate=False, out_dir=tmp_path, echo=lambda *_: None)
    (report,) = result.artifacts
    assert report.status == "too large" and "more than the 0 MB" in report.detail
    assert "ps1/fashion_mlp.pt" not in result.members()


# --------------------------------------------------------------------------
# the validator: nbgrader's, run on notebook 01 in a fresh kernel
# --------------------------------------------------------------------------
def _write(nb, folder: Path) -> Path:
    nbrun.write(nb, folder / NB01)
    return folder / NB01


def test_a_solved_notebook_passes(tmp_path):
    report = validate_notebook(_write(solution_filled(nbrun.RELEASE_DIR / NB01, nbrun.SOURCE_DIR / NB01), tmp_path))
    assert (report.status, report.problems, report.n_tests) == ("passed", [], 4), report.lines()
    assert report.summary().startswith("PASSED: 4 of 4 autograded tests pass")


def test_a_blank_notebook_names_every_failing_check_and_empty_answer(tmp_path):
    report = validate_notebook(_write(blank(nbrun.RELEASE_DIR / NB01), tmp_path))
    assert report.status == "failed"
    failed = {p.grade_id: p.message for p in report.problems if p.kind == "failed"}
    assert set(failed) == {"test_a", "test_b", "test_c", "test_d"}
    assert failed["test_a"].startswith("dL_dw3 is still None: not answered yet")
    empty = [p.grade_id for p in report.problems if p.kind == "unanswered"]
    assert empty == ["a_expression", "b_expression", "d_analysis"]
    assert "0 of 4 autograded tests pass; 3 written answer(s) empty" in report.summary()
    assert "test_c (4 pt): w1_new is still None" in "\n".join(report.lines())


def test_an_edited_test_cell_is_reported_as_not_counting(tmp_path):
    nb = blank(nbrun.RELEASE_DIR / NB01)
    test_a = next(c for c in nb.cells if nbmeta.grade_id(c) == "test_a")
    test_a.source = "pass  # a test that cannot fail"
    report = validate_notebook(_write(nb, tmp_path))
    assert report.status == "edited"
    (edit,) = [p for p in report.problems if p.kind == "edited"]
    assert edit.grade_id == "test_a" and "the grader puts the original back" in edit.line()


def test_a_corrupt_notebook_is_reported_not_run(tmp_path):
    (tmp_path / NB01).write_text("not json", encoding="utf-8")
    report = validate_notebook(tmp_path / NB01)
    assert report.refused and report.status == "corrupt" and "not valid JSON" in report.detail


# --------------------------------------------------------------------------
# the console script on a whole assignment, as a student runs it
# --------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_course_submit_on_a_solved_assignment(runs, tmp_path):
    script = nbrun.VENV_BIN / "course-submit"
    if not script.is_file():
        pytest.fail("the console script course-submit is not installed: run scripts/setup.sh (pip install -e .)")
    folder = tmp_path / "ps1"
    folder.mkdir()
    for path in nbrun.release_notebooks():
        nbrun.write(solution_filled(path, nbrun.SOURCE_DIR / path.name), folder / path.name)
    (weights,) = [p for p in runs.artifacts("source", "03_mlp.ipynb") if p.name == "fashion_mlp.pt"]
    shutil.copy(weights, folder / weights.name)
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    proc = subprocess.run([str(script), "ps1", "--student", "ada"], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1700)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    for name in PS1.notebooks:
        assert re.search(rf"{re.escape(name)}: PASSED: (\d+) of \1 autograded tests pass", proc.stdout), proc.stdout
    with zipfile.ZipFile(tmp_path / "ada_ps1.zip") as zf:
        assert zf.namelist() == [f"ps1/{n}" for n in PS1.notebooks] + ["ps1/fashion_mlp.pt"]
