"""Did anything shared change? Fingerprints of what no submission may touch.

:func:`snapshot` fingerprints the course's shared files: ``nbgrader_config.py``,
the assignment's ``source_notebooks/`` and ``release/`` folders, every
student's ``submitted/`` folder, and the folders kernels read (``course_lib``,
the offline data) by size and modification time. :func:`changed` lists what
differs between two snapshots. :func:`gradebook_test_cells` compares the test
cells stored in the gradebook (source, checksum, points) with the source
notebooks: a submission that rewrote them would let later students pass.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat

from .. import nbmeta


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path):
    if folder.is_file():
        yield folder
    elif folder.is_dir():
        yield from (p for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)


def _stat_key(st) -> tuple:
    # any write or utime changes ctime, which user code cannot set back
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def snapshot(course: Path, assignment: str, read_only: list[Path] = (),
             cache: dict[str, tuple[tuple, str]] | None = None) -> dict[str, str]:
    """``{path: fingerprint}``: content hashes of course files, size+mtime elsewhere.

    With ``cache`` (a dict kept between calls), a file is hashed again only when
    its inode, size, mtime or ctime changed: one snapshot per graded student
    then costs a ``stat`` per file, not a read of every submission.
    """
    cache = {} if cache is None else cache
    out: dict[str, str] = {}
    for folder in (course / "nbgrader_config.py", course / "source_notebooks" / assignment,
                   course / "release" / assignment, course / "submitted"):
        for p in _files(folder):
            key = _stat_key(p.stat())
            known = cache.get(str(p))
            if known is None or known[0] != key:
                known = cache[str(p)] = (key, _digest(p))
            out[str(p)] = known[1]
    for folder in read_only:
        for p in _files(Path(folder)):
            st = p.stat()
            out[str(p)] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths added, removed or changed, each with what happened."""
    out = [f"{p} changed" for p in before if p in after and before[p] != after[p]]
    out += [f"{p} deleted" for p in before if p not in after]
    out += [f"{p} added" for p in after if p not in before]
    return sorted(out)


def gradebook_test_cells(source_dir: Path, url: str, course_id: str, assignment: str) -> list[str]:
    """Each autograded test cell of the source notebooks must be stored in the
    gradebook with the same source, checksum and points; returns the mismatches."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import compute_checksum

    problems: list[str] = []
    with Gradebook(url, course_id) as gb:
        for path in sorted(Path(source_dir).glob("*.ipynb")):
            nb = nbformat.read(str(path), as_version=4)
            for cell in nb.cells:
                if not nbmeta.is_autograded_test(cell):
                    continue
                gid = nbmeta.grade_id(cell)
                try:
                    stored = gb.find_source_cell(gid, path.stem, assignment)
                    grade = gb.find_grade_cell(gid, path.stem, assignment)
                except MissingEntry:
                    problems.append(f"{path.stem}/{gid}: not in the gradebook")
                    continue
                if stored.source != cell.source:
                    problems.append(f"{path.stem}/{gid}: the stored source differs from source_notebooks/")
                if stored.checksum and stored.checksum != compute_checksum(cell):
                    problems.append(f"{path.stem}/{gid}: the stored checksum does not match the source")
                if float(grade.max_score) != float(nbmeta.points(cell)):
                    problems.append(f"{path.stem}/{gid}: worth {grade.max_score:g} points in the gradebook, "
                                    f"{nbmeta.points(cell):g} in the source")
    return problems
