"""The locked setup cell at the top of every notebook, from one template and one setting.

The cell holds the source of :func:`course_lib.student.bootstrap.ensure_course_lib`
(it runs before course_lib can be imported), a call with the pinned version
(``course_lib.__version__``) and the wheel's public URL (from the
``repository`` setting of ``_config.yml``, see :mod:`.student_repo`; empty
while unset), then imports course_lib and calls
``course_lib.setup_notebook(version=...)``, which warns when the installed
course_lib is not the notebook's.

``python -m course_lib.instructor.setup_cell`` rewrites the setup cell of every
source notebook from the setting and stamps the notebook with the version
(``metadata.course_lib.version``, :mod:`.stamp`; nbgrader copies both into the
release); ``make release`` does it first, so changing the setting or bumping the
version is one edit and one ``make release``.
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

import nbformat

from course_lib import nbmeta
from . import stamp, student_repo

ROOT = Path(__file__).resolve().parents[3]
SETUP_GRADE_ID = "setup"

TEMPLATE = '''# Setup: run this cell first. It installs course_lib {version} if needed (see START_HERE.md).
{bootstrap}

ensure_course_lib({version!r}, {url!r})
import course_lib
course_lib.setup_notebook(version={version!r})'''


def pinned_version() -> str:
    """The course_lib version the notebooks are released with: this package's."""
    from course_lib import __version__

    return __version__


def install_source(config: Path | str = student_repo.CONFIG, version: str | None = None) -> str:
    """The URL of the wheel the setup cell installs when none is beside the notebook ("" when unset)."""
    return student_repo.read(config).wheel_url(version or pinned_version())


def setup_cell_source(config: Path | str = student_repo.CONFIG, version: str | None = None,
                      url: str | None = None) -> str:
    """The setup cell's code for ``version`` (default: this course_lib's) and ``url``
    (default: from the setting in ``config``)."""
    from course_lib.student.bootstrap import ensure_course_lib

    version = version or pinned_version()
    url = install_source(config, version) if url is None else url
    return TEMPLATE.format(bootstrap=inspect.getsource(ensure_course_lib).rstrip(), version=version, url=url)


def generated_for(source: str) -> tuple[str, str] | None:
    """``(version, url)`` when ``source`` is exactly the setup cell this template makes for
    some version and URL (a notebook of another release), else None.

    The grader's tamper scan trusts such a cell like the reference's own: it is the
    course's code, and while nbgrader runs it the bootstrap installs nothing."""
    import ast

    try:
        call = ast.parse(source.rstrip().split("\n")[-3]).body[0].value
        version, url = (ast.literal_eval(arg) for arg in call.args)
    except (SyntaxError, ValueError, AttributeError, IndexError, TypeError):
        return None
    if not (isinstance(version, str) and isinstance(url, str) and version):
        return None
    return (version, url) if setup_cell_source(version=version, url=url) == source.rstrip() else None


def sync(notebooks: list[Path], config: Path | str = student_repo.CONFIG) -> list[Path]:
    """Rewrite each notebook's setup cell from the setting and stamp it with the pinned
    version; return those that changed."""
    version = pinned_version()
    want = setup_cell_source(config, version)
    changed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if nbmeta.grade_id(c) == SETUP_GRADE_ID]
        if len(cells) != 1:
            raise ValueError(f"{path}: expected exactly one cell with grade_id '{SETUP_GRADE_ID}'")
        if cells[0].source != want or stamp.released_version(nb) != version:
            cells[0].source = want
            stamp.stamp(nb, version)
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main() -> int:
    paths = sorted((ROOT / "source_notebooks").glob("*/*.ipynb"))
    for path in sync(paths):
        print(f"updated the setup cell and version stamp of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
