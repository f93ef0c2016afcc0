"""nbgrader's OverwriteCells, with missing graded cells put back robustly.

With ``OverwriteCells.add_missing_cells = True``, nbgrader 0.9.6 puts a graded
cell a student deleted back after the previous nbgrader cell of the source
notebook, but it only knows where graded and solution cells are: when the
previous cell is a locked read-only cell (a written answer right after its
locked question, a test cell after a locked drawing cell) it raises
``KeyError`` and the student's whole assignment fails to grade. The restored
cells also get no cell id (nbformat warns).

This version puts each missing graded cell after the nearest earlier source
cell still in the submission (any nbgrader cell, locked ones included), or
first, and gives it an id.

It also restores a cell's ``grade`` and ``solution`` flags from the gradebook
before nbgrader compares checksums: nbgrader restores the type, the lock, the
points and the source, but not those flags, so a test cell a student
"retyped" (``grade: false``) kept a wrong checksum and nbgrader raised
``Inconsistent checksums``, failing the whole notebook. Everything else is
nbgrader's.
"""
from __future__ import annotations

import re

from nbgrader.api import MissingEntry
from nbgrader.preprocessors import OverwriteCells as _NbgraderOverwriteCells

from course_lib import nbmeta


class OverwriteCells(_NbgraderOverwriteCells):
    """Drop-in for ``nbgrader.preprocessors.OverwriteCells`` (same config)."""

    def preprocess(self, nb, resources):
        self._known = None  # the source notebook's graded and solution cells, read once per notebook
        return super().preprocess(nb, resources)

    def _source_cells(self) -> tuple[dict, set]:
        """``({name: graded cell}, {solution cell names})`` of the source notebook in the gradebook."""
        if self._known is None:
            try:
                source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
                self._known = ({c.name: c for c in source_nb.grade_cells}, {c.name for c in source_nb.solution_cells})
            except MissingEntry:
                self._known = ({}, set())
        return self._known

    def preprocess_cell(self, cell, resources, cell_index):
        gid = nbmeta.grade_id(cell)
        if gid is not None:
            meta = nbmeta.nbgrader(cell)
            graded, solutions = self._source_cells()
            for flag, found in (("grade", graded.get(gid)), ("solution", gid if gid in solutions else None)):
                if bool(meta.get(flag, False)) != (found is not None):
                    self.report_change(gid, flag, found is not None, meta.get(flag, False))
                    meta[flag] = found is not None
                if flag == "grade" and found is not None and "points" not in meta:
                    meta["points"] = float(found.max_score)
        return super().preprocess_cell(cell, resources, cell_index)

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in source_nb.source_cells]
        source = {cell.name: cell for cell in source_nb.source_cells}
        graded = {cell.name: cell for cell in source_nb.grade_cells}
        solutions = {cell.name for cell in source_nb.solution_cells}

        for k, name in enumerate(order):
            if name not in graded:
                continue
            where = {nbmeta.grade_id(c): i for i, c in enumerate(nb.cells) if nbmeta.grade_id(c)}
            if name in where:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", name)
            before = [where[p] for p in order[:k] if p in where]
            cell = self.missing_cell_transform(
                source[name], graded[name].max_score, is_solution=name in solutions)
            if nb.get("nbformat", 4) > 4 or nb.get("nbformat_minor", 0) >= 5:
                taken = {c.get("id") for c in nb.cells}
                base = re.sub(r"[^A-Za-z0-9_-]", "-", f"restored-{name}")[:56]
                cell["id"] = next(f"{base}-{n}" if n else base for n in range(len(taken) + 1)
                                  if (f"{base}-{n}" if n else base) not in taken)
            nb.cells.insert(max(before) + 1 if before else 0, cell)
        return nb, resources
