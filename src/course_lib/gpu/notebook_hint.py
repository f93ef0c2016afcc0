"""A hint under a ``NameError`` that a kernel that does not compile explains.

In the notebook a cell defines a kernel and the function that launches it:

    matmul_kernel = gpu.SourceModule(MATMUL_SRC).get_function("matmul")
    def matmul(A, B): ...

When the kernel does not compile the first time, the cell stops at the
``SourceModule`` line, ``matmul`` is never defined, and the check cell below
fails with a bare ``NameError: name 'matmul' is not defined``. While a kernel's
latest version does not compile, this hook adds one line under such a
``NameError`` saying why. It is installed in IPython only, and never while
nbgrader grades (the grading guard restores IPython's error display, and
there the failing test cell is all that counts).
"""
from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["hint_for", "install"]


def hint_for(error: BaseException) -> str | None:
    """The line to add under ``error``, or None."""
    from .module import failing_kernels, latest_module_failed

    if not isinstance(error, NameError):
        return None
    failing = failing_kernels()
    if not failing:
        return None
    name = getattr(error, "name", None)
    what = f"`{name}`" if name else "this name"
    if name in failing:
        kernel = name
    elif latest_module_failed():
        kernel = next(iter(failing))            # the kernel compiled last, whatever its name
    else:
        return None
    lines = failing[kernel].message.splitlines()
    detail = (lines[1] if len(lines) > 1 else lines[0]).strip()         # the first error
    return (f"course_lib.gpu: {what} may be undefined because the cell that defines it stopped at its "
            f"SourceModule(...): the kernel `{kernel}` does not compile ({detail}). Fix the kernel, run that "
            f"cell again, then this one.")


def _handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """IPython's usual traceback, and the hint under it. IPython leaves the display of
    a custom handler's exception to the handler."""
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    hint = hint_for(value)
    stb = list(stb) + ([hint] if hint else [])
    shell._showtraceback(etype, value, stb)
    return stb


def install() -> bool:
    """Add the hint to IPython's display of ``NameError`` (not while grading, and
    not over another custom handler). True if installed."""
    if os.environ.get("NBGRADER_EXECUTION") or os.environ.get("COURSE_GUARD_FD"):   # grading, or its guard
        return False
    ipython = sys.modules.get("IPython")  # no IPython imported, no shell: the GPU worker process, a script
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if getattr(shell, "custom_exceptions", ()) not in ((), None) and _handler.__name__ not in str(
            getattr(shell, "CustomTB", "")):
        return False
    shell.set_custom_exc((NameError,), _handler)
    return True
