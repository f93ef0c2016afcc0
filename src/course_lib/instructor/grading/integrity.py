"""Did anything shared change? Fingerprints of what no submission may touch.

:func:`snapshot` fingerprints the course's shared files: ``nbgrader_config.py``,
the assignment's ``source_notebooks/`` and ``release/`` folders, every
student's ``submitted/`` folder, and the folders kernels read (``course_lib``,
the offline data) by size and modification time. No link is followed: a
symbolic link is fingerprinted by where it points, a FIFO or device by its
type. :func:`changed` lists what differs between two snapshots, optionally
only within one folder (a student's own submission) or outside one (the
other students' submissions: a confined kernel works on a private copy, so a
change inside ``submitted/<student>/`` came from outside the sandbox and is
that student's finding, not their neighbours'). :func:`gradebook_test_cells`
compares the test cells stored in the gradebook (source, checksum, points)
with the source notebooks: a submission that rewrote them would let later
students pass.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from course_lib import nbmeta


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    # never through a link, and a FIFO swapped in cannot block the grader
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path):
    """``(path, lstat)`` of every entry under ``folder`` that is not a folder, links
    included (never followed; a link to a folder is not entered)."""
    try:
        st = os.lstat(folder)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        yield folder, st
        return
    found = []
    for root, dirs, names in os.walk(folder):  # os.walk does not follow links to folders
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(root, d)))]:
            p = Path(root) / name
            try:
                found.append((p, os.lstat(p)))
            except OSError:
                continue
    yield from sorted(found, key=lambda x: str(x[0]))


def _special(p: Path, st) -> str:
    if stat.S_ISLNK(st.st_mode):
        try:
            return "link to " + os.readlink(p)
        except OSError:
            return "link"
    return f"not a regular file (mode {stat.S_IFMT(st.st_mode):o})"


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
        for p, st in _files(folder):
            if not stat.S_ISREG(st.st_mode):
                out[str(p)] = _special(p, st)
                continue
            key = _stat_key(st)
            known = cache.get(str(p))
            if known is None or known[0] != key:
                try:
                    known = cache[str(p)] = (key, _digest(p))
                except OSError as err:
                    known = (key, f"unreadable ({err.strerror})")
            out[str(p)] = known[1]
    for folder in read_only:
        for p, st in _files(Path(folder)):
            out[str(p)] = f"{st.st_size}:{st.st_mtime_ns}" if stat.S_ISREG(st.st_mode) else _special(p, st)
    return out


def _under(path: str, folder: Path | None) -> bool:
    return folder is not None and (path == str(folder) or path.startswith(str(folder).rstrip("/") + "/"))


def _show(path: str) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")  # an undecodable name must not break the CSV


def changed(before: dict[str, str], after: dict[str, str], within: Path | None = None,
            outside: Path | None = None) -> list[str]:
    """Paths added, removed or changed, each with what happened; only those under
    ``within`` (if given) and none under ``outside`` (if given)."""
    keep = lambda p: (within is None or _under(p, within)) and not _under(p, outside)  # noqa: E731
    out = [f"{_show(p)} changed" for p in before if p in after and before[p] != after[p] and keep(p)]
    out += [f"{_show(p)} deleted" for p in before if p not in after and keep(p)]
    out += [f"{_show(p)} added" for p in after if p not in before and keep(p)]
    return sorted(out)


def gradebook_test_cells(source_dir: Path, url: str, course_id: str, assignment: str) -> list[str]:
    """Each autograded test cell of the source notebooks must be stored in the
    gradebook with the same source, checksum and points; returns the mismatches."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import compute_checksum

    problems: list[str] = []
    with Gradebook(url, course_id) as gb:
        for path in sorted(Path(source_dir).glob("*.ipynb")):
            nb = nbmeta.read(path)
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
