"""What goes wrong with a kernel, said so that a student can act on it."""
from __future__ import annotations


class GpuError(Exception):
    """A kernel could not be compiled or launched, or misbehaved in checked mode.

    In Jupyter only the message shows, not course_lib's traceback."""

    heading = "GPU PROBLEM"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:  # IPython hook
        return [self.heading, *self.message.splitlines()]


class CompileError(GpuError):
    """The CUDA C source does not compile."""

    heading = "KERNEL DOES NOT COMPILE"


class LaunchError(GpuError):
    """The launch was refused: bad arguments, block or grid."""

    heading = "LAUNCH REFUSED"


class KernelFault(GpuError):
    """Checked mode saw the kernel misbehave (out of bounds, data race, divergent barrier)."""

    heading = "KERNEL FAULT"
