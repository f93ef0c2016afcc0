from __future__ import annotations

import pytest

import nbrun


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> nbrun.Runs:
    """``runs(kind, "01_hand_gradients.ipynb")``: the executed notebook, cached
    for the session (kind: ``source``, ``blank`` or ``solved``)."""
    return nbrun.Runs(tmp_path_factory)
