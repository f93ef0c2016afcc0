"""nbgrader's Execute with a guard against hostile notebooks.

:class:`GuardedExecute` replaces nbgrader's ``Execute`` under ``course-grade``:

- a cell that runs past ``timeout`` is interrupted; if the kernel does not
  answer within ``interrupt_grace`` seconds (a loop that catches
  ``KeyboardInterrupt``), the kernel is killed;
- output is capped: beyond ``max_cell_output`` bytes a cell's further output is
  dropped (with a note); beyond ``max_output`` bytes for the notebook the kernel
  is killed, so gigabytes of prints cannot exhaust the grader's memory;
- the notebook as a whole may run ``notebook_timeout`` seconds;
- when the kernel dies (``os._exit``, a crash, a resource limit, or one of the
  kills above) the cell gets an error output ``KernelDied`` saying why, and every
  later code cell an error ``NotRun``: the rest of the notebook scores 0 instead
  of failing the whole student, and the summary can say what happened.
  The why is :func:`death_cause` of the kernel process's exit status: a signal
  (bubblewrap exits with 128 + N when the confined kernel dies of signal N,
  measured with bubblewrap 0.8: ``os.kill(os.getpid(), 9)`` gives 137, a
  segfault 139, ``os.abort()`` 134, the CPU-time limit 137 since its soft and
  hard limits are equal) or the status the student's code exited with
  (``os._exit(3)`` gives 3).

- behind the guard, each autograded test cell is sent wrapped by
  :func:`.verdict.wrap` and sent back to its own source afterwards; once the
  kernel is gone, :func:`.verdict.judge` zeroes every test cell whose outputs
  would score without the check's signed pass, and the findings go to the
  guard's log.

Error outputs it writes (``ename``): ``CellTimeoutError`` (nbgrader's),
``KernelDied``, ``NotRun``, ``OutputLimitExceeded``, ``VerdictMismatch``.
"""
from __future__ import annotations

import json
import os
import signal
import time
from queue import Empty

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Enum, Integer, List, Unicode

from course_lib import nbmeta
from . import verdict
from .kernel import remove_scratch
from .outcomes import KERNEL_DIED, NOT_RUN, OUTPUT_LIMIT

SKIPPED = "[course-grade: not run at grading: this given cell only shows something (a figure, a printout)]\n"


_NATIVE = "a crash in native code (ctypes, a C extension, or a stack overflow from very deep recursion)"
#: What a kernel killed by each signal most likely met.
SIGNAL_CAUSES = {
    signal.SIGKILL: "the kernel was killed (a signal from the student's code to every process of its user, "
                    "the out-of-memory killer, or the CPU-time limit{cpu})",
    signal.SIGXCPU: "it hit the CPU-time limit{cpu}",
    signal.SIGXFSZ: "it hit the file-size limit",
    signal.SIGSEGV: _NATIVE,
    signal.SIGBUS: _NATIVE,
    signal.SIGILL: _NATIVE,
    signal.SIGFPE: _NATIVE,
    signal.SIGABRT: "it aborted (os.abort, or native code that gave up: often a thread or process that could not "
                    "start at the process limit, or memory that ran out)",
}
_SENT = "a signal from the student's code (os.kill, signal.raise_signal, signal.alarm, ...)"
UNKNOWN_DEATH = ("the kernel died: the code exited the process (os._exit, sys.exit in a thread), crashed, or hit "
                 "a limit on memory, CPU time or processes")


def death_cause(status: int | None, confined: bool = False, cpu_seconds: int | None = None) -> str:
    """Why a kernel process that ended with ``status`` (``Popen.returncode``) died.

    Negative: killed by that signal. Confined, the process is bubblewrap, which exits
    with 128 + N when the kernel inside dies of signal N (so an ``os._exit(137)`` there
    reads as SIGKILL). Otherwise the status the kernel exited with."""
    if status is None:
        return UNKNOWN_DEATH
    number = -status if status < 0 else status - 128 if confined and 128 < status < 128 + 65 else 0
    if number:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        cpu = f" of {cpu_seconds} s" if cpu_seconds else ""
        cause = SIGNAL_CAUSES.get(number, _SENT).format(cpu=cpu)
        return f"the kernel died: killed by signal {name} ({number}): {cause}"
    return (f"the kernel died: exited with status {status} (os._exit or sys.exit in the student's code"
            + (", or a fatal error in Python)" if status else ")"))


def _error(ename: str, evalue: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _size(msg: dict) -> int:
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", ""))
    return len(json.dumps(content.get("data", content), default=str))


def _short_polls(get_msg, step: float = 1.0):
    """``get_msg`` that waits in polls of at most ``step`` seconds.

    nbclient's Output-widget emulation sends ``comm_msg`` updates on the shell
    socket while another task awaits the cell's reply on that same socket; now
    and then (about 1 in 100 cells that fill an Output widget, measured with
    ipykernel 7.4 and pyzmq 27.3) the asyncio poll then never wakes up although
    the reply is waiting in the socket (``EVENTS & POLLIN`` is set), and the
    cell hangs until its timeout. A new poll looks at the socket again.
    """

    async def wrapped(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if deadline is None else min(step, max(0.0, deadline - time.monotonic()))
            try:
                return await get_msg(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return wrapped


class GuardedExecute(Execute):
    """nbgrader's Execute that survives kernels which hang, flood or die."""

    interrupt_grace = Integer(10, help="seconds a timed-out cell has to answer the interrupt").tag(config=True)
    max_cell_output = Integer(1 << 20, help="bytes of output kept per cell").tag(config=True)
    max_output = Integer(64 << 20, help="bytes of output per notebook before the kernel is killed").tag(config=True)
    notebook_timeout = Integer(1800, help="seconds the whole notebook may run").tag(config=True)
    skip_ids = List(Unicode(), help="grade ids of the source notebook's demonstration cells, not run "
                                    "(nbmeta.demo_ids)").tag(config=True)
    # every cell has run and its outputs and verdicts are in: the kernel gets no time for its atexit hooks
    # (a kernel that used OpenCL spent 2.6 s in them)
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate",
                           help="how the kernel is stopped after the last cell").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped: str | None = None
        self._kill_reason: str | None = None
        self._bytes = 0
        self._cell_bytes: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        self._started = time.monotonic()
        self._sent: list[int] = []
        self._kernel_manager = None
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except DeadKernelError as err:  # the kernel died outside a cell (start-up, shutdown)
            if self._stopped is None:
                why = self._death()
                self._stopped = f"the kernel died: {err}" if why == UNKNOWN_DEATH else why
            for cell in nb.cells:
                if cell.cell_type == "code" and not cell.get("outputs"):
                    cell.outputs = [_error(NOT_RUN, f"not run: {self._stopped}")]
        finally:
            remove_scratch()
        self._judge(nb)
        return nb, resources

    def _judge(self, nb) -> None:
        """Hold each test cell's outputs against the check's signed verdict (:mod:`.verdict`)."""
        km = self._kernel_manager
        key = getattr(km, "verdict_key", None)
        lines = km.verdicts() if key is not None else None
        if lines is None:
            return
        findings = verdict.judge(nb, self._sent, *verdict.verify(lines, key))
        log = getattr(km, "guard_log", "")
        if findings and log:
            with open(log, "a", encoding="utf-8") as out:
                out.writelines(f[:500] + "\n" for f in findings[:50])

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self._kernel_manager = self.km  # nbclient forgets it at shutdown; its verdicts are read after
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = _short_polls(channel.get_msg)
        return kc

    # nbclient binds its sync wrappers to its own coroutine functions: rebind to these overrides
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    # ------------------------------------------------------------------ kills
    def _kill(self, reason: str) -> None:
        """SIGKILL the kernel's process group (bubblewrap, and with it everything inside)."""
        self._kill_reason = self._kill_reason or reason
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is None:
            return
        if getattr(process, "via_zygote", False):  # its pid is the sandbox's: the zygote signals it
            process.kill()
            return
        try:
            os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        except OSError:
            try:
                process.kill()
            except OSError:
                pass

    def _exit_status(self) -> int | None:
        """The kernel process's exit status (None while it runs or when unknown)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is None:
            return None
        try:
            code = process.poll()
            if code is None:  # nbclient saw it dead a moment before the process was reaped
                code = process.wait(timeout=2)
        except Exception:  # noqa: BLE001 - a process that cannot be asked: unknown
            return None
        return code

    def _death(self) -> str:
        if self._kill_reason:
            return self._kill_reason
        return death_cause(self._exit_status(), confined=bool(getattr(self.km, "confine", False)),
                           cpu_seconds=getattr(self.km, "cpu_seconds", None))

    # ------------------------------------------------------------------ cells
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell
        if self._stopped is None and time.monotonic() - self._started > self.notebook_timeout:
            self._stopped = f"the notebook ran past {self.notebook_timeout} s"
            self._kill(self._stopped)
        if self._stopped is not None:
            cell.outputs = [_error(NOT_RUN, f"not run: {self._stopped}")]
            return cell
        if self._demo(cell):
            cell.outputs = [new_output("stream", name="stdout", text=SKIPPED)]
            return cell
        source = cell.source
        if nbmeta.is_autograded_test(cell) and getattr(self.km, "verdict_key", None) is not None:
            cell.source = verdict.wrap(cell_index, source)
            self._sent.append(cell_index)
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            why = self._death()
            ename = OUTPUT_LIMIT if why.startswith("printed") else KERNEL_DIED
            cell.outputs.append(_error(ename, why))
            self._stopped = f"{why} (in code cell {cell_index + 1})"
        finally:
            cell.source = source
        dropped = self._dropped.pop(cell_index, 0)
        if dropped:
            cell.outputs.append(new_output("stream", name="stderr",
                                           text=f"\n[course-grade: {dropped} more bytes of output dropped]\n"))
        return cell

    execute_cell = run_sync(async_execute_cell)

    def _demo(self, cell) -> bool:
        """A demonstration cell of the source notebook: read-only (its source is the source
        notebook's, put back by nbgrader before this runs), no points, and named by the grader
        from the source, never by the submission's own tags."""
        return nbmeta.grade_id(cell) in self.skip_ids and nbmeta.is_given(cell)

    async def _async_handle_timeout(self, timeout, cell=None):
        self.log.error("Timeout waiting for execute reply (%is): interrupting the kernel", timeout)
        await ensure_async(self.km.interrupt_kernel())
        try:
            await ensure_async(self.kc.shell_channel.get_msg(timeout=self.interrupt_grace))
        except Empty:
            if not await self._responsive():
                self._kill(f"a cell ran past {timeout} s and ignored the interrupt for {self.interrupt_grace} s")
                raise DeadKernelError("killed") from None
            self.log.warning("the kernel is idle but its reply to the cell never came: going on")
        strays = getattr(self.km, "kill_strays", lambda: 0)()
        if strays:
            self.log.warning("killed %d process(es) the timed-out cell left running", strays)
        return {"content": {**self.error_on_timeout, "status": "error"}}

    async def _responsive(self) -> bool:
        """Does the kernel answer a ``kernel_info_request`` within the grace period?
        (An idle kernel whose reply to the cell was lost answers; a busy one cannot.)"""
        msg_id = self.kc.kernel_info()
        deadline = time.monotonic() + self.interrupt_grace
        while time.monotonic() < deadline:
            try:
                reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=max(0.1, deadline - time.monotonic())))
            except Empty:
                return False
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg)
        self._bytes += size
        if self._bytes > self.max_output:
            self._kill(f"printed more than {self.max_output >> 20} MiB of output")
            return None
        kept = self._cell_bytes.get(cell_index, 0)
        if kept + size > self.max_cell_output:
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + size
            return None
        self._cell_bytes[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)
