"""The reference solutions of notebook 04, taken from the source notebook by
executing its cells tagged 'nb04-defs' (never copied into the tests), with the
one cell loader there is (:func:`course_lib.engine.load_cells`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from course_lib.engine import load_cells

ROOT = Path(__file__).resolve().parents[1]
SOURCE_04 = ROOT / "source_notebooks" / "ps1" / "04_losses_optimisers.ipynb"
TAG = "nb04-defs"


def reference(path: Path = SOURCE_04) -> dict[str, Any]:
    """A fresh namespace holding every class and function notebook 04's solution defines."""
    return load_cells(path, tags=(TAG,), given={"__name__": "nb04_reference"})
