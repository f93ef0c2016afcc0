"""The course_lib version a notebook was released with, in its metadata.

``make release`` stamps every source notebook, and so (nbgrader copies notebook
metadata) every release notebook, with the version of the course_lib it was made
with (``course_lib.__version__``, the one version string of the package)::

    "metadata": {"course_lib": {"version": "0.1.0"}, "kernelspec": ...}

Students' notebooks keep it (Jupyter and nbgrader leave unknown notebook
metadata alone), so the grader can tell which release a submission came from
and say so when it is not the course_lib it grades with.
"""
from __future__ import annotations

from pathlib import Path

from nbformat import NotebookNode

from course_lib import nbmeta

METADATA_KEY = "course_lib"


def stamp(nb: NotebookNode, version: str) -> NotebookNode:
    """Record ``version`` in ``nb``'s metadata (in place); returns ``nb``."""
    nb.metadata[METADATA_KEY] = {"version": version}
    return nb


def released_version(nb: NotebookNode | Path | str) -> str | None:
    """The version ``nb`` was released with; None when it has no stamp or cannot be read."""
    try:
        if not isinstance(nb, NotebookNode):
            nb = nbmeta.read(nb)
        version = (nb.metadata.get(METADATA_KEY) or {}).get("version")
    except Exception:  # noqa: BLE001 - a damaged notebook has no version; grading reports the damage
        return None
    return str(version) if version else None


def released_versions(folder: Path, notebooks: list[str]) -> dict[str, str]:
    """``{notebook: version}`` for the submitted notebooks ``<folder>/<name>.ipynb``
    that exist; ``""`` for one without a stamp."""
    return {name: released_version(folder / f"{name}.ipynb") or "" for name in notebooks
            if (folder / f"{name}.ipynb").is_file()}
