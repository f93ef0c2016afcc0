"""The one file a student hands in: ``<student>_<assignment>.zip``.

Layout (what ``course-grade`` and an LMS export expect; the grader unpacks it
to ``submitted/<student>/<assignment>/``)::

    ada_ps1.zip
    └── ps1/
        ├── 01_hand_gradients.ipynb     every notebook of the assignment, as saved
        ├── ...
        ├── 07_deepdream.ipynb
        └── fashion_mlp.pt              the artifacts that passed their checks

Nothing else goes in: no data sets, caches, checkpoints folders
(``.ipynb_checkpoints``), other files of the folder or the zip itself. The
notebooks are copied byte for byte (what was validated is what is handed in).
The student id keeps letters, digits and ``. _ @ -``; anything else becomes
``_``, as the grader reads it back from the file name.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from ..nbmeta import clean_id
from .errors import SubmitError

def safe_student_id(student: str) -> str:
    """The student id as it appears in the zip's name (``"Ada Lovelace"`` -> ``"Ada_Lovelace"``)."""
    sid = clean_id(student)
    if not sid:
        raise SubmitError(f"{student!r} cannot be a student id: use your course login or student number "
                          f"(letters, digits, . _ @ -).")
    return sid


def zip_name(student: str, assignment: str) -> str:
    """``<student>_<assignment>.zip``."""
    return f"{safe_student_id(student)}_{assignment}.zip"


def write_zip(folder: Path, files: list[str], student: str, assignment: str, out_dir: Path) -> Path:
    """Write ``files`` (names in ``folder``) into ``out_dir/<student>_<assignment>.zip`` under
    ``<assignment>/``; the zip appears whole or not at all. Returns its path."""
    folder, out_dir = Path(folder), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / zip_name(student, assignment)
    fd, tmp = tempfile.mkstemp(prefix=".submit-", suffix=".zip", dir=out_dir)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for name in files:
                src = folder / name
                if Path(name).name != name or not src.is_file():
                    raise SubmitError(f"{name!r} is not a file in {folder}")
                zf.write(src, f"{assignment}/{name}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
