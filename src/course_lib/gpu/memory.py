"""Arguments and device memory, shaped like PyCUDA's.

``In(a)``, ``Out(a)``, ``InOut(a)`` wrap a numpy array for one launch: copied
to the device before it, back after it, or both. ``mem_alloc``,
``memcpy_htod``, ``memcpy_dtoh`` and ``to_device`` manage memory that stays on
the device between launches. On the CPU backends "device memory" is a block
of host memory that each launch hands to OpenCL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LaunchError

__all__ = ["ArgumentHandler", "DeviceAllocation", "In", "InOut", "Out", "memcpy_dtoh", "memcpy_htod"]


class ArgumentHandler:
    """An array passed to one launch; ``copy_in`` / ``copy_out`` say which way it travels."""

    copy_in = True
    copy_out = True

    def __init__(self, array: Any):
        if not isinstance(array, np.ndarray):
            raise LaunchError(f"{type(self).__name__}(...) wraps a numpy array, got {type(array).__name__}.")
        if not array.flags.c_contiguous:
            raise LaunchError(f"{type(self).__name__}(...): the array is not contiguous in memory (a transposed "
                              f"or sliced view?): pass np.ascontiguousarray(a).")
        self.array = array

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.array.dtype}{list(self.array.shape)})"


class In(ArgumentHandler):
    """Copied to the device before the launch (read by the kernel)."""

    copy_out = False


class Out(ArgumentHandler):
    """Copied back to this array after the launch (written by the kernel)."""

    copy_in = False


class InOut(ArgumentHandler):
    """Copied in before and back after the launch."""


@dataclass
class DeviceAllocation:
    """``nbytes`` of device memory (on the CPU backends: a host byte buffer).
    ``dtype``/``shape`` are known when it was made by ``to_device``."""

    nbytes: int
    host: np.ndarray            # uint8 bytes: the memory itself
    dtype: np.dtype | None = None
    shape: tuple[int, ...] | None = None

    def get(self) -> np.ndarray:
        """A copy of the memory as a numpy array (of the dtype/shape it was made with)."""
        if self.dtype is None:
            raise LaunchError("get(): this allocation has no dtype (made by mem_alloc); use "
                              "memcpy_dtoh(host_array, allocation).")
        return self.host.view(self.dtype).reshape(self.shape).copy()

    def __int__(self) -> int:  # PyCUDA allocations convert to their address
        return int(self.host.ctypes.data)


def _check_pair(host: Any, dev: Any, what: str) -> np.ndarray:
    if not isinstance(dev, DeviceAllocation):
        raise LaunchError(f"{what}: the device side should come from mem_alloc or to_device, got "
                          f"{type(dev).__name__}.")
    if not isinstance(host, np.ndarray) or not host.flags.c_contiguous:
        raise LaunchError(f"{what}: the host side should be a contiguous numpy array.")
    if host.nbytes > dev.nbytes:
        raise LaunchError(f"{what}: the array has {host.nbytes} bytes but the allocation only {dev.nbytes}.")
    return host


def memcpy_htod(dev: DeviceAllocation, host: np.ndarray) -> None:
    """Copy the host array into device memory."""
    _check_pair(host, dev, "memcpy_htod")
    dev.host[: host.nbytes] = host.reshape(-1).view(np.uint8)


def memcpy_dtoh(host: np.ndarray, dev: DeviceAllocation) -> None:
    """Copy device memory into the host array."""
    _check_pair(host, dev, "memcpy_dtoh")
    host.reshape(-1).view(np.uint8)[:] = dev.host[: host.nbytes]
