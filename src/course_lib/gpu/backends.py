"""Which machine runs the kernels: a CUDA GPU through PyCUDA, or the CPU.

``auto`` (the default) takes a CUDA GPU when PyCUDA and a GPU are there, else
the CPU through OpenCL on PoCL. ``checked`` runs on the Oclgrind simulator:
slow, but every out-of-bounds access, data race and divergent barrier becomes
a message. Both CPU backends run in a worker process (:mod:`.worker`). The
choice is announced once. ``COURSE_GPU_BACKEND`` (``auto``, ``cuda``, ``cpu``,
``checked``) overrides the default.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

__all__ = ["ENV_BACKEND", "backend", "ensure_pycuda", "use", "using"]

ENV_BACKEND = "COURSE_GPU_BACKEND"
NAMES = ("auto", "cuda", "cpu", "checked")
COLAB_HINT = ("For a real GPU, open this notebook in Google Colab and choose Runtime → Change runtime type → "
              "a GPU; the same code then runs on it through PyCUDA.")

_active: Any = None
_made: dict[str, Any] = {}


class CudaBackend:
    """Real PyCUDA on a CUDA GPU."""

    name = "cuda"
    checked = False

    def __init__(self) -> None:
        import pycuda.autoinit  # noqa: F401  (creates the context)
        import pycuda.driver as drv
        from pycuda.compiler import SourceModule

        self.drv, self._SourceModule = drv, SourceModule
        dev = drv.Context.get_device()
        self.label = f"GPU (CUDA, through PyCUDA): {dev.name()}"
        self.short = f"GPU ({dev.name()})"
        self.max_threads = int(dev.get_attribute(drv.device_attribute.MAX_THREADS_PER_BLOCK))

    def __repr__(self) -> str:
        return f"course_lib.gpu backend 'cuda': {self.label}"

    def compile(self, source: str) -> Any:
        """PyCUDA's ``SourceModule`` of the student's text, numbered as the student counts
        its lines: PyCUDA wraps the source in ``extern "C" {`` (one line more), and a
        kernel written after ``r\"\"\"`` starts with a blank line (one more); ``#line 1``
        makes nvcc's messages and device-side asserts count from the first line of the text."""
        from .cuda_parse import student_text
        from .errors import CompileError

        text = student_text(source)
        try:
            return self._SourceModule(f"#line 1\n{text}")
        except Exception as exc:  # pycuda.driver.CompileError
            raise CompileError(f"your CUDA C does not compile (nvcc):\n{nvcc_message(str(exc), text.splitlines())}"
                               ) from None

    def launch(self, module: Any, kernel: Any, source: str, args: Any, block: Any, grid: Any, shared: int = 0) -> float:
        from .memory import ArgumentHandler, DeviceAllocation

        drv = self.drv
        native = []
        for arg in args:
            if isinstance(arg, ArgumentHandler):
                native.append({"In": drv.In, "Out": drv.Out, "InOut": drv.InOut}[type(arg).__name__](arg.array))
            elif isinstance(arg, DeviceAllocation):
                raise TypeError("memory from the CPU backend cannot be passed to a GPU launch")
            else:
                native.append(arg)
        fn = module.get_function(kernel.name)
        seconds = fn(*native, block=block, grid=grid[:2] if grid[2] == 1 else grid, shared=int(shared),
                     time_kernel=True)
        return float(seconds)

    def synchronize(self) -> None:
        self.drv.Context.synchronize()


def nvcc_message(log: str, lines: list[str]) -> str:
    """nvcc's errors (``/tmp/.../kernel.cu(7): error: expected a ";"``) as
    ``line 7: expected a ";" `the line```, in order, without repeats; else the end of the log."""
    import re

    found: list[str] = []
    for m in re.finditer(r"^\S*?\.cu\((\d+)\): (?:catastrophic )?error: (.*)$", log, re.M):
        n = int(m.group(1))
        quoted = lines[n - 1].strip() if 1 <= n <= len(lines) else ""
        entry = f"line {n}: {m.group(2).strip()}" + (f" `{quoted}`" if quoted else "")
        if entry not in found:
            found.append(entry)
    return "\n".join(found[:5]) if found else log.strip()[-1500:]


def _cuda_available() -> tuple[bool, str]:
    try:
        import pycuda.driver as drv
    except Exception:
        return False, "PyCUDA is not installed"
    try:
        drv.init()
        if drv.Device.count() == 0:
            return False, "no CUDA GPU is visible"
    except Exception as exc:
        return False, f"CUDA does not start ({type(exc).__name__})"
    return True, ""


def ensure_pycuda() -> bool:
    """Install PyCUDA (``pip install pycuda``, a minute or two) where an NVIDIA GPU
    is visible and PyCUDA is missing, e.g. a Colab GPU runtime. True if PyCUDA is there."""
    import importlib.util
    import shutil
    import subprocess
    import sys

    if importlib.util.find_spec("pycuda") is not None:
        return True
    if shutil.which("nvidia-smi") is None:
        return False
    print("An NVIDIA GPU is here but PyCUDA is not: installing it (pip install pycuda, a minute or two)...")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pycuda"], check=False)
    importlib.invalidate_caches()
    return done.returncode == 0 and importlib.util.find_spec("pycuda") is not None


def _make(name: str) -> Any:
    if name not in _made:
        if name == "cuda":
            _made[name] = CudaBackend()
        else:
            from .worker import WorkerBackend

            _made[name] = WorkerBackend(name)
    return _made[name]


def use(name: str = "auto", quiet: bool = False) -> Any:
    """Choose the backend (``auto``, ``cuda``, ``cpu`` or ``checked``) and say which one runs."""
    global _active
    if name not in NAMES:
        raise ValueError(f"backend must be one of {', '.join(NAMES)}, got {name!r}")
    note = ""
    if name in ("auto", "cuda"):
        ok, why = _cuda_available()
        if ok:
            chosen = "cuda"
        else:
            chosen = "cpu"
            if name == "cuda":
                note = f"A GPU was asked for, but {why}: falling back to the CPU. {COLAB_HINT}"
            else:
                note = f"No CUDA GPU here ({why}). {COLAB_HINT}"
    else:
        chosen = name
    made = _make(chosen)
    if not quiet:  # the label comes from the backend itself: a CPU backend's worker starts here
        print(f"course_lib.gpu: kernels run on the {made.label}." + (f" {note}" if note else ""))
    _active = made
    return _active


def backend() -> Any:
    """The active backend (chosen, and announced, on first use)."""
    if _active is None:
        use(os.environ.get(ENV_BACKEND, "auto").strip() or "auto")
    return _active


@contextlib.contextmanager
def using(name: str) -> Iterator[Any]:
    """Run the block on backend ``name`` (``cpu`` or ``checked`` or ``cuda``), silently, then switch back."""
    global _active
    previous = _active
    try:
        yield use(name, quiet=True)
    finally:
        _active = previous
