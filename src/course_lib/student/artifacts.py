"""Are the files the notebooks save for the grader there, readable and not oversized?

Each :class:`~course_lib.student.assignment.Artifact` is looked up beside the
notebooks. A missing, oversized or unreadable file is a warning, not a refusal:
the notebooks can still be handed in, and the test that grades the file
scores 0. Only files that pass go into the zip.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .assignment import Artifact, Assignment


@dataclass
class ArtifactReport:
    """One artifact: ``status`` is ``ok``, ``missing``, ``too large`` or ``unreadable``."""

    artifact: Artifact
    path: Path
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 2 ** 20 if self.path.is_file() else 0.0

    def line(self) -> str:
        """One line for the report."""
        a = self.artifact
        if self.ok:
            return f"{a.name} ({self.size_mb:.1f} MB, from {a.notebook}): ok"
        if self.status == "missing":
            return f"{a.name} is MISSING: {a.what}. To make it, {a.how}."
        return f"{a.name} is {self.status.upper()} and is left out: {self.detail}"


def check_artifact(folder: Path, artifact: Artifact) -> ArtifactReport:
    """Look for ``artifact`` in ``folder`` and say whether it can be handed in."""
    path = Path(folder) / artifact.name
    if not path.is_file():
        return ArtifactReport(artifact, path, "missing")
    size_mb = path.stat().st_size / 2 ** 20
    if size_mb > artifact.max_mb:
        return ArtifactReport(artifact, path, "too large",
                              f"it is {size_mb:.0f} MB, more than the {artifact.max_mb:.0f} MB the grader "
                              f"accepts for {artifact.what}; save only what the notebook asks for.")
    if artifact.check is not None:
        problem = artifact.check(path)
        if problem:
            return ArtifactReport(artifact, path, "unreadable",
                                  f"{problem} Run the cells of {artifact.notebook} that save it again.")
    return ArtifactReport(artifact, path, "ok")


def check_artifacts(folder: Path, assignment: Assignment) -> list[ArtifactReport]:
    """Every artifact of ``assignment``, looked up in ``folder``."""
    return [check_artifact(folder, a) for a in assignment.artifacts]
