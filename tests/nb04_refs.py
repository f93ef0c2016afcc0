"""The reference solutions of notebook 04, taken from the source notebook by
executing its cells tagged 'nb04-defs' (never copied into the tests)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE_04 = ROOT / "source_notebooks" / "ps1" / "04_losses_optimisers.ipynb"
TAG = "nb04-defs"


def reference(path: Path = SOURCE_04) -> dict[str, Any]:
    """A fresh namespace holding every class and function notebook 04's solution defines."""
    nb = nbformat.read(path, as_version=4)
    ns: dict[str, Any] = {"__name__": "nb04_reference"}
    for cell in nb.cells:
        if cell.cell_type == "code" and TAG in cell.metadata.get("tags", []):
            exec(compile(cell.source, f"<{path.name}>", "exec"), ns)
    return ns
