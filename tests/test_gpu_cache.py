"""The grader's PoCL cache of the release's kernels (course_lib.instructor.grading.gpu_cache):
built from the release only (never a solution), found by a graded kernel's PoCL, and copied
into each kernel's home (a kernel that writes there writes its own copy)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

import nbrun
from course_lib import nbmeta
from course_lib.instructor.grading import gpu_cache

pytest.importorskip("pyopencl")

LOG = logging.getLogger("test")


def _solution_sources() -> set[str]:
    return {s for s in gpu_cache.kernel_sources(nbrun.SOURCE_DIR)}


def test_the_release_kernels_are_found_and_no_solution_among_them():
    sources = gpu_cache.kernel_sources(nbrun.RELEASE_DIR)
    assert any("YOUR CODE HERE" in s and "doublify" in s for s in sources), sources
    assert any("matmul_tiled" in s for s in sources)  # the given tiled kernel
    solutions = _solution_sources() - set(sources)
    assert solutions, "the source notebooks hold solved kernels the release does not"
    assert not solutions & set(sources)
    for s in sources:
        assert "a[i] = 2.0f * a[i]" not in s, "a solved doublify in the release's kernels"


def _programs(kcache) -> set[str]:
    return {p.parent.name for p in kcache.rglob("program.bc")}


def _build_with_home(home, source: str) -> None:
    """Compile ``source`` with PoCL in a fresh process whose home is ``home`` (as in a graded kernel)."""
    code = textwrap.dedent("""
        import sys
        from course_lib import gpu
        gpu.use("cpu", quiet=True)
        gpu.SourceModule(sys.stdin.read())
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POCL_CACHE_DIR", "XDG_CACHE_HOME"))}
    subprocess.run([sys.executable, "-c", code], input=source, text=True, check=True, env=dict(env, HOME=str(home)),
                   timeout=300)


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_cache, "folder", lambda: tmp_path / "gpu-cache")
    return tmp_path / "gpu-cache"


@pytest.mark.slow
def test_a_seeded_home_compiles_the_release_kernels_from_the_cache(tmp_path, cache_folder):
    build = gpu_cache.start(nbrun.RELEASE_DIR, LOG)
    cache = build.cache
    assert build.proc is not None and cache.parent.parent == cache_folder
    gpu_cache.seed(tmp_path, cache)
    if not build.complete.is_file():  # not copied while it is being compiled
        assert not (tmp_path / ".cache").exists()
    assert build.wait() and cache.is_dir()
    sources = gpu_cache.kernel_sources(nbrun.RELEASE_DIR)
    built = _programs(cache)
    assert len(built) >= 2, built
    again = gpu_cache.start(nbrun.RELEASE_DIR, LOG)  # compiled once, then kept
    assert again.cache == cache and again.proc is None

    seeded, other = tmp_path / "home-a", tmp_path / "home-b"
    for home in (seeded, other):
        home.mkdir()
        gpu_cache.seed(home, cache)
    kcache = seeded / ".cache" / "pocl" / "kcache"
    assert _programs(kcache) == built
    # two homes hold copies, not links: what one kernel writes stays its own
    for a in kcache.rglob("program.bc"):
        b = other / ".cache" / "pocl" / "kcache" / a.relative_to(kcache)
        assert a.stat().st_ino != b.stat().st_ino
    (next(iter(kcache.rglob("program.bc")))).write_bytes(b"changed")
    assert all(p.read_bytes() != b"changed" for p in (other / ".cache").rglob("program.bc"))

    template = next(s for s in sources if "YOUR CODE HERE" in s)
    _build_with_home(other, template)  # found in the cache: nothing new compiled
    assert _programs(other / ".cache" / "pocl" / "kcache") == built
    _build_with_home(other, template.replace("// YOUR CODE HERE", "a[0] = 1.0f;"))  # a student's own: compiled
    assert len(_programs(other / ".cache" / "pocl" / "kcache")) == len(built) + 1


def test_no_kernels_no_cache(tmp_path, cache_folder):
    release = tmp_path / "release"
    release.mkdir()
    nb = nbmeta.read(nbrun.RELEASE_DIR / "01_hand_gradients.ipynb")
    import nbformat

    nbformat.write(nb, str(release / "01_hand_gradients.ipynb"))
    assert gpu_cache.kernel_sources(release) == []
    assert gpu_cache.start(release, LOG) is None and not cache_folder.exists()
    gpu_cache.seed(tmp_path, None)  # nothing to copy: nothing happens
    gpu_cache.seed(tmp_path, tmp_path / "unfinished" / "kcache")
    assert not (tmp_path / ".cache").exists()


def test_an_unwritable_cache_folder_costs_only_the_cache(tmp_path, monkeypatch, caplog):
    """A home the grader cannot write: no cache, a warning, and grading goes on (kernels compile)."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would go")
    monkeypatch.setattr(gpu_cache, "folder", lambda: blocked / "gpu-cache")
    with caplog.at_level(logging.WARNING):
        assert gpu_cache.start(nbrun.RELEASE_DIR, LOG) is None
    assert "no compile cache" in caplog.text
