"""Grade students: the process ``course-grade`` runs in each sandbox slot.

    python -m course_lib.instructor.grading.worker --serve SLOT

It is started by :class:`.slots.SlotWorker` (one per sandbox slot, on this machine or on a Dask
worker: :mod:`.remote`) and stays (:func:`serve`): it imports nbgrader, reads the settings and
the environment (the first line of stdin) and starts the slot's kernel zygote (:mod:`.zygote`) once, then
grades each student named on a line of stdin,
``{"student": ..., "log": PATH}``, with its log in PATH, and answers one line
``RESULT {...}`` on stdout.

It runs nbgrader's autograde for each readable notebook of the student's
submission (one at a time, ``--notebook``-style, so that a corrupt notebook
cannot fail the others), with :class:`~.execute.GuardedExecute` in place of
nbgrader's Execute and every kernel confined by
:class:`~.kernel.ConfinedKernelManager`; scores a corrupt notebook 0. (Feedback pages are
written by the trusted parent, :mod:`.feedback`: nbgrader's own would show the
hidden tests.) The nbgrader log goes to stderr; each student's ``RESULT`` is a JSON object
``{"corrupt": {notebook: reason}, "failed": [...]}`` (plus ``"refused": [...]`` when the
submission folder held more than regular files, which :func:`..submissions.collect` had
removed: then nothing is graded).
This process is trusted (it holds the gradebook); only the kernels are not.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..release import load_config


@dataclass
class Settings:
    """What every worker of one ``course-grade`` run shares (JSON on the command line)."""

    course: str
    assignment: str
    db_url: str | None = None
    confine: bool = True
    guard: bool = True
    cell_timeout: int | None = None
    notebook_timeout: int = 1800
    interrupt_grace: int = 10
    max_output: int = 64 << 20
    cpu_seconds: int = 900
    memory_bytes: int = 6 << 30
    processes: int = 256
    read_only: list[str] = field(default_factory=list)
    gpu_cache: str = ""        # PoCL's cache of the release's kernels, copied into each kernel's home (.gpu_cache)
    fork_kernels: bool = True  # kernels forked from the slot's zygote (.zygote); confined and guarded only
    skip_demos: bool = True    # the source notebooks' demonstration cells are not run (nbmeta.demo_ids)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        return cls(**json.loads(text))


def sqlite_with_timeout(db_url: str) -> str:
    """SQLite waits up to 60 s for a lock held by another worker (default 5 s)."""
    if db_url.startswith("sqlite:") and "?" not in db_url:
        return db_url + "?timeout=60"
    return db_url


def nbgrader_config(settings: Settings, student: str, slot: int):
    """The course's nbgrader config with the guard, the confinement and the limits."""
    from nbgrader.preprocessors import Execute

    from ...checks.seeds import student_seed
    from .execute import GuardedExecute

    cfg = load_config(Path(settings.course) / "nbgrader_config.py")
    cfg.CourseDirectory.root = settings.course
    cfg.CourseDirectory.db_url = sqlite_with_timeout(settings.db_url or cfg.CourseDirectory.db_url)
    from nbgrader.converters import Autograde

    steps = list(cfg.Autograde.autograde_preprocessors) if "autograde_preprocessors" in cfg.Autograde \
        else list(Autograde().autograde_preprocessors)
    cfg.Autograde.autograde_preprocessors = [GuardedExecute if s is Execute or s == "nbgrader.preprocessors.Execute"
                                             else s for s in steps]
    cfg.Autograde.create_student = True
    # the notebook is validated once, after the last step, not after each of the six (invalid still fails)
    cfg.Exporter.optimistic_validation = True
    ex = cfg.GuardedExecute
    if settings.cell_timeout is not None:
        ex.timeout = settings.cell_timeout
    ex.notebook_timeout = settings.notebook_timeout
    ex.interrupt_grace = settings.interrupt_grace
    ex.max_output = settings.max_output
    ex.kernel_manager_class = "course_lib.instructor.grading.kernel.ConfinedKernelManager"
    km = cfg.ConfinedKernelManager
    km.submission = str(submission_folder(settings, student))
    km.hidden_seed = student_seed(course_salt(settings), settings.assignment, student)
    km.confine = settings.confine
    km.guard = settings.guard
    km.slot = slot
    km.read_only = list(settings.read_only)
    km.gpu_cache = settings.gpu_cache
    km.cpu_seconds, km.memory_bytes, km.processes = settings.cpu_seconds, settings.memory_bytes, settings.processes
    return cfg


def course_salt(settings: Settings) -> str:
    """The course's secret salt of the hidden seeds, made once per assignment (kept with the gradebook's
    state: delete it and every student meets new hidden inputs at the next regrade)."""
    import secrets

    path = Path(settings.course) / "grading" / settings.assignment / "hidden_seed_salt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="utf-8") as out:  # two workers at once: the first one wins
                out.write(secrets.token_hex(16))
        except FileExistsError:
            pass
    return path.read_text(encoding="utf-8").strip()


def guard_log(settings: Settings, student: str, notebook: str) -> Path:
    """Where the run-time guard's findings for one notebook go (emptied first)."""
    path = Path(settings.course) / "grading" / settings.assignment / "guard" / student / f"{notebook}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def submission_folder(settings: Settings, student: str) -> Path:
    return Path(settings.course) / "submitted" / student / settings.assignment


def unreadable(folder: Path) -> dict[str, str]:
    """``{notebook name: why}`` for each ``*.ipynb`` nbformat cannot read."""
    bad = {}
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("it has no list of cells")
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported, never raised
            bad[path.stem] = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"
    return bad


def _zero(settings: Settings, cfg, student: str, notebook: str) -> None:
    """Score every grade of ``notebook`` 0 (nbgrader does this for a missing file)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(cfg.CourseDirectory.db_url, cfg.CourseDirectory.course_id) as gb:
        gb.update_or_create_student(student)
        try:
            gb.find_submission(settings.assignment, student)
        except MissingEntry:
            gb.add_submission(settings.assignment, student)
        nb = gb.find_submission_notebook(notebook, settings.assignment, student)
        for grade in nb.grades:
            grade.auto_score, grade.needs_manual_grade = 0, False
        gb.db.commit()


def grade(settings: Settings, student: str, slot: int, log: logging.Logger, zygote=None) -> dict:
    """Grade ``student``; kernels fork from ``zygote`` (the slot's, kept across students) when
    given, else from one started for this student (or from nothing: :func:`_zygote`)."""
    from .submissions import irregular

    cfg = nbgrader_config(settings, student, slot)
    folder = submission_folder(settings, student)
    # collect left regular files only; anything else arrived since, from outside: nbgrader must not see it
    bad = irregular(folder)
    if bad:
        log.error("the submission holds more than regular files, so it is not graded: %s", "; ".join(bad[:10]))
        return {"corrupt": {}, "failed": ["the submission (it holds more than regular files)"], "refused": bad}
    corrupt = unreadable(folder)
    good = [p.stem for p in sorted(folder.glob("*.ipynb")) if p.stem not in corrupt]
    with _zygote(settings, cfg, slot, log, zygote):
        failed = _autograde(settings, cfg, student, good, log)
    expected = [p.stem for p in sorted((Path(settings.course) / "release" / settings.assignment).glob("*.ipynb"))]
    for notebook in [*corrupt, *(n for n in expected if n not in good and n not in corrupt)]:
        try:
            _zero(settings, cfg, student, notebook)
        except Exception as err:  # noqa: BLE001 - an unknown notebook name: nothing to score
            log.warning("could not score %s 0: %s", notebook, err)
    return {"corrupt": corrupt, "failed": failed}


def start_zygote(settings: Settings, slot: int, log: logging.Logger):
    """The slot's kernel zygote (:mod:`.zygote`) when kernels are confined and guarded, else None
    (also when it cannot start: then every kernel starts from scratch, slower but not worse).
    It holds no student's data: each kernel gets its student's environment and hidden seed."""
    if not (settings.fork_kernels and settings.confine and settings.guard):
        return None
    from . import sandbox
    from .kernel import kernel_env
    from .zygote import Zygote

    try:
        zygote = Zygote(uid=sandbox.UID_BASE + slot, read_only=[Path(p) for p in settings.read_only],
                        env=kernel_env(dict(os.environ)))
    except Exception as err:  # noqa: BLE001 - slower, not worse
        log.warning("kernels start from scratch: %s", err)
        return None
    log.info("kernels fork from the slot's zygote (%s)", zygote.socket)
    return zygote


@contextlib.contextmanager
def _zygote(settings: Settings, cfg, slot: int, log: logging.Logger, zygote=None):
    """Kernels of the block fork from ``zygote``, or from one started (and stopped) for it."""
    own = zygote is None
    if own:
        zygote = start_zygote(settings, slot, log)
    if zygote is None:
        yield None
        return
    if not own:
        log.info("kernels fork from the slot's zygote (%s)", zygote.socket)
    km = cfg.ConfinedKernelManager
    km.zygote, km.zygote_root, km.zygote_sockets = zygote.socket, str(zygote.root), str(zygote.sockets)
    try:
        yield zygote
    finally:
        if own:
            zygote.close()


def demo_ids(source: Path) -> list[str]:
    """The demonstration cells of the source notebook ``source`` (none if it cannot be read)."""
    from course_lib import nbmeta

    try:
        return nbmeta.demo_ids(nbmeta.read(source))
    except Exception:  # noqa: BLE001 - then every cell runs
        return []


def _autograde(settings: Settings, cfg, student: str, good: list[str], log: logging.Logger) -> list[str]:
    """nbgrader's autograde of each notebook in ``good``; returns those it failed on."""
    from nbgrader.converters import Autograde, NbGraderException
    from nbgrader.coursedir import CourseDirectory

    failed: list[str] = []
    source = Path(settings.course) / "source_notebooks" / settings.assignment
    for notebook in good:
        cfg.ConfinedKernelManager.guard_log = str(guard_log(settings, student, notebook))
        cfg.GuardedExecute.skip_ids = demo_ids(source / f"{notebook}.ipynb") if settings.skip_demos else []
        coursedir = CourseDirectory(config=cfg, log=log)
        coursedir.assignment_id, coursedir.student_id, coursedir.notebook_id = settings.assignment, student, notebook
        converter = Autograde(coursedir=coursedir, config=cfg, log=log)
        converter.force = True
        try:
            converter.start()
        except NbGraderException:
            failed.append(notebook)
    return failed


#: :func:`serve`'s stdout: one line when it is ready for students, then one per student's result.
READY, RESULT = "READY", "RESULT "


def serve(slot: int, log: logging.Logger) -> int:
    """Read the settings and the environment (the first line of stdin, ``{"settings", "env"}``:
    the parent sends them once it is prepared, this process imports nbgrader meanwhile), then
    grade the students named on stdin, one JSON line each, until it closes (module docstring).

    Each student's log (this process's stderr, and each kernel's) is its own file: fd 2 is
    pointed at it for the student. A zygote that died is started again for the next student."""
    from .kernel import remove_scratch

    first = sys.stdin.readline()
    if not first:
        return 0  # the parent stopped before it sent them
    start = json.loads(first)
    settings = Settings.from_json(json.dumps(start["settings"]))
    os.environ.clear()
    os.environ.update(start["env"])  # the parent's, set up after this process started
    zygote = start_zygote(settings, slot, log)
    print(READY, flush=True)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            sys.stderr.flush()
            with open(request["log"], "w") as logfile:
                os.dup2(logfile.fileno(), 2)
            if zygote is not None and zygote.proc.poll() is not None:
                log.warning("the slot's zygote exited (%s): starting another", zygote.proc.returncode)
                zygote.close()
                zygote = start_zygote(settings, slot, log)
            try:
                result = grade(settings, request["student"], slot, log, zygote)
            except Exception as err:  # noqa: BLE001 - this student's failure, said in its log; the next one goes on
                log.exception("grading %s failed", request["student"])
                result = {"corrupt": {}, "failed": [], "error": f"the grader failed ({type(err).__name__}: {err})"}
            finally:
                remove_scratch()
                if zygote is not None:
                    zygote.sweep()
            sys.stderr.flush()
            print(RESULT + json.dumps(result), flush=True)
    finally:
        if zygote is not None:
            zygote.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or sys.argv[1:])
    log = logging.getLogger("course-grade")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    from . import fast_nbgrader

    fast_nbgrader.install()
    if len(argv) != 2 or argv[0] != "--serve":
        print("usage: python -m course_lib.instructor.grading.worker --serve SLOT", file=sys.stderr)
        return 2
    code = serve(int(argv[1]), log)
    from .kernel import remove_scratch

    remove_scratch()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # everything is closed and removed; no interpreter teardown (0.2 s)


if __name__ == "__main__":
    sys.exit(main())
