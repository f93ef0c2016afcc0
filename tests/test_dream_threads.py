"""Notebook 07's checks run their small tensors (the test classifier, the digit CNN)
on one torch thread, and give the threads back afterwards; a large model keeps them."""
from __future__ import annotations

import torch
from torch import nn

from course_lib.checks._dream_spy import SMALL_MODEL, few_threads, spy_classifier
from course_lib.checks.dream import check_gradient_descent
from course_lib.dream.models import Classifier

from test_dream import clf, ref  # noqa: F401  (the module-scoped fixtures: the classifier, the reference)


def _big_classifier() -> Classifier:
    model = nn.Sequential(nn.Flatten(), nn.Linear(1, SMALL_MODEL))
    return Classifier(model, "big", ["a"], (0.5,), (0.25,), 1, 1)


def test_few_threads_is_one_thread_for_small_work_and_restores():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with few_threads():
            assert torch.get_num_threads() == 1
        with few_threads(spy_classifier(0)):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with few_threads(_big_classifier()):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_students_loop_runs_on_one_thread_inside_the_check(clf, ref, capsys):  # noqa: F811
    seen = []

    def gradient_descent(image, clf, target, **kw):
        seen.append((clf.kind, torch.get_num_threads()))
        return ref["gradient_descent"](image, clf, target, **kw)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        check_gradient_descent(gradient_descent, clf, points=6)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert {threads for _, threads in seen} == {1} and {"spy", "mnist"} <= {kind for kind, _ in seen}, seen
    assert "PASSED: gradient_descent" in capsys.readouterr().out
