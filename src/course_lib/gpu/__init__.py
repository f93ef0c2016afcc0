"""One PyCUDA-shaped API for CUDA C kernels, on a GPU or on the CPU.

    from course_lib import gpu
    mod = gpu.SourceModule(r'''
    __global__ void axpy(float alpha, const float *x, float *y, int n) {
        int i = threadIdx.x + blockDim.x * blockIdx.x;
        if (i < n) y[i] += alpha * x[i];
    }''')
    axpy = mod.get_function("axpy")     # or, in a notebook: gpu.compile_kernel(source, "axpy")
    axpy(np.float32(2), gpu.In(x), gpu.InOut(y), np.int32(len(y)), block=(256, 1, 1),
         grid=((len(y) + 255) // 256, 1))

With a CUDA GPU and PyCUDA (Colab) the kernels run there; otherwise the same
CUDA C, translated to OpenCL C (:mod:`course_lib.gpu.translate`), runs on the
CPU on PoCL, or, in checked mode (``gpu.use("checked")``, used by the grading
checks), on the Oclgrind simulator, which turns out-of-bounds accesses, data
races and divergent barriers into messages. Both CPU backends run in a
worker process, so a kernel that corrupts memory cannot take the notebook
down. See :mod:`course_lib.gpu.backends`.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .backends import backend, ensure_pycuda, use, using
from .errors import CompileError, GpuError, KernelDoesNotCompile, KernelFault, LaunchError, NotOnCpu
from .memory import DeviceAllocation, In, InOut, Out
from .memory import memcpy_dtoh as _cpu_dtoh
from .memory import memcpy_htod as _cpu_htod
from .module import Function, Launch, SourceModule, UncompiledKernel, compile_kernel, launches
from .notebook_hint import install as _install_hint

try:
    _install_hint()       # in a notebook: a NameError caused by a kernel that does not compile says so
except Exception:  # noqa: BLE001 - a hint must never break the import
    pass

__all__ = [
    "CompileError", "DeviceAllocation", "Event", "Function", "GpuError", "In", "InOut", "KernelDoesNotCompile",
    "KernelFault", "Launch", "LaunchError", "NotOnCpu", "Out", "SourceModule", "UncompiledKernel", "backend",
    "compile_kernel", "ensure_pycuda", "launches", "mem_alloc",
    "memcpy_dtoh", "memcpy_htod",
    "synchronize", "to_device", "use", "using",
]


def _on_gpu() -> bool:
    return backend().name == "cuda"


def mem_alloc(nbytes: int) -> Any:
    """``nbytes`` of device memory."""
    if _on_gpu():
        return backend().drv.mem_alloc(int(nbytes))
    return DeviceAllocation(int(nbytes), np.zeros(max(int(nbytes), 0), np.uint8))


def to_device(array: np.ndarray) -> Any:
    """A copy of ``array`` in device memory (``.get()`` copies it back, on the CPU backends)."""
    array = np.ascontiguousarray(array)
    if _on_gpu():
        dev = mem_alloc(array.nbytes)
        backend().drv.memcpy_htod(dev, array)
        return dev
    return DeviceAllocation(array.nbytes, array.reshape(-1).view(np.uint8).copy(), array.dtype, array.shape)


def memcpy_htod(dev: Any, host: np.ndarray) -> None:
    """Host → device."""
    if isinstance(dev, DeviceAllocation):
        _cpu_htod(dev, host)
    else:
        backend().drv.memcpy_htod(dev, host)


def memcpy_dtoh(host: np.ndarray, dev: Any) -> None:
    """Device → host."""
    if isinstance(dev, DeviceAllocation):
        _cpu_dtoh(host, dev)
    else:
        backend().drv.memcpy_dtoh(host, dev)


def synchronize() -> None:
    """Wait until every launched kernel has finished."""
    backend().synchronize()


class Event:
    """PyCUDA-style timing: ``start.record()``, launches, ``end.record()``,
    ``end.synchronize()``, then ``start.time_till(end)`` in milliseconds."""

    def __init__(self) -> None:
        self.t: float | None = None

    def record(self, stream: Any = None) -> "Event":
        synchronize()
        self.t = time.perf_counter()
        return self

    def synchronize(self) -> "Event":
        synchronize()
        return self

    def time_till(self, other: "Event") -> float:
        if self.t is None or other.t is None:
            raise GpuError("time_till: record() both events first.")
        return (other.t - self.t) * 1e3

    def time_since(self, other: "Event") -> float:
        return other.time_till(self)
