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

Zip files are unpacked defensively: no absolute names, no ``..``, no links, at
most :data:`MAX_FILES` files and :data:`MAX_BYTES` bytes. A zip that breaks a
rule or cannot be read is reported (``problems``) and that student is not
graded, instead of stopping the class.
"""
from __future__ import annotations

import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_FILES = 500
MAX_BYTES = 500 << 20
_BAD_ID = re.compile(r"[^A-Za-z0-9._@-]+")
TIMES_CSV = "submission_times.csv"
TIMESTAMP = "timestamp.txt"  # nbgrader's name for the submission time of a folder
_LITTER = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store", "__MACOSX")


def clean_id(name: str) -> str:
    """``name`` with runs of characters outside ``A-Za-z0-9._@-`` made ``_``, no leading or
    trailing ``.``/``_`` (the rule course-submit names its zip with, too); may be empty."""
    return _BAD_ID.sub("_", str(name).strip()).strip("._")


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
            root = _notebook_root([i.filename for i in infos if "__MACOSX" not in i.filename])
            if root is None:
                raise ValueError("it holds no notebook (*.ipynb)")
            if dest.exists():
                shutil.rmtree(dest)
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
    its submission time (see the module's docstring).

    Returns (students ready to grade, {student: why not} for rejected ones).
    """
    from .late import read_submission_times

    source, submitted = Path(source).resolve(), (course / "submitted").resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder of submissions")
    times, bad_times = read_submission_times(source / TIMES_CSV) if (source / TIMES_CSV).is_file() else ({}, [])
    if bad_times:
        raise ValueError(f"{source / TIMES_CSV}: " + "; ".join(bad_times[:5]))
    students: list[str] = []
    problems: dict[str, str] = {}
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix.lower() == ".zip":
            sid = student_id(entry.name, assignment)
            try:
                unzip(entry, submitted / sid / assignment)
                _stamp(submitted / sid / assignment, sid, times, from_zip=True)
                students.append(sid)
            except ValueError as err:
                problems[sid] = f"{entry.name}: {err}"
            continue
        if not entry.is_dir() or entry.is_symlink():
            continue
        sid = _BAD_ID.sub("_", entry.name)
        folder = entry / assignment if (entry / assignment).is_dir() else entry
        if not any(folder.glob("*.ipynb")):
            problems[sid] = f"{entry.name}: no notebook in {folder.relative_to(source)}/"
            continue
        dest = submitted / sid / assignment
        if folder.resolve() != dest:
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(folder, dest, ignore=_LITTER, symlinks=False, ignore_dangling_symlinks=True)
        _stamp(dest, sid, times, from_zip=False)
        students.append(sid)
    return students, problems
