"""``SourceModule`` and kernel launches, PyCUDA-style, on whichever backend is active.

A module keeps its CUDA C source and compiles it for each backend it is
launched on, so a kernel compiled while the fast CPU backend was active also
runs in checked mode when a check asks for it. Before anything runs, a
launch is validated: the block and grid, and every argument against the
kernel's parameter types.

Every ``SourceModule`` gets a serial number, and the latest one that defined
a kernel name is remembered, compiled or not (:func:`newer_failure`): a check
handed a function that still launches an older, compiled ``matmul`` while the
cell above now holds a ``matmul`` that does not compile says so instead of
testing the old kernel.

:func:`compile_kernel` is ``SourceModule(source).get_function(name)`` for a
notebook's answer cell: a kernel that does not compile is reported there and
the name is bound all the same, to an :class:`UncompiledKernel` whose launch
(and so the check that calls the student's launcher) says that the kernel the
cell defines now does not compile. A first compile error then never leaves the
launcher undefined (a bare ``NameError`` in the check cell), and a later one
never leaves an older, compiled kernel bound.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import backends
from .cuda_c import Kernel, Param, kernels
from .errors import CompileError, KernelDoesNotCompile, LaunchError, NotOnCpu
from .memory import ArgumentHandler, DeviceAllocation

__all__ = ["Function", "Launch", "SourceModule", "UncompiledKernel", "compile_kernel", "failing_kernels",
           "first_error", "launches", "launches_since", "launch_count", "newer_failure"]

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = (2 ** 31 - 1, 65535, 65535)


@dataclass(frozen=True)
class Launch:
    """A launch as it happened: which kernel, block, grid and backend."""

    kernel: str
    block: tuple[int, int, int]
    grid: tuple[int, int, int]
    backend: str
    seconds: float
    number: int = 0         # 1 for the first launch of the session, 2 for the next, ...
    module: int = 0         # serial number of the SourceModule the kernel came from


#: The most recent launches (the checks read the launch configuration here).
launches: list[Launch] = []
_KEEP = 100
_count = 0


def launch_count() -> int:
    """How many kernels were launched so far in this session."""
    return _count


def _record(kernel: str, block: tuple[int, int, int], grid: tuple[int, int, int], backend: str,
            seconds: float, module: int = 0) -> None:
    global _count
    _count += 1
    launches.append(Launch(kernel, block, grid, backend, seconds, _count, module))
    del launches[:-_KEEP]


_modules = 0
#: kernel name -> (serial of the latest SourceModule that defined it, its CompileError or None)
_latest: dict[str, tuple[int, CompileError | None]] = {}


def _remember(serial: int, names: Any, error: CompileError | None) -> None:
    for name in names:
        if serial >= _latest.get(name, (0, None))[0]:
            _latest[name] = (serial, error)


def latest_module_failed() -> bool:
    """Whether the most recent ``SourceModule`` did not compile."""
    return bool(_latest) and max(_latest.values(), key=lambda item: item[0])[1] is not None and \
        max(serial for serial, _ in _latest.values()) == _modules


def failing_kernels() -> dict[str, CompileError]:
    """Kernel names whose latest ``SourceModule`` did not compile, with its error, the
    most recent first."""
    failing = sorted(((serial, name, error) for name, (serial, error) in _latest.items() if error is not None),
                     key=lambda item: -item[0])
    return {name: error for _, name, error in failing}


def newer_failure(launch: Launch) -> CompileError | None:
    """The compile error of a ``SourceModule`` made after the one ``launch`` used,
    with a kernel of the same name (the student edited the kernel, it no longer
    compiles, and an older compiled version ran); None when there is none."""
    serial, error = _latest.get(launch.kernel, (0, None))
    return error if error is not None and serial > launch.module else None


def launches_since(count: int) -> list[Launch]:
    """The launches made after :func:`launch_count` returned ``count`` (at most the last 100)."""
    return [launch for launch in launches if launch.number > count]


class SourceModule:
    """CUDA C source with one or more ``__global__`` kernels (PyCUDA's ``SourceModule``)."""

    def __init__(self, source: str, **options: Any):
        global _modules
        if not isinstance(source, str):
            raise CompileError(f"SourceModule takes the CUDA C source as a string, got {type(source).__name__}.")
        _modules += 1
        self.serial = _modules
        self.source = source
        self._native: dict[str, Any] = {}
        try:
            self.kernels = kernels(source)
            self.native(backends.backend())       # compile now: errors show at once
        except CompileError as exc:
            names = exc.kernel_names or tuple(getattr(self, "kernels", ())) or tuple(
                re.findall(r"__global__[^;{()]*?\b(\w+)\s*\(",                 # clang could not read them
                           re.sub(r"__launch_bounds__\s*\([^)]*\)", "", source)))
            _remember(self.serial, names, exc)
            raise
        _remember(self.serial, self.kernels, None)

    def native(self, backend: Any) -> Any:
        """The module compiled for ``backend`` (once per backend)."""
        if backend.name not in self._native:
            self._native[backend.name] = backend.compile(self.source)
        return self._native[backend.name]

    def get_function(self, name: str) -> "Function":
        if name not in self.kernels:
            raise CompileError(f"get_function: there is no kernel named {name!r} in this module; its kernels: "
                               f"{', '.join(self.kernels)}.")
        return Function(self, self.kernels[name])


def _dims(value: Any, what: str, n: int) -> tuple[int, int, int]:
    if isinstance(value, (int, np.integer)):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        raise LaunchError(f"{what} should be a tuple of up to three positive ints, e.g. {what}=(16, 16, 1); "
                          f"got {value!r}.")
    dims = []
    for v in value:
        if isinstance(v, float) and v.is_integer():
            raise LaunchError(f"{what}={tuple(value)!r} holds the float {v}: use ints (// instead of /, or "
                              f"int(math.ceil(...))).")
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise LaunchError(f"{what}={tuple(value)!r}: every entry must be an int of at least 1.")
        dims.append(int(v))
    return tuple(dims + [1] * (3 - len(dims)))  # type: ignore[return-value]


def _check_launch(block: tuple[int, int, int], grid: tuple[int, int, int], limit: int) -> None:
    threads = math.prod(block)
    if threads > min(MAX_THREADS_PER_BLOCK, limit):
        raise LaunchError(f"block={block} has {threads} threads; a block may have at most "
                          f"{min(MAX_THREADS_PER_BLOCK, limit)} (CUDA's limit). Use smaller blocks and more of them "
                          f"in the grid, e.g. block=(16, 16, 1).")
    for i, (b, most) in enumerate(zip(block, MAX_BLOCK)):
        if b > most:
            raise LaunchError(f"block={block}: dimension {'xyz'[i]} is {b}, more than CUDA's {most}.")
    for i, (g, most) in enumerate(zip(grid, MAX_GRID)):
        if g > most:
            raise LaunchError(f"grid={grid}: dimension {'xyz'[i]} is {g}, more than CUDA's {most}.")


def _check_arg(kernel: Kernel, i: int, param: Param, arg: Any) -> None:
    where = f"{kernel.name}: argument {i} (`{param}`)"
    if param.pointer:
        if isinstance(arg, np.ndarray):
            raise LaunchError(f"{where} is a bare numpy array; a kernel needs device memory. Wrap it: In(a) to "
                              f"copy it to the device, Out(a) to receive results into it, InOut(a) for both "
                              f"(or copy it yourself with to_device / mem_alloc and memcpy_htod).")
        if isinstance(arg, ArgumentHandler):
            got = arg.array.dtype
            if param.dtype is not None and got != param.dtype:
                raise LaunchError(f"{where}: the array has dtype {got}, but `{param.ctype} *` needs {param.dtype} "
                                  f"({param.dtype.itemsize} bytes per element): pass a.astype(np.{param.dtype}).")
            return
        if isinstance(arg, DeviceAllocation):
            if arg.dtype is not None and param.dtype is not None and arg.dtype != param.dtype:
                raise LaunchError(f"{where}: this device memory holds {arg.dtype} but `{param.ctype} *` needs "
                                  f"{param.dtype}.")
            return
        if type(arg).__name__ == "DeviceAllocation" or hasattr(arg, "gpudata"):
            return  # PyCUDA's own allocation on a GPU
        raise LaunchError(f"{where} needs device memory (In/Out/InOut(array), to_device or mem_alloc), got "
                          f"{type(arg).__name__}.")
    if isinstance(arg, (ArgumentHandler, DeviceAllocation, np.ndarray)):
        raise LaunchError(f"{where} is a number, but an array was passed.")
    if isinstance(arg, (bool, int, float)):
        fix = f"np.{param.dtype}({arg!r})" if param.dtype is not None else "a numpy scalar"
        raise LaunchError(f"{where}: got a Python {type(arg).__name__}; a kernel needs a sized C number: pass "
                          f"{fix}.")
    if isinstance(arg, np.generic):
        if param.dtype is not None and arg.dtype != param.dtype:
            raise LaunchError(f"{where}: got np.{arg.dtype}, but `{param.ctype}` is {param.dtype}: pass "
                              f"np.{param.dtype}(...).")
        return
    raise LaunchError(f"{where}: cannot pass a {type(arg).__name__} to a kernel.")


@dataclass
class Function:
    """A kernel of a module; call it like PyCUDA's: ``f(*args, block=(16, 16, 1), grid=(gx, gy))``."""

    module: SourceModule
    kernel: Kernel
    _seen: set = field(default_factory=set)

    def __call__(self, *args: Any, block: Any = None, grid: Any = (1, 1), time_kernel: bool = False,
                 shared: int = 0, **ignored: Any) -> float | None:
        k = self.kernel
        if block is None:
            raise LaunchError(f"{k.name}: block= is required, e.g. block=(16, 16, 1).")
        b, g = _dims(block, "block", 3), _dims(grid, "grid", 3)
        be = backends.backend()
        _check_launch(b, g, getattr(be, "max_threads", MAX_THREADS_PER_BLOCK))
        if len(args) != len(k.params):
            raise LaunchError(f"{k.name} takes {len(k.params)} arguments ({', '.join(map(str, k.params))}) but "
                              f"was given {len(args)}.")
        for i, (param, arg) in enumerate(zip(k.params, args)):
            _check_arg(k, i, param, arg)
        if not isinstance(shared, (int, np.integer)) or isinstance(shared, bool) or shared < 0:
            raise LaunchError(f"{k.name}: shared= is the number of bytes of dynamic __shared__ memory, an int; got "
                              f"{shared!r}.")
        seconds = be.launch(self.module.native(be), k, self.module.source, args, b, g, shared=int(shared))
        _record(k.name, b, g, be.name, seconds, self.module.serial)
        return seconds if time_kernel else None

    def prepared_time(self, *args: Any, **kwargs: Any) -> float:
        """Seconds the kernel itself ran (as ``time_kernel=True``)."""
        return float(self(*args, time_kernel=True, **kwargs))


def first_error(error: CompileError) -> str:
    """The first of the errors in ``error``'s message, with the student's line
    (``line 7: expected ';' ... `float sum = 0.0f```), and how many more there are;
    a message that is not a list of errors, whole."""
    lines = error.message.splitlines()
    if len(lines) > 1 and lines[0].rstrip().endswith("does not compile:"):
        errors = [line for line in lines[1:] if line.startswith("line ")]
        more = len(errors) - 1
        hidden = next((line for line in lines[1:] if line.startswith("(and ")), "")
        if hidden:                                          # "(and 4 more errors)"
            more += int("".join(ch for ch in hidden if ch.isdigit()) or 0)
        if errors:
            return errors[0] + (f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else "")
    return error.message


class UncompiledKernel:
    """What :func:`compile_kernel` binds a kernel's name to while its source does not
    compile: launching it raises :class:`~course_lib.gpu.errors.KernelDoesNotCompile`
    (``your kernel `matmul` does not compile: line 7: ...``), which the checks report."""

    def __init__(self, name: str, error: CompileError, summary: str = ""):
        self.name, self.error = name, error
        if not summary:
            if isinstance(error, NotOnCpu):
                summary = f"your kernel `{name}` cannot run on the CPU backends: " + error.message.replace("\n", " ")
            else:
                summary = f"your kernel `{name}` does not compile: {first_error(error)}"
        self.summary = summary

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise KernelDoesNotCompile(f"{self.summary}\nFix the kernel, run its cell again, then this cell.", self.name,
                                   self.error)

    def prepared_time(self, *args: Any, **kwargs: Any) -> float:
        return self(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<kernel {self.name!r} that does not compile: {self.summary.splitlines()[0]}>"


def compile_kernel(source: str, name: str, **options: Any) -> "Function | UncompiledKernel":
    """The kernel ``name`` of the CUDA C ``source``, compiled:
    ``SourceModule(source, **options).get_function(name)``.

    When the source does not compile (or has no kernel ``name``) the errors are
    printed, with the student's lines, and an :class:`UncompiledKernel` comes back
    instead of an exception: the cell goes on, so the name it assigns, and the
    launcher defined after it, always belong to the kernel the cell holds now,
    and a launch (or a check) says that it does not compile."""
    import sys

    summary = ""
    try:
        module = SourceModule(source, **options)
    except CompileError as exc:
        error = exc
        if isinstance(source, str):
            _remember(_modules, (name,), exc)       # even when clang could not read the kernel's name
    else:
        try:
            return module.get_function(name)
        except CompileError as exc:
            error = exc
            summary = (f"there is no kernel named `{name}` in its source (its kernels: {', '.join(module.kernels)}); "
                       f"compile_kernel(source, name) needs the name after `__global__ void`")
            _remember(module.serial, (name,), exc)
    print(f"{error.heading}\n{error.message}\n(Until it compiles, launching `{name}`, or running the check that "
          f"uses it, says so. Fix it and run this cell again.)", file=sys.stderr, flush=True)
    return UncompiledKernel(name, error, summary)
