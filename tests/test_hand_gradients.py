"""Checks of notebook 01: right answers pass, usual mistakes get a specific hint,
and the expected value is never printed."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.checks import CheckFailure
from course_lib.checks import hand_gradients as H
from course_lib.problems import HAND_GRADIENTS as P

T = H._truth()


def test_truth_matches_finite_differences():
    def L(w):
        return (w[0] + w[1]) * w[2]

    w = np.array([P.w1, P.w2, P.w3])
    h = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        fd = (L(w + e) - L(w - e)) / (2 * h)
        assert fd == pytest.approx(T.grad[i], abs=1e-8)
    new = w - P.eta * np.array(T.grad)
    assert L(new) == pytest.approx(T.L_new)
    assert L(new) < L(w)


def test_right_answers_pass(capsys):
    H.check_dL_dw3(T.grad[2])
    H.check_dL_dw3(np.float32(T.grad[2]))  # numpy scalars are numbers too
    H.check_dL_dw3(torch.tensor(T.grad[2]))
    H.check_chain_rule(1, 1.0, T.dL_ds, T.grad[0], T.grad[1])
    H.check_update(*T.new)
    H.check_new_L(T.L_new)
    assert capsys.readouterr().out.count("PASSED") == 6


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: H.check_dL_dw3(None), "not answered yet"),
        (lambda: H.check_dL_dw3("1.5"), "should be a number"),
        (lambda: H.check_dL_dw3(float("nan")), "finite"),
        (lambda: H.check_dL_dw3([1.5]), "should be a number"),
        (lambda: H.check_dL_dw3(P.w3), "w3 itself"),
        (lambda: H.check_dL_dw3(T.L), "L itself"),
        (lambda: H.check_dL_dw3(-T.grad[2]), "sign"),
        (lambda: H.check_chain_rule(P.w1, 1, T.dL_ds, T.grad[0], T.grad[1]), "does not depend on the values"),
        (lambda: H.check_chain_rule(1, 1, T.s, T.grad[0], T.grad[1]), "factor multiplying s"),
        (lambda: H.check_chain_rule(1, 1, T.dL_ds, T.dL_ds + 1, T.grad[1]), "multiplies"),
        (lambda: H.check_chain_rule(1, 1, T.dL_ds, T.grad[0], T.s), "dL/dw3"),
        (lambda: H.check_update(P.w1 + P.eta * T.grad[0], *T.new[1:]), "uphill"),
        (lambda: H.check_update(P.w1 - T.grad[0], *T.new[1:]), "learning rate"),
        (lambda: H.check_update(P.w1, *T.new[1:]), "did not move"),
        (lambda: H.check_update(*T.new[:2], P.w3 - P.eta * (T.new[0] + T.new[1])), "already moved"),
        (lambda: H.check_update(P.w1 - P.eta * T.new[2], P.w2 - P.eta * T.new[2], T.new[2]), "already moved"),
        (lambda: H.check_new_L(T.L), "old L"),
        (lambda: H.check_new_L(6.1, 2.01, -0.49, 4.05), None),
        (lambda: H.check_new_L((2.04 - 0.46) * 4.015, 2.04, -0.46, 4.015), "fix part (c) first"),
    ],
)
def test_mistakes_are_explained_without_the_answer(call, phrase):
    with pytest.raises(CheckFailure) as info:
        call()
    message = str(info.value)
    if phrase:
        assert phrase in message
    for secret in ("1.5 ", "5.6587", "1.96", "3.985"):
        assert f"should be {secret}" not in message


def test_a_student_object_that_breaks_float_is_reported():
    class Weird:
        def __float__(self):
            raise RuntimeError("boom")

    with pytest.raises(CheckFailure, match="dL_dw3"):
        H.check_dL_dw3(Weird())
