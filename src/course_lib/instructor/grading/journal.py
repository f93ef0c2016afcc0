"""Crash-safe record of finished students: ``grading/<assignment>/results/<student>.json``.

A student's file is written (to a temporary name, flushed to disk, then renamed
over the old one) only after their autograde, feedback and checks finished, so
after a kill a student is either fully recorded or not at all. A re-run skips
recorded students whose submission fingerprint is unchanged and grades the
others again from scratch (nbgrader ``--force``), so no grade is lost or
counted twice.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .summary import StudentResult


def fingerprint(folder: Path) -> str:
    """sha256 over the relative names and contents of every file in ``folder``."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


class Journal:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, student: str) -> Path:
        return self.folder / f"{student}.json"

    def get(self, student: str) -> StudentResult | None:
        try:
            return StudentResult.from_dict(json.loads(self._path(student).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def record(self, result: StudentResult) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(result.to_dict(), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path(result.student))
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def forget(self, student: str) -> None:
        self._path(student).unlink(missing_ok=True)
