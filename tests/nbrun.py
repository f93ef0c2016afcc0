"""Shared helpers for the notebook tests: where the notebooks are, and running them.

Every test over notebooks is parametrized on the glob of
``source_notebooks/ps1/*.ipynb`` (or of ``release/ps1/``), so a new notebook is
tested without touching the tests. ``COURSE_ROOT`` in the environment points
the tests at another course root (used to try the tests on a toy course).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from course_lib import nbmeta
from course_lib.instructor.release import blank, solution_filled

ROOT = Path(os.environ.get("COURSE_ROOT", Path(__file__).resolve().parents[1])).resolve()
ASSIGNMENT = "ps1"
SOURCE_DIR = ROOT / "source_notebooks" / ASSIGNMENT
RELEASE_DIR = ROOT / "release" / ASSIGNMENT
CELL_TIMEOUT = 300  # seconds, as Execute.timeout in nbgrader_config.py
KERNEL = "python3"  # the venv's kernel: jupyter_client runs it with sys.executable
VENV_BIN = Path(sys.executable).parent
LITTER = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")


def source_notebooks() -> list[Path]:
    return sorted(SOURCE_DIR.glob("*.ipynb"))


def release_notebooks() -> list[Path]:
    return sorted(RELEASE_DIR.glob("*.ipynb"))


def params(paths: list[Path]) -> list:
    """pytest parameters named after the notebooks (``01_hand_gradients``)."""
    return [pytest.param(p, id=p.stem) for p in paths]


def describe(nb: NotebookNode, index: int) -> str:
    """``cell 7 'test_mul'`` (or the cell's first line when it has no grade_id)."""
    cell = nb.cells[index]
    name = nbmeta.grade_id(cell) or nbmeta.source_lines(cell)[0][:40]
    return f"cell {index} {name!r}"


def error_of(cell: NotebookNode) -> str | None:
    """``'AssertionError: ...'`` for a cell that raised, else None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:500]
    return None


def expects_error(cell: NotebookNode) -> bool:
    """Cells tagged ``raises-exception`` raise on purpose (a demonstration)."""
    return "raises-exception" in cell.get("metadata", {}).get("tags", [])


def execute(nb: NotebookNode, folder: Path, workdir: Path,
            siblings: dict[str, NotebookNode] | None = None) -> NotebookNode:
    """Run ``nb`` top to bottom in ``workdir``, a fresh copy of ``folder`` (the
    notebook's folder, so files beside it are there and artifacts it saves stay
    out of the repository), with the notebooks in ``siblings`` written over
    their copies (a later notebook reads an earlier one: notebook 03 loads the
    Value of 02). Errors are recorded per cell, never raised: every cell runs.
    Returns the executed notebook."""
    shutil.copytree(folder, workdir, ignore=LITTER, dirs_exist_ok=True)
    for name, sibling in (siblings or {}).items():
        write(sibling, workdir / name)
    nb = nbmeta.read(nb)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return nb


class Runs:
    """Each notebook executed at most once per session, in three versions:
    ``source`` (with solutions), ``blank`` (the release as is) and ``solved``
    (the release with the source's solutions filled in)."""

    def __init__(self, tmp_factory: pytest.TempPathFactory):
        self._tmp = tmp_factory
        self._cache: dict[tuple[str, str], NotebookNode] = {}
        self._workdirs: dict[tuple[str, str], Path] = {}

    def __call__(self, kind: str, name: str) -> NotebookNode:
        key = (kind, name)
        if key not in self._cache:
            source, release = SOURCE_DIR / name, RELEASE_DIR / name
            if kind == "source":
                nb, folder = nbmeta.read(source), SOURCE_DIR
            elif kind == "blank":
                nb, folder = blank(release), RELEASE_DIR
            elif kind == "solved":
                nb, folder = solution_filled(release, source), RELEASE_DIR
            else:
                raise ValueError(kind)
            siblings = ({p.name: solution_filled(p, SOURCE_DIR / p.name) for p in release_notebooks()
                         if p.name != name} if kind == "solved" else None)
            workdir = self._tmp.mktemp(f"{kind}-{Path(name).stem}")
            self._cache[key] = execute(nb, folder, workdir, siblings)
            self._workdirs[key] = workdir
        return self._cache[key]

    def artifacts(self, kind: str, name: str) -> list[Path]:
        """Files that running the notebook saved beside it (trained weights, ...)."""
        self(kind, name)
        workdir = self._workdirs[(kind, name)]
        folder = SOURCE_DIR if kind == "source" else RELEASE_DIR
        return sorted(p for p in workdir.iterdir()
                      if p.is_file() and p.suffix != ".ipynb" and not (folder / p.name).exists())


def write(nb: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
