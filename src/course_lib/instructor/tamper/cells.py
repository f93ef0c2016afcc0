"""Comparing test cells with the source (:func:`compare_test_cells`) and scanning a submission folder."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nbformat import NotebookNode

from course_lib import nbmeta

from .findings import Finding
from .scan import released_source, scan_notebook


def _retyped(cell: NotebookNode, ref: NotebookNode) -> str | None:
    if cell.cell_type != "code":
        return f"it is now a {cell.cell_type} cell, so it is not run"
    if not nbmeta.is_grade(cell) or nbmeta.is_solution(cell):
        return "its nbgrader metadata no longer marks it as an autograded test"
    if not nbmeta.is_locked(cell):
        return "its nbgrader metadata no longer locks it"
    if nbmeta.points(cell) != nbmeta.points(ref):
        return f"its points changed from {nbmeta.points(ref):g} to {nbmeta.points(cell):g}"
    return None


def compare_test_cells(submitted_nb: NotebookNode | str | Path,
                       source_nb: NotebookNode | str | Path) -> list[Finding]:
    """Each autograded test cell of ``source_nb`` must be in ``submitted_nb``
    (same grade_id), still a locked graded code cell, with the released source."""
    nb, source = nbmeta.read(submitted_nb), nbmeta.read(source_nb)
    findings: list[Finding] = []
    for ref in source.cells:
        if not nbmeta.is_autograded_test(ref):
            continue
        gid = nbmeta.grade_id(ref)
        matches = [c for c in nb.cells if nbmeta.grade_id(c) == gid]
        if not matches:
            findings.append(Finding(gid, 1, "test-cell-missing", "",
                                    f"the test cell {gid!r} is not in the submission"))
            continue
        if len(matches) > 1:
            findings.append(Finding(gid, 1, "test-cell-edited", "",
                                    f"the test cell {gid!r} appears {len(matches)} times"))
        cell = matches[0]
        why = _retyped(cell, ref)
        if why:
            findings.append(Finding(gid, 1, "test-cell-retyped", "", f"the test cell {gid!r}: {why}"))
        want, got = released_source(ref).split("\n"), released_source(cell).split("\n")
        if want != got:
            n = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            findings.append(Finding(gid, n + 1, "test-cell-edited", got[n].strip() if n < len(got) else "",
                                    f"the test cell {gid!r} differs from the release from line {n + 1}"))
    return findings


def _notebooks(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in Path(folder).glob("*.ipynb") if p.is_file())


def scan_submission(folder: str | Path, source: str | Path | None = None) -> dict[str, list[Finding]]:
    """Findings of every ``*.ipynb`` in ``folder`` by file name. With ``source``
    (the assignment's source folder), each notebook is scanned against the
    source notebook of the same name and its test cells are compared to it."""
    out: dict[str, list[Finding]] = {}
    for path in _notebooks(Path(folder)):
        try:
            nb = nbmeta.read(path)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("no list of cells")
        except Exception as err:  # noqa: BLE001 - any unreadable file is a finding
            first = str(err).strip().split("\n")[0][:200]
            out[path.name] = [Finding(path.name, 1, "corrupt-notebook", "",
                                      f"nbformat cannot read it ({type(err).__name__}: {first})")]
            continue
        ref_path = Path(source) / path.name if source else None
        ref = nbmeta.read(ref_path) if ref_path and ref_path.is_file() else None
        findings = scan_notebook(nb, ref)
        if ref is not None:
            findings += compare_test_cells(nb, ref)
        out[path.name] = findings
    return out
