"""Validate a notebook as the grader will run it, with nbgrader's own validator.

:func:`validate_notebook` first reads the file (a file that is not a notebook,
or a notebook without its nbgrader cells, is *corrupt*: the grader cannot use
it), then runs it top to bottom in a fresh kernel with
:class:`nbgrader.validator.Validator` (the code behind nbgrader's *Validate*
button; ``nbgrader validate`` on the command line exits 0 even when a notebook
fails, so its Python API is used and its results are read here). The
:class:`NotebookReport` names, per autograded test cell, the check that fails
and the first lines of its message; written answers left empty; locked cells
that were edited (the grader puts the original back, so such an edit never
counts).

nbgrader is a dependency of the student install (README, "For students"). On
Colab, where it is not installed, :func:`load_validator` installs nbgrader
itself without its dependencies, plus the few small packages its validator
imports that are missing, so that Colab's own Jupyter packages stay as they are.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import nbmeta
from .errors import SubmitError

#: The nbgrader release the course grades with (pyproject's ``grading`` extra).
NBGRADER_VERSION = "0.9.6"
#: What a test cell that earned only part of its points (no error) says.
PARTIAL = "earned only part of its points: run it and read its FAILED lines, one per case that is wrong"
#: Seconds one cell may run, as ``Execute.timeout`` in the course's nbgrader_config.py.
CELL_TIMEOUT = 300
#: Modules nbgrader's validator imports, and the pip package of each (installed on Colab when missing).
_VALIDATOR_IMPORTS = {"nbconvert": "nbconvert", "nbclient": "nbclient", "jupyter_server": "jupyter_server",
                      "sqlalchemy": "sqlalchemy", "rapidfuzz": "rapidfuzz", "requests": "requests",
                      "dateutil": "python-dateutil", "ipykernel": "ipykernel"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOISE = re.compile(r"^\[IPKernelApp\] WARNING|^\s*$")
UNANSWERED = "You did not provide a response."


@dataclass
class CellProblem:
    """One graded or locked cell that would not get its points."""

    grade_id: str
    kind: str  # "failed", "unanswered", "edited", "type changed"
    message: str
    points: float = 0.0

    def line(self) -> str:
        pts = f" ({self.points:g} pt)" if self.points else ""
        if self.kind == "unanswered":
            return f"written answer {self.grade_id!r}{pts}: not answered yet"
        if self.kind == "edited":
            return (f"locked cell {self.grade_id!r} was edited: the grader puts the original back, so the edit "
                    f"does not count. Copy that cell from a fresh release notebook.")
        if self.kind == "type changed":
            return f"cell {self.grade_id!r} changed type ({self.message}); change it back"
        return f"{self.grade_id}{pts}: {self.message}"


@dataclass
class NotebookReport:
    """The validation of one notebook.

    ``status``: ``passed`` (every autograded test passes), ``failed`` (some do
    not, or written answers are empty), ``edited`` (locked cells were edited),
    ``error`` (it could not be run to the end), ``missing`` or ``corrupt``
    (the grader cannot use it: nothing is handed in).
    """

    name: str
    status: str
    problems: list[CellProblem] = field(default_factory=list)
    n_tests: int = 0
    detail: str = ""
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        """A notebook the grader cannot use: the submission stops here."""
        return self.status in ("missing", "corrupt")

    @property
    def failed_tests(self) -> list[CellProblem]:
        return [p for p in self.problems if p.kind == "failed"]

    def summary(self) -> str:
        """``PASSED  all 5 tests pass`` and the like, one line."""
        if self.status in ("missing", "corrupt", "error"):
            return f"{self.status.upper()}: {self.detail}"
        failed, unanswered = len(self.failed_tests), sum(p.kind == "unanswered" for p in self.problems)
        parts = [f"{self.n_tests - failed} of {self.n_tests} autograded tests pass"]
        if unanswered:
            parts.append(f"{unanswered} written answer(s) empty")
        if any(p.kind in ("edited", "type changed") for p in self.problems):
            parts.append("locked cells edited")
        return f"{self.status.upper()}: " + "; ".join(parts) + f" ({self.seconds:.0f} s)"

    def lines(self) -> list[str]:
        """The summary, then one line per problem."""
        return [self.summary(), *(p.line() for p in self.problems)]


def notebook_problem(path: Path) -> tuple[Any, str | None]:
    """(the notebook, None), or (None, why the grader cannot use the file at ``path``)."""
    import nbformat

    if not path.is_file():
        return None, f"{path.name} is not in {path.parent}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path.name} cannot be read as text ({type(exc).__name__}: {exc})"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, (f"{path.name} is not a notebook: it is not valid JSON ({exc.msg} at line {exc.lineno}, "
                      f"column {exc.colno}). It was damaged, maybe by an editor or an interrupted save.")
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or "nbformat" not in raw:
        return None, f"{path.name} is JSON but not a Jupyter notebook (no 'cells' list or 'nbformat')"
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        return None, f"{path.name} is not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})"
    if not any(nbmeta.nbgrader(c) for c in nb.cells):
        return None, (f"{path.name} has lost its nbgrader cells (its cells carry no nbgrader metadata), so the "
                      f"grader cannot find your answers or its tests")
    return nb, None


def load_validator(install: bool | None = None) -> type:
    """nbgrader's ``Validator`` class; on Colab (or with ``install=True``) install nbgrader first if needed."""
    from course_lib.notebook import on_colab

    try:
        from nbgrader.validator import Validator
        return Validator
    except ImportError as exc:
        first = exc
    if not (on_colab() if install is None else install):
        raise SubmitError(
            f"nbgrader is not installed in this environment ({first}); it runs the notebooks as the grader "
            f"does. Install it with: pip install nbgrader=={NBGRADER_VERSION}   (README, 'For students').")
    missing = [pkg for mod, pkg in _VALIDATOR_IMPORTS.items() if importlib.util.find_spec(mod) is None]
    print(f"Installing nbgrader {NBGRADER_VERSION} to validate the notebooks (once per session)...", flush=True)
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    for args in ([*pip, "--no-deps", f"nbgrader=={NBGRADER_VERSION}"], [*pip, *missing] if missing else None):
        if args and subprocess.run(args, check=False).returncode != 0:
            raise SubmitError(f"could not install nbgrader ({' '.join(args[3:])} failed; see the pip output above).")
    importlib.invalidate_caches()
    try:
        from nbgrader.validator import Validator
    except ImportError as exc:
        raise SubmitError(f"nbgrader was installed but cannot be imported: {exc}") from None
    return Validator


def _clean(error: str) -> str:
    """The informative part of a failed cell's error text, on one line."""
    lines = [ln.rstrip() for ln in _ANSI.sub("", error).splitlines() if not _NOISE.search(ln)]
    if "CHECK FAILED" in lines:  # course_lib's checks: the message after the banner
        lines = lines[lines.index("CHECK FAILED") + 1:]
    elif lines:
        lines = lines[-1:]  # a plain traceback: its last line names the exception
    text = " ".join(ln.strip() for ln in lines) or "failed with no message"
    return text if len(text) <= 400 else text[:397] + "..."


def _edited_cells(nb: Any) -> list[CellProblem]:
    from nbgrader import utils

    problems = []
    for cell in nb.cells:
        meta = nbmeta.nbgrader(cell)
        gid = meta.get("grade_id", "?")
        if meta.get("cell_type") and meta["cell_type"] != cell.cell_type:
            problems.append(CellProblem(gid, "type changed", f"{meta['cell_type']} -> {cell.cell_type}"))
        elif utils.is_locked(cell) and "checksum" in meta and meta["checksum"] != utils.compute_checksum(cell):
            problems.append(CellProblem(gid, "edited", ""))
    return problems


def validate_notebook(path: Path | str, timeout: int = CELL_TIMEOUT, validator: type | None = None) -> NotebookReport:
    """Run the notebook at ``path`` as the grader will and say which checks fail."""
    path = Path(path).resolve()
    start = time.monotonic()
    if not path.is_file():
        return NotebookReport(path.name, "missing", detail=f"{path.name} is not in {path.parent}")
    nb, problem = notebook_problem(path)
    if problem:
        return NotebookReport(path.name, "corrupt", detail=problem)
    Validator = validator or load_validator()
    from nbgrader import utils
    from traitlets.config import Config

    tests = [c for c in nb.cells if c.cell_type == "code" and utils.is_grade(c) and not utils.is_solution(c)]
    report = NotebookReport(path.name, "passed", n_tests=len(tests))
    report.problems = _edited_cells(nb)
    if any(p.kind == "type changed" for p in report.problems):  # nbgrader would not run it either
        report.status, report.seconds = "edited", time.monotonic() - start
        return report

    config = Config()
    config.Execute.timeout = int(timeout)
    config.Execute.startup_timeout = 120
    # Edits are reported above; run every test anyway (written answers are judged above too: with
    # ignore_checksums nbgrader no longer tells an empty answer from a written one).
    config.Validator.ignore_checksums = True
    log = logging.getLogger("course_lib.student.validate")
    try:
        results = Validator(config=config, log=log).validate(str(path))
    except Exception as exc:  # noqa: BLE001 - a kernel that dies or hangs, a timeout
        report.status, report.seconds = "error", time.monotonic() - start
        report.detail = (f"it could not be run to the end ({type(exc).__name__}: {str(exc).strip()[:300]}). "
                         f"Restart the kernel and run all cells to find the cell that breaks.")
        return report

    failed = list(results.get("failed", []))
    problems: list[tuple[int, CellProblem]] = []
    for index, cell in enumerate(nb.cells):
        if not utils.is_grade(cell):
            continue
        gid, points = nbmeta.grade_id(cell) or "?", float(nbmeta.nbgrader(cell).get("points", 0) or 0)
        if cell.cell_type == "markdown":
            # nbgrader's rule: a written answer whose checksum is still the release's is empty
            if utils.determine_grade(cell, log)[0] == 0:
                problems.append((index, CellProblem(gid, "unanswered", UNANSWERED, points)))
        elif failed and failed[0]["source"] == cell.source.strip():  # results come in cell order
            error = _clean(failed.pop(0).get("raw_error", "")) or PARTIAL  # no error: partial credit
            problems.append((index, CellProblem(gid, "failed", error, points)))
    report.problems = [p for _, p in sorted(problems, key=lambda t: t[0])] + report.problems
    if any(p.kind == "edited" for p in report.problems):
        report.status = "edited"
    elif report.problems:
        report.status = "failed"
    report.seconds = time.monotonic() - start
    return report
