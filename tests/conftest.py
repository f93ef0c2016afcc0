from __future__ import annotations

import os

import pytest

import nbrun

# Without internet the notebooks train on the 1,115 Fashion-MNIST images that
# ship offline, which cannot reach the 85% target of the full training set.
# The grading check accepts such weights, at this lower target and announced
# in its output, only where the grader sets this variable: here, for every
# kernel and nbgrader run the tests start. Weights trained on the full set are
# always held to 85%.
os.environ.setdefault("COURSE_OFFLINE_WEIGHTS_TARGET", "0.78")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> nbrun.Runs:
    """``runs(kind, "01_hand_gradients.ipynb")``: the executed notebook, cached
    for the session (kind: ``source``, ``blank`` or ``solved``)."""
    return nbrun.Runs(tmp_path_factory)


@pytest.fixture(scope="session")
def student_book(tmp_path_factory: pytest.TempPathFactory):
    """The student build of the book (``python -m course_lib.instructor.book``), built once per session."""
    import subprocess
    import sys

    missing = sorted(p.name for p in nbrun.SOURCE_DIR.glob("*.ipynb")
                     if not (nbrun.RELEASE_DIR / p.name).is_file())
    if missing:
        pytest.fail("the book's problem pages are the student notebooks, and these are missing from release/: "
                    + ", ".join(missing) + ". Generate them with `make release`.", pytrace=False)
    out = tmp_path_factory.mktemp("book") / "html"
    proc = subprocess.run([sys.executable, "-m", "course_lib.instructor.book", "--audience", "student",
                           "--out", str(out)], cwd=nbrun.ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"the student book build exited with {proc.returncode}:\n--- stdout (end) ---\n"
                    f"{proc.stdout[-4000:]}\n--- stderr (end) ---\n{proc.stderr[-4000:]}", pytrace=False)
    return out
