"""Every notebook opens with the same locked setup cell, derived from the one
install-source setting in _config.yml."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_lib.instructor.setup_cell import SETUP_GRADE_ID, install_source, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "source_notebooks").glob("*/*.ipynb")) + sorted((ROOT / "release").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_setup_cell_comes_from_the_setting(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    meta = first_code.metadata.get("nbgrader", {})
    assert meta.get("grade_id") == SETUP_GRADE_ID and meta.get("locked"), "the first code cell must be the locked setup cell"
    assert first_code.source == setup_cell_source(), (
        f"{path.name}: setup cell differs from the setting; run `python -m course_lib.instructor.setup_cell`")


def test_install_source_uses_the_repository_setting():
    src = install_source()
    assert src.startswith("course_lib @ git+https://") and src.count("@") == 2
