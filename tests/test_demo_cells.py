"""Demonstration cells: given, read-only cells that only show something (a dream, a figure),
tagged ``demo`` in the source notebooks, which ``course-grade`` does not run.

The author's side: every tagged cell is read-only and carries no points, and no later cell
needs a name that only a demonstration cell defines (so skipping them cannot change a grade).
The grader's side: a skipped cell says so; only the grade ids the grader read from the *source*
notebook are skipped, and never a test cell or an answer cell, whatever the submission's own
metadata says.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_lib import nbmeta
from course_lib.instructor.grading.execute import SKIPPED, GuardedExecute

SOURCE = Path(__file__).resolve().parents[1] / "source_notebooks" / "ps1"
NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))


def _defines(source: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out


def _reads(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython magics
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def test_the_slow_given_cells_are_tagged():
    tagged = {p.stem: nbmeta.demo_ids(nbformat.read(p, as_version=4)) for p in NOTEBOOKS}
    assert {"dreams", "octaves_figure", "layer_figure"} <= set(tagged["07_deepdream"])
    assert {"xor_figure", "explorer", "explorer_static"} <= set(tagged["06_representation"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_demo_cells_are_read_only_and_nothing_later_needs_them(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        if nbmeta.DEMO_TAG not in cell.metadata.get("tags", []):
            continue
        assert nbmeta.is_demo(cell), f"{path.stem}/{nbmeta.grade_id(cell)}: tagged demo but not a read-only, " \
                                     "pointless given cell"
        defined = _defines(cell.source)
        for later in code[i + 1:]:
            if nbmeta.is_demo(later):
                continue
            needed = (_reads(later.source) - _defines(later.source)) & defined
            assert not needed, f"{path.stem}: {nbmeta.grade_id(later)} needs {sorted(needed)} from the " \
                               f"demonstration cell {nbmeta.grade_id(cell)}, which grading skips"


def _cell(source: str, grade_id: str, *, locked=True, grade=False, solution=False, tags=()):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "locked": locked, "grade": grade, "solution": solution,
                                 "schema_version": 3, **({"points": 1} if grade else {})}
    cell.metadata["tags"] = list(tags)
    return cell


@pytest.mark.timeout(300)
def test_only_the_sources_demo_cells_are_skipped(tmp_path):
    from traitlets.config import Config

    cfg = Config()
    cfg.ConfinedKernelManager.confine = False
    cfg.ConfinedKernelManager.submission = str(tmp_path)
    cfg.GuardedExecute.kernel_manager_class = "course_lib.instructor.grading.kernel.ConfinedKernelManager"
    cfg.GuardedExecute.skip_ids = ["figure", "test_x", "answer"]
    nb = new_notebook(cells=[
        _cell("print('figure ran')", "figure"),                                     # the source's demo: skipped
        _cell("print('test ran')", "test_x", grade=True),                           # a test cell: never skipped
        _cell("print('answer ran')", "answer", locked=False, solution=True),        # an answer: never skipped
        _cell("print('tagged ran')", "given", tags=["demo"]),                       # tagged by the submission only
    ])
    GuardedExecute(config=cfg).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]
    assert texts == [SKIPPED, "test ran\n", "answer ran\n", "tagged ran\n"]
