"""Partial credit and per-student hidden inputs, through ``course-grade`` (nbgrader autograde inside).

A course of notebook 02. Three students: one with the solution, and two ("ann", "ben") with the
same slip: ``__rsub__`` computes ``self - other``. The slip costs only the cases of ``check_sub``
that use ``2.0 - a``; every other check passes.

- the solution earns full marks; ann's ``test_sub`` earns exactly the fraction that the check
  computes in-process on her hidden inputs (nbgrader's partial-credit rule, through the signed
  verdict), and every other test full marks;
- ann and ben meet different hidden inputs (their hidden failure messages differ), and ann meets
  the same ones again when regraded.
"""
from __future__ import annotations

import re

import nbformat
import pytest

import grading_course as G
from course_lib.checks import autograd as A
from course_lib.checks import seeds
from course_lib import nbmeta
from course_lib.instructor.grading import sandbox
from engines import variant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
needs_bwrap = pytest.mark.skipif(sandbox.probe() is not None, reason=f"no confinement here: {sandbox.probe()}")
NB = "02_autograd.ipynb"
SLIP = "\n\ndef __rsub__(self, other):  # the slip: self - other\n    return self + (-Value.lift(other))\n\n" \
       "Value.__rsub__ = __rsub__"


def rsub_slip(self, other):
    return self + (-self.lift(other))


def _with_slip(root):
    from course_lib.instructor.release import solution_filled

    nb = solution_filled(root / "release" / "ps1" / NB, root / "source_notebooks" / "ps1" / NB)
    cell = next(c for c in nb.cells if nbmeta.grade_id(c) == "sub")
    cell.source += SLIP
    return nb


def _sub_output(root, student) -> str:
    nb = nbformat.read(root / "autograded" / student / "ps1" / NB, as_version=4)
    cell = next(c for c in nb.cells if nbmeta.grade_id(c) == "test_sub")
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from course_lib.instructor.release import solution_filled

    root = G.make_course(tmp_path_factory.mktemp("partial"), NB)
    G.submit(root, "solved", solution_filled(root / "release" / "ps1" / NB, root / "source_notebooks" / "ps1" / NB),
             notebook=NB)
    for student in ("ann", "ben"):
        G.submit(root, student, _with_slip(root), notebook=NB)
    proc = G.course_grade(root, "submitted", "--jobs", "2")
    first = {s: (G.scores(r), _sub_output(root, s)) for s, r in G.results(root).items()}
    again = G.course_grade(root, "submitted", "--student", "ann", "--regrade")
    return {"root": root, "proc": proc, "again": again, "first": first,
            "second": (G.scores(G.results(root)["ann"]), _sub_output(root, "ann"))}


def _expected_sub_points(root, student: str) -> float:
    """What check_sub earns for the slip on the student's visible and hidden inputs, in-process."""
    salt = (root / "grading" / "ps1" / "hidden_seed_salt").read_text().strip()
    Value = variant(__rsub__=rsub_slip)
    seeds.HIDDEN_SEED = seeds.student_seed(salt, "ps1", student)
    try:
        hidden = A.check_sub(Value, seed=seeds.hidden_seed(2026), hard=True, points=1)
    finally:
        seeds.HIDDEN_SEED = None
    return min(A.check_sub(Value, points=1), hidden)


@needs_bwrap
def test_the_solution_earns_full_marks(graded):
    assert graded["proc"].returncode == 0, graded["proc"].stderr[-3000:]
    scores, _ = graded["first"]["solved"]
    assert scores and all(v > 0 for v in scores.values()), scores


@needs_bwrap
def test_a_slip_costs_only_its_cases(graded):
    scores, output = graded["first"]["ann"]
    want = _expected_sub_points(graded["root"], "ann")
    assert 0 < want < 1
    assert scores[f"{NB[:-6]}/test_sub"] == pytest.approx(want), (scores, output)
    solved, _ = graded["first"]["solved"]
    assert {k: v for k, v in scores.items() if not k.endswith("test_sub")} == \
        {k: v for k, v in solved.items() if not k.endswith("test_sub")}
    assert "FAILED: Value.__sub__ / __rsub__: for c = 2.0 - a" in output and "PARTLY PASSED" in output


@needs_bwrap
def test_two_students_meet_different_hidden_inputs_and_a_regrade_the_same(graded):
    ann, ben = graded["first"]["ann"][1], graded["first"]["ben"][1]
    numbers = lambda text: re.findall(r"a=(-?\d+\.\d+)", text)  # noqa: E731
    assert numbers(ann) != numbers(ben), "the hidden cases should differ between students"
    assert graded["again"].returncode == 0, graded["again"].stderr[-2000:]
    assert graded["second"] == graded["first"]["ann"], "a regrade should meet the same hidden inputs"
