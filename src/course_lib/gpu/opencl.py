"""The CPU backends: the student's CUDA C, translated to OpenCL C, on PoCL
(fast, many cores) or on Oclgrind (a simulator that checks every access)."""
from __future__ import annotations

import os
import re
from typing import Any, Sequence

import numpy as np

from .cuda_c import PRELUDE_LINES, Kernel, to_opencl
from .errors import CompileError, KernelFault
from .memory import ArgumentHandler, DeviceAllocation
from .oclgrind import OCLGRIND_ENV, Buffer, capture_stderr, explain

__all__ = ["OpenCLBackend"]

_PROBE = "\n__kernel void course_lib_address(__global char *p, __global ulong *out) { out[0] = (ulong)p; }\n"


def _compile_message(log: str, source: str) -> str:
    """The compiler's errors with the student's line numbers and lines."""
    lines = source.splitlines()
    found = []
    pattern = r"^(?:(error|warning): )?[^\s:]*:(\d+):(\d+): (?:(error|warning): )?(.*)$"
    for m in re.finditer(pattern, log, re.M):
        if "error" not in (m.group(1), m.group(4)):
            continue
        n = int(m.group(2)) - PRELUDE_LINES
        text = f" `{lines[n - 1].strip()}`" if 1 <= n <= len(lines) else ""
        entry = f"line {n}: {m.group(5)}{text}"
        if entry not in found:
            found.append(entry)
    if not found:
        return log.strip()[-1500:]
    return "\n".join(found[:5]) + (f"\n(and {len(found) - 5} more errors)" if len(found) > 5 else "")


class OpenCLBackend:
    """One OpenCL platform, found by name, with a profiling queue."""

    def __init__(self, name: str, platform: str, label: str, checked: bool):
        if checked:
            for key, value in OCLGRIND_ENV.items():
                os.environ.setdefault(key, value)
        import pyopencl as cl

        self.cl = cl
        self.name, self.label, self.checked = name, label, checked
        self.short = "Oclgrind simulator (checked mode)" if checked else "CPU (PoCL)"
        try:
            found = cl.get_platforms()
        except cl.Error:
            found = []
        platforms = [p for p in found if platform.lower() in p.name.lower()]
        if not platforms and not checked and found:
            platforms = found       # no PoCL (not Linux x86-64): any OpenCL platform, e.g. Apple's
            self.label = f"{label.split(':')[0]}: CUDA C as OpenCL on {found[0].name}"
        if not platforms:
            from .errors import GpuError

            have = ", ".join(p.name for p in found) or "none"
            raise GpuError(f"the {'checked' if checked else 'CPU'} backend needs the OpenCL platform {platform!r} "
                           f"(pip install {'oclgrind' if checked else 'pocl'}-binary-distribution, Linux x86-64); "
                           f"OpenCL platforms here: {have}.")
        self.device = platforms[0].get_devices()[0]
        self.ctx = cl.Context([self.device])
        self.queue = cl.CommandQueue(self.ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
        self.max_threads = int(self.device.max_work_group_size)
        self.last_report = ""

    # ------------------------------------------------------------------ compile
    def compile(self, source: str) -> Any:
        text = to_opencl(source) + (_PROBE if self.checked else "")
        with capture_stderr() as noise:
            try:
                program = self.cl.Program(self.ctx, text).build(options=["-w"])
            except self.cl.RuntimeError as exc:
                raise CompileError(
                    f"your CUDA C does not compile ({self.label}):\n{_compile_message(str(exc), source)}"
                ) from None
        del noise
        return program

    # ------------------------------------------------------------------ launch
    def _buffer(self, nbytes: int, host: np.ndarray | None) -> Any:
        mf = self.cl.mem_flags
        if host is not None and host.nbytes:
            return self.cl.Buffer(self.ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=host)
        return self.cl.Buffer(self.ctx, mf.READ_WRITE, max(int(nbytes), 1))

    def _address(self, program: Any, buf: Any) -> int:
        out = np.zeros(1, np.uint64)
        dev = self._buffer(8, None)
        self.cl.Kernel(program, "course_lib_address")(self.queue, (1,), None, buf, dev)
        self.cl.enqueue_copy(self.queue, out, dev)
        return int(out[0])

    def launch(self, program: Any, kernel: Kernel, source: str, args: Sequence[Any],
               block: tuple[int, int, int], grid: tuple[int, int, int]) -> float:
        """Run the kernel; return the kernel's own run time in seconds."""
        cl = self.cl
        native, copies, buffers = [], [], []
        for param, arg in zip(kernel.params, args):
            if isinstance(arg, ArgumentHandler):
                host = arg.array.reshape(-1).view(np.uint8)
                buf = self._buffer(host.nbytes, host if arg.copy_in else None)
                if arg.copy_out:
                    copies.append((host, buf))
                nbytes = host.nbytes
            elif isinstance(arg, DeviceAllocation):
                buf = self._buffer(arg.nbytes, arg.host)
                copies.append((arg.host, buf))
                nbytes = arg.nbytes
            else:
                native.append(arg)
                continue
            native.append(buf)
            if self.checked:
                buffers.append(Buffer(param.name, self._address(program, buf), nbytes,
                                      param.dtype.itemsize if param.dtype is not None else 1))
        global_size = tuple(g * b for g, b in zip(grid, block))
        fn = cl.Kernel(program, kernel.name)
        with capture_stderr() as report:
            event = fn(self.queue, global_size, block, *native)
            event.wait()
            for host, buf in copies:
                if host.nbytes:
                    cl.enqueue_copy(self.queue, host, buf)
            self.queue.finish()
        self.last_report = report[0]
        if self.checked and report[0].strip():
            message = explain(report[0], kernel.name, source, PRELUDE_LINES, buffers)
            if message:
                raise KernelFault(message)
        try:
            return (event.profile.end - event.profile.start) * 1e-9
        except cl.Error:  # pragma: no cover - profiling unavailable
            return float("nan")

    def synchronize(self) -> None:
        self.queue.finish()


def make(name: str) -> OpenCLBackend:
    if name == "checked":
        return OpenCLBackend("checked", "Oclgrind", "CPU, checked: CUDA C as OpenCL on the Oclgrind simulator", True)
    return OpenCLBackend("cpu", "Portable Computing Language", "CPU: CUDA C as OpenCL on PoCL", False)

