"""Checked mode in a separate process.

Oclgrind counts its reports per process and falls silent after
``OCLGRIND_MAX_ERRORS`` of them; a kernel with an endless loop never returns;
a simulator crash would take the notebook's kernel down with it. So the
checked backend runs the simulator in a worker process: restarted after any
launch that produced a report, killed (with a message) when a launch runs
longer than :data:`LAUNCH_TIMEOUT_S`.
"""
from __future__ import annotations

import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any, Sequence

import numpy as np

from .cuda_c import Kernel
from .errors import CompileError, GpuError, KernelFault
from .memory import ArgumentHandler, DeviceAllocation

__all__ = ["CheckedBackend", "LAUNCH_TIMEOUT_S"]

#: Seconds one simulated launch may take.
LAUNCH_TIMEOUT_S = 120.0
_START_TIMEOUT_S = 60.0


def _serve(conn: Any) -> None:  # pragma: no cover - runs in the worker process
    """The worker: compile and launch on request, on Oclgrind."""
    from .opencl import make

    backend = make("checked")
    programs: dict[str, Any] = {}
    conn.send(("ready", backend.label, backend.max_threads))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        kind, payload = request
        try:
            if kind == "compile":
                if payload not in programs:
                    programs[payload] = backend.compile(payload)
                conn.send(("ok", None, False))
            elif kind == "launch":
                source, kernel, args, block, grid = payload
                if source not in programs:
                    programs[source] = backend.compile(source)
                local = [ArgumentHandler.__new__(_HANDLERS[a[1]]) if isinstance(a, tuple) and a[0] == "arr" else a
                         for a in args]
                for obj, a in zip(local, args):
                    if isinstance(a, tuple) and a[0] == "arr":
                        obj.array = a[2]
                seconds = backend.launch(programs[source], kernel, source, local, block, grid)
                dirty = bool(backend.last_report.strip())
                outputs = [o.array if isinstance(o, ArgumentHandler) else (o.host if isinstance(o, DeviceAllocation)
                                                                            else None) for o in local]
                conn.send(("ok", (seconds, outputs), dirty))
        except GpuError as exc:
            conn.send(("error", (type(exc).__name__, exc.message), True))
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            conn.send(("error", ("GpuError", f"{type(exc).__name__}: {exc}"), True))


def _handlers() -> dict[str, type]:
    from .memory import In, InOut, Out

    return {"In": In, "Out": Out, "InOut": InOut}


_HANDLERS = _handlers()
_ERRORS = {"CompileError": CompileError, "KernelFault": KernelFault, "GpuError": GpuError}


class CheckedBackend:
    """The Oclgrind backend, run in a worker process."""

    name = "checked"
    checked = True
    short = "Oclgrind simulator (checked mode)"

    def __init__(self) -> None:
        self._proc: Any = None
        self._conn: Any = None
        self._start()

    def _start(self) -> None:
        mine, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "course_lib.gpu.checked", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()
        parent = self._conn = Connection(mine.detach())
        if not parent.poll(_START_TIMEOUT_S):
            self._stop()
            raise GpuError("the checked backend (Oclgrind) did not start.")
        reply = parent.recv()
        if reply[0] != "ready":
            self._stop()
            raise GpuError(f"the checked backend (Oclgrind) failed to start: {reply}")
        _, self.label, self.max_threads = reply

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _stop(self) -> None:
        if self._alive():
            self._proc.kill()
            self._proc.wait(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def _ask(self, kind: str, payload: Any, timeout: float) -> Any:
        if not self._alive():
            self._start()
        try:
            self._conn.send((kind, payload))
            answered = self._conn.poll(timeout)
        except BaseException:   # interrupted (a check's time budget, Ctrl-C): the worker may still be busy
            self._stop()
            raise
        if not answered:
            self._stop()
            raise KernelFault(f"the kernel did not finish within {timeout:g} s in checked mode (the simulator is "
                              f"slow, but not that slow): is there a loop that never ends, e.g. a loop counter "
                              f"that is never increased, or a while loop whose condition never turns false?")
        try:
            status, value, dirty = self._conn.recv()
        except EOFError:
            self._stop()
            raise KernelFault("the simulator crashed while running the kernel (a wild memory access?).") from None
        if dirty:
            self._stop()   # a fresh process (and fresh report counter) for the next launch
        if status == "error":
            name, message = value
            raise _ERRORS.get(name, GpuError)(message)
        return value

    def compile(self, source: str) -> str:
        self._ask("compile", source, _START_TIMEOUT_S)
        return source

    def launch(self, program: str, kernel: Kernel, source: str, args: Sequence[Any],
               block: tuple[int, int, int], grid: tuple[int, int, int]) -> float:
        wire = []
        for a in args:
            if isinstance(a, ArgumentHandler):
                wire.append(("arr", type(a).__name__, a.array if a.copy_in else np.zeros_like(a.array)))
            else:
                wire.append(a)
        seconds, outputs = self._ask("launch", (source, kernel, wire, block, grid), LAUNCH_TIMEOUT_S)
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
    _serve(Connection(int(sys.argv[1])))
