"""Regenerate the student notebooks, ``release/ps1/``, from ``source_notebooks/ps1/``.

    python -m course_lib.instructor.release      # what `make release` runs

nbgrader ``generate_assignment`` does the work (solutions replaced by the code
stub, hidden tests removed, cells locked, checksums), with the settings of the
course's ``nbgrader_config.py``. It runs in a scratch course root, so it
neither needs nor touches the gradebook; then the result is normalised (no
outputs, no execution counts, ``nbformat.write`` JSON: indent 1, sorted keys,
trailing newline) and synced into the release folder: files that are no
longer produced are removed, unchanged files are left alone. The same sources
always give the same bytes, so ``release/`` is committed and a test checks it
is up to date.

Before generating, ``main`` (``make release``) rewrites the setup cell of every
source notebook from the one setting and stamps it with the course_lib version
(:mod:`.setup_cell`, :mod:`.stamp`); nbgrader keeps both in the release.

This is also the format ``nbgrader generate_assignment`` writes itself, so an
instructor running it in the course root gets the committed release back.

Grading helpers: :func:`solution_filled` (what a student with the right answers
submits) and :func:`blank` (what a student who did nothing submits).
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_lib import nbmeta

ASSIGNMENT = "ps1"
CONFIG_NAME = "nbgrader_config.py"
_LITTER = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")


def course_root(start: Path | None = None) -> Path:
    """The course root: the nearest folder holding ``nbgrader_config.py``,
    looking from ``start`` (default: the working directory), then from this file."""
    for origin in (Path(start or Path.cwd()), Path(__file__)):
        for folder in [origin.resolve(), *origin.resolve().parents]:
            if (folder / CONFIG_NAME).is_file():
                return folder
    raise FileNotFoundError(f"no {CONFIG_NAME} above {Path.cwd()} or {__file__}")


def load_config(config_file: Path | str):
    """The traitlets config of an ``nbgrader_config.py``, as nbgrader would load it."""
    from traitlets.config.loader import PyFileConfigLoader

    config_file = Path(config_file).resolve()
    return PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()


def normalised(nb: NotebookNode) -> str:
    """The committed form of a notebook: no outputs or counts, nbformat JSON."""
    text = nbformat.writes(nbmeta.strip_outputs(nb))
    return text if text.endswith("\n") else text + "\n"


def _generate(source_dir: Path, course: Path, config_file: Path) -> Path:
    """Run nbgrader generate_assignment on a copy of ``source_dir`` inside the
    scratch course root ``course``; returns the generated assignment folder."""
    from nbgrader.converters import GenerateAssignment, NbGraderException
    from nbgrader.coursedir import CourseDirectory

    assignment = source_dir.name
    shutil.copytree(source_dir, course / "source" / assignment, ignore=_LITTER)
    cfg = load_config(config_file)
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.source_directory = "source"
    cfg.CourseDirectory.release_directory = "release"
    cfg.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    # `nbgrader generate_assignment --no-db`: same notebooks, no gradebook
    # (so no `alembic` on PATH either).
    cfg.GenerateAssignment.no_database = True
    cfg.SaveCells.enabled = False

    log = logging.getLogger(f"{__name__}.nbgrader")
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.propagate = False
    try:
        coursedir = CourseDirectory(config=cfg, log=log)
        coursedir.assignment_id = assignment
        GenerateAssignment(coursedir=coursedir, config=cfg, log=log).start()
    except NbGraderException as err:
        raise RuntimeError(
            f"nbgrader generate_assignment failed on {source_dir}:\n{captured.getvalue()}"
        ) from err
    finally:
        log.removeHandler(handler)
    return course / "release" / assignment


def _sync(built: Path, out_dir: Path) -> list[Path]:
    """Make ``out_dir`` hold exactly the files of ``built``, notebooks normalised."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted: dict[Path, bytes] = {}
    for path in sorted(p for p in built.rglob("*") if p.is_file()):
        rel = path.relative_to(built)
        if path.suffix == ".ipynb":
            wanted[rel] = normalised(nbformat.read(str(path), as_version=4)).encode("utf-8")
        else:
            wanted[rel] = path.read_bytes()
    for path in sorted(out_dir.rglob("*"), reverse=True):  # children before parents
        rel = path.relative_to(out_dir)
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    written = []
    for rel, data in wanted.items():
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.is_file() or dest.read_bytes() != data:
            dest.write_bytes(data)
        written.append(dest)
    return written


def build_release(source_dir: Path | str, out_dir: Path | str,
                  config_file: Path | str | None = None) -> list[Path]:
    """Generate the student version of the assignment folder ``source_dir``
    into ``out_dir`` (any folder; made to hold exactly the release files).

    ``config_file`` defaults to the course's ``nbgrader_config.py``.
    Returns the paths of the release files.
    """
    source_dir = Path(source_dir).resolve()
    if not sorted(source_dir.glob("*.ipynb")):
        raise FileNotFoundError(f"no notebooks in {source_dir}")
    config_file = Path(config_file) if config_file else course_root() / CONFIG_NAME
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        built = _generate(source_dir, Path(tmp), config_file)
        return _sync(built, Path(out_dir))


def solution_filled(release_nb: NotebookNode | Path | str,
                    source_nb: NotebookNode | Path | str) -> NotebookNode:
    """The release notebook as a student with every answer right submits it:
    each solution cell (code or written answer) gets the source notebook's cell
    of the same ``grade_id``, minus its ``BEGIN/END SOLUTION`` lines."""
    nb, source = nbmeta.read(release_nb), nbmeta.read(source_nb)
    answers = {nbmeta.grade_id(c): c.source for c in source.cells if nbmeta.is_solution(c)}
    for cell in nb.cells:
        if nbmeta.is_solution(cell):
            gid = nbmeta.grade_id(cell)
            if gid not in answers:
                raise KeyError(f"solution cell {gid!r} of the release is not in the source notebook")
            cell.source = nbmeta.without_solution_delimiters(answers[gid])
    return nb


def blank(release_nb: NotebookNode | Path | str) -> NotebookNode:
    """The release notebook as a student who answered nothing submits it."""
    return nbmeta.read(release_nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None,
                        help="course root holding nbgrader_config.py (default: found from the cwd)")
    parser.add_argument("--assignment", default=ASSIGNMENT)
    args = parser.parse_args(argv)
    root = (args.root or course_root()).resolve()
    cfg = load_config(root / CONFIG_NAME)
    source = root / cfg.CourseDirectory.get("source_directory", "source") / args.assignment
    release = root / cfg.CourseDirectory.get("release_directory", "release") / args.assignment
    from course_lib.instructor import setup_cell

    config = root / "_config.yml" if (root / "_config.yml").is_file() else setup_cell.student_repo.CONFIG
    for path in setup_cell.sync(sorted(source.glob("*.ipynb")), config):
        print(f"updated the setup cell and version stamp of {os.path.relpath(path, Path.cwd())}")
    files = build_release(source, release, root / CONFIG_NAME)
    n_nb = sum(p.suffix == ".ipynb" for p in files)
    print(f"{os.path.relpath(release, Path.cwd())}: {n_nb} notebook(s), {len(files)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
