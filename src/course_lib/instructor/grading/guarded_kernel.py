"""The kernel ``course-grade`` runs student code in: ipykernel behind the guard.

    python -I -m course_lib.instructor.grading.guarded_kernel -f CONNECTION_FILE

``-I`` (isolated mode): no ``PYTHON*`` variables, no user site, and neither the
working directory nor the script's folder on ``sys.path`` (IPython ≥ 9.7 keeps
the working directory off too under ``sys.flags.safe_path``), so a
``course_lib/`` folder, a ``numpy/`` folder or a ``torch.py`` in the submission
is never imported instead of the installed one, and no ``sitecustomize``,
``usercustomize`` or ``.pth`` from it runs. Before IPython starts, the
checks are imported (the references the test cells will get) and
:func:`.guard.install` adds the audit hook.

Then :func:`.verdict.install` adds the hook that signs each test cell's verdict
with the key read from ``COURSE_VERDICT_KEY_FD`` (read once, then closed).

Environment (set by :class:`.kernel.ConfinedKernelManager`): ``COURSE_GUARD_FD``
the pipe for findings and verdicts, ``COURSE_GUARD_READ`` / ``COURSE_GUARD_WRITE``
``os.pathsep``-separated folders the kernel may read / write.
"""
from __future__ import annotations

import gc
import importlib
import os
import pkgutil
import sys


def _preload() -> str:
    """Import course_lib and every check module now, before any student code; return its folder."""
    import course_lib
    import course_lib.checks

    for info in pkgutil.iter_modules(course_lib.checks.__path__, "course_lib.checks."):
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - a check module that cannot load fails in its own test cell
            pass
    return os.path.dirname(os.path.abspath(course_lib.__file__))


def _read_key(var: str) -> bytes | None:
    """The verdict key from the pipe named by ``var`` (then closed), or None."""
    fd = os.environ.pop(var, "")
    if not fd.isdigit():
        return None
    with os.fdopen(int(fd), "rb") as pipe:
        return pipe.read(64) or None


def main() -> None:
    if "" in sys.path or os.getcwd() in sys.path:  # belt and braces: -I already keeps them off
        sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    package_dir = _preload()
    from course_lib.checks import seeds

    seeds.HIDDEN_SEED = seeds.from_env()  # this student's (a forked kernel imported seeds in its zygote)
    os.environ.pop(seeds.ENV, None)
    from . import guard

    fd = os.environ.get("COURSE_GUARD_FD")
    split = lambda var: [p for p in os.environ.get(var, "").split(os.pathsep) if p]  # noqa: E731
    guard.install(read_roots=split("COURSE_GUARD_READ"), write_roots=[os.getcwd(), *split("COURSE_GUARD_WRITE")],
                  channel_fd=int(fd) if fd and fd.isdigit() else None, package_dir=package_dir)
    from IPython.core.interactiveshell import InteractiveShell

    from . import verdict

    key = _read_key("COURSE_VERDICT_KEY_FD")
    if fd and fd.isdigit() and key:
        verdict.install(key, int(fd), InteractiveShell.run_code.__code__)
    del key  # main's frame lives as long as the kernel: the key stays only in the hook
    from ipykernel import kernelapp
    from traitlets.config import Config

    config = Config()
    # tracebacks as Python prints them, without IPython's source context around each frame: about 0.5 ms
    # each instead of 15 to 50 (a blank submission raises about 70). Feedback never shows them.
    config.InteractiveShell.xmode = "Plain"
    # Everything imported so far (torch, plotly, IPython, the checks: about 400,000 objects) leaves the
    # cyclic collector's generations. A scalar autograd engine allocates half a million objects in a
    # training loop, and each full collection walked all of these too: notebook 03's training took
    # twice as long.
    gc.freeze()
    kernelapp.launch_new_instance(config=config)


if __name__ == "__main__":
    main()
