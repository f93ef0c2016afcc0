"""Partial credit (``course_lib.checks.partial.earn``) and how nbgrader scores it."""
from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_output
from nbgrader.utils import determine_grade

from course_lib.checks import CheckFailure, NotImplementedYet
from course_lib.checks.partial import earn


def _ok():
    return None


def _wrong(message="wrong"):
    def run():
        raise CheckFailure(message)
    return run


def _graded(value: float, points: float = 8):
    cell = new_code_cell("points", outputs=[new_output("execute_result", data={"text/plain": repr(value)},
                                                       execution_count=1)])
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": points, "grade_id": "t"}
    return determine_grade(cell)


def test_each_case_earns_its_share_and_says_which_failed(capsys):
    earned = earn("matmul", 8, [(f"{n}x{n}", _ok if n != 3 else _wrong("3x3 is off by one")) for n in range(1, 5)])
    out = capsys.readouterr().out
    assert earned == 6.0 and "FAILED: matmul: 3x3: 3x3 is off by one" in out
    assert "PARTLY PASSED: matmul: 3 of 4 cases, 6 of 8 points" in out
    assert _graded(earned) == (6.0, 8.0)


def test_all_passed_earns_every_point(capsys):
    assert earn("mul", 2, [("a", _ok), ("b", _ok), ("c", _ok)]) == 2.0
    assert "PASSED: mul: 3 of 3 cases, 2 of 2 points" in capsys.readouterr().out
    assert _graded(2.0, 2) == (2.0, 2.0)


def test_nothing_passed_is_an_error_that_scores_zero():
    with pytest.raises(CheckFailure, match="first"):
        earn("mul", 2, [("a", _wrong("first")), ("b", _wrong("second"))])


def test_not_implemented_stops_at_once():
    ran = []
    with pytest.raises(NotImplementedYet):
        earn("mul", 2, [("a", _ok), ("b", lambda: (_ for _ in ()).throw(NotImplementedYet("not yet"))),
                        ("c", lambda: ran.append(1))])
    assert not ran


def test_thirds_are_rounded_to_two_decimals():
    assert earn("x", 1, [("a", _ok), ("b", _wrong()), ("c", _wrong())]) == 0.33
