from __future__ import annotations

import os

import pytest

import nbrun

# Without internet the notebooks train on the 1,115 Fashion-MNIST images that
# ship offline, which cannot reach the 85% target of the full training set.
# The grading check accepts such weights, at this lower target and announced
# in its output, only where the grader sets this variable: here, for every
# kernel and nbgrader run the tests start. Weights trained on the full set are
# always held to 85%.
os.environ.setdefault("COURSE_OFFLINE_WEIGHTS_TARGET", "0.78")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> nbrun.Runs:
    """``runs(kind, "01_hand_gradients.ipynb")``: the executed notebook, cached
    for the session (kind: ``source``, ``blank`` or ``solved``)."""
    return nbrun.Runs(tmp_path_factory)
