"""``course-submit``: validate every notebook of the assignment and write the zip to hand in.

In a terminal, in the folder that holds ``ps1/`` (or in ``ps1/`` itself)::

    course-submit ps1 --student ada          # -> ./ada_ps1.zip

In a notebook cell (JupyterLab, or Colab after uploading the notebooks)::

    import course_lib
    course_lib.submit(student="ada")         # the notebook's folder -> ./ada_ps1.zip

Steps, each reported as it happens:

1. every notebook of the assignment must be there and be a notebook with its
   nbgrader cells; otherwise nothing is written (exit status 2) and the
   message says which file and why;
2. the artifacts (``fashion_mlp.pt``) are looked up, size-checked and read;
3. every notebook runs top to bottom in a fresh kernel under nbgrader's
   validator, as the grader will run it (a progress bar counts the notebooks);
   the report lists, per notebook, the checks that fail with their message;
4. ``<student>_<assignment>.zip`` is written (layout in
   :mod:`course_lib.student.bundle`): ``<assignment>/`` with the notebooks and
   the artifacts that passed, nothing else.

Exit status: 0 when every test passes and every artifact is there; 1 when the
zip was written but something is worth fixing (a failing check, an empty
written answer, a missing artifact); 2 when nothing was written.
Validation uses the notebooks *as saved*: save them first.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .artifacts import ArtifactReport, check_artifacts
from .assignment import Assignment, get_assignment
from .bundle import safe_student_id, write_zip
from .errors import SubmitError
from .validate import (
    CELL_TIMEOUT,
    NotebookReport,
    load_validator,
    notebook_problem,
    validate_notebook,
)

#: Where the student id comes from when it is not given.
ENV_STUDENT = "COURSE_STUDENT_ID"


@dataclass
class Submission:
    """What :func:`submit` found and wrote."""

    assignment: Assignment
    folder: Path
    student: str
    notebooks: list[NotebookReport] = field(default_factory=list)
    artifacts: list[ArtifactReport] = field(default_factory=list)
    zip_path: Path | None = None
    validated: bool = True

    @property
    def complete(self) -> bool:
        """Every notebook passes (or was not validated) and every artifact is there."""
        return (all(r.status == "passed" for r in self.notebooks) or not self.validated) and \
            all(a.ok for a in self.artifacts)

    @property
    def exit_status(self) -> int:
        return 2 if self.zip_path is None else 0 if self.complete else 1

    def members(self) -> list[str]:
        """The names inside the zip."""
        import zipfile

        if self.zip_path is None:
            return []
        with zipfile.ZipFile(self.zip_path) as zf:
            return zf.namelist()


def find_folder(folder: Path | str, assignment: Assignment) -> Path:
    """The folder holding the assignment's notebooks: ``folder`` itself, or its ``<assignment>/``."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise SubmitError(f"{folder} is not a folder. Give the folder that holds your {assignment.id} notebooks.")
    inner = folder / assignment.id
    if not any((folder / n).exists() for n in assignment.notebooks) and inner.is_dir():
        return inner
    return folder


def check_notebook_files(folder: Path, assignment: Assignment) -> None:
    """Refuse (SubmitError) when a notebook is missing or corrupt, naming every such file."""
    problems = []
    missing = [name for name in assignment.notebooks if not (folder / name).is_file()]
    if missing:
        problems.append(f"- missing: {', '.join(missing)}. Hand in every notebook, answered or not: copy a "
                        f"missing one back from the release, under its own name, if you deleted or renamed it.")
    for name in assignment.notebooks:
        path = folder / name
        if name in missing:
            continue
        _, why = notebook_problem(path)
        if why:
            problems.append(f"- {why}. Open it in JupyterLab to see whether it loads; if not, take a fresh copy "
                            f"of {name} from the release and paste your answers into it.")
    if problems:
        raise SubmitError(f"Nothing was written: the grader could not use these notebooks of {folder}:\n"
                          + "\n".join(problems))


def _progress(items: list[str], enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="validating", unit="notebook")


def submit(student: str | None = None, folder: Path | str = ".", assignment: str = "ps1", *,
           validate: bool = True, out_dir: Path | str | None = None, timeout: int = CELL_TIMEOUT,
           progress: bool = True, echo=print) -> Submission:
    """Validate the notebooks in ``folder`` and write ``<student>_<assignment>.zip`` into ``out_dir``
    (default: the working directory). Prints what it does; returns the :class:`Submission`.

    Raises :class:`SubmitError` (nothing written) for a missing or corrupt
    notebook, a missing student id, or no nbgrader to validate with.
    """
    spec = get_assignment(assignment)
    student = student or os.environ.get(ENV_STUDENT)
    if not student:
        raise SubmitError(f"Who is handing in? Give your student id: course_lib.submit(student='...') in a "
                          f"notebook, course-submit --student ... in a terminal (or set {ENV_STUDENT}).")
    sid = safe_student_id(student)
    where = find_folder(folder, spec)
    check_notebook_files(where, spec)
    result = Submission(spec, where, sid, validated=validate)
    echo(f"Handing in {spec.id} for {sid} from {where}")

    result.artifacts = check_artifacts(where, spec)
    echo("Files the notebooks save for the grader:")
    for report in result.artifacts:
        echo(f"  {'ok     ' if report.ok else 'WARNING'} {report.line()}")

    if validate:
        validator = load_validator()
        echo("Running every notebook as the grader will (a fresh kernel each; the notebooks as saved on "
             "disk, so save your work first)...")
        names = _progress(list(spec.notebooks), progress)
        say = names.write if echo is print and hasattr(names, "write") else echo  # lines above the bar
        for name in names:
            report = validate_notebook(where / name, timeout=timeout, validator=validator)
            result.notebooks.append(report)
            lines = report.lines()
            say(f"  {name}: {lines[0]}")
            for line in lines[1:]:
                say(f"      - {line}")
    else:
        echo("Not validated (validate=False): the notebooks were only checked to be readable.")

    files = list(spec.notebooks) + [a.artifact.name for a in result.artifacts if a.ok]
    result.zip_path = write_zip(where, files, sid, spec.id, Path(out_dir) if out_dir else Path.cwd())
    size = result.zip_path.stat().st_size / 2 ** 20
    echo(f"Wrote {result.zip_path} ({size:.1f} MB): {spec.id}/ with {len(files)} files "
         f"({', '.join(files)}). Hand in this file.")
    if not result.complete:
        todo = [r.name for r in result.notebooks if r.status != "passed"] + \
               [a.artifact.name for a in result.artifacts if not a.ok]
        echo(f"Worth fixing before the deadline: {', '.join(todo)} (see above); then run this again.")
    return result


def _download_on_colab(path: Path) -> None:
    """On Colab, offer the zip as a browser download (elsewhere the file is simply there)."""
    from course_lib.notebook import on_colab

    if not on_colab():
        return
    try:
        from google.colab import files  # type: ignore[import-not-found]

        files.download(str(path))
    except Exception as exc:  # noqa: BLE001 - the zip is written anyway
        print(f"(Download it from the Files pane: {path}; the automatic download failed: {exc})")


def submit_in_notebook(student: str | None = None, folder: Path | str = ".", assignment: str = "ps1",
                       **kwargs) -> Submission:
    """The cell helper behind ``course_lib.submit()``: :func:`submit`, then on Colab the download."""
    result = submit(student, folder, assignment, **kwargs)
    if result.zip_path is not None:
        _download_on_colab(result.zip_path)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="course-submit",
        description="Validate every notebook of the assignment as the grader will, warn about missing "
                    "files, and write <student>_<assignment>.zip to hand in.",
        epilog="Exit status: 0 all tests pass; 1 zip written, something to fix; 2 nothing written.")
    parser.add_argument("folder", nargs="?", default=".",
                        help="the folder with the notebooks, or the one holding it (default: .)")
    parser.add_argument("--student", default=None,
                        help=f"your student id, used in the zip's name (default: ${ENV_STUDENT})")
    parser.add_argument("--assignment", default="ps1", help="the assignment (default: ps1)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the zip (default: .)")
    parser.add_argument("--no-validate", action="store_true",
                        help="only check that the notebooks are readable; do not run them")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help=f"seconds one cell may run (default: {CELL_TIMEOUT})")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        result = submit(args.student, args.folder, args.assignment, validate=not args.no_validate,
                        out_dir=args.out, timeout=args.timeout, progress=sys.stderr.isatty())
    except SubmitError as exc:
        print(f"course-submit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("course-submit: interrupted; nothing was written.", file=sys.stderr)
        return 2
    print(f"({time.monotonic() - start:.0f} s)")
    return result.exit_status


if __name__ == "__main__":
    sys.exit(main())
