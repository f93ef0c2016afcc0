"""The leak scan: does anything students receive hold a line only the source notebooks hold?

The secrets are the lines of every solution region (code answers, model
answers and rubrics of written answers) and hidden-test region of the source
notebooks, less trivial lines (``return``, ``x.backward()``, ...) and lines
that also appear outside those regions (given code a solution repeats). A
published file leaks when one of its lines, stripped, is a secret; a
published notebook also leaks when it still holds an nbgrader delimiter.

One scan serves everything that leaves this repository: ``release/`` and the
``course_lib`` sources (tests/test_release.py), the wheel and the student kit
(:mod:`.kit` refuses to write a kit that leaks; tests/test_kit.py).
"""
from __future__ import annotations

import json
import re
import string
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import nbformat

from course_lib import nbmeta

DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
              "BEGIN MARK SCHEME", "END MARK SCHEME")
TRIVIAL = {"pass", "return", "else:", "try:", "finally:", "break", "continue", "return None",
           "with torch.no_grad():"}
#: Folders and files that are editor or cache litter, never published.
LITTER = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}


def trivial(line: str) -> bool:
    """Too generic to count as a leak: short, a keyword, punctuation, a bare
    call without arguments (``L.backward()`` is also how an oracle runs torch),
    or a bare loop header (``for _ in range(steps):``, ``for p in model.parameters():``)."""
    s = line.strip()
    return (len(s) < 12 or s in TRIVIAL or all(ch in string.punctuation for ch in s)
            or re.fullmatch(r"[\w.]+\(\)", s) is not None
            or re.fullmatch(r"for \w+ in (range\(\w+\)|[\w.]+\(\)):", s) is not None)


def describe(nb: nbformat.NotebookNode, index: int) -> str:
    """``cell 7 'test_mul'`` (or the cell's first line when it has no grade_id)."""
    cell = nb.cells[index]
    name = nbmeta.grade_id(cell) or nbmeta.source_lines(cell)[0][:40]
    return f"cell {index} {name!r}"


def secret_lines(sources: Iterable[Path]) -> dict[str, str]:
    """Stripped lines of the solution and hidden-test regions of the notebooks
    ``sources`` -> where they come from; trivial lines and lines that also
    appear outside the regions are left out."""
    secret: dict[str, str] = {}
    public: set[str] = set()
    for path in sources:
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            public.update(line.strip() for line in nbmeta.outside_region_lines(cell))
            where = f"{Path(path).name} {describe(nb, i)}"
            for kind, lines in (("solution", nbmeta.solution_lines(cell)),
                                ("hidden test", nbmeta.hidden_test_lines(cell))):
                for line in lines:
                    if not trivial(line):
                        secret.setdefault(line.strip(), f"{kind} in {where}")
    return {line: where for line, where in secret.items() if line not in public}


def text_lines(name: str, data: bytes) -> list[tuple[str, str]]:
    """(stripped line, location) of a published file named ``name``; a notebook's
    cells are read from its JSON, so escaped text is compared as the student sees
    it; a binary file has none."""
    if name.endswith(".ipynb"):
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except (UnicodeDecodeError, ValueError, json.JSONDecodeError, nbformat.reader.NotJSONError):
            return [("<unreadable notebook>", "whole file")]
        return [(line.strip(), describe(nb, i)) for i, cell in enumerate(nb.cells)
                for line in nbmeta.source_lines(cell)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []  # binary
    return [(line.strip(), f"line {n}") for n, line in enumerate(text.splitlines(), 1)]


def folder_files(folder: Path) -> Iterator[tuple[str, bytes]]:
    """(relative name, bytes) of the files under ``folder``, litter left out."""
    folder = Path(folder)
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not LITTER & set(rel.parts) and path.suffix != ".pyc":
            yield str(rel), path.read_bytes()


def archive_files(archive: Path) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of a zip archive (a wheel, the kit's zip); an archive
    inside it (the wheel in the kit) is opened too, as ``outer!inner``."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            data = zf.read(info)
            if info.filename.endswith((".whl", ".zip")):
                import io

                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    for member in inner.infolist():
                        if not member.is_dir():
                            yield f"{info.filename}!{member.filename}", inner.read(member)
            else:
                yield info.filename, data


def scan(files: Iterable[tuple[str, bytes]], secret: dict[str, str],
         delimiters_in: tuple[str, ...] = (".ipynb", ".md")) -> list[str]:
    """``"<file> <where>: <line> (<what it is>)"`` for each published line that is a
    secret, and for each nbgrader delimiter in a file whose name ends with one of
    ``delimiters_in`` (notebooks and pages; course_lib's own code names them)."""
    found = []
    for name, data in files:
        for line, where in text_lines(name, data):
            if line in secret:
                found.append(f"{name} {where}: {line!r} ({secret[line]})")
            elif name.endswith(delimiters_in) and any(d in line for d in DELIMITERS):
                found.append(f"{name} {where}: {line!r} (nbgrader delimiter)")
    return found


def scan_path(path: Path, sources: Iterable[Path]) -> list[str]:
    """The leaks of a folder, a wheel or a zip, against the source notebooks ``sources``."""
    path = Path(path)
    files = folder_files(path) if path.is_dir() else archive_files(path)
    return scan(files, secret_lines(sources))
