"""release/ps1 is what nbgrader makes of source_notebooks/ps1, and leaks nothing.

No kernel is started here: these tests read the notebooks' JSON.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import nbrun
from course_lib import nbmeta
from course_lib.instructor import leaks
from course_lib.instructor.release import build_release

SOURCES = nbrun.source_notebooks()
RELEASES = nbrun.release_notebooks()
COURSE_LIB = Path(nbmeta.__file__).resolve().parents[1]
STALE = "release/ is stale: run `make release`"


def _files(folder: Path) -> dict[Path, Path]:
    """Files under ``folder`` by relative path, editor/cache litter left out."""
    litter = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
    return {
        p.relative_to(folder): p
        for p in folder.rglob("*")
        if p.is_file() and not litter & set(p.relative_to(folder).parts) and p.suffix != ".pyc"
    }


def _show(path: Path) -> str:
    return str(path.relative_to(nbrun.ROOT)) if path.is_relative_to(nbrun.ROOT) else str(path)


def _cell_diff(a: Path, b: Path) -> str:
    nb_a, nb_b = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
    if len(nb_a["cells"]) != len(nb_b["cells"]):
        return f"{len(nb_a['cells'])} cells committed, {len(nb_b['cells'])} regenerated"
    cells = [i for i, (x, y) in enumerate(zip(nb_a["cells"], nb_b["cells"])) if x != y]
    if cells:
        return f"cells {cells} differ"
    return "notebook metadata differs" if nb_a != nb_b else "same JSON, different bytes"


def test_there_are_notebooks():
    assert SOURCES, f"no notebooks in {nbrun.SOURCE_DIR}"


def test_release_is_up_to_date(tmp_path: Path):
    if not SOURCES:
        pytest.skip("no source notebooks yet")
    build_release(nbrun.SOURCE_DIR, tmp_path / nbrun.ASSIGNMENT, nbrun.ROOT / "nbgrader_config.py")
    want, have = _files(tmp_path / nbrun.ASSIGNMENT), _files(nbrun.RELEASE_DIR)
    problems = [f"missing {p}" for p in sorted(want.keys() - have.keys())]
    problems += [f"extra {p}" for p in sorted(have.keys() - want.keys())]
    for rel in sorted(want.keys() & have.keys()):
        if want[rel].read_bytes() != have[rel].read_bytes():
            detail = _cell_diff(have[rel], want[rel]) if rel.suffix == ".ipynb" else "bytes differ"
            problems.append(f"{rel}: {detail}")
    assert not problems, f"{STALE} ({'; '.join(problems)})"


# --- nothing secret leaves the source --------------------------------------------
# The scan is course_lib.instructor.leaks: the same one the wheel and the student kit get.

def test_no_solution_or_hidden_test_line_is_published():
    secret = leaks.secret_lines(SOURCES)
    assert secret, "no secret lines found in the source notebooks: the scan would assert nothing"
    found = [f"{_show(folder)}/{leak}" for folder in (nbrun.RELEASE_DIR.parent, COURSE_LIB)
             for leak in leaks.scan(leaks.folder_files(folder), secret, delimiters_in=())]
    assert not found, "solution or hidden-test lines are published:\n" + "\n".join(found[:30])


def test_no_delimiters_in_release():
    found = [f"{_show(nbrun.RELEASE_DIR)}/{leak}"
             for leak in leaks.scan(leaks.folder_files(nbrun.RELEASE_DIR), {}, delimiters_in=("",))]
    assert not found, "nbgrader delimiters in release/:\n" + "\n".join(found)


def test_the_scan_finds_a_planted_leak(tmp_path: Path):
    """The scan can fail: a solution line and a delimiter copied into a published folder are found."""
    secret = leaks.secret_lines(SOURCES)
    line = max(secret, key=len)
    (tmp_path / "notes.py").write_text(f"# harmless\n    {line}\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nx = 1")])
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    found = leaks.scan(leaks.folder_files(tmp_path), secret)
    assert any(f.startswith("notes.py line 2:") and secret[line] in f for f in found), found
    assert any(f.startswith("x.ipynb cell 0") and "nbgrader delimiter" in f for f in found), found


# --- committed notebooks are clean -------------------------------------------------

@pytest.mark.parametrize("path", nbrun.params(SOURCES) + nbrun.params(RELEASES))
def test_no_outputs_no_execution_counts(path: Path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        f"cell {i}" for i, cell in enumerate(raw["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (f"{_show(path)} is committed with outputs or execution "
                       f"counts in {', '.join(dirty)}: clear them (and run `make release`)")


@pytest.mark.parametrize("path", nbrun.params(RELEASES))
def test_release_notebook_has_an_autograded_test(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    assert any(nbmeta.is_autograded_test(c) for c in nb.cells), f"{path.name} has no autograded test cell"


@pytest.mark.parametrize("path", nbrun.params(SOURCES))
def test_code_solution_cells_have_a_solution_region(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    bare = [nbrun.describe(nb, i) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and nbmeta.is_solution(c) and not nbmeta.has_solution_region(c)]
    assert not bare, (f"{path.name}: code solution cells without ### BEGIN SOLUTION: {', '.join(bare)} "
                      "(nbgrader would blank the whole cell, pre-assigned answers included)")


@pytest.mark.parametrize("path", nbrun.params(SOURCES))
def test_cell_metadata_follows_the_conventions(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    ids = [nbmeta.grade_id(c) for c in nb.cells if nbmeta.grade_id(c)]
    problems = [f"grade_id {g!r} repeated" for g in sorted({g for g in ids if ids.count(g) > 1})]
    for i, c in enumerate(nb.cells):
        name = nbrun.describe(nb, i)
        if nbmeta.is_autograded_test(c) and not (nbmeta.is_locked(c) and nbmeta.points(c) > 0):
            problems.append(f"{name}: an autograded test cell must be locked with points > 0")
        if nbmeta.is_solution(c) and nbmeta.is_locked(c):
            problems.append(f"{name}: a solution cell must not be locked")
        if nbmeta.is_manual_answer(c) and not nbmeta.points(c) > 0:
            problems.append(f"{name}: a written answer needs points > 0")
        if (nbmeta.hidden_test_lines(c) or nbmeta.has_solution_region(c)) and not (
                nbmeta.is_grade(c) or nbmeta.is_solution(c)):
            problems.append(f"{name}: a region in a cell nbgrader does not manage")
    assert not problems, f"{path.name}: " + "; ".join(problems)
