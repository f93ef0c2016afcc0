"""PoCL's compile cache for the kernels the release hands out, copied into each kernel's home.

Without a GPU, notebook 05's CUDA C runs on PoCL, which keeps what it compiled in
``$HOME/.cache/pocl/kcache``. Every graded kernel has a fresh home, so every student's
notebook 05 compiled the same released kernels again: the blank templates and the given
tiled matmul, 0.2 to 0.5 s each (about 1 s of a blank submission's 6).

So the grader compiles, once, the CUDA C sources that the *release* notebooks hold
(what every student was handed: never a solution, never a student's code) into a cache
folder beside the data and model caches (:func:`folder`), named by a hash of those sources
and PoCL's version, while the first students are graded (:func:`start`); and
each kernel gets its own copy of that cache in its home (:func:`seed`), made by the
grader before the kernel starts. A kernel that writes there writes its own copy: nothing
reaches another notebook or student. A source a student changed is simply not found in
the cache and compiled as before.

    python -m course_lib.instructor.grading.gpu_cache CACHE_DIR < sources.json

builds the cache (run by :func:`start` in its own process, on the CPU backend).
"""
from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course_lib import nbmeta

from .. import safe_ast

BUILD_TIMEOUT = 300


def kernel_sources(release_dir: Path) -> list[str]:
    """The string constants holding a ``__global__`` kernel in the code cells of the release
    notebooks, in order, each once."""
    found: dict[str, None] = {}
    for path in sorted(Path(release_dir).glob("*.ipynb")):
        try:
            cells = nbmeta.read(path).cells
        except Exception:  # noqa: BLE001 - an unreadable release notebook has nothing to cache
            continue
        for cell in cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = safe_ast.parse(cell.source)
            except SyntaxError:  # magics, or a cell the student must complete
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__global__" in node.value:
                    found[node.value] = None
    return list(found)


def _versions() -> list[str]:
    """PoCL's and pyopencl's versions (a new PoCL may read its cache differently)."""
    from importlib import metadata

    out = []
    for name in ("pocl-binary-distribution", "pyopencl"):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} none")
    return out


def _marker(cache: str | os.PathLike) -> Path:
    """The file that says the cache folder ``cache`` is complete (written last by :func:`_build`)."""
    return Path(cache).parent / "complete"


def folder() -> Path:
    """Where the caches live: ``gpu-cache/`` beside the data and model caches (one folder per
    release and PoCL version; kernels never see it, they get copies)."""
    from ...data.locations import default_root

    return default_root().parent / "gpu-cache"


@dataclass
class Build:
    """The cache of one release's kernels: ``cache`` (PoCL's folder), complete once
    ``complete`` exists; ``proc`` compiles it now (None: it was there already)."""

    cache: Path
    proc: subprocess.Popen | None = None

    @property
    def complete(self) -> Path:
        return _marker(self.cache)

    def wait(self, timeout: float = BUILD_TIMEOUT) -> bool:
        """Wait for the compiling process (killed after ``timeout`` s); whether the cache is complete."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        return self.complete.is_file()


def start(release_dir: Path, log: logging.Logger) -> Build | None:
    """The cache of the release's kernels: there already, or being compiled from now on in a
    process of its own (graded kernels that start before it is complete compile as before);
    None when the release holds no kernel."""
    from ...gpu.worker import POCL_ENV

    sources = kernel_sources(release_dir)
    if not sources:
        return None
    digest = hashlib.sha256(json.dumps([sources, _versions(), sorted(POCL_ENV.items())]).encode()).hexdigest()[:16]
    build = Build(folder() / digest / "kcache")
    if build.complete.is_file():
        return build
    try:
        shutil.rmtree(build.cache.parent, ignore_errors=True)  # an unfinished one
        build.cache.mkdir(parents=True)
        build.proc = subprocess.Popen([sys.executable, "-m", __name__, str(build.cache)], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        build.proc.stdin.write(json.dumps(sources))
        build.proc.stdin.close()
    except OSError as err:  # a read-only home, say: kernels compile as they did without the cache
        log.warning("no compile cache for the release's GPU kernels (%s)", err)
        return None
    log.info("compiling the release's %d GPU kernels into %s (once)", len(sources), build.cache.parent)
    return build


def seed(home: Path, cache: str | os.PathLike | None, uid: int | None = None) -> None:
    """Copy ``cache`` (:attr:`Build.cache`) into ``home``'s PoCL cache, owned by ``uid``, if it
    is complete."""
    if not cache or not _marker(cache).is_file():
        return
    base = Path(home) / ".cache"
    shutil.copytree(cache, base / "pocl" / "kcache", dirs_exist_ok=True, symlinks=True)
    if uid is not None:
        for path in (base, *base.rglob("*")):
            os.lchown(path, uid, uid)


def _build(cache: str, sources: list[str]) -> int:
    """Compile ``sources`` on PoCL with its cache in ``cache`` (this process only)."""
    os.environ["POCL_CACHE_DIR"] = cache
    os.makedirs(cache, exist_ok=True)
    from ... import gpu
    from ...gpu.errors import GpuError

    gpu.use("cpu", quiet=True)
    built = 0
    for source in sources:
        try:
            gpu.SourceModule(source)
            built += 1
        except GpuError:  # a template that does not compile yet: nothing to cache
            pass
    _marker(cache).write_text(f"{built} of {len(sources)} sources compiled\n")
    return 0


if __name__ == "__main__":
    sys.exit(_build(sys.argv[1], json.loads(sys.stdin.read())))
