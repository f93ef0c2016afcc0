"""The CPU backends' engine: a translated kernel on PoCL (fast, many cores) or
on Oclgrind (a simulator that checks every access).

This module runs inside a worker process (:mod:`.worker`), never in the
notebook's own process: a kernel that writes out of bounds corrupts the
memory of the process it runs in. On the fast backend every array travels
between two guard zones filled with a known pattern; a kernel that writes
past either end of an array changes them, and the launch says which array
and which index, instead of corrupting memory silently.

After a launch, in this order: a failed ``assert`` (the hidden flags
buffer), a write outside an array (the guard zones), what Oclgrind reported
(checked mode) become a :class:`~course_lib.gpu.errors.KernelFault`. What the
kernel printed (``printf``) is returned, to be shown in the notebook.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import CompileError, GpuError, KernelFault, LaunchError
from .memory import ArgumentHandler, DeviceAllocation
from .oclgrind import OCLGRIND_ENV, Buffer, capture_stderr, explain
from .opencl_prelude import FLAG_WORDS, SOURCE_NAME
from .signature import Kernel

__all__ = ["OpenCLBackend", "make"]

_PROBE = "\n__kernel void course_lib_address(__global char *p, __global ulong *out) { out[0] = (ulong)p; }\n"
#: Build options: CUDA divides and takes square roots of floats correctly rounded by default.
BUILD_OPTIONS = ["-w", "-cl-fp32-correctly-rounded-divide-sqrt"]
#: Oclgrind interprets the program as built: unoptimised, it keeps every access the student wrote,
#: and it meets no LLVM intrinsic it lacks (the optimiser turns `(x & (x - 1)) == 0` into llvm.ctpop).
CHECKED_OPTIONS = ["-cl-opt-disable"]
#: Bytes of __shared__ memory a CUDA block may use (without opting in to more).
MAX_SHARED = 48 * 1024
_GUARD_BYTE = 0xCB
_MIN_GUARD = 64 * 1024
_MAX_GUARD = 16 * 1024 * 1024


def _guard_size(nbytes: int) -> int:
    """Bytes of guard zone on each side of an array of ``nbytes``: as large as the
    array (a wrong stride overshoots by about that much), within limits."""
    size = min(max(_MIN_GUARD, nbytes), _MAX_GUARD)
    return (size + 4095) // 4096 * 4096


@contextlib.contextmanager
def capture_stdout() -> Iterator[list[str]]:
    """What C code (``printf`` in a kernel) writes to file descriptor 1 during the block."""
    out: list[str] = []
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield out
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


def _compile_message(log: str, lines: Sequence[str]) -> str:
    """The OpenCL compiler's errors on the translated code, with the student's lines."""
    found = []
    pattern = r"^(?:(?:fatal )?(error|warning): )?([^\s:]*):(\d+):(\d+): (?:(?:fatal )?(error|warning): )?(.*)$"
    for m in re.finditer(pattern, log, re.M):
        if "error" not in (m.group(1), m.group(5)):
            continue
        n = int(m.group(3))
        where = f"line {n}: " if m.group(2).endswith(SOURCE_NAME) else "course_lib's OpenCL prelude: "
        text = f" `{lines[n - 1].strip()}`" if where.startswith("line") and 1 <= n <= len(lines) else ""
        entry = f"{where}{m.group(6)}{text}"
        if entry not in found:
            found.append(entry)
    return "\n".join(found[:5]) if found else log.strip()[-1500:]


#: How the backends introduce themselves (``gpu.use()``, ``repr``): which backend, which mode, which device.
FAST_LABEL = "CPU (fast mode): CUDA C translated to OpenCL, run by PoCL"
CHECKED_LABEL = ("CPU (checked mode): CUDA C translated to OpenCL, run by the Oclgrind simulator, which checks every "
                 "memory access (slow)")


class OpenCLBackend:
    """One OpenCL platform, found by name, with a profiling queue."""

    def __init__(self, name: str, platform: str, label: str, checked: bool):
        if checked:
            for key, value in OCLGRIND_ENV.items():
                os.environ.setdefault(key, value)
        import pyopencl as cl

        self.cl = cl
        self.name, self.label, self.checked = name, label, checked
        try:
            found = cl.get_platforms()
        except cl.Error:
            found = []
        platforms = [p for p in found if platform.lower() in p.name.lower()]
        if not platforms and not checked and found:
            platforms = found       # no PoCL (not Linux x86-64): any OpenCL platform, e.g. Apple's
            self.label = label.replace("PoCL", found[0].name)
        if not platforms:
            have = ", ".join(p.name for p in found) or "none"
            raise GpuError(f"the {'checked' if checked else 'CPU'} backend needs the OpenCL platform {platform!r} "
                           f"(pip install {'oclgrind' if checked else 'pocl'}-binary-distribution, Linux x86-64); "
                           f"OpenCL platforms here: {have}.")
        self.device = platforms[0].get_devices()[0]
        if not checked:                 # which processor: "pthread-Intel(R) Xeon(R) Processor, 16 cores"
            cores = int(self.device.max_compute_units)
            self.label += f" on {self.device.name.strip()}, {cores} core{'s' if cores != 1 else ''}"
        self.ctx = cl.Context([self.device])
        self.queue = cl.CommandQueue(self.ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
        self.max_threads = int(self.device.max_work_group_size)

    def __repr__(self) -> str:
        return f"course_lib.gpu backend {self.name!r}: {self.label}"

    # ------------------------------------------------------------------ build
    def build(self, opencl: str, lines: Sequence[str]) -> Any:
        text = opencl + (_PROBE if self.checked else "")
        with capture_stderr():
            try:
                return self.cl.Program(self.ctx, text).build(
                    options=BUILD_OPTIONS + (CHECKED_OPTIONS if self.checked else []))
            except self.cl.RuntimeError as exc:
                raise CompileError(
                    "course_lib translated your CUDA C to OpenCL C for the CPU, and the OpenCL compiler refused "
                    "the translation. This is a limitation of course_lib's CPU backends, not necessarily a "
                    f"mistake of yours; on a CUDA GPU (Colab) the kernel may run as written. The compiler "
                    f"said:\n{_compile_message(str(exc), lines)}"
                ) from None

    # ------------------------------------------------------------------ memory
    def _buffer(self, nbytes: int, host: np.ndarray | None) -> Any:
        mf = self.cl.mem_flags
        if host is not None and host.nbytes:
            return self.cl.Buffer(self.ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=host)
        return self.cl.Buffer(self.ctx, mf.READ_WRITE, max(int(nbytes), 1))

    def _guarded(self, nbytes: int, host: np.ndarray | None) -> tuple[Any, Any, int]:
        """(whole buffer, the array inside it, guard size): the array between two guard zones."""
        guard = _guard_size(nbytes)
        whole = np.full(2 * guard + nbytes, _GUARD_BYTE, np.uint8)
        whole[guard:guard + nbytes] = host if host is not None else 0     # fresh memory reads as zeros
        buf = self._buffer(whole.nbytes, whole)
        return buf, buf.get_sub_region(guard, max(nbytes, 1)), guard

    def _address(self, program: Any, buf: Any) -> int:
        out = np.zeros(1, np.uint64)
        dev = self._buffer(8, None)
        self.cl.Kernel(program, "course_lib_address")(self.queue, (1,), None, buf, dev)
        self.cl.enqueue_copy(self.queue, out, dev)
        return int(out[0])

    # ------------------------------------------------------------------ launch
    def launch(self, program: Any, kernel: Kernel, asserts: Sequence[tuple[int, str]], lines: Sequence[str],
               args: Sequence[Any], block: tuple[int, int, int], grid: tuple[int, int, int],
               shared: int = 0) -> tuple[float, str, bool]:
        """Run the kernel. Returns (its run time in seconds, what it printed, whether
        the process may be unsafe to reuse)."""
        cl = self.cl
        native, copies, buffers, guards = [], [], [], []
        for param, arg in zip(kernel.params, args):
            if isinstance(arg, (ArgumentHandler, DeviceAllocation)):
                if isinstance(arg, ArgumentHandler):
                    host = arg.array.reshape(-1).view(np.uint8)
                    initial = host if arg.copy_in else None
                    back = arg.copy_out
                else:
                    host, initial, back = arg.host, arg.host, True
                nbytes = host.nbytes
                if self.checked:
                    buf = self._buffer(nbytes, initial)
                    buffers.append(Buffer(param.name, self._address(program, buf), nbytes,
                                          param.dtype.itemsize if param.dtype is not None else 1))
                else:
                    whole, buf, guard = self._guarded(nbytes, initial)
                    guards.append((param, whole, guard, nbytes))
                if back:
                    copies.append((host, buf))
                native.append(buf)
            elif param.dtype is not None and not isinstance(arg, np.generic):
                native.append(np.asarray(arg, dtype=param.dtype)[()])
            elif param.dtype is not None and param.dtype == np.bool_:
                native.append(np.uint8(arg))
            else:
                native.append(arg)
        if kernel.dynamic_shared:
            native.append(cl.LocalMemory(max(int(shared), 1)))
        flags = np.zeros(FLAG_WORDS, np.int32)
        flag_buf = None
        if kernel.flags:
            flag_buf = self._buffer(flags.nbytes, flags)
            native.append(flag_buf)
        global_size = tuple(g * b for g, b in zip(grid, block))
        fn = cl.Kernel(program, kernel.cl_name)
        static = fn.get_work_group_info(cl.kernel_work_group_info.LOCAL_MEM_SIZE, self.device)
        if static + (shared if kernel.dynamic_shared else 0) > MAX_SHARED:
            raise LaunchError(f"{kernel.name} uses {static + shared} bytes of __shared__ memory per block; a CUDA "
                              f"block may have at most {MAX_SHARED} (48 KB): use smaller tiles.")
        with capture_stderr() as report, capture_stdout() as printed:
            event = fn(self.queue, global_size, block, *native)
            event.wait()
            for host, buf in copies:
                if host.nbytes:
                    cl.enqueue_copy(self.queue, host, buf)
            if flag_buf is not None:
                cl.enqueue_copy(self.queue, flags, flag_buf)
            self.queue.finish()
        text = printed[0]
        if flags[0]:
            raise _Fault(self._assert_message(kernel, flags, asserts), text, self.checked)
        for param, whole, guard, nbytes in guards:
            self._check_guard(kernel, param, whole, guard, nbytes, text)
        if self.checked and report[0].strip():
            message = explain(report[0], kernel, lines, buffers)
            if message:
                raise _Fault(message, text, True)
        try:
            seconds = (event.profile.end - event.profile.start) * 1e-9
        except cl.Error:  # pragma: no cover - profiling unavailable
            seconds = float("nan")
        return seconds, text, bool(self.checked and report[0].strip())

    def _check_guard(self, kernel: Kernel, param: Any, whole: Any, guard: int, nbytes: int, printed: str) -> None:
        zones = np.empty(2 * guard, np.uint8)
        self.cl.enqueue_copy(self.queue, zones[:guard], whole, src_offset=0)
        self.cl.enqueue_copy(self.queue, zones[guard:], whole, src_offset=guard + nbytes)
        self.queue.finish()
        changed = np.flatnonzero(zones != _GUARD_BYTE)
        if not changed.size:
            return
        size = param.dtype.itemsize if param.dtype is not None else 1
        n = nbytes // size
        after = changed[changed >= guard]
        if after.size:
            index = (int(after[0]) - guard) // size + n
            side = f"past its end, at {param.name}[{index}]"
        else:
            index = (int(changed[0]) - guard) // size
            side = f"before its start, at {param.name}[{index}]"
        raise _Fault(f"{kernel.name}: the kernel wrote outside the array {param.name} ({param.name} has {n} "
                     f"elements, indices 0 to {n - 1}): {side}. An out-of-bounds write: on a GPU it may pass "
                     f"unnoticed, corrupt other data or crash. Run it in checked mode to see which thread and line "
                     f"(`with gpu.using(\"checked\"):` around the launch).", printed, True)

    @staticmethod
    def _assert_message(kernel: Kernel, flags: np.ndarray, asserts: Sequence[tuple[int, str]]) -> str:
        ident = int(flags[0])
        line, cond = asserts[ident - 1] if 0 < ident <= len(asserts) else (0, "?")
        thread = f"({flags[1]}, {flags[2]}, {flags[3]})"
        block = f"({flags[4]}, {flags[5]}, {flags[6]})"
        return (f"{kernel.name}: assert({cond}) failed at line {line}, in thread {thread} of block {block} (the "
                f"first failure). On a GPU the launch stops with \"device-side assert triggered\".")

    def synchronize(self) -> None:
        self.queue.finish()


class _Fault(KernelFault):
    """A fault found after a launch; keeps what the kernel printed, and whether the
    worker should be replaced."""

    def __init__(self, message: str, printed: str, dirty: bool):
        super().__init__(message)
        self.printed, self.dirty = printed, dirty


def make(name: str) -> OpenCLBackend:
    if name == "checked":
        return OpenCLBackend("checked", "Oclgrind", CHECKED_LABEL, True)
    return OpenCLBackend("cpu", "Portable Computing Language", FAST_LABEL, False)
