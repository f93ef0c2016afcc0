"""Scanning a notebook's code cells (:func:`scan_notebook`); which cells are trusted."""
from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from nbformat import NotebookNode

from course_lib import nbmeta

from .. import safe_ast
from .findings import Finding
from .rules import SUSPICIOUS, _parse, _python_source, _top
from .scanner import _Names, _Scanner

# --------------------------------------------------------------------------- notebooks

def released_source(cell: NotebookNode) -> str:
    """The cell's source as the release holds it: hidden-test regions (their
    delimiter lines included) removed, trailing whitespace stripped."""
    lines, out, hidden = nbmeta.source_lines(cell), [], False
    for line in lines:
        if nbmeta.BEGIN_HIDDEN_TESTS in line:
            hidden = True
        elif nbmeta.END_HIDDEN_TESTS in line and hidden:
            hidden = False
        elif not hidden:
            out.append(line.rstrip())
    return "\n".join(out).rstrip()


def _label(cell: NotebookNode, index: int) -> str:
    return nbmeta.grade_id(cell) or f"cell {index + 1}"


def _code(lines: list[str], line: int) -> str:
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _cell_text(cell: NotebookNode) -> str:
    return "\n".join(nbmeta.source_lines(cell))


def _test_imports(cells: Iterable[NotebookNode]) -> set[str]:
    names: set[str] = set()
    for cell in cells:
        if cell.cell_type != "code" or not nbmeta.is_autograded_test(cell):
            continue
        tree = _parse(_cell_text(cell))
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.ImportFrom) and _top(node.module) == "course_lib":
                names.update(a.asname or a.name for a in node.names if a.name != "*")
    return names


def _trusted(cell: NotebookNode, reference: NotebookNode | None) -> bool:
    """A locked cell that is (as far as can be told) the course's own."""
    if not nbmeta.is_locked(cell):
        return False
    if reference is None:
        return True
    gid = nbmeta.grade_id(cell)
    ref = next((c for c in reference.cells if gid and nbmeta.grade_id(c) == gid), None)
    if ref is None or not nbmeta.is_locked(ref) or ref.cell_type != cell.cell_type:
        return False
    if released_source(ref) == released_source(cell):
        return True
    # the setup cell of another release (another course_lib version or wheel URL), made by this template
    from course_lib.instructor.setup_cell import SETUP_GRADE_ID, generated_for

    return gid == SETUP_GRADE_ID and generated_for("\n".join(nbmeta.source_lines(cell))) is not None


def scan_notebook(path_or_node: NotebookNode | str | Path,
                  reference: NotebookNode | str | Path | None = None) -> list[Finding]:
    """The findings of one notebook (a path or a notebook node), in cell order.

    ``reference`` (the source or release notebook it was made from): when
    given, a locked cell is trusted only if it matches the reference's cell.
    A file that is not a notebook raises (:func:`scan_submission` reports it).
    """
    nb = nbmeta.read(path_or_node)
    ref = nbmeta.read(reference) if reference is not None else None
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    trees = [t for t in (_parse(_cell_text(c)) for _, c in code_cells) if t is not None]
    names = _Names(trees)
    check_names = _test_imports(nb.cells) | (_test_imports(ref.cells) if ref else set())

    findings: list[Finding] = []
    for index, cell in code_cells:
        if _trusted(cell, ref):
            continue
        source = _cell_text(cell)
        lines = source.split("\n")
        text, raw = _python_source(source)
        tree = None
        if text is not None:
            try:
                tree = safe_ast.parse(text)
            except SyntaxError as err:
                hit = next((n for n, line in enumerate(lines, 1) if SUSPICIOUS.search(line)), None)
                if hit is not None:
                    raw.append((hit, "unparsable", "the cell is not valid Python and contains "
                                f"{SUSPICIOUS.search(lines[hit - 1]).group(0).strip()!r}; read it "
                                f"(syntax error at line {err.lineno})"))
        if tree is not None:
            scanner = _Scanner(names, check_names, lines)
            scanner.visit(tree)
            raw += scanner.found
        seen: set[tuple[int, str]] = set()
        for line, kind, why in sorted(raw, key=lambda f: f[0]):
            if (line, kind) not in seen:
                seen.add((line, kind))
                findings.append(Finding(_label(cell, index), line, kind, _code(lines, line), why))
    return findings
