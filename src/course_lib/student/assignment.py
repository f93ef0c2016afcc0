"""What an assignment consists of: its notebooks and the files they save for the grader.

The grader runs every notebook again (nbgrader autograde) but never trains:
work that takes minutes in the student's session is saved beside the notebook
and graded from the file. Those files are the assignment's *artifacts*.

Problem Set 1 (``ps1``) has seven notebooks and one artifact:

- ``fashion_mlp.pt``, written by ``03_mlp.ipynb`` (``save_mlp``), graded by
  ``check_fashion_mlp`` (:mod:`course_lib.checks.fashion`), which rebuilds the
  network with :func:`course_lib.data.saved_mlp.load_mlp`.

``07_deepdream.ipynb`` shows its dreams as figures and saves no image: the
grader re-dreams with the student's functions, so no image is handed in. A
notebook that starts saving a file for grading gets one :class:`Artifact`
line here (a test checks every file name a notebook saves is listed).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SubmitError


@dataclass(frozen=True)
class Artifact:
    """A file a notebook saves beside itself for the grader.

    ``check(path)`` returns None when the file is fine, else why not (it is
    called only when the file exists and is at most ``max_mb``).
    """

    name: str
    notebook: str
    what: str
    how: str
    max_mb: float
    check: Callable[[Path], str | None] | None = None


@dataclass(frozen=True)
class Assignment:
    """An assignment: its id (the folder name) and what is handed in."""

    id: str
    notebooks: tuple[str, ...]
    artifacts: tuple[Artifact, ...] = field(default=())

    def files(self) -> tuple[str, ...]:
        """Every file name that goes into the zip, notebooks first."""
        return self.notebooks + tuple(a.name for a in self.artifacts)


def _saved_mlp_problem(path: Path) -> str | None:
    """Why ``path`` cannot be rebuilt as saved weights, or None."""
    from course_lib.data.saved_mlp import SavedMLPError, load_mlp

    try:
        load_mlp(path)
    except SavedMLPError as exc:
        return str(exc)
    return None


PS1 = Assignment(
    id="ps1",
    notebooks=(
        "01_hand_gradients.ipynb",
        "02_autograd.ipynb",
        "03_mlp.ipynb",
        "04_losses_optimisers.ipynb",
        "05_gpu.ipynb",
        "06_representation.ipynb",
        "07_deepdream.ipynb",
    ),
    artifacts=(
        Artifact(
            name="fashion_mlp.pt",
            notebook="03_mlp.ipynb",
            what="the weights of your Fashion-MNIST MLP (graded by check_fashion_mlp)",
            how="run the training cells of 03_mlp.ipynb in your own session (online, or on Colab): "
                "they save fashion_mlp.pt beside the notebook; the grader never trains",
            max_mb=200.0,  # course_lib.data.saved_mlp.MAX_FILE_MB (kept here so this module needs no torch)
            check=_saved_mlp_problem,
        ),
    ),
)

ASSIGNMENTS: dict[str, Assignment] = {PS1.id: PS1}


def get_assignment(assignment_id: str) -> Assignment:
    """The assignment called ``assignment_id`` (e.g. ``"ps1"``)."""
    try:
        return ASSIGNMENTS[assignment_id]
    except KeyError:
        raise SubmitError(f"unknown assignment {assignment_id!r}; this course_lib knows "
                          f"{', '.join(sorted(ASSIGNMENTS))}.") from None
