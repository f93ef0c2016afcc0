"""The rules the student side and the instructor side share: nbgrader's cell metadata,
its delimited regions, and what a student id may be. Both sides import this module
(nbformat only, imported when a notebook is read).

A cell's nbgrader metadata (schema version 3) is ``cell.metadata.nbgrader``:

==========================  =====  ========  ======  ======
kind                        grade  solution  locked  points
==========================  =====  ========  ======  ======
solution (code)             False  True      False   --
autograded test (code)      True   False     True    N
written answer (markdown)   True   True      False   N
given, read-only            False  False     True    --
==========================  =====  ========  ======  ======

Regions are delimited by lines that contain ``BEGIN SOLUTION`` / ``END
SOLUTION`` and ``BEGIN HIDDEN TESTS`` / ``END HIDDEN TESTS`` (nbgrader matches
the text anywhere in the line, so ``### BEGIN SOLUTION`` indented inside a
function counts).
"""
from __future__ import annotations

import copy
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat is imported when a notebook is read: the student's validate imports this first
    from nbformat import NotebookNode

BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
BEGIN_HIDDEN_TESTS = "BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "END HIDDEN TESTS"


def nbgrader(cell: NotebookNode) -> dict[str, Any]:
    """The cell's nbgrader metadata (the notebook's own dict), ``{}`` for a plain cell, or for a
    cell whose metadata is not a mapping (a notebook a student's editor broke)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader ``grade_id``, None for a plain cell."""
    return nbgrader(cell).get("grade_id")


def is_solution(cell: NotebookNode) -> bool:
    """A cell the student edits (code solution or written answer)."""
    return bool(nbgrader(cell).get("solution", False))


def is_grade(cell: NotebookNode) -> bool:
    """A cell that carries points (autograded test or written answer)."""
    return bool(nbgrader(cell).get("grade", False))


def is_locked(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("locked", False))


def is_autograded_test(cell: NotebookNode) -> bool:
    """A code cell that nbgrader scores by running it: graded, not a solution."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_manual_answer(cell: NotebookNode) -> bool:
    """A written answer graded by a person: graded and a solution."""
    return is_grade(cell) and is_solution(cell)


#: The tag of a given cell that only shows something (a figure, a printout): ``course-grade``
#: does not run it (see :func:`demo_ids`).
DEMO_TAG = "demo"


def is_given(cell: NotebookNode) -> bool:
    """A read-only cell that carries no points and is no answer (given code or text)."""
    return is_locked(cell) and not is_grade(cell) and not is_solution(cell)


def is_demo(cell: NotebookNode) -> bool:
    """A given code cell (:func:`is_given`, with a grade id) the author tagged :data:`DEMO_TAG`,
    defining nothing a later cell needs (``tests/test_demo_cells.py`` holds the author to that)."""
    tags = cell.get("metadata", {}).get("tags", []) if isinstance(cell, dict) else []
    return (cell.get("cell_type") == "code" and isinstance(tags, list) and DEMO_TAG in tags
            and is_given(cell) and grade_id(cell) is not None)


def demo_ids(source_nb: NotebookNode) -> list[str]:
    """The grade ids of the demonstration cells of a *source* notebook (never of a submitted one:
    a student could tag anything)."""
    return [grade_id(c) for c in source_nb.cells if is_demo(c)]


def points(cell: NotebookNode) -> float:
    """Points of a graded cell, 0 for any other."""
    return float(nbgrader(cell).get("points", 0) or 0) if is_grade(cell) else 0.0


_READ: OrderedDict[tuple, NotebookNode] = OrderedDict()  # (path, inode, size, mtime) -> the parsed notebook
_READ_LOCK = threading.Lock()


def read(nb_or_path: NotebookNode | str | Any) -> NotebookNode:
    """A notebook from a path, or a deep copy of a notebook node. Always a fresh node; a file read
    again unchanged (same inode, size and modification time) is copied, not parsed and validated
    again (the grader reads each source notebook several times per student)."""
    import nbformat
    from nbformat import NotebookNode

    if isinstance(nb_or_path, NotebookNode):
        return copy.deepcopy(nb_or_path)
    path = os.path.abspath(os.fspath(nb_or_path))
    info = os.stat(path)
    key = (path, info.st_ino, info.st_size, info.st_mtime_ns)
    with _READ_LOCK:
        parsed = _READ.get(key)
        if parsed is not None:
            _READ.move_to_end(key)
    if parsed is None:
        parsed = nbformat.read(path, as_version=4)
        with _READ_LOCK:
            _READ[key] = parsed
            while len(_READ) > 32:
                _READ.popitem(last=False)
    return copy.deepcopy(parsed)


def source_lines(cell: NotebookNode) -> list[str]:
    src = cell.get("source", "")
    if isinstance(src, list):  # unnormalised JSON
        src = "".join(src)
    return src.split("\n")


def _regions(lines: list[str], begin: str, end: str) -> Iterator[tuple[int, int]]:
    """(first, last) line indices of each delimited region, delimiters excluded."""
    start = None
    for i, line in enumerate(lines):
        if begin in line:
            start = i + 1
        elif end in line and start is not None:
            yield start, i - 1
            start = None


def region_lines(cell: NotebookNode, begin: str, end: str) -> list[str]:
    """The lines inside the cell's ``begin`` ... ``end`` regions."""
    lines = source_lines(cell)
    return [line for a, b in _regions(lines, begin, end) for line in lines[a:b + 1]]


def solution_lines(cell: NotebookNode) -> list[str]:
    return region_lines(cell, BEGIN_SOLUTION, END_SOLUTION)


def hidden_test_lines(cell: NotebookNode) -> list[str]:
    return region_lines(cell, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS)


def outside_region_lines(cell: NotebookNode) -> list[str]:
    """The lines of the cell outside every solution and hidden-test region."""
    lines = source_lines(cell)
    inside: set[int] = set()
    for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS)):
        for a, b in _regions(lines, begin, end):
            inside.update(range(a - 1, b + 2))  # the delimiters too
    return [line for i, line in enumerate(lines) if i not in inside]


def has_solution_region(cell: NotebookNode) -> bool:
    return any(BEGIN_SOLUTION in line for line in source_lines(cell))


def without_solution_delimiters(source: str) -> str:
    """The source with its ``BEGIN/END SOLUTION`` lines removed, answers kept."""
    return "\n".join(
        line for line in source.split("\n")
        if BEGIN_SOLUTION not in line and END_SOLUTION not in line
    )


def strip_outputs(nb: NotebookNode) -> NotebookNode:
    """Remove outputs and execution counts in place; returns ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


# --- student ids -----------------------------------------------------------
# ``course-submit`` names its zip with one; ``course-grade`` reads them from file and
# folder names and CSVs.

#: Runs of characters a student id may not hold.
BAD_ID = re.compile(r"[^A-Za-z0-9._@-]+")


def clean_id(name: str) -> str:
    """``name`` with runs of characters outside ``A-Za-z0-9._@-`` made ``_``, no leading or
    trailing ``.``/``_``; may be empty."""
    return BAD_ID.sub("_", str(name).strip()).strip("._")
