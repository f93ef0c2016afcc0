"""``course-grade --scheduler tcp://HOST:PORT``: grade a class on an existing Dask cluster.

:class:`DaskGrader` is :class:`~.run.ClassGrader` with the thread pool
replaced: one Dask task per student (:func:`.remote.grade_task`, submitted
with ``retries`` and ``pure=False``), carrying the student's submitted files
as bytes, so the hosts share no file system, only the gradebook (PostgreSQL:
SQLite is refused). Each worker grades in its own checkout and its own
confined kernels and sends back the autograded notebooks, the guard's logs
and its log; this machine writes them where a one-machine run would, then
does the trusted parent's work itself (:meth:`~.run.ClassGrader.check_one`:
tamper scan, guard findings, scores read from the gradebook, integrity,
feedback, the journal), so ``autograded/``, ``grading/<a>/results``,
``grades.csv``, feedback and resume are what they are on one machine.

Scheduling, retries and worker loss are Dask's: a worker that dies while it
grades a student loses nothing, the scheduler runs the task again on another
worker (up to ``distributed.scheduler.allowed-failures`` lost workers, then
``KilledWorker``), and the student is recorded once, by this process, when the
task's result arrives (nbgrader's autograde updates the partial submission the
dead worker left in the gradebook). A student whose task fails is listed as not
graded; the next run grades them. At most a few tasks per worker thread are
queued at a time, so the scheduler never holds the whole class's files.
"""
from __future__ import annotations

import logging
import shutil
import time
import uuid

from tqdm.auto import tqdm

from . import remote
from .run import ClassGrader
from .summary import StudentResult
from .worker import course_salt

log = logging.getLogger("course-grade")


class DaskGrader(ClassGrader):
    """Grades on the Dask cluster at ``opts.scheduler``; checks and records here."""

    client = None
    local_kernels = False  # no compile cache made here: the kernels run on the workers

    def __init__(self, opts):
        super().__init__(opts)
        self._where: dict[str, str] = {}  # student -> the host and slot that graded them

    # ------------------------------------------------------------ hooks of ClassGrader
    def _machine_lock(self) -> None:
        """No sandbox runs here: each worker process holds its own slot block (:mod:`.remote`)."""

    def _spawn_workers(self) -> None:
        """None here: the Dask workers grade."""

    def _unconfined_why(self) -> str | None:
        return "--unconfined was given" if self.opts.unconfined else None  # each worker confines, or refuses

    def prepare(self) -> list[str]:
        if self.url.startswith("sqlite"):
            raise ValueError("--scheduler needs a gradebook that every worker reaches, not SQLite: "
                             "--db-url postgresql+psycopg://user@host/dbname")
        from distributed import Client

        try:
            self.client = Client(self.opts.scheduler, timeout="30s")
        except (OSError, TimeoutError) as err:
            raise RuntimeError(f"cannot reach the Dask scheduler at {self.opts.scheduler}: {err}") from None
        return super().prepare()

    def run(self) -> list[StudentResult]:
        try:
            return super().run()
        finally:
            if self.client is not None:
                self._close_warm()
                self.client.close()

    def _close_warm(self) -> None:
        """Every worker stops its idle slots' workers and zygotes, kept warm for this run (:func:`.remote.close_warm`)."""
        try:
            self.client.run(remote.close_warm)
        except Exception as err:  # noqa: BLE001 - a worker gone: its slots went with it
            log.warning("could not stop the warm slots on every Dask worker (%s: %s); they stop with their "
                        "worker, or at the next run", type(err).__name__, err)

    def _how(self) -> str:
        threads = self.client.nthreads()
        return (f"on the Dask cluster at {self.opts.scheduler} ({len(threads)} worker(s), "
                f"{sum(threads.values())} thread(s)), "
                + ("confined (bubblewrap) on every worker" if self.confined else "UNCONFINED"))

    # ------------------------------------------------------------ the class, on the cluster
    def _spec(self) -> dict:
        return {"course": str(self.course), "worker_course": self.opts.worker_course,
                "assignment": self.opts.assignment, "settings": dict(self.settings.__dict__),
                "salt": course_salt(self.settings), "timeout": self.student_timeout(),
                "expect": remote.expectations(self.course, self.opts.assignment)}

    def _submit(self, spec: dict, student: str):
        folder = self.course / "submitted" / student / self.opts.assignment
        with self.lock:
            self.running.add(student)
        return self.client.submit(remote.grade_task, {**spec, "student": student, "files": remote.files_of(folder)},
                                  key=f"course-grade-{self.opts.assignment}-{student}-{uuid.uuid4().hex[:8]}",
                                  retries=self.opts.retries, pure=False)

    def _window(self) -> int:
        """Tasks queued at once: two per worker thread (at least four)."""
        return max(4, 2 * sum(self.client.nthreads().values()))

    def _grade_all(self, todo: list[str]) -> None:
        from distributed import as_completed

        if not self.client.nthreads():
            log.warning("no Dask worker is connected to %s yet: waiting for one", self.opts.scheduler)
        spec = self._spec()
        waiting = list(todo)
        names: dict = {}  # future -> student: submitted, not finished
        pending = as_completed()

        def top_up() -> None:
            while waiting and len(names) < self._window():
                student = waiting.pop(0)
                fut = self._submit(spec, student)
                names[fut] = student
                pending.add(fut)

        bar = tqdm(total=len(todo), desc="grading", unit="student", disable=not self.opts.progress)
        try:
            top_up()
            for fut in pending:
                r = self._finish(names.pop(fut), fut)
                fut.release()
                bar.update(1)
                if r is not None:
                    bar.set_postfix_str(f"{r.student}: {r.score:g}/{r.max_score:g} on {self._where.get(r.student)}"
                                        + (" FLAGGED" if r.flagged else ""))
                if self.abort:
                    break
                top_up()
        finally:
            bar.close()
            if names:
                self.client.cancel(list(names))

    def _finish(self, student: str, fut) -> StudentResult | None:
        """The task's result written where a one-machine run writes it, then :meth:`check_one`."""
        try:
            out = fut.result()
        except Exception as err:  # noqa: BLE001 - KilledWorker, or the task's error after its retries
            log.error("grading %s on the cluster failed: %s: %s", student, type(err).__name__, err)
            self.rejected[student] = f"grading failed on the cluster ({type(err).__name__}: {err}); run course-grade again"
            with self.lock:
                self.running.discard(student)
            return None
        try:
            if out.get("student") != student or out.get("confined") != self.settings.confine:
                raise RuntimeError(f"the result is not {student}'s as asked (student {out.get('student')!r}, "
                                   f"confined {out.get('confined')!r})")
            self._receive(student, out)
            return self.check_one(student, out["worker"], out["error"], time.monotonic() - out["seconds"])
        except Exception as err:  # noqa: BLE001 - one student's failure must not stop the class
            log.exception("grading %s failed", student)
            self.rejected[student] = f"grading failed ({type(err).__name__}: {err}); run course-grade again"
            with self.lock:
                self.running.discard(student)
            return None

    def _receive(self, student: str, out: dict) -> None:
        """``autograded/<student>/<a>/``, the guard's logs and the log, from the worker's result."""
        a = self.opts.assignment
        graded = self.course / "autograded" / student / a
        shutil.rmtree(graded, ignore_errors=True)
        remote.write_files(graded, out["autograded"])
        guard = self.state / "guard" / student
        shutil.rmtree(guard, ignore_errors=True)
        remote.write_files(guard, {f"{name}.log": text.encode() for name, text in out["guard"].items()})
        log_path = self.state / "logs" / f"{student}.log"
        self._where[student] = f"{out['host']} (slot {out['slot']})"
        log_path.write_text(f"graded on {self._where[student]} in {out['seconds']:g} s\n" + out["log"])
        out["error"] = out["error"].replace("{log}", str(log_path))
