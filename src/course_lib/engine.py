"""The student's own ``Value`` engine, loaded from notebook 02 of the same submission.

Later notebooks build on the scalar autograd engine that the student wrote in
``02_autograd.ipynb``. :func:`load_value` reads that notebook (plain JSON, no
Jupyter needed), executes in a fresh namespace exactly the cells that define
the engine -- the given class (nbgrader ``grade_id`` ``value_class``) and the
cells tagged ``engine`` -- and nothing else, then runs notebook 02's own checks
on the result. Every way this can go wrong ends in a
:class:`~course_lib.checks.CheckFailure` that says what to do.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import nbmeta
from .checks._harness import CheckFailure, StudentTimeout, time_budget

__all__ = ["EngineCell", "engine_cells", "load_cells", "load_value", "run_cells", "select_cells"]

#: nbgrader grade_id of the cell that holds the given ``Value`` class.
VALUE_CELL_ID = "value_class"
#: Tag of the cells that add methods to ``Value``.
ENGINE_TAG = "engine"

#: Seconds that executing one engine cell may take (defining methods is instant).
CELL_BUDGET_S = 10.0


@dataclass(frozen=True)
class EngineCell:
    """One code cell of notebook 02 that defines part of the engine."""

    label: str    # the grade_id, or "cell N" when the cell has none
    index: int    # position in the notebook, from 0
    source: str


def _fail(message: str) -> CheckFailure:
    return CheckFailure(f"load_value: {message}")


def _notebook_path(notebook: str | os.PathLike, folder: str | os.PathLike | None) -> Path:
    path = Path(notebook).expanduser()
    if not path.is_absolute():
        path = Path(folder).expanduser() / path if folder is not None else Path.cwd() / path
    return _submitted_twin(path) if not path.exists() else path


def _submitted_twin(path: Path) -> Path:
    """While nbgrader grades one notebook alone (``autograde --notebook``), only
    that notebook is copied to ``autograded/<student>/<assignment>/``: take the
    sibling from ``submitted/<student>/<assignment>/`` then. Else ``path``."""
    parts = path.parts
    if len(parts) >= 4 and parts[-4] == "autograded":
        twin = Path(*parts[:-4], "submitted", *parts[-3:])
        if twin.is_file():
            return twin
    return path


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _strip_magics(source: str) -> str:
    """IPython line magics and shell escapes (``%...``, ``!...``) become comments:
    plain Python cannot run them and an engine never needs them."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped
        lines.append(line)
    return "\n".join(lines)


def _read_cells(path: Path) -> list:
    """The list of cells of the notebook at ``path``, or a :class:`CheckFailure` that says why not."""
    if not path.is_file():
        where = path.parent
        others = sorted(p.name for p in where.glob("*.ipynb")) if where.is_dir() else []
        seen = f" The notebooks there are: {', '.join(others)}." if others else (
            " That folder holds no notebook." if where.is_dir() else " That folder does not exist.")
        raise _fail(
            f"could not find {path.name}: looked for {path}.{seen} Keep {path.name} in the same "
            f"folder as this notebook (as released), or pass folder= (the folder that holds it)."
        )
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise _fail(
            f"{path} is not a valid notebook: its JSON is broken at line {exc.lineno}, column "
            f"{exc.colno} ({exc.msg}). Open it in Jupyter; if it does not open, restore it from "
            f"a backup or the release folder and copy your code back in."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"could not read {path}: {type(exc).__name__}: {exc}") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise _fail(f"{path} is JSON but not a Jupyter notebook (it has no list of cells).")
    return cells


def select_cells(path: str | os.PathLike, grade_ids: Sequence[str] = (),
                 tags: Sequence[str] = ()) -> list[EngineCell]:
    """The code cells of a notebook whose nbgrader ``grade_id`` is in ``grade_ids``
    or that carry one of ``tags``, in notebook order (nothing is executed)."""
    out: list[EngineCell] = []
    for index, cell in enumerate(_read_cells(Path(path))):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        grade_id = nbmeta.grade_id(cell)
        cell_tags = meta.get("tags") or []
        if grade_id in grade_ids or any(t in cell_tags for t in tags):
            out.append(EngineCell(grade_id or f"cell {index + 1}", index, _source(cell)))
    return out


def engine_cells(path: str | os.PathLike) -> list[EngineCell]:
    """The cells of notebook 02 that define ``Value``, in notebook order.

    Raises :class:`CheckFailure` when the file is missing, is not a notebook,
    or has no ``value_class`` cell.
    """
    out = select_cells(path, grade_ids=(VALUE_CELL_ID,), tags=(ENGINE_TAG,))
    if not any(c.label == VALUE_CELL_ID for c in out):
        raise _fail(
            f"{Path(path).name} has no cell with grade_id '{VALUE_CELL_ID}' (the cell that defines "
            f"class Value). Was that cell deleted or its metadata changed? Restore it from the "
            f"release notebook."
        )
    return out


def _cell_line(exc: BaseException, filename: str, source: str) -> str:
    """`` (line N: `code`)`` of the innermost frame inside the cell, if any."""
    lines = source.splitlines()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == filename and frame.lineno and 0 < frame.lineno <= len(lines):
            return f" (line {frame.lineno} of that cell: `{lines[frame.lineno - 1].strip()}`)"
    if isinstance(exc, SyntaxError) and exc.lineno and 0 < exc.lineno <= len(lines):
        return f" (line {exc.lineno} of that cell: `{lines[exc.lineno - 1].strip()}`)"
    return ""


def run_cells(cells: Sequence[EngineCell], name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute ``cells`` in order in one fresh namespace (holding ``given``
    first) and return it. Each cell runs within :data:`CELL_BUDGET_S`; its
    printed output is discarded. A cell that raises gives a
    :class:`CheckFailure` naming the cell and the error."""
    namespace: dict[str, Any] = {"__name__": "student_notebook", "__builtins__": __builtins__, **(given or {})}
    for cell in cells:
        filename = f"<{name}, cell {cell.label}>"
        try:
            code = compile(_strip_magics(cell.source), filename, "exec")
            with time_budget(CELL_BUDGET_S), contextlib.redirect_stdout(io.StringIO()):
                exec(code, namespace)
        except StudentTimeout:
            raise _fail(
                f"running the cell '{cell.label}' of {name} did not finish within "
                f"{CELL_BUDGET_S:g} s. These cells should only define things: move any "
                f"long computation out of them."
            ) from None
        except BaseException as exc:  # noqa: BLE001 -- SystemExit from a cell too
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise _fail(
                f"running the cell '{cell.label}' of {name} raised {type(exc).__name__}: "
                f"{exc}{_cell_line(exc, filename, cell.source)}. Fix that cell in {name} "
                f"(it must run on its own, top to bottom), save, and run this cell again."
            ) from None
    return namespace


def load_cells(
    notebook: str | os.PathLike,
    *,
    grade_ids: Sequence[str] = (),
    tags: Sequence[str] = (),
    folder: str | os.PathLike | None = None,
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The namespace after running, in a fresh namespace that holds ``given``,
    only the code cells of ``notebook`` (in ``folder``, default the working
    directory) selected by nbgrader ``grade_ids`` or ``tags``. Tests use it to
    take reference classes from a source notebook's solution cells."""
    path = _notebook_path(notebook, folder)
    return run_cells(select_cells(path, grade_ids, tags), path.name, given)


def load_value(
    notebook: str | os.PathLike = "02_autograd.ipynb",
    folder: str | os.PathLike | None = None,
    check: bool = True,
    quiet: bool = False,
    strict: bool = True,
) -> type | None:
    """Your ``Value`` class, rebuilt from notebook 02 of this submission.

    ``notebook`` is looked for in ``folder`` (default: the current working
    directory, i.e. the folder of the notebook that calls this). Only the
    cell with grade_id ``value_class`` and the cells tagged ``engine`` are
    executed, in a fresh namespace, each within a time budget. With
    ``check=True`` the engine must then pass every check of notebook 02
    (``course_lib.checks.autograd.check_engine``), run silently.

    Returns the class; prints one line unless ``quiet``. When the engine
    cannot be loaded or fails its checks, raises :class:`CheckFailure`, or
    with ``strict=False`` prints the reason and returns None (so that the
    rest of a notebook still runs; checks given None say what happened).
    """
    if not strict:
        try:
            return load_value(notebook, folder, check=check, quiet=quiet, strict=True)
        except CheckFailure as failure:
            print(f"VALUE NOT LOADED. {failure.message}")
            return None
    path = _notebook_path(notebook, folder)
    cells = engine_cells(path)
    Value = run_cells(cells, path.name).get("Value")
    if not isinstance(Value, type):
        raise _fail(
            f"after running the engine cells of {path.name} there is no class named Value "
            f"(found {type(Value).__name__}). Was class Value renamed?"
        )
    if check:
        from .checks.autograd import engine_refusal

        message = engine_refusal(Value, path.name)
        if message is not None:
            raise CheckFailure(message)
    if not quiet:
        status = "it passes notebook 02's checks" if check else "not checked"
        print(f"Loaded your Value from {path.name} ({len(cells)} cells; {status}).")
    return Value

