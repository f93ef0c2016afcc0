"""The student kit: what students get instead of this (private) repository.

    python -m course_lib.instructor.kit               # `make kit` (part of `make all`)
    python -m course_lib.instructor.kit --wheel-only  # `make wheel`

writes, under ``dist/``:

- ``course_lib-<version>-py3-none-any.whl``: the package, built from ``src/``
  (``pip wheel``, from a scratch copy so the checkout gets no build litter);
- ``student/``: ``START_HERE.md`` (one page: laptop and Colab), the wheel and
  ``ps1/`` with the release notebooks, laid out to be pushed as the public
  student repository that ``repository.url`` of ``_config.yml`` names (the
  setup cell downloads the wheel from its root, the book's Colab links open
  its ``ps1/`` notebooks);
- ``ps1-student.zip``: the same folder, as ``ps1-student/...``, for an LMS upload.

Nothing is written unless it passes the leak scan (:mod:`.leaks`: no line of a
solution, hidden test, model answer or rubric of ``source_notebooks/``), the
release notebooks carry this course_lib's version (``make release`` stamps it)
and their setup cells are the ones the setting gives. Built twice from the same
sources, the wheel and the zip have the same bytes (fixed timestamps).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from course_lib import nbmeta

from . import leaks, stamp, student_repo
from .release import ASSIGNMENT, course_root

KIT_NAME = f"{ASSIGNMENT}-student"
START_HERE = "START_HERE.md"
#: Timestamp of every file in the wheel and the zip (1980-01-01, zip's epoch): same sources, same bytes.
SOURCE_DATE_EPOCH = "315532800"


class KitError(RuntimeError):
    """A kit that must not be published (a leak, a stale release), or a failed build."""


def build_wheel(root: Path, out: Path) -> Path:
    """``out/course_lib-<version>-py3-none-any.whl`` built from ``root``'s ``pyproject.toml`` and ``src/``."""
    from course_lib import __version__

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-wheel-") as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(root / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(root / name, copy / name)
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                               "-w", str(Path(tmp) / "wheel"), str(copy)],
                              capture_output=True, text=True, timeout=600, env=env)
        if proc.returncode != 0:
            raise KitError(f"pip wheel failed:\n{proc.stderr[-3000:]}")
        (built,) = (Path(tmp) / "wheel").glob("course_lib-*.whl")
        if built.name != student_repo.wheel_name(__version__):
            raise KitError(f"built {built.name}, expected {student_repo.wheel_name(__version__)}: "
                           "pyproject.toml's version must come from course_lib.__version__")
        for old in out.glob("course_lib-*.whl"):
            old.unlink()
        return Path(shutil.copy(built, out / built.name))


def check_release(release: Path, config: Path, version: str) -> list[Path]:
    """The release notebooks, after checking they are this version's and the setting's."""
    from .setup_cell import SETUP_GRADE_ID, setup_cell_source

    notebooks = sorted(release.glob("*.ipynb"))
    if not notebooks:
        raise KitError(f"no notebooks in {release}: run `make release`")
    want = setup_cell_source(config, version)
    stale = []
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        if stamp.released_version(nb) != version:
            stale.append(f"{path.name} is stamped {stamp.released_version(nb)}, not {version}")
        if [c.source for c in nb.cells if nbmeta.grade_id(c) == SETUP_GRADE_ID] != [want]:
            stale.append(f"{path.name}: its setup cell is not the one {config.name} gives")
    if stale:
        raise KitError("release/ is stale, run `make release`: " + "; ".join(stale))
    return notebooks


def start_here(version: str, repo: student_repo.StudentRepository, notebooks: list[str]) -> str:
    """The kit's one page for students."""
    wheel = student_repo.wheel_name(version)
    colab = [(name, repo.colab_url(name)) for name in notebooks]
    links = "".join(f"- [{name}]({url})\n" for name, url in colab if url)
    if links:
        open_colab = ("Open a notebook from its link below (or *File → Upload notebook* and choose it from `ps1/`), "
                      "then run its first cell, the setup cell: it installs `course_lib` from this repository "
                      "(a minute or two, once per session).\n\n" + links)
    else:
        open_colab = (f"*File → Upload notebook* and choose a notebook of `ps1/`. In the *Files* pane (the folder "
                      f"icon on the left, `/content`) upload `{wheel}` too. Run the notebook's first cell, the "
                      f"setup cell: it installs `course_lib` from that file (a minute or two, once per session) "
                      f"and asks for the file if it is missing.\n")
    return f"""# Problem Set 1: backpropagation from scratch — start here

This kit holds seven notebooks in `ps1/` (`01_hand_gradients.ipynb` … `07_deepdream.ipynb`) and `{wheel}`,
the course's Python package `course_lib` {version}: the checks that tell you what is wrong, drawings, data
loaders. Work on a laptop, on Colab, or both. Every notebook starts with a setup cell: run it first. It says
`course_lib {version} ready`, or warns when another `course_lib` is installed and says what to run.

## On a laptop

You need Python 3.10–3.12 and graphviz (`sudo apt install graphviz`, `brew install graphviz` or
`conda install graphviz`). In a terminal, in this folder (the one holding `ps1/` and `{wheel}`):

```bash
python3 -m venv .venv && source .venv/bin/activate        # Windows: .venv\\Scripts\\activate
pip install {wheel} "nbgrader==0.9.6" jupyterlab
jupyter lab
```

In JupyterLab open `ps1/01_hand_gradients.ipynb` and run its first cell. Fill in the cells that say
`# YOUR CODE HERE` and `YOUR ANSWER HERE`, run the check cell under each part (`PASSED` or what is wrong),
and press **Validate** in the toolbar before you finish.

## On Colab

{open_colab}
For the GPU part of notebook 05 pick *Runtime → Change runtime type → GPU* first. Notebook 03 reads your
`Value` from `02_autograd.ipynb`: upload that file into the *Files* pane of notebook 03's session.

## Submit

Save every notebook, then in the terminal, in this folder, with the environment active:

```bash
course-submit {ASSIGNMENT} --student <your id>
```

It validates the seven notebooks and writes `<your id>_{ASSIGNMENT}.zip`: upload that file. On Colab, upload the
seven notebooks and `fashion_mlp.pt` into the *Files* pane of one session and run, after a setup cell,
`import course_lib; course_lib.submit(student="<your id>")`; it downloads the zip.
"""


def _write_zip(folder: Path, archive: Path, top: str) -> Path:
    """``folder`` as ``archive`` under ``top/``, with fixed timestamps and modes."""
    tmp = archive.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{top}/{path.relative_to(folder).as_posix()}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return tmp.replace(archive)


def build_kit(root: Path, out: Path, config: Path | None = None) -> dict[str, Path]:
    """Build the wheel, ``out/student/`` and ``out/ps1-student.zip``; returns their paths
    (``wheel``, ``folder``, ``zip``). Raises :class:`KitError` when anything would leak."""
    from course_lib import __version__

    config = Path(config or root / "_config.yml")
    sources = sorted((root / "source_notebooks" / ASSIGNMENT).glob("*.ipynb"))
    notebooks = check_release(root / "release" / ASSIGNMENT, config, __version__)
    wheel = build_wheel(root, out)
    secret = leaks.secret_lines(sources)
    found = leaks.scan(leaks.archive_files(wheel), secret)
    if found:
        wheel.unlink()
        raise KitError("the wheel holds answers:\n  " + "\n  ".join(found[:20]))

    staging = out / f".{KIT_NAME}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / ASSIGNMENT).mkdir(parents=True)
    for path in notebooks:
        shutil.copy(path, staging / ASSIGNMENT / path.name)
    shutil.copy(wheel, staging / wheel.name)
    repo = student_repo.read(config)
    (staging / START_HERE).write_text(start_here(__version__, repo, [p.stem for p in notebooks]), encoding="utf-8")
    found = leaks.scan(leaks.folder_files(staging), secret)
    if found:
        shutil.rmtree(staging)
        raise KitError("the student kit holds answers:\n  " + "\n  ".join(found[:20]))
    folder = out / "student"
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    archive = _write_zip(folder, out / f"{KIT_NAME}.zip", KIT_NAME)
    return {"wheel": wheel, "folder": folder, "zip": archive}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="course root (default: found from the cwd)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <root>/dist)")
    parser.add_argument("--wheel-only", action="store_true", help="build and scan the wheel only")
    args = parser.parse_args(argv)
    root = (args.root or course_root()).resolve()
    out = (args.out or root / "dist").resolve()
    try:
        if args.wheel_only:
            wheel = build_wheel(root, out)
            found = leaks.scan_path(wheel, sorted((root / "source_notebooks" / ASSIGNMENT).glob("*.ipynb")))
            if found:
                wheel.unlink()
                raise KitError("the wheel holds answers:\n  " + "\n  ".join(found[:20]))
            print(f"{os.path.relpath(wheel)}: {wheel.stat().st_size / 1024:.0f} KiB, no answers")
            return 0
        built = build_kit(root, out)
    except KitError as err:
        print(f"kit: {err}", file=sys.stderr)
        return 1
    folder = built["folder"]
    print(f"{os.path.relpath(built['wheel'])}: {built['wheel'].stat().st_size / 1024:.0f} KiB, no answers")
    print(f"{os.path.relpath(folder)}/: " + ", ".join(sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                                                              if p.is_file())))
    print(f"{os.path.relpath(built['zip'])}: {built['zip'].stat().st_size / 1024:.0f} KiB "
          f"(push {os.path.relpath(folder)}/ as the public student repository, or upload the zip to the LMS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
