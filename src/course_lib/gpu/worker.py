"""The CPU backends run kernels in a worker process, never in the notebook's.

A kernel that writes out of bounds corrupts the memory of the process it
runs in (glibc aborts, segfaults: the notebook's kernel would die without a
word); Oclgrind counts its reports per process and falls silent after
``OCLGRIND_MAX_ERRORS``; a kernel with an endless loop never returns. So
both CPU backends (``cpu``: PoCL, ``checked``: Oclgrind) live in a worker
process that is

* replaced after a launch that may have left it unsafe (a report in checked
  mode, a write outside an array, a crash),
* killed, with a message, when a launch runs longer than
  :data:`LAUNCH_TIMEOUT_S`,
* and, when it dies, answered for: "your kernel crashed ...".

The translation from CUDA C (:mod:`.translate`) happens here, in the
notebook's process; the worker builds and runs the OpenCL C. What a kernel
prints is shown in the notebook.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any, Sequence

import numpy as np

from .errors import CompileError, GpuError, KernelFault, LaunchError, NotOnCpu
from .memory import ArgumentHandler, DeviceAllocation
from .oclgrind import OCLGRIND_ENV
from .signature import Kernel
from .translate import Translation, translate

__all__ = ["LAUNCH_TIMEOUT_S", "NOTICE_S", "WorkerBackend"]

#: Seconds one launch may take.
LAUNCH_TIMEOUT_S = 120.0
#: Seconds after which a launch still running gets a line saying so.
NOTICE_S = 5.0
_START_TIMEOUT_S = 60.0
_BUILD_TIMEOUT_S = 120.0
#: Environment of the PoCL worker: work-group functions as plain loops around each
#: barrier region ('loops'). Measured here: a transpose whose unrolled loops hold
#: __syncthreads() takes 70 s to prepare with PoCL's default method (loopvec), 5 s
#: with 'loops'; the price is kernels that run up to about twice as slowly (no
#: vectorisation across threads: 512^3 tiled matmul 0.8 s instead of 0.45 s).
POCL_ENV = {"POCL_WORK_GROUP_METHOD": "loops"}
#: The largest ``shared=`` a launch may ask for: CUDA's default limit per block.
MAX_DYNAMIC_SHARED = 48 * 1024

_ERRORS = {"CompileError": CompileError, "KernelFault": KernelFault, "GpuError": GpuError, "NotOnCpu": NotOnCpu,
           "LaunchError": LaunchError}
_HANDLERS = ("In", "Out", "InOut")


def _serve(conn: Any, name: str) -> None:  # pragma: no cover - runs in the worker process
    """The worker: build and launch on request."""
    from .memory import In, InOut, Out
    from .opencl import _Fault, make

    handlers = {"In": In, "Out": Out, "InOut": InOut}
    try:
        backend = make(name)
    except GpuError as exc:
        conn.send(("failed", exc.message))
        return
    programs: dict[str, Any] = {}
    conn.send(("ready", backend.label, backend.max_threads))
    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:
            return
        printed, dirty = "", False
        try:
            if kind == "build":
                opencl, lines = payload
                if opencl not in programs:
                    programs[opencl] = backend.build(opencl, lines)
                conn.send(("ok", None, False, ""))
            elif kind == "launch":
                opencl, lines, asserts, kernel, args, block, grid, shared = payload
                if opencl not in programs:
                    programs[opencl] = backend.build(opencl, lines)
                local = []
                for a in args:
                    if isinstance(a, tuple) and a and a[0] == "arr":
                        obj = ArgumentHandler.__new__(handlers[a[1]])
                        obj.array = a[2]
                        local.append(obj)
                    else:
                        local.append(a)
                seconds, printed, dirty = backend.launch(programs[opencl], kernel, asserts, lines, local, block,
                                                         grid, shared)
                outputs = [o.array if isinstance(o, ArgumentHandler) else (o.host if isinstance(o, DeviceAllocation)
                                                                            else None) for o in local]
                conn.send(("ok", (seconds, outputs), dirty, printed))
        except _Fault as exc:
            conn.send(("error", ("KernelFault", exc.message), exc.dirty, exc.printed))
        except GpuError as exc:
            conn.send(("error", (type(exc).__name__, exc.message), True, printed))
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            conn.send(("error", ("GpuError", f"{type(exc).__name__}: {exc}"), True, printed))


class WorkerBackend:
    """A CPU backend (``cpu`` on PoCL, ``checked`` on Oclgrind) in a worker process, started
    when it is first needed: a check that only names the backend, or whose student function
    fails before any launch, starts none (0.4 s each)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checked = name == "checked"
        self.short = "Oclgrind simulator (checked mode)" if self.checked else "CPU (PoCL)"
        self._label: str | None = None
        self._max_threads = 0
        self._proc: Any = None
        self._conn: Any = None
        self._built: set[tuple[str, str, tuple[int, int, int]]] = set()

    def __repr__(self) -> str:
        return f"course_lib.gpu backend {self.name!r}: {self._label or self.short}"

    @property
    def label(self) -> str:
        """The backend and its device, as the worker reports them (starts it)."""
        if self._label is None:
            self._start()
        return self._label

    @property
    def max_threads(self) -> int:
        """The device's largest work-group (starts the worker)."""
        if self._label is None:
            self._start()
        return self._max_threads

    # ------------------------------------------------------------------ the process
    def _start(self) -> None:
        mine, theirs = socket.socketpair()
        env = dict(os.environ)
        env.update(OCLGRIND_ENV if self.checked else POCL_ENV)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "course_lib.gpu.worker", str(theirs.fileno()), self.name],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env,
        )
        theirs.close()
        parent = self._conn = Connection(mine.detach())
        what = "checked backend (Oclgrind)" if self.checked else "CPU backend (PoCL)"
        if not parent.poll(_START_TIMEOUT_S):
            self._stop()
            raise GpuError(f"the {what} did not start.")
        try:
            reply = parent.recv()
        except EOFError:
            self._stop()
            raise GpuError(f"the {what} failed to start (its process ended).") from None
        if reply[0] != "ready":
            self._stop()
            raise GpuError(reply[1] if reply[0] == "failed" else f"the {what} failed to start: {reply}")
        _, self._label, self._max_threads = reply
        self._built.clear()

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _stop(self) -> None:
        if self._alive():
            self._proc.kill()
            self._proc.wait(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def _crash_message(self) -> str:
        if self.checked:
            return "the simulator crashed while running the kernel (a wild memory access?)."
        return ("your kernel crashed (an out-of-bounds write?): run it with checked mode to see where: "
                "`with gpu.using(\"checked\"):` around the launch, or gpu.use(\"checked\") for all of them.")

    def _ask(self, kind: str, payload: Any, timeout: float, notice: str = "") -> Any:
        if not self._alive():
            self._start()
        try:
            self._conn.send((kind, payload))
            answered = self._conn.poll(min(timeout, NOTICE_S) if notice else timeout)
            if not answered and notice:
                print(notice, flush=True)
                answered = self._conn.poll(max(timeout - NOTICE_S, 0))
        except BaseException:   # interrupted (a check's time budget, Ctrl-C): the worker may still be busy
            self._stop()
            raise
        if not answered:
            self._stop()
            where = "in checked mode (the simulator is slow, but not that slow)" if self.checked else "on the CPU"
            raise KernelFault(f"the kernel did not finish within {timeout:g} s {where}: is there a loop that never "
                              f"ends, e.g. a loop counter that is never increased, or a while loop whose condition "
                              f"never turns false?")
        try:
            status, value, dirty, printed = self._conn.recv()
        except (EOFError, OSError):
            self._stop()
            raise KernelFault(self._crash_message()) from None
        if printed:
            print(printed, end="" if printed.endswith("\n") else "\n", flush=True)
        if dirty:
            self._stop()   # a fresh process (fresh memory, fresh report counter) for the next launch
        if status == "error":
            name, message = value
            raise _ERRORS.get(name, GpuError)(message)
        return value

    # ------------------------------------------------------------------ the backend API
    def compile(self, source: str) -> Translation:
        translation = translate(source)
        what = "the Oclgrind simulator" if self.checked else "the CPU (PoCL)"
        self._ask("build", (translation.opencl, translation.lines), _BUILD_TIMEOUT_S,
                  f"course_lib.gpu: compiling your CUDA C for {what}, once (a large kernel takes a while)...")
        return translation

    def launch(self, program: Translation, kernel: Kernel, source: str, args: Sequence[Any],
               block: tuple[int, int, int], grid: tuple[int, int, int], shared: int = 0) -> float:
        k = program.kernels[kernel.name]
        if k.dynamic_shared and not shared:
            raise LaunchError(f"{k.name} uses an `extern __shared__` array, whose size comes from the launch: pass "
                              f"shared=<bytes>, e.g. shared=block[0] * 4 for one float per thread.")
        if shared > MAX_DYNAMIC_SHARED:
            raise LaunchError(f"{k.name}: shared={shared} bytes is more than the {MAX_DYNAMIC_SHARED} bytes of "
                              f"__shared__ memory a CUDA block may have.")
        wire = []
        for a in args:
            if isinstance(a, ArgumentHandler):
                wire.append(("arr", type(a).__name__, a.array if a.copy_in else np.zeros_like(a.array)))
            else:
                wire.append(a)
        shape = (program.opencl, k.cl_name, block)
        if self.checked:
            notice = (f"course_lib.gpu: {k.name} is still running in checked mode: the simulator runs every thread "
                      f"one by one, so large launches take a while...")
        elif shape not in self._built:
            notice = (f"course_lib.gpu: preparing {k.name} for the CPU: PoCL builds it for block={block} on its "
                      f"first launch, once...")
        else:
            notice = ""
        seconds, outputs = self._ask("launch", (program.opencl, program.lines, program.asserts, k, wire, block, grid,
                                                int(shared)), LAUNCH_TIMEOUT_S, notice)
        self._built.add(shape)
        for a, out in zip(args, outputs):
            if isinstance(a, ArgumentHandler) and a.copy_out:
                a.array[...] = out.reshape(a.array.shape)
            elif isinstance(a, DeviceAllocation):
                a.host[...] = out
        return seconds

    def synchronize(self) -> None:
        pass

    def __del__(self) -> None:  # pragma: no cover
        try:
            self._stop()
        except Exception:
            pass


if __name__ == "__main__":  # pragma: no cover - the worker process
    _serve(Connection(int(sys.argv[1])), sys.argv[2])
