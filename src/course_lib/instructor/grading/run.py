"""Grade a class: collect, autograde in parallel confined workers, check, summarise.

:func:`grade_class` is what ``course-grade`` runs. Each student is graded by the
worker process of a slot (:mod:`.slots`, :mod:`.worker`; one per slot, kept across
students) whose kernels are confined (:mod:`.sandbox`); ``jobs`` slots run at once,
each with its own sandbox uid.
After each student: the static tamper scan and the test-cell comparison
(:mod:`..tamper`), the shared-file fingerprints and the gradebook's test cells
(:mod:`.integrity`), the per-problem statuses (:mod:`.summary`), then the
journal entry (:mod:`.journal`). At the end: grades of recorded students
re-read from the gradebook and compared with the journal, the summary table,
``grades.csv`` and ``problems.csv``. With ``--scheduler``, :class:`.distributed.DaskGrader`
replaces the thread pool (:meth:`ClassGrader._grade_all`) with one Dask task per student and
does the same checks here (:meth:`ClassGrader.check_one`).
"""
from __future__ import annotations

import functools
import logging
import os
import queue
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ... import __version__
from .. import stamp, tamper
from . import course as course_mod
from . import gpu_cache, integrity, sandbox, submissions
from .journal import Journal, fingerprint
from .slots import SlotWorker, close_all
from .summary import StudentResult, notebook_events, notebook_problems, table, version_report, write_csv
from .worker import Settings, course_salt

log = logging.getLogger("course-grade")

UNCONFINED_BANNER = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! UNCONFINED GRADING: student code runs as {user}, with everything this user
!! can read and write: the hidden tests, the gradebook, other students' work.
!! Why: {why}
!! The tamper checks still run after each student, but they cannot undo harm.
!! Grade untrusted submissions on Linux with bubblewrap, as root (a container).
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


@dataclass
class Options:
    submissions: Path
    course: Path
    assignment: str = "ps1"
    jobs: int = max(1, os.cpu_count() or 1)
    db_url: str | None = None
    unconfined: bool = False
    guard: bool = True
    fork_kernels: bool = True          # kernels forked from each slot's zygote (.zygote)
    skip_demos: bool = True            # the source notebooks' demonstration cells are not run
    cell_timeout: int | None = None
    notebook_timeout: int = 1800
    student_timeout: int | None = None
    memory_gb: float = 6.0
    interrupt_grace: int = 10
    regrade: bool = False
    feedback: bool = True
    output: Path | None = None
    progress: bool = True
    students: list[str] = field(default_factory=list)
    scheduler: str | None = None       # a Dask scheduler's address: grade on its workers (.distributed)
    worker_course: str | None = None   # the course checkout on the Dask workers (default: the same path)
    retries: int = 1                   # Dask retries of a student whose task raised (a lost worker: allowed-failures)


def _read_only_data() -> list[Path]:
    """Folders kernels may read, with the environment variables that point at them."""
    from ...data.locations import (ENV_DATA_DIR, ENV_DATA_ROOT, ENV_MODEL_CACHE, default_root, find_shared_data,
                                   model_cache)

    paths = []
    folder, _ = find_shared_data("fashion_mnist_2k")
    if folder is not None:
        os.environ.setdefault(ENV_DATA_DIR, str(folder.parent))
    for env, path in ((ENV_DATA_DIR, os.environ.get(ENV_DATA_DIR)), (ENV_DATA_ROOT, str(default_root())),
                      (ENV_MODEL_CACHE, str(model_cache()))):
        if path and Path(path).is_dir():
            os.environ[env] = str(Path(path).resolve())
            paths.append(Path(path).resolve())
    return paths


def _prewarm(source_dir: Path) -> None:
    """Train/cache the offline DeepDream classifier once, outside the sandbox
    (kernels read the cache and cannot write it); a cached one is not loaded again here."""
    import zipfile

    from ...data.locations import model_cache

    if zipfile.is_zipfile(model_cache() / "digit_cnn.pt"):  # torch.save's format: cached already
        return
    if any("course_lib.dream" in p.read_text(errors="replace") for p in source_dir.glob("*.ipynb")):
        log.info("caching the offline DeepDream classifier (once)")
        from ...dream.models import load_classifier

        load_classifier(prefer="mnist", verbose=False)


class ClassGrader:
    local_kernels = True  # the kernels run on this machine (not so for .distributed.DaskGrader)

    def __init__(self, opts: Options):
        self.opts = opts
        self.course = opts.course.resolve()
        self.source_dir = self.course / "source_notebooks" / opts.assignment
        self.state = self.course / "grading" / opts.assignment
        (self.state / "logs").mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.state / "results")
        self.lock = threading.Lock()
        self.abort: str | None = None
        self.running: set[str] = set()   # students being graded now
        self.tainted: set[str] = set()   # graded while the gradebook was changed: not to be recorded
        self.slot_workers: dict[int, SlotWorker] = {}  # each slot's worker process, kept across students
        self.similarity_warm: threading.Thread | None = None

    # ------------------------------------------------------------ set-up
    @functools.cached_property
    def url(self) -> str:
        """The gradebook's URL (reading nbgrader_config.py imports nbgrader: 1 s)."""
        return course_mod.db_url(self.course, self.opts.db_url)

    @functools.cached_property
    def course_id(self) -> str:
        return course_mod.course_id(self.course)

    def _spawn_workers(self) -> None:
        """Start each slot's worker now: its imports (nbgrader, 1 s) use the core that the parent's
        own set-up (:meth:`prepare`) leaves idle; it waits for the settings. One per slot that a
        submission could fill."""
        if not self.opts.submissions.is_dir():
            return
        for slot in range(sum(1 for _ in zip(range(self.opts.jobs), self.opts.submissions.iterdir()))):
            self.slot_workers[slot] = self._slot_worker(slot)
            self.slot_workers[slot].spawn()

    def _slot_worker(self, slot: int) -> SlotWorker:
        return SlotWorker(getattr(self, "settings", None), slot, self.course,
                          self.state / "workers" / f"slot-{slot}.log")

    def _unconfined_why(self) -> str | None:
        """Why kernels cannot be confined (None: they are)."""
        return "--unconfined was given" if self.opts.unconfined else sandbox.probe()

    def prepare(self) -> list[str]:
        why = self._unconfined_why()
        self.confined = why is None
        if not self.confined:
            import getpass

            print(UNCONFINED_BANNER.format(user=getpass.getuser(), why=why), file=sys.stderr, flush=True)
        if not self.opts.guard:
            print("course-grade: --no-guard: kernels run without the run-time guard and the signed verdicts; "
                  "a hostile submission can fake its grade. For benchmarks only.", file=sys.stderr, flush=True)
        course_mod.alembic_on_path()
        # J kernels at once share the cores: each gets cores/J math threads (torch, numpy), not all of them
        threads = str(max(1, (os.cpu_count() or 1) // self.opts.jobs))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, threads)
        os.environ.pop("NBGRADER_EXECUTION", None)
        # kernels' scratch folders: here, emptied at every start (a killed run leaves some behind)
        scratch = self.state / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        os.environ["COURSE_GRADE_SCRATCH"] = str(scratch)
        self.notebooks = course_mod.ensure_assignment(self.course, self.opts.assignment, self.url, log)
        bad = integrity.gradebook_test_cells(self.source_dir, self.url, self.course_id, self.opts.assignment)
        if bad:
            raise RuntimeError("the gradebook's test cells do not match source_notebooks/ (" + "; ".join(bad[:5])
                               + "): restore the gradebook or run `nbgrader generate_assignment --force` first")
        _prewarm(self.source_dir)
        self.read_only = _read_only_data()
        # compiled while the first students are graded; unconfined kernels could write the cache: none
        self.gpu_build = gpu_cache.start(self.course / "release" / self.opts.assignment, log) \
            if self.confined and self.local_kernels else None
        students, self.rejected = submissions.collect(self.opts.submissions, self.course, self.opts.assignment)
        if self.opts.students:
            students = [s for s in students if s in self.opts.students]
        self.settings = Settings(
            course=str(self.course), assignment=self.opts.assignment, db_url=self.url, confine=self.confined,
            guard=self.opts.guard, fork_kernels=self.opts.fork_kernels, skip_demos=self.opts.skip_demos,
            cell_timeout=self.opts.cell_timeout, notebook_timeout=self.opts.notebook_timeout,
            memory_bytes=int(self.opts.memory_gb * (1 << 30)), interrupt_grace=self.opts.interrupt_grace,
            read_only=[str(p) for p in self.read_only], gpu_cache=str(self.gpu_build.cache) if self.gpu_build else "")
        course_salt(self.settings)  # made here, before any worker reads it
        from .late import load_policy

        self.policy = load_policy(self.course)
        self._hashes: dict = {}
        self.baseline = self._snapshot()
        self.collected = self.baseline  # the submissions as collected: a later change inside one is its student's
        return students

    def _snapshot(self) -> dict[str, str]:
        return integrity.snapshot(self.course, self.opts.assignment, [sandbox.package_folder(), *self.read_only],
                                  cache=self._hashes)

    # ------------------------------------------------------------ one student
    def student_timeout(self) -> int:
        return self.opts.student_timeout or (len(self.notebooks) + 1) * (self.opts.notebook_timeout + 120)

    def _worker(self, student: str, slot: int) -> tuple[dict, str]:
        """Grade ``student`` in the slot's worker (:mod:`.slots`), started on first use."""
        with self.lock:
            worker = self.slot_workers.get(slot)
            if worker is None:
                worker = self.slot_workers[slot] = self._slot_worker(slot)
            worker.settings = self.settings
        return worker.grade(student, self.state / "logs" / f"{student}.log", self.student_timeout())

    def _scores(self, student: str) -> dict[str, dict[str, float | None]]:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.url, self.course_id) as gb:
            try:
                sub = gb.find_submission(self.opts.assignment, student)
            except MissingEntry:
                return {}
            return {nb.name: {g.name: g.auto_score for g in nb.grades} for nb in sub.notebooks}

    def _guard_findings(self, student: str) -> dict[str, list]:
        """``{notebook: [Finding]}`` from the run-time guard's logs of this student's kernels."""
        from ..tamper.findings import KINDS, Finding

        out: dict[str, list] = {}
        for log_file in sorted((self.state / "guard" / student).glob("*.log")):
            lines = [line.strip() for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
            out[log_file.stem] = [Finding("run time", 0, "guard", line[:300], KINDS["guard"]) for line in lines[:50]]
        return out

    @staticmethod
    def _planted(folder: Path) -> list[str]:
        """Python modules, packages and ``.pth`` files handed in beside the notebooks (the kernel
        runs isolated, so they are never imported; handing them in is still worth a look)."""
        out = []
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            if path.suffix in (".py", ".pth", ".pyc", ".so") or path.name in ("sitecustomize.py", "usercustomize.py"):
                rel = path.relative_to(folder)
                out.append(f"submission: [planted-module] {rel}  -- a Python module beside the notebooks "
                           "(never imported: kernels run isolated)")
        return out[:20]

    def grade_one(self, student: str, slot: int, release=lambda: None) -> StudentResult | None:
        """Grade ``student`` in sandbox slot ``slot``; ``release()`` hands the slot on as soon
        as the worker (and with it every sandboxed process) is gone, so the next student
        starts while this one's checks run."""
        started = time.monotonic()
        with self.lock:
            self.running.add(student)
        try:
            worker, error = self._worker(student, slot)
        finally:
            if self.confined:
                sandbox.wait_uid_gone(sandbox.UID_BASE + slot)
            release()
        return self.check_one(student, worker, error, started)

    def check_one(self, student: str, worker: dict, error: str, started: float) -> StudentResult | None:
        """The trusted parent's work once ``student``'s worker has finished (its result ``worker``,
        or ``error``): tamper scan, guard logs, scores from the gradebook, problems, integrity,
        feedback, journal. None when the student must be graded again (gradebook changed)."""
        folder = self.course / "submitted" / student / self.opts.assignment
        if worker.get("failed"):
            error = error or f"nbgrader failed on {', '.join(worker['failed'])}; see the log"
        found = tamper.scan_submission(folder, self.source_dir)
        for name, lines in self._guard_findings(student).items():
            found.setdefault(f"{name}.ipynb", []).extend(lines)
        findings = [f"{nb}: {f}" for nb, fs in found.items() for f in fs if f.kind != "corrupt-notebook"]
        findings += submissions.refused(self.course, self.opts.assignment, student)  # links, FIFOs, ... refused
        findings += self._planted(folder)
        scores = self._scores(student)
        result = StudentResult(student=student, error=error, findings=findings, seconds=round(time.monotonic() - started, 2),
                               submission=fingerprint(folder), graded_with=__version__,
                               released_with=stamp.released_versions(folder, self.notebooks))
        for name in self.notebooks:
            result.events += notebook_events(name, self.course / "autograded" / student / self.opts.assignment
                                             / f"{name}.ipynb")
            result.problems += notebook_problems(
                name, self.source_dir / f"{name}.ipynb", folder / f"{name}.ipynb",
                self.course / "autograded" / student / self.opts.assignment / f"{name}.ipynb",
                scores.get(name, {}), found.get(f"{name}.ipynb", []))
        with self.lock:
            now = self._snapshot()
            # a confined kernel writes only its private copy: a change inside submitted/<someone>/ came from
            # outside the sandbox and is that student's (below, when graded), not this one's; unconfined, it may be
            submitted = self.course / "submitted"
            diffs = integrity.changed(self.baseline, now, outside=submitted if self.confined else None)
            self.baseline = now
            result.findings += [f"shared file changed while this student (or one graded at the same time) ran: {d}"
                                for d in diffs]
            own = integrity.changed(self.collected, now, within=folder)
            result.findings += [f"its submitted folder changed after it was collected (not by its own kernel, "
                                f"which ran on a copy): {d}" for d in own]
            bad = integrity.gradebook_test_cells(self.source_dir, self.url, self.course_id, self.opts.assignment)
            if bad:
                result.findings += [f"gradebook test cell changed: {b}" for b in bad]
                self.abort = (f"the gradebook's test cells changed while {student} was graded ({bad[0]}): "
                              "grading stopped; restore the gradebook (nbgrader generate_assignment --force) "
                              "and run course-grade again")
                # students graded at the same time may have run against the changed tests: grade them again
                self.tainted |= self.running - {student}
            self.running.discard(student)
            if student in self.tainted:
                log.warning("%s was graded while the gradebook changed: not recorded, it will be graded again",
                            student)
                return None
        if self.opts.feedback:
            self._feedback(result)
        with self.lock:
            self.journal.record(result)
        return result

    def _feedback(self, result: StudentResult) -> None:
        """The student's feedback page as it stands (written answers not graded yet);
        ``course-grade final`` writes it again with the written answers' points."""
        from . import feedback, final

        grades, _ = final.final_grades(self.course, self.opts.assignment, self.url, self.policy, write_back=False,
                                       students=[result.student])
        for g in grades:
            g.flags = list(result.findings)
        feedback.write(self.course, self.opts.assignment, grades, self.policy, {result.student: result})

    # ------------------------------------------------------------ the class
    def _machine_lock(self) -> None:
        """One course-grade per machine: runs share the sandbox uids (and a stray-process
        kill by uid must not reach another run). Also removes a killed run's socket folders."""
        import fcntl
        import tempfile

        self._lock_file = open(Path(tempfile.gettempdir()) / "course-grade.lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RuntimeError("another course-grade is running on this machine; wait for it to finish "
                               "(their sandboxes would share uids)") from None
        for stale in Path(tempfile.gettempdir()).glob("cg-*"):
            try:
                if sandbox.UID_BASE <= stale.stat().st_uid < sandbox.UID_BASE + 256:
                    shutil.rmtree(stale, ignore_errors=True)
            except OSError:
                pass

    def run(self) -> list[StudentResult]:
        if sys.platform.startswith("linux"):
            self._machine_lock()
        self._spawn_workers()
        try:
            students = self.prepare()
        except BaseException:
            close_all(self.slot_workers.values())
            raise
        todo = []
        for s in students:
            done = self.journal.get(s)
            folder = self.course / "submitted" / s / self.opts.assignment
            if self.opts.regrade or done is None or done.submission != fingerprint(folder):
                todo.append(s)
        skipped = len(students) - len(todo)
        print(f"course-grade: {len(students)} submission(s) of {self.opts.assignment}, {len(todo)} to grade"
              + (f", {skipped} already graded (resumed)" if skipped else "") + ", " + self._how(),
              file=sys.stderr, flush=True)
        self._grade_all(todo)
        if self.gpu_build is not None:
            self.gpu_build.wait()
        results = [r for r in (self.journal.get(s) for s in students) if r is not None]
        self._recheck(results)
        return results

    def _how(self) -> str:
        return f"{self.opts.jobs} at a time, " + ("confined (bubblewrap)" if self.confined else "UNCONFINED")

    def _grade_all(self, todo: list[str]) -> None:
        """Grade ``todo`` on this machine, ``jobs`` at a time (:mod:`.distributed` replaces this)."""
        slots: queue.Queue[int] = queue.Queue()
        for k in range(self.opts.jobs):
            slots.put(k)

        def job(student: str):
            if self.abort:
                return None
            slot = slots.get()
            held = [True]  # grade_one releases the slot early; never twice

            def release() -> None:
                if held:
                    held.pop()
                    slots.put(slot)

            try:
                return self.grade_one(student, slot, release)
            except Exception as err:  # noqa: BLE001 - one student's infrastructure failure must not stop the class
                log.exception("grading %s failed", student)
                self.rejected[student] = f"grading failed ({type(err).__name__}: {err}); run course-grade again"
                with self.lock:
                    self.running.discard(student)
                return None
            finally:
                release()

        # two threads per slot: while one checks the student it graded, the other is already waiting for
        # the slot (with one thread more than slots, a slot freed while the spare thread was busy waited
        # for a check to end: 0.3 to 0.6 s each time)
        try:
            with ThreadPoolExecutor(max_workers=2 * self.opts.jobs) as pool:
                futures = {pool.submit(job, s): s for s in todo}
                bar = tqdm(total=len(todo), desc="grading", unit="student", disable=not self.opts.progress)
                for fut in as_completed(futures):
                    r = fut.result()
                    bar.update(1)
                    self._warm_similarity()
                    if r is not None:
                        bar.set_postfix_str(f"{r.student}: {r.score:g}/{r.max_score:g}"
                                            + (" FLAGGED" if r.flagged else ""))
                bar.close()
        finally:
            close_all(self.slot_workers.values())
            for left in (self.state / "scratch").iterdir():  # a killed worker's zygote folder
                shutil.rmtree(left, ignore_errors=True)

    def _warm_similarity(self) -> None:
        """Once the first student is back (the workers are warm), import and fingerprint what the
        similarity screen at the end needs, in a thread (:func:`.similarity.prewarm`)."""
        if self.similarity_warm is None:
            from . import similarity

            def warm() -> None:
                try:
                    similarity.prewarm(self.course / "release" / self.opts.assignment)
                except Exception:  # noqa: BLE001 - the screen at the end does it again, and says what failed
                    pass

            self.similarity_warm = threading.Thread(target=warm, name="similarity-prewarm", daemon=True)
            self.similarity_warm.start()

    def _recheck(self, results: list[StudentResult]) -> None:
        """Grades in the gradebook must still be what was recorded for each student."""
        for r in results:
            scores = self._scores(r.student)
            moved = [f"{p.notebook}/{p.grade_id}: recorded {p.score:g}, gradebook {scores[p.notebook][p.grade_id]}"
                     for p in r.problems if p.notebook in scores and p.grade_id in scores[p.notebook]
                     and float(scores[p.notebook][p.grade_id] or 0) != p.score]
            if moved:
                r.findings += [f"grade changed in the gradebook after grading: {m}" for m in moved]


def _similarity(grader: ClassGrader, results: list[StudentResult]) -> None:
    """The similarity screen over the graded class (for a person; it changes no score)."""
    from . import similarity

    if grader.similarity_warm is not None:
        grader.similarity_warm.join()
    students = sorted(r.student for r in results)
    try:
        pairs = similarity.screen(grader.course, grader.opts.assignment, students)
        _, html_path = similarity.write_report(pairs, grader.state, students=len(students))
    except Exception as err:  # noqa: BLE001 - a screening failure must not lose the grades
        log.warning("similarity screening failed (%s: %s); run `course-grade similarity` again",
                    type(err).__name__, err)
        return
    names = ", ".join(f"{p.student_a}~{p.student_b}" for p in pairs[:5]) + (" ..." if len(pairs) > 5 else "")
    print(f"similarity: {len(pairs)} pair(s) with near-identical solution code, for a person to judge"
          + (f" ({names})" if pairs else "") + f": {html_path}")


def grade_class(opts: Options) -> tuple[list[StudentResult], dict[str, str], str | None]:
    """Grade every submission; returns (results, rejected submissions, abort reason)."""
    if opts.scheduler:
        from .distributed import DaskGrader

        grader: ClassGrader = DaskGrader(opts)
    else:
        grader = ClassGrader(opts)
    results = grader.run()
    output = opts.output or grader.state / "grades.csv"
    write_csv(results, output, output.with_name("problems.csv"))
    print(table(results))
    print("\n".join(version_report(results, __version__)))
    for student, why in sorted(grader.rejected.items()):
        print(f"{student}: NOT GRADED: {why}")
    _similarity(grader, results)
    print(f"grades: {output}\nper problem: {output.with_name('problems.csv')}\nlogs: {grader.state / 'logs'}")
    if grader.abort:
        print(f"STOPPED: {grader.abort}", file=sys.stderr)
    return results, grader.rejected, grader.abort
