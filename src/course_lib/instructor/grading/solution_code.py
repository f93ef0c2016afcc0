"""The solution code of a submitted notebook, as the similarity screen compares it: its
solution cells without the lines the release notebook already gave in the same cell
(see :mod:`.similarity`)."""
from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from course_lib import nbmeta

__all__ = ["solution_code"]

def _read_cells(path: Path) -> list[dict[str, Any]]:
    """The cells of a notebook file as plain dicts; [] for anything that is not a readable notebook.

    Parsed with ``json`` rather than ``nbformat.read``: a student's notebook that fails
    nbformat's schema validation would otherwise be logged on stderr, and its code is
    still worth comparing."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return []
    return [c for c in cells if isinstance(c, dict)]


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _is_solution_code(cell: dict[str, Any]) -> bool:
    return cell.get("cell_type") == "code" and nbmeta.is_solution(cell)  # type: ignore[arg-type]


def _grade_id(cell: dict[str, Any]) -> str:
    gid = nbmeta.grade_id(cell)  # type: ignore[arg-type]
    return " ".join(str(gid).split()) if gid is not None else "?"


_COMMENT = re.compile(r"""((?:[^#'"\n]|'[^'\\\n]*(?:\\.[^'\\\n]*)*'|"[^"\\\n]*(?:\\.[^"\\\n]*)*")*)#.*""")
_SPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def _line_keys(code: str) -> list[str]:
    """Each line of ``code`` without its whitespace and its comment, so that a given line
    re-indented, re-spaced or stripped of its comment still reads as the given line
    (a ``#`` inside a one-line string literal is not a comment)."""
    keys = []
    for line in code.split("\n"):
        found = _COMMENT.match(line) if "#" in line else None
        keys.append(_SPACE.sub("", found.group(1) if found else line))
    return keys


def _without_given_lines(code: str, given_keys: Sequence[str]) -> str:
    """``code`` less the lines it shares, in order, with the release's cell (its
    ``_line_keys``, blank ones left out): what the student wrote. Lines are compared without whitespace and comments; a line
    that is only whitespace or comments is kept (it never counts: normalised away)."""
    lines = code.split("\n")
    keys = _line_keys(code)
    own = [i for i, key in enumerate(keys) if key]
    matcher = difflib.SequenceMatcher(None, given_keys, [keys[i] for i in own], autojunk=False)
    drop = {own[j] for block in matcher.get_matching_blocks() for j in range(block.b, block.b + block.size)}
    if all(i in drop for i in own):
        return ""
    kept = "\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")
    return _BLANK_LINES.sub("\n\n", kept)


@functools.lru_cache(maxsize=64)
def _given_code(release: str, mtime_ns: int) -> dict[str, tuple[str, ...]]:
    """{grade_id: the non-blank line keys} of the code cells of a release notebook
    (cached: read once per class, not once per student)."""
    return {_grade_id(c): tuple(key for key in _line_keys(_source(c)) if key)
            for c in _read_cells(Path(release)) if c.get("cell_type") == "code"}


def _solution_cells(submitted: Path, release: Path | None) -> list[tuple[str, str]]:
    """(grade_id, the student's own code) of each solution code cell, in notebook order;
    cells with no code of the student's are left out."""
    given: dict[str, tuple[str, ...]] = {}
    if release is not None:
        try:
            given = _given_code(str(Path(release).resolve()), Path(release).stat().st_mtime_ns)
        except OSError:
            given = {}
    cells = []
    for cell in _read_cells(submitted):
        if not _is_solution_code(cell):
            continue
        gid = _grade_id(cell)
        code = _source(cell)
        if gid in given:
            code = _without_given_lines(code, given[gid])
        if code.strip():
            cells.append((gid, code))
    return cells


def solution_code(submitted: Path, release: Path | None = None) -> str:
    """The student's solution code of one notebook: the solution code cells, in order,
    each under a ``# --- <grade_id> ---`` comment, with the lines the release notebook
    already had in that cell left out (with ``release``). "" for a notebook with no code
    of the student's, and for a file that is not a readable notebook (no exception)."""
    return "\n\n".join(f"# --- {gid} ---\n{code}" for gid, code in _solution_cells(submitted, release))
