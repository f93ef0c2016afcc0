"""One PyCUDA-shaped API for CUDA C kernels, on a GPU or on the CPU.

    from course_lib import gpu
    mod = gpu.SourceModule(r'''
    __global__ void axpy(float alpha, const float *x, float *y, int n) {
        int i = threadIdx.x + blockDim.x * blockIdx.x;
        if (i < n) y[i] += alpha * x[i];
    }''')
    axpy = mod.get_function("axpy")
    axpy(np.float32(2), gpu.In(x), gpu.InOut(y), np.int32(len(y)), block=(256, 1, 1),
         grid=((len(y) + 255) // 256, 1))

With a CUDA GPU and PyCUDA (Colab) the kernels run there; otherwise the same
CUDA C runs on the CPU through OpenCL (PoCL), or, in checked mode
(``gpu.use("checked")``, used by the grading checks), on the Oclgrind
simulator, which turns out-of-bounds accesses, data races and divergent
barriers into messages. See :mod:`course_lib.gpu.backends`.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .oclgrind import OCLGRIND_ENV as _OCLGRIND_ENV

# Oclgrind reads its options once, when OpenCL first lists the platforms: set them first.
for _key, _value in _OCLGRIND_ENV.items():
    os.environ.setdefault(_key, _value)

from .backends import backend, ensure_pycuda, use, using  # noqa: E402
from .errors import CompileError, GpuError, KernelFault, LaunchError  # noqa: E402
from .memory import DeviceAllocation, In, InOut, Out  # noqa: E402
from .memory import memcpy_dtoh as _cpu_dtoh  # noqa: E402
from .memory import memcpy_htod as _cpu_htod  # noqa: E402
from .module import Function, Launch, SourceModule, launches  # noqa: E402

__all__ = [
    "CompileError", "DeviceAllocation", "Event", "Function", "GpuError", "In", "InOut", "KernelFault", "Launch",
    "LaunchError", "Out", "SourceModule", "backend", "ensure_pycuda", "launches", "mem_alloc", "memcpy_dtoh", "memcpy_htod",
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
