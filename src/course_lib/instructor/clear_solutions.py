"""nbgrader's ClearSolutions, plus solution regions inside CUDA C source.

A kernel is CUDA C in a Python string. Its solution region is marked with C
comments (``/// BEGIN SOLUTION`` ... ``/// END SOLUTION``) and becomes one
C comment, ``// YOUR CODE HERE``, so the kernel's skeleton stays valid C and
compiles (to a kernel that does nothing). Python regions get nbgrader's
usual code stub.
"""
from __future__ import annotations

import re
from typing import Any

from nbgrader.preprocessors import ClearSolutions as _NbgraderClearSolutions

C_STUB = "// YOUR CODE HERE"


def clear_c_regions(source: str, begin: str = "BEGIN SOLUTION", end: str = "END SOLUTION") -> tuple[str, bool]:
    """``source`` with every region whose BEGIN line is a C comment (``//``)
    replaced by :data:`C_STUB`, indented like the BEGIN line; and whether any was."""
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        is_c = line.strip().startswith("//")
        if begin in line and is_c:
            if inside:
                raise RuntimeError("nested BEGIN SOLUTION in a C region")
            inside, replaced = True, True
            out.append(re.match(r"\s*", line).group(0) + C_STUB)
        elif end in line and is_c and inside:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise RuntimeError("a C solution region (// BEGIN SOLUTION) has no // END SOLUTION")
    return "\n".join(out), replaced


class ClearSolutions(_NbgraderClearSolutions):
    """Drop-in for ``nbgrader.preprocessors.ClearSolutions`` (same config)."""

    def _replace_solution_region(self, cell: Any, language: str) -> bool:
        replaced_c = False
        if cell.cell_type == "code":
            cell.source, replaced_c = clear_c_regions(cell.source, self.begin_solution_delimeter,
                                                      self.end_solution_delimeter)
        replaced = super()._replace_solution_region(cell, language)
        return replaced or replaced_c
