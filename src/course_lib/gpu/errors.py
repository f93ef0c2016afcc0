"""What goes wrong with a kernel, said so that a student can act on it."""
from __future__ import annotations

from ..errors import PlainError


class GpuError(PlainError):
    """A kernel could not be compiled or launched, or misbehaved in checked mode.

    In Jupyter only the message shows, not course_lib's traceback."""

    heading = "GPU PROBLEM"


class CompileError(GpuError):
    """The CUDA C source does not compile. ``kernel_names``: the ``__global__``
    functions the source declares (as far as they could be read), so that a
    check can tell that the kernel it was handed is an older version."""

    heading = "KERNEL DOES NOT COMPILE"
    kernel_names: tuple[str, ...] = ()


class KernelDoesNotCompile(CompileError):
    """A launch of the stand-in that :func:`~course_lib.gpu.compile_kernel` returned for a
    kernel that does not compile: ``your kernel `matmul` does not compile: line 7: ...``.
    ``kernel``: its name; ``error``: the original :class:`CompileError`."""

    def __init__(self, message: str, kernel: str = "", error: CompileError | None = None):
        super().__init__(message)
        self.kernel, self.error = kernel, error
        if error is not None:
            self.heading = error.heading


class NotOnCpu(CompileError):
    """The CUDA C is fine, but uses something the CPU backends cannot run (named, with its line)."""

    heading = "KERNEL CANNOT RUN ON THE CPU"


class LaunchError(GpuError):
    """The launch was refused: bad arguments, block or grid."""

    heading = "LAUNCH REFUSED"


class KernelFault(GpuError):
    """The kernel misbehaved: out of bounds, a data race, a divergent barrier
    (checked mode), a failed ``assert``, or a crash (the fast CPU backend)."""

    heading = "KERNEL FAULT"
