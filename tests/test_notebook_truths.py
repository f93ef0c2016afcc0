"""The truths every notebook keeps, run in a Jupyter kernel (nbclient):

(a) the source notebook, solutions in, runs top to bottom with no error;
(b) the blank release notebook fails EVERY autograded test cell (a test that
    passes on a blank notebook asserts nothing);
(c) the release notebook with the solutions filled in (what a student with
    the right answers submits) passes every test cell and raises nowhere.

(The third truth, full marks and zero under `nbgrader autograde`, is in
test_nbgrader_e2e.py.) Each notebook version is executed once per session.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import nbrun
from course_lib import nbmeta

pytestmark = pytest.mark.timeout(1800)  # whole notebooks; CI has 90 minutes in all


def _errors(nb) -> list[str]:
    return [
        f"{nbrun.describe(nb, i)}: {err}"
        for i, cell in enumerate(nb.cells)
        if (err := nbrun.error_of(cell)) and not nbrun.expects_error(cell)
    ]


@pytest.mark.parametrize("path", nbrun.params(nbrun.source_notebooks()))
def test_source_notebook_runs_without_error(path: Path, runs):
    errors = _errors(runs("source", path.name))
    assert not errors, (
        f"source_notebooks/{nbrun.ASSIGNMENT}/{path.name} with its solutions raises in "
        + "; ".join(errors)
    )


@pytest.mark.parametrize("path", nbrun.params(nbrun.release_notebooks()))
def test_blank_release_fails_every_test_cell(path: Path, runs):
    nb = runs("blank", path.name)
    tests = [i for i, cell in enumerate(nb.cells) if nbmeta.is_autograded_test(cell)]
    assert tests, f"{path.name} has no autograded test cell"
    passed = [nbrun.describe(nb, i) for i in tests if nbrun.error_of(nb.cells[i]) is None]
    assert not passed, (
        f"release/{nbrun.ASSIGNMENT}/{path.name}: these test cells PASS on the blank notebook, "
        f"so they assert nothing about the student's work: {', '.join(passed)}"
    )


@pytest.mark.parametrize("path", nbrun.params(nbrun.release_notebooks()))
def test_solution_filled_release_passes_every_test_cell(path: Path, runs):
    nb = runs("solved", path.name)
    errors = _errors(nb)
    assert not errors, (
        f"release/{nbrun.ASSIGNMENT}/{path.name} with the source's solutions filled in "
        "(visible checks only) raises in " + "; ".join(errors)
    )


@pytest.mark.parametrize("path", nbrun.params(nbrun.source_notebooks()))
def test_a_test_cell_that_shows_a_value_shows_its_full_points(path: Path, runs):
    """nbgrader takes a number that a test cell's last line evaluates to as that cell's (partial)
    score: on the solution every such number is the cell's full points (a check that returned 0.95
    would cost points), and a cell showing something that is not a number shows nothing at all."""
    nb = runs("source", path.name)
    wrong = []
    for i, cell in enumerate(nb.cells):
        shown = [out for out in cell.get("outputs", []) if out.get("output_type") == "execute_result"]
        if not nbmeta.is_autograded_test(cell) or not shown:
            continue
        text = shown[0].get("data", {}).get("text/plain", "")
        points = float(nbmeta.nbgrader(cell)["points"])
        try:
            ok = float(text) == points
        except ValueError:
            ok = False
        if not ok:
            wrong.append(f"{nbrun.describe(nb, i)} shows {text!r}, not its {points:g} points")
    assert not wrong, f"{path.name}: {wrong}"
