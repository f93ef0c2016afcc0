"""release/ps1 is what nbgrader makes of source_notebooks/ps1, and leaks nothing.

No kernel is started here: these tests read the notebooks' JSON.
"""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

import nbformat
import pytest

import nbrun
from course_lib.instructor import nbmeta
from course_lib.instructor.release import build_release

SOURCES = nbrun.source_notebooks()
RELEASES = nbrun.release_notebooks()
COURSE_LIB = Path(nbmeta.__file__).resolve().parents[1]
STALE = "release/ is stale: run `make release`"
DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
              "BEGIN MARK SCHEME", "END MARK SCHEME")
TRIVIAL = {"pass", "return", "else:", "try:", "finally:", "break", "continue", "return None",
           "with torch.no_grad():"}


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

def _trivial(line: str) -> bool:
    """Too generic to count as a leak: short, a keyword, punctuation, a bare
    call without arguments (``L.backward()`` is also how an oracle runs torch),
    or a bare loop header (``for _ in range(steps):``, ``for p in model.parameters():``)."""
    s = line.strip()
    return (len(s) < 12 or s in TRIVIAL or all(ch in string.punctuation for ch in s)
            or re.fullmatch(r"[\w.]+\(\)", s) is not None
            or re.fullmatch(r"for \w+ in (range\(\w+\)|[\w.]+\(\)):", s) is not None)


def _secret_lines() -> dict[str, str]:
    """Stripped lines of solution and hidden-test regions -> where they come from;
    trivial lines and lines that also appear outside the regions are left out."""
    secret: dict[str, str] = {}
    public: set[str] = set()
    for path in SOURCES:
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            public.update(line.strip() for line in nbmeta.outside_region_lines(cell))
            where = f"{path.name} {nbrun.describe(nb, i)}"
            for kind, lines in (("solution", nbmeta.solution_lines(cell)),
                                ("hidden test", nbmeta.hidden_test_lines(cell))):
                for line in lines:
                    if not _trivial(line):
                        secret.setdefault(line.strip(), f"{kind} in {where}")
    return {line: where for line, where in secret.items() if line not in public}


def _text_lines(path: Path) -> list[tuple[str, str]]:
    """(stripped line, location) of a text file; a notebook's cells are read
    from its JSON, so escaped text is compared as the student sees it."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(str(path), as_version=4)
        return [
            (line.strip(), f"{nbrun.describe(nb, i)}")
            for i, cell in enumerate(nb.cells)
            for line in nbmeta.source_lines(cell)
        ]
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []  # binary
    return [(line.strip(), f"line {n}") for n, line in enumerate(text.splitlines(), 1)]


def test_no_solution_or_hidden_test_line_is_published():
    secret = _secret_lines()
    leaks = []
    for folder in (nbrun.RELEASE_DIR.parent, COURSE_LIB):
        for rel, path in sorted(_files(folder).items()):
            for line, where in _text_lines(path):
                if line in secret:
                    leaks.append(f"{_show(path)} {where}: {line!r} ({secret[line]})")
    assert not leaks, "solution or hidden-test lines are published:\n" + "\n".join(leaks[:30])


def test_no_delimiters_in_release():
    found = [
        f"{_show(path)} {where}: {line!r}"
        for rel, path in sorted(_files(nbrun.RELEASE_DIR.parent).items())
        for line, where in _text_lines(path)
        if any(d in line for d in DELIMITERS)
    ]
    assert not found, "nbgrader delimiters in release/:\n" + "\n".join(found)


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
