"""Bring submissions into the course root: ``submitted/<student>/<assignment>/``.

``course-grade`` accepts either

- the course's own ``submitted/`` folder, or any folder laid out the same way
  (``<student>/<assignment>/*.ipynb``), or ``<student>/*.ipynb``;
- a folder of zip files as a learning-management system exports them, one per
  student: ``<student>.zip`` or ``<student>_<assignment>.zip`` (what
  ``course-submit`` writes). Inside, the notebooks may sit at the top, in
  ``<assignment>/`` or in any one folder: the shallowest folder holding a
  notebook is taken.

Submission times (for the late policy, :mod:`.late`): a ``submission_times.csv``
in the submissions folder (columns ``student``, ``submitted_at``: the time the
LMS recorded) is written into each listed student's folder as nbgrader's
``timestamp.txt``. Otherwise a folder submission keeps the ``timestamp.txt``
that nbgrader's exchange wrote (an unreadable one is removed); a zip's own
``timestamp.txt`` is never kept, since the student wrote it.

Zip files are unpacked defensively: no absolute names, no ``..``, no links, no
name that breaks the path rules below, at most :data:`MAX_FILES` files and
:data:`MAX_BYTES` bytes. A zip that breaks a rule or cannot be read is reported
(``problems``) and that student is not graded, instead of stopping the class.

Submissions are data: a student's collected folder holds **regular files
only**. A folder submission is walked without ever following a link
(``lstat``, ``O_NOFOLLOW``, file descriptors all the way down); what is not a
regular file with a single name is refused, never copied as what it points at:
a symbolic link (to the gradebook, a source notebook, anything), a hard link
(``st_nlink > 1``: its content is some other file's, maybe outside the
submission), a FIFO, a socket, a device; so is a name longer than
:data:`MAX_NAME` bytes, not UTF-8 or with control characters, a path longer
than :data:`MAX_PATH` bytes, a folder nested deeper than :data:`MAX_DEPTH`.
Copied from elsewhere, the refused entries are left out; in the course's own
``submitted/`` (graded in place) they are removed. Either way the reasons are
recorded in ``grading/<assignment>/refused/<student>.json`` with the
fingerprint of the folder they apply to, and :func:`refused` gives them to the
grader as the student's findings. The kernel's private copy
(:mod:`.kernel`) uses the same copier (:func:`copy_regular`), so nothing but
the student's own regular files reaches a kernel, ``autograded/`` or
``feedback/``.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ...nbmeta import BAD_ID, clean_id  # noqa: F401  (clean_id: used here, and by late.py from here)

MAX_FILES = 500
MAX_BYTES = 500 << 20
MAX_NAME = 255     # bytes in one file or folder name (POSIX NAME_MAX)
MAX_PATH = 1024    # bytes in a path inside a submission (copies stay far below PATH_MAX)
MAX_DEPTH = 16     # folders inside folders
_BAD_ID = BAD_ID
TIMES_CSV = "submission_times.csv"
TIMESTAMP = "timestamp.txt"  # nbgrader's name for the submission time of a folder
LITTER = (".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store", "__MACOSX")
REFUSED_KIND = "refused-file"  # the tag of a refusal in the student's findings

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC  # a FIFO swapped in cannot block


def student_id(name: str, assignment: str) -> str:
    """A file name's student id: ``alice_ps1.zip`` -> ``alice`` (unsafe characters -> ``_``)."""
    stem = name[:-4] if name.lower().endswith(".zip") else name
    for suffix in (f"_{assignment}", f"-{assignment}"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
    return clean_id(stem) or "student"


def _notebook_root(names: list[str]) -> PurePosixPath | None:
    folders = sorted((PurePosixPath(n).parent for n in names if n.endswith(".ipynb")), key=lambda p: len(p.parts))
    return folders[0] if folders else None


# ------------------------------------------------------------------ regular files only
def _show(rel: str, limit: int = 120) -> str:
    """``rel`` as printable text (undecodable bytes escaped), at most ``limit`` characters."""
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name_problem(name: str) -> str | None:
    raw = os.fsencode(name)
    if len(raw) > MAX_NAME:
        return f"a name longer than {MAX_NAME} bytes"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "a name that is not UTF-8 text"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "a name with control characters"
    return None


def path_problem(rel: str, folder: bool = False) -> str | None:
    """Why the relative path ``rel`` (``/``-separated) breaks the path rules, or None."""
    parts = [p for p in rel.split("/") if p]
    for part in parts:
        why = _name_problem(part)
        if why:
            return why
    if len(os.fsencode(rel)) > MAX_PATH:
        return f"a path longer than {MAX_PATH} bytes"
    if len(parts) - (0 if folder else 1) > MAX_DEPTH:
        return f"folders nested more than {MAX_DEPTH} deep"
    return None


def _type_problem(st: os.stat_result, link: str | None) -> str | None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISREG(mode):
        if st.st_nlink == 1:
            return None
        return (f"a hard link (one of {st.st_nlink} names of one file: its content is another file's, "
                "perhaps outside the submission)")
    if stat.S_ISLNK(mode):
        return f"a symbolic link (to {_show(link or '?', 100)!r}), never followed"
    for test, what in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"


def _open_folder(path: Path) -> int:
    """A descriptor of the real folder ``path`` (ValueError if it is a link or not a folder)."""
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError as err:
        why = "a symbolic link" if os.path.islink(path) else (err.strerror or type(err).__name__).lower()
        raise ValueError(f"{path} is not a folder ({why})") from None


def _walk(dir_fd: int, prefix: str = "", skip=None):
    """Yield ``(rel, name, parent_fd, lstat or None, why refused or None)`` for everything
    under the folder ``dir_fd``, parents before their contents, never following a link;
    descends only into folders that are not refused."""
    for name in sorted(os.listdir(dir_fd)):
        rel = prefix + name
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as err:
            yield rel, name, dir_fd, None, f"unreadable ({err.strerror})"
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if skip is not None and skip(name, is_dir):
            continue
        link = None
        if stat.S_ISLNK(st.st_mode):
            try:
                link = os.readlink(name, dir_fd=dir_fd)
            except OSError:
                pass
        why = path_problem(rel, folder=is_dir) or _type_problem(st, link)
        fd = None
        if is_dir and why is None:
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                now = os.fstat(fd)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    why = "replaced while it was read"
            except OSError as err:
                why = f"unreadable ({err.strerror})"
        try:
            yield rel, name, dir_fd, st, why
            if fd is not None and why is None:
                yield from _walk(fd, rel + "/", skip)
        finally:
            if fd is not None:
                os.close(fd)


def _litter(name: str, is_dir: bool) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in LITTER)


class _Refused(Exception):
    pass


def _copy_file(parent_fd: int, name: str, st: os.stat_result, target: Path) -> None:
    """Copy the regular file ``name`` of ``parent_fd`` (as ``st`` saw it) to ``target``."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=parent_fd)
    except OSError as err:
        raise _Refused(f"unreadable ({err.strerror})") from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or now.st_nlink != 1 or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise _Refused("replaced while it was copied")
        try:
            os.unlink(target)  # a copy being merged over (the kernel's copy): never written through
        except FileNotFoundError:
            pass
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
        with open(fd, "rb", closefd=False) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.utime(dst.fileno(), ns=(now.st_atime_ns, now.st_mtime_ns))
    except OSError as err:
        raise _Refused(f"could not be copied ({err.strerror or err})") from None
    finally:
        os.close(fd)


def copy_regular(src: Path, dest: Path, skip=None) -> list[str]:
    """Copy the regular files and folders under ``src`` into ``dest`` (created; files
    already there are replaced), never following a link; returns ``"path: why"`` for
    each entry refused (see the module's docstring). ``skip(name, is_dir)`` leaves
    entries out silently. Raises ValueError if ``src`` itself is not a real folder."""
    top = _open_folder(Path(src))
    refused: list[str] = []
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        for rel, name, parent, st, why in _walk(top, skip=skip):
            if why is None:
                target = dest / rel
                try:
                    if stat.S_ISDIR(st.st_mode):
                        target.mkdir(exist_ok=True)
                        if target.is_symlink() or not target.is_dir():
                            raise _Refused("could not be copied (not a folder in the copy)")
                    else:
                        _copy_file(parent, name, st, target)
                    continue
                except _Refused as err:
                    why = str(err)
                except OSError as err:
                    why = f"could not be copied ({err.strerror or err})"
            refused.append(f"{_show(rel)}: {why}")
    finally:
        os.close(top)
    return refused


def keep_regular(folder: Path) -> list[str]:
    """Remove from ``folder``, in place, everything :func:`copy_regular` would refuse;
    returns ``"path: why"`` for each (ValueError if something cannot be removed)."""
    top = _open_folder(Path(folder))
    refused: list[str] = []
    try:
        for rel, name, parent, st, why in _walk(top):
            if why is None:
                continue
            refused.append(f"{_show(rel)}: {why}")
            try:
                if st is not None and stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(name, dir_fd=parent)
                else:
                    os.unlink(name, dir_fd=parent)  # a link itself, never its target
            except OSError as err:
                raise ValueError(f"{_show(rel)} ({why}) could not be removed: {err.strerror or err}") from None
    finally:
        os.close(top)
    return refused


def irregular(folder: Path) -> list[str]:
    """``"path: why"`` for each entry of ``folder`` that is not a regular file or folder
    within the rules (nothing is changed)."""
    top = _open_folder(Path(folder))
    try:
        return [f"{_show(rel)}: {why}" for rel, _, _, _, why in _walk(top) if why is not None]
    finally:
        os.close(top)


def _remove(path: Path) -> None:
    """Remove ``path`` whatever it is (a folder's tree, or a link itself); nothing if absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _real_folder(path: Path) -> None:
    """Make ``path`` a real folder (a link or file in its place is removed, not followed)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        _remove(path)
    path.mkdir(parents=True, exist_ok=True)


def _replace(folder: Path, dest: Path, submitted: Path) -> list[str]:
    """``dest`` := the regular files of ``folder`` (built beside it, then renamed into place)."""
    _real_folder(dest.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".collect-{dest.parent.name}-", dir=submitted))
    try:
        refused = copy_regular(folder, tmp, skip=_litter)
        os.chmod(tmp, 0o755)
        _remove(dest)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return refused


# ------------------------------------------------------------------ what was refused, per student
def _record_path(course: Path, assignment: str, student: str) -> Path:
    return Path(course) / "grading" / assignment / "refused" / f"{student}.json"


def _record(course: Path, assignment: str, student: str, refused: list[str], removed: bool) -> None:
    """Keep what was refused from ``student``'s folder, with the fingerprint of the folder left.
    A folder collected in place with nothing left to refuse keeps its record: the entries
    were removed by an earlier run, and the record holds while the folder is unchanged."""
    from .journal import fingerprint

    path = _record_path(course, assignment, student)
    if not refused:
        if not removed:
            path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(course) / "submitted" / student / assignment
    how = "removed from submitted/" if removed else "not copied"
    path.write_text(json.dumps({"submission": fingerprint(folder), "how": how, "refused": refused}, indent=1))


def refused(course: Path, assignment: str, student: str) -> list[str]:
    """The student's findings for what :func:`collect` refused from their submission
    (none once the folder changed since: a new submission)."""
    from .journal import fingerprint

    try:
        record = json.loads(_record_path(course, assignment, student).read_text())
        folder = Path(course) / "submitted" / student / assignment
        if record.get("submission") != fingerprint(folder):
            return []
        return [f"submission: [{REFUSED_KIND}] {item}  -- {record.get('how', 'not copied')}: a submission holds "
                "regular files only" for item in record.get("refused", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def unzip(path: Path, dest: Path) -> None:
    """Unpack the notebooks' folder of ``path`` into ``dest`` (raises ValueError why not)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_FILES:
                raise ValueError(f"it holds {len(infos)} files (at most {MAX_FILES})")
            if sum(i.file_size for i in infos) > MAX_BYTES:
                raise ValueError(f"it unpacks to more than {MAX_BYTES >> 20} MiB")
            for info in infos:
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts or re.match(r"^[A-Za-z]:", info.filename):
                    raise ValueError(f"it holds an unsafe path: {info.filename!r}")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ValueError(f"it holds a symbolic link: {info.filename!r}")
                why = path_problem(info.filename)
                if why:
                    raise ValueError(f"it holds {why}: {_show(info.filename)!r}")
            root = _notebook_root([i.filename for i in infos if "__MACOSX" not in i.filename])
            if root is None:
                raise ValueError("it holds no notebook (*.ipynb)")
            _remove(dest)
            dest.mkdir(parents=True)
            for info in infos:
                name = PurePosixPath(info.filename)
                if "__MACOSX" in name.parts or root not in (name.parent, *name.parents):
                    continue
                target = dest.joinpath(*name.relative_to(root).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        raise ValueError(f"it is not a readable zip file ({type(err).__name__}: {err})") from err


def _stamp(folder: Path, student: str, times: dict, from_zip: bool) -> None:
    """Leave ``folder/timestamp.txt`` holding the trusted submission time, or no such file."""
    from .late import parse_time

    stamp = folder / TIMESTAMP
    if student in times:
        stamp.write_text(times[student].strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n")
    elif from_zip or stamp.is_symlink():
        stamp.unlink(missing_ok=True)
    elif stamp.is_file():
        try:
            parse_time(stamp.read_text(errors="replace"))
        except ValueError:
            stamp.unlink()


def collect(source: Path, course: Path, assignment: str) -> tuple[list[str], dict[str, str]]:
    """Copy or unpack every submission under ``source`` into the course root, with
    its submission time, as regular files only (see the module's docstring; what was
    refused from a student's folder: :func:`refused`).

    Returns (students ready to grade, {student: why not} for rejected ones).
    """
    from .late import read_submission_times

    source, submitted = Path(source).resolve(), (course / "submitted").resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder of submissions")
    times, bad_times = read_submission_times(source / TIMES_CSV) if (source / TIMES_CSV).is_file() else ({}, [])
    if bad_times:
        raise ValueError(f"{source / TIMES_CSV}: " + "; ".join(bad_times[:5]))
    for stale in submitted.glob(".collect-*"):  # half-made copies of a killed run
        _remove(stale)
    students: list[str] = []
    problems: dict[str, str] = {}
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        link = entry.is_symlink()
        if entry.suffix.lower() == ".zip" and (link or entry.is_file()):
            sid = student_id(entry.name, assignment)
            if link:
                problems[sid] = f"{entry.name}: a symbolic link, not a zip file: refused"
                continue
            try:
                _real_folder(submitted / sid)
                unzip(entry, submitted / sid / assignment)
                _stamp(submitted / sid / assignment, sid, times, from_zip=True)
                _record(course, assignment, sid, [], removed=False)
                students.append(sid)
            except (ValueError, OSError) as err:
                problems[sid] = f"{entry.name}: {err}"
            continue
        if link or not entry.is_dir():
            if link and entry.is_dir():
                problems[_BAD_ID.sub("_", entry.name)] = f"{entry.name}: a symbolic link, not a folder: refused"
            continue
        sid = _BAD_ID.sub("_", entry.name)
        if (entry / assignment).is_symlink():
            problems[sid] = f"{entry.name}/{assignment}: a symbolic link, not a folder: refused"
            continue
        folder = entry / assignment if (entry / assignment).is_dir() else entry
        if not any(folder.glob("*.ipynb")):
            problems[sid] = f"{entry.name}: no notebook in {folder.relative_to(source)}/"
            continue
        dest = submitted / sid / assignment
        in_place = folder.resolve() == dest
        try:
            # regular files only: copied from elsewhere, or the others removed in place
            refused_here = keep_regular(dest) if in_place else _replace(folder, dest, submitted)
            _stamp(dest, sid, times, from_zip=False)
            _record(course, assignment, sid, refused_here, removed=in_place)
        except (ValueError, OSError) as err:
            problems[sid] = f"{entry.name}: {err}"
            continue
        students.append(sid)
    return students, problems
