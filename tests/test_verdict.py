"""The grader's side of the signed test-cell verdict (``course_lib.instructor.grading.verdict``).

The kernel's side (the audit hook that signs, :func:`verdict.run`) runs in a real
guarded kernel in ``test_guard.py``, and end to end, against attacks that hide a
failure from nbgrader, in ``test_grading_guard_attacks.py``.
"""
from __future__ import annotations

import hmac

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

from course_lib.instructor.grading import verdict

KEY = b"k" * 32


def _line(seq: int, cell: int, status: str, value: str = "-", key: bytes = KEY) -> str:
    message = f"{seq} {cell} {status} {value}"
    return f"{message} {hmac.new(key, message.encode(), 'sha256').hexdigest()}"


def _test_cell(outputs=(), points=2):
    cell = new_code_cell("check()", outputs=list(outputs))
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                                 "grade_id": "test_x", "schema_version": 3}
    return cell


def _nb(cell):
    return new_notebook(cells=[new_code_cell("answer = 1"), cell])


@pytest.mark.parametrize(("source", "body", "last"), [
    ("check(a)", "", "check(a)"),
    ("x = 1\nx + 1", "x = 1\n", "x + 1"),
    ("a = 1; a * 2", "a = 1; ", "a * 2"),
    ("check(a,\n      b)", "", "check(a,\n      b)"),
    ("check(a);", "check(a);", None),  # a trailing ; hides the value in IPython too
    ("x = 1", "x = 1", None),
    ("for i in range(2):\n    check(i)", "for i in range(2):\n    check(i)", None),
    ("%time x", "%time x", None),  # not Python: sent as it is, and fails as it would
])
def test_a_test_cell_is_split_as_ipython_shows_it(source, body, last):
    assert verdict._split(source) == (body, last)
    wrapped = verdict.wrap(7, source)
    assert wrapped.startswith('__import__("course_lib.instructor.grading.verdict"')
    assert f".run(7, {body!r}, {last!r})" in wrapped


def test_signed_reports_are_read_in_order():
    reports, problems = verdict.verify([_line(0, 3, "start"), _line(1, 3, "pass", "0.5")], KEY)
    assert problems == []
    assert [(r.seq, r.cell, r.status, r.value) for r in reports] == [(0, 3, "start", ""), (1, 3, "pass", "0.5")]


@pytest.mark.parametrize(("lines", "problem"), [
    (["0 3 pass - 00"], "the check did not sign"),
    ([_line(0, 3, "pass", key=b"x" * 32)], "the check did not sign"),
    (["0 3 pass"], "unsigned"),
    ([_line(1, 3, "pass")], "a report was lost"),
    ([_line(0, -1, "forged")], "tried to report a test cell's verdict itself"),
])
def test_unsigned_lost_or_forged_reports_are_problems(lines, problem):
    reports, problems = verdict.verify(lines, KEY)
    assert any(problem in p for p in problems), problems


def _judge(cell, lines):
    nb = _nb(cell)
    findings = verdict.judge(nb, [1], *verdict.verify(lines, KEY))
    return nb.cells[1], findings


def test_an_agreeing_pass_keeps_its_points():
    cell, findings = _judge(_test_cell(), [_line(0, 1, "start"), _line(1, 1, "pass")])
    assert findings == [] and determine_grade(cell) == (2, 2)


def test_an_agreeing_failure_is_no_finding():
    error = new_output("error", ename="CheckFailure", evalue="wrong", traceback=[])
    cell, findings = _judge(_test_cell([error]), [_line(0, 1, "start"), _line(1, 1, "fail")])
    assert findings == [] and determine_grade(cell) == (0, 2)


@pytest.mark.parametrize(("lines", "why"), [
    ([_line(0, 1, "start"), _line(1, 1, "fail")], "the check recorded fail, the kernel reported a pass"),
    ([], "the check recorded nothing"),
    ([_line(0, 1, "start")], "the check recorded start"),
    ([_line(0, 1, "start"), _line(1, 1, "pass"), _line(2, 1, "start"), _line(3, 1, "pass")], "reported 4 times"),
])
def test_a_clean_output_without_a_signed_pass_scores_zero(lines, why):
    cell, findings = _judge(_test_cell(), lines)
    assert determine_grade(cell) == (0, 2)
    assert cell.outputs[0].ename == verdict.MISMATCH
    assert any(why in f and "test_x" in f for f in findings), findings


def test_partial_credit_must_be_the_number_the_check_computed():
    shown = new_output("execute_result", data={"text/plain": "2.0"}, execution_count=1)
    cell, findings = _judge(_test_cell([shown]), [_line(0, 1, "start"), _line(1, 1, "pass", "0.5")])
    assert determine_grade(cell) == (0, 2) and any("showed the result 2.0" in f for f in findings)
    shown = new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)
    cell, findings = _judge(_test_cell([shown]), [_line(0, 1, "start"), _line(1, 1, "pass", "0.5")])
    assert findings == [] and determine_grade(cell) == (0.5, 2)


def test_a_report_about_a_cell_that_is_not_a_test_is_a_finding():
    cell, findings = _judge(_test_cell(), [_line(0, 0, "start"), _line(1, 0, "pass"),
                                           _line(2, 1, "start"), _line(3, 1, "pass")])
    assert determine_grade(cell) == (2, 2)
    assert any("code cell 1, which is not a test cell" in f for f in findings), findings


def test_a_wrapped_test_cell_echoed_by_student_code_is_redacted():
    """The grader sends a test cell as a Python string (hidden tests inside); student code that prints
    it (``In[-1]``, a callback echoing the raw cell) must not carry a hidden line past the redaction
    of the feedback, whichever quotes ``repr`` picks."""
    from course_lib.instructor.hide_hidden_tests import PLACEHOLDER, redact

    hidden = {"assert x == 'a' and y == \"b\"", "check_mul(Value, seed=hidden_seed(2026), hard=True)"}
    for body in ("check(a)\ncheck_mul(Value, seed=hidden_seed(2026), hard=True)\n",
                 "check(a)\nassert x == 'a' and y == \"b\"\n"):
        echoed = f"print: {verdict.wrap(3, body)}"
        assert redact(echoed, hidden) == PLACEHOLDER, echoed
    assert redact("check(a) is fine", hidden) == "check(a) is fine"
