"""The locked setup cell at the top of every notebook, from one setting.

On Colab the cell installs course_lib from the install source; elsewhere it
expects course_lib installed (README, "For students"). The install source is
derived from the one repository setting in ``_config.yml`` (``repository.url``
and ``repository.branch``), which also drives the book's Colab links.

On Colab the environment variable ``COURSE_LIB_SOURCE`` (any pip requirement:
a wheel or sdist file, a URL) replaces that source for the session, e.g. a
course that hands out a built wheel, or the test that stands in for Colab
with a wheel built from this repository (tests/test_fresh_env.py).

``python -m course_lib.instructor.setup_cell`` rewrites the setup cell of every
source notebook from that setting (``make release`` runs it first).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[3]
SETUP_GRADE_ID = "setup"

ENV_SOURCE = "COURSE_LIB_SOURCE"

TEMPLATE = '''# Setup: run this cell first. On Colab it installs course_lib; elsewhere see the README.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("course_lib") is None:
    if "google.colab" not in sys.modules:
        raise ModuleNotFoundError("course_lib is not installed in this kernel: follow 'For students' in the README.")
    source = os.environ.get("{env}") or "{source}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
    importlib.invalidate_caches()
import course_lib
course_lib.setup_notebook()'''


def install_source(config: Path = ROOT / "_config.yml") -> str:
    """The pip requirement the setup cell installs on Colab."""
    import yaml

    repo = (yaml.safe_load(config.read_text()) or {}).get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url:
        raise ValueError(f"{config}: set repository.url (the course_lib install source)")
    return f"course_lib @ git+{url}@{branch}"


def setup_cell_source(source: str | None = None) -> str:
    return TEMPLATE.format(source=source or install_source(), env=ENV_SOURCE)


def sync(notebooks: list[Path]) -> list[Path]:
    """Rewrite each notebook's setup cell from the setting; return those that changed."""
    want = setup_cell_source()
    changed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == SETUP_GRADE_ID]
        if len(cells) != 1:
            raise ValueError(f"{path}: expected exactly one cell with grade_id '{SETUP_GRADE_ID}'")
        if cells[0].source != want:
            cells[0].source = want
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main() -> int:
    paths = sorted((ROOT / "source_notebooks").glob("*/*.ipynb"))
    for path in sync(paths):
        print(f"updated the setup cell of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
