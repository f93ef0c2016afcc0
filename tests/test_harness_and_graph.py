"""The check harness (messages, time budget, no internal tracebacks) and graph drawing."""
from __future__ import annotations

import time

import pytest

from course_lib.checks import CheckFailure, NotImplementedYet
from course_lib.checks import _harness as h
from course_lib.figures.graph import describe, draw_graph, draw_hand_graph

from engines import fresh_value


def test_call_reports_not_implemented():
    def stub():
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="Value.__mul__: not implemented yet"):
        h.call("Value.__mul__", "computing c = a * b", stub)


def test_call_names_the_exception_and_the_student_line():
    def student():
        return 1 / 0

    with pytest.raises(CheckFailure) as info:
        h.call("Value.__truediv__", "computing c = a / b", student)
    text = str(info.value)
    assert "ZeroDivisionError" in text and "return 1 / 0" in text


def test_call_stops_an_endless_loop(monkeypatch):
    monkeypatch.setattr(h, "CALL_BUDGET_S", 0.3)

    def forever():
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(CheckFailure, match="did not finish"):
        h.call("Value.backward", "calling backward()", forever)
    assert time.perf_counter() - start < 3  # stopped by the budget, not by the loop


def test_call_reports_recursion():
    def deep(n=0):
        return deep(n + 1)

    with pytest.raises(CheckFailure, match="RecursionError"):
        h.call("Value.backward", "calling backward()", deep)


def test_guarded_turns_internal_errors_into_failures():
    @h.guarded("thing")
    def check(x):
        return x.missing_attribute

    with pytest.raises(CheckFailure, match="thing: the check could not use your object: AttributeError"):
        check(object())


def test_failure_renders_without_traceback_in_ipython():
    lines = CheckFailure("Value.__mul__: wrong")._render_traceback_()
    assert lines == ["CHECK FAILED", "Value.__mul__: wrong"]


@pytest.mark.parametrize("x, text", [(0.0, "0.0"), (1.5, "1.5"), (-3.0, "-3.0"), (1 / 3, "0.333333"),
                                     (1e-7, "1e-07"), (2, "2"), (None, "None")])
def test_fmt(x, text):
    assert h.fmt(x) == text


def test_draw_graph_of_an_engine_shows_every_node_and_op():
    Value = fresh_value()
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a
    c.backward()
    dot = draw_graph(c, names={"a": a, "b": b, "c": c})
    src = dot.source
    assert src.count("shape=record") == 4  # a, b, a*b, c
    assert "grad -2.0000" in src and "grad 2.0000" in src  # dc/da = b + 1, dc/db = a
    assert "data -4.0000" in src
    assert "label=\"*\"" in src or "label=\\*" in src or '"*"' in src
    svg = dot.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg
    assert "a: data 2.0000, grad -2.0000" in dot.alt_text


def test_draw_graph_rejects_a_non_value():
    with pytest.raises(TypeError, match="expects a Value"):
        draw_graph(None)


def test_draw_hand_graph_values_and_optional_grads():
    before = draw_hand_graph(2.0, -0.5, 4.0)
    assert "grad" not in before.source and "data 6.0000" in before.source
    after = draw_hand_graph(2.0, -0.5, 4.0, grads={"w1": 4, "w2": 4, "w3": 1.5, "s": 4, "L": 1})
    assert "grad 1.5000" in after.source
    assert "L = * of its inputs: data 6.0000" in describe_graph(after)


def describe_graph(dot):
    return dot.alt_text


def test_big_graph_is_capped():
    Value = fresh_value()
    x = Value(1.0)
    s = x
    for _ in range(400):
        s = s + 1.0
    dot = draw_graph(s)
    assert "only the first" in dot.source
    assert describe(s).startswith("Computation graph with 300 values")
