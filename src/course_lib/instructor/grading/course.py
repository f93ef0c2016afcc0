"""The course root as ``course-grade`` sees it: config, gradebook, assignment.

The course root is the folder of ``nbgrader_config.py`` (``source_notebooks/``,
``release/``, ``submitted/``, ``autograded/``, ``feedback/``, the gradebook).
``course-grade`` keeps its own state in ``grading/<assignment>/`` there.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from ..release import load_config


def alembic_on_path() -> None:
    """nbgrader runs ``alembic`` when it creates a gradebook: put this Python's bin first on PATH."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def db_url(course: Path, override: str | None = None) -> str:
    return override or load_config(course / "nbgrader_config.py").CourseDirectory.db_url


def course_id(course: Path) -> str:
    return load_config(course / "nbgrader_config.py").CourseDirectory.course_id


def graded_notebooks(course: Path, assignment: str, url: str) -> list[str] | None:
    """The assignment's notebook names in the gradebook, or None if it is not there."""
    from nbgrader.api import Gradebook, MissingEntry

    alembic_on_path()
    with Gradebook(url, course_id(course)) as gb:
        try:
            return sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return None


def ensure_assignment(course: Path, assignment: str, url: str, log: logging.Logger) -> list[str]:
    """The assignment's notebooks in the gradebook; if it is not there yet, run
    ``nbgrader generate_assignment`` (which stores the source's test cells and
    checksums in the gradebook and writes ``release/``)."""
    names = graded_notebooks(course, assignment, url)
    if names:
        return names
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    log.info("%s is not in the gradebook yet: running nbgrader generate_assignment", assignment)
    cfg = load_config(course / "nbgrader_config.py")
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.db_url = url
    coursedir = CourseDirectory(config=cfg, log=log)
    coursedir.assignment_id = assignment
    generate = GenerateAssignment(coursedir=coursedir, config=cfg, log=log)
    generate.force = True
    generate.start()
    return graded_notebooks(course, assignment, url) or []
