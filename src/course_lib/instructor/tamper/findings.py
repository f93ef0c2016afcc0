"""What a finding is, and the kinds of finding (:data:`KINDS`)."""
from __future__ import annotations

from dataclasses import dataclass

KINDS: dict[str, str] = {
    "shadows-check": "redefines or shadows a check the test cells call",
    "patches-course_lib": "changes course_lib (the checks) at run time",
    "patches-nbgrader": "reaches into nbgrader",
    "patches-library": "changes a library module the checks use",
    "sys-modules": "changes the import system or the sys module",
    "builtins": "changes or shadows Python's built-ins",
    "grading-env": "sets a grading-related environment variable",
    "file-outside": "touches a file outside the submission folder",
    "network": "reaches the network",
    "subprocess": "runs another program",
    "dynamic-code": "runs code a static scan cannot see",
    "tracing": "traces or inspects the interpreter's frames",
    "unparsable": "a suspicious cell that is not Python",
    "corrupt-notebook": "a notebook file that cannot be read",
    "test-cell-missing": "an autograded test cell is missing",
    "test-cell-edited": "an autograded test cell was edited",
    "test-cell-retyped": "an autograded test cell lost its type or grading metadata",
    "guard": "at run time, the grading guard refused an operation or undid a change to the checks or the kernel",
}


@dataclass(frozen=True)
class Finding:
    """One suspicious line: ``cell`` (grade_id or ``cell N``), ``line`` (from 1
    within the cell), ``kind`` (a key of :data:`KINDS`), ``code`` (the line,
    stripped) and ``why`` (one sentence for the instructor)."""

    cell: str
    line: int
    kind: str
    code: str
    why: str

    def __str__(self) -> str:
        return f"{self.cell}:{self.line}: [{self.kind}] {self.code}  -- {self.why}"
