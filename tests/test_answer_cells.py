"""Every written-answer cell of every released notebook says `YOUR ANSWER HERE` exactly once."""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearSolutions

SOURCES = sorted((Path(__file__).resolve().parents[1] / "source_notebooks" / "ps1").glob("*.ipynb"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_each_written_answer_says_your_answer_here_once(path):
    nb = nbformat.read(path, as_version=4)
    released, _ = ClearSolutions(text_stub="YOUR ANSWER HERE").preprocess(copy.deepcopy(nb), {})
    for cell in released.cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            assert cell.source.count("YOUR ANSWER HERE") == 1, (cell.metadata["nbgrader"]["grade_id"], cell.source)
