"""One worker process per sandbox slot, kept across the slot's students.

Starting a worker costs its Python, nbgrader and the slot's kernel zygote (torch, every
check, IPython: about 4.5 CPU-seconds), more than a blank student's notebooks. So
``course-grade`` keeps one :class:`SlotWorker` per slot (on this machine, and on each Dask
worker for the tasks of one run: :mod:`.remote`): it starts
``python -m course_lib.instructor.grading.worker --serve`` once and hands it one student
at a time (:func:`.worker.serve`). Only the kernels run student code, each forked fresh
from the zygote and killed with everything of the slot's uid before the next one; the
worker itself is trusted, as before.

A worker that dies, or a student that runs past the time limit (its worker is killed with
its process group), costs only that student: the next one gets a new worker. After
:data:`MAX_STUDENTS` students the worker is replaced anyway, so nothing grows without bound.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from .worker import READY, RESULT, Settings

#: Students one worker process grades before it is replaced by a fresh one.
MAX_STUDENTS = 64
#: Seconds a new worker may take to be ready (imports, the zygote); not counted in a student's time.
START_TIMEOUT = 600


def _libc():
    if sys.platform.startswith("linux"):
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    return None


_LIBC = _libc()  # loaded before any fork: a forked child of a threaded process must not dlopen


def worker_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """A worker's environment: ``env`` (default: this process's) without ``NBGRADER_EXECUTION``."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k != "NBGRADER_EXECUTION"}


def die_with_parent() -> None:
    """Die with the parent (Linux ``PR_SET_PDEATHSIG``; a ``preexec_fn``), so killing
    course-grade kills its workers."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)


class SlotWorker:
    """The worker process of sandbox slot ``slot`` (see the module). :meth:`spawn` may start it
    before ``settings`` are known: it imports nbgrader and waits for them; the first
    :meth:`grade` sends them and waits until the slot's zygote is ready."""

    def __init__(self, settings: Settings | None, slot: int, cwd: Path, log_path: Path,
                 env: dict[str, str] | None = None):
        self.settings, self.slot, self.cwd, self.log_path = settings, slot, cwd, log_path
        self.env = env  # the worker's environment (default: this process's, as it is when the worker starts)
        self.proc: subprocess.Popen | None = None
        self.ready = False  # the settings were sent and the worker said READY
        self.graded = 0
        self._buffer = b""

    def spawn(self) -> None:
        """Start the worker process (it waits for its settings and environment on stdin)."""
        self.close()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "course_lib.instructor.grading.worker", "--serve", str(self.slot)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=worker_env(self.env), cwd=self.cwd,
                start_new_session=True, preexec_fn=die_with_parent)
        self.ready, self.graded, self._buffer = False, 0, b""

    def _start(self) -> bool:
        """Send the settings to a spawned worker (a new one unless one waits for them) and wait
        until it is ready; False if it did not get there."""
        if self.proc is None or self.proc.poll() is not None or self.ready:
            self.spawn()
        # the environment as it is now: the parent set its part of it (data folders, threads, scratch) in
        # prepare, after the worker started
        start = {"settings": json.loads(self.settings.to_json()), "env": worker_env(self.env)}
        try:
            self.proc.stdin.write((json.dumps(start) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.kill()
            return False
        deadline = time.monotonic() + START_TIMEOUT
        while (line := self._line(deadline)) is not None:
            if line == READY.encode():
                self.ready = True
                return True
        self.kill()
        return False

    def grade(self, student: str, log_path: Path, timeout: float) -> tuple[dict, str]:
        """Grade ``student`` (its log in ``log_path``): ``(the worker's result, "")`` or
        ``({}, why it failed)``."""
        log_path.write_text("")
        if not self.ready or self.proc is None or self.proc.poll() is not None or self.graded >= MAX_STUDENTS:
            if not self._start():
                return {}, f"the grader did not start; see {self.log_path}"
        self.graded += 1
        try:
            self.proc.stdin.write((json.dumps({"student": student, "log": str(log_path)}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            return self._failed(log_path)
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(deadline)
            if line is None:
                if self.proc.poll() is None:  # still running: past the time limit
                    self.kill()
                    return {}, f"grading this student took longer than {timeout:.0f} s and was stopped"
                return self._failed(log_path)
            if line.startswith(RESULT.encode()):
                try:
                    result = json.loads(line[len(RESULT):])
                except ValueError:
                    return {}, "the grader printed no result"
                error = result.pop("error", "")
                return result, error

    def _line(self, deadline: float) -> bytes | None:
        """The worker's next line on stdout; None at its end or at ``deadline``."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not select.select([fd], [], [], min(left, 1.0))[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _failed(self, log_path: Path) -> tuple[dict, str]:
        code = self.proc.poll() if self.proc is not None else None
        self.kill()
        return {}, f"the grader failed (exit {code}); see {log_path}"

    def kill(self) -> None:
        """Stop the worker and everything it started, now."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            self.proc = None
        self.ready = False

    def stop(self) -> None:
        """Tell the worker to finish (stdin closed: it stops its zygote and exits); :meth:`close` waits."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def close(self, timeout: float = 30) -> None:
        """Let the worker finish (:meth:`stop`), or kill it."""
        if self.proc is None:
            return
        try:
            self.stop()
            self.proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


def close_all(workers: Iterable[SlotWorker]) -> None:
    """Every worker stops at once (each stops its zygote), then each is waited for."""
    workers = list(workers)
    for worker in workers:
        worker.stop()
    for worker in workers:
        worker.close()
