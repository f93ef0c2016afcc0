"""A fresh, Colab-like environment: the setup cell installs course_lib from a built
wheel, and notebooks 01 and 02 run with a student's answers filled in.

What stands in for Colab, and why it is fair:

- the wheel is built from this repository (``pip wheel --no-deps``, from a copy
  of ``pyproject.toml``, ``README.md`` and ``src/``, so the checkout gets no build
  litter) and must hold course_lib only: no notebook, no solution;
- a new virtual environment, with no repository checkout on its path. Colab
  comes with torch, torchvision and the Jupyter kernel preinstalled in its
  system site-packages, where pip sees them as installed and leaves them
  alone; here the same packages (with what they depend on) are exposed to the
  new environment read-only from the project's venv through a ``.pth`` file,
  which pip sees the same way. This avoids installing the 5.5 GB CUDA torch
  build again (about 80 s and the disk space, measured here) and is what the
  setup cell meets on Colab: torch present, course_lib absent;
- the kernel runs in that environment with ``google.colab`` imported at start
  (as Colab's kernel has it), so the notebooks' locked setup cell takes its
  Colab branch and runs ``pip install`` itself. ``COURSE_LIB_SOURCE`` points
  that install at the wheel (on Colab it defaults to the ``repository.url``
  of ``_config.yml``); pip resolves the rest of course_lib's dependencies from
  the package index, as on Colab;
- the notebooks are the release notebooks with the source's answers filled in
  (``solution_filled``), run top to bottom in a scratch folder: every cell runs
  without error and every check cell prints ``PASSED``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement

import nbrun
from course_lib.instructor import nbmeta
from course_lib.instructor.release import solution_filled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

#: What Colab has preinstalled that the setup cell relies on (with their dependencies).
PREINSTALLED = ("torch", "torchvision", "ipykernel")
NOTEBOOKS = ("01_hand_gradients.ipynb", "02_autograd.ipynb")
COLAB_STARTUP = """# Stand-in for Colab: its kernels start with google.colab imported.
import sys, types
_google = sys.modules.setdefault("google", types.ModuleType("google"))
_google.colab = sys.modules.setdefault("google.colab", types.ModuleType("google.colab"))
"""


def _closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and everything they require, extras included
    (torch asks for ``cuda-toolkit[cufft,...]``), with environment markers evaluated."""
    seen: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(n, "") for n in names]
    while todo:
        name, extra = todo.pop()
        key = name.lower().replace("_", "-")
        if (key, extra) in done:
            continue
        done.add((key, extra))
        try:
            dist = seen.get(key) or metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed
        seen[key] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(req.name, "")] + [(req.name, e) for e in req.extras]
    return list(seen.values())


def _preinstalled_folder(dest: Path) -> list[str]:
    """``dest`` holding links to the files of :data:`PREINSTALLED` and their dependencies, as
    Colab's system site-packages holds them. Returns the distributions' names."""
    dest.mkdir(parents=True)
    names = []
    for dist in _closure(PREINSTALLED):
        names.append(dist.metadata["Name"])
        site = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            if top.endswith(".pth") or top == "__pycache__":
                continue
            if (site / top).exists() and not (dest / top).exists():
                (dest / top).symlink_to(site / top)
    return sorted(names)


def _build_wheel(out: Path) -> Path:
    src = out / "src-copy"
    shutil.copytree(nbrun.ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(nbrun.ROOT / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("course_lib-*.whl")
    return wheel


@pytest.fixture(scope="module")
def colab(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A Colab-like kernel ``colab`` in a fresh venv, and the wheel its setup cell installs."""
    tmp = tmp_path_factory.mktemp("fresh-env")
    timings: dict[str, float] = {}
    t = time.monotonic()
    wheel = _build_wheel(tmp / "dist")
    timings["build the wheel"] = time.monotonic() - t

    t = time.monotonic()
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # pip itself, as every Python on Colab has it (copied from the venv this test runs in)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    shutil.copytree(Path(metadata.distribution("pip").locate_file("pip")), site / "pip")
    shutil.copytree(next(Path(metadata.distribution("pip").locate_file("")).glob("pip-*.dist-info")),
                    site / f"pip-{metadata.version('pip')}.dist-info")
    preinstalled = _preinstalled_folder(tmp / "colab-dist-packages")
    (site / "00-colab-preinstalled.pth").write_text(str(tmp / "colab-dist-packages") + "\n")
    timings["create the environment"] = time.monotonic() - t

    ipython = tmp / "ipython"
    (ipython / "profile_default" / "startup").mkdir(parents=True)
    (ipython / "profile_default" / "startup" / "00-colab.py").write_text(COLAB_STARTUP)
    kernels = tmp / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    env = {"IPYTHONDIR": str(ipython), "COURSE_LIB_SOURCE": str(wheel), "PYTHONPATH": "", "PYTHONNOUSERSITE": "1",
           "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab stand-in", "language": "python", "env": env}))
    return {"tmp": tmp, "wheel": wheel, "python": python, "site": site, "jupyter_path": tmp / "jupyter",
            "preinstalled": preinstalled, "timings": timings}


def test_the_wheel_holds_course_lib_and_no_solution(colab):
    with zipfile.ZipFile(colab["wheel"]) as zf:
        names = zf.namelist()
    assert any(n == "course_lib/student/submit.py" for n in names)
    assert not [n for n in names if not n.startswith(("course_lib/", "course_lib-"))], names
    assert not [n for n in names if n.endswith(".ipynb") or "source_notebooks" in n or "release/" in n]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(colab["wheel"]) as zf:
        assert "course-submit = course_lib.student.submit:main" in zf.read(entry_points).decode()


def test_the_fresh_environment_starts_without_course_lib(colab):
    probe = ("import importlib.util, torch; print(importlib.util.find_spec('course_lib') is None, "
             "importlib.util.find_spec('nbgrader') is None, torch.__version__)")
    out = subprocess.run([str(colab["python"]), "-c", probe], check=False, capture_output=True, text=True, timeout=120,
                         cwd=colab["tmp"], env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[:2] == ["True", "True"], out.stdout
    assert "torch" in colab["preinstalled"] and "ipykernel" in colab["preinstalled"]
    assert "course_lib" not in " ".join(colab["preinstalled"]).lower()


def test_notebooks_01_and_02_run_after_the_setup_cell_installs_the_wheel(colab, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(colab["jupyter_path"]))
    workdir = colab["tmp"] / "content"  # Colab's working folder
    workdir.mkdir()
    timings = dict(colab["timings"])
    for name in NOTEBOOKS:
        nb = solution_filled(nbrun.RELEASE_DIR / name, nbrun.SOURCE_DIR / name)
        probe = nbformat_cell("import course_lib, importlib.metadata as m\n"
                              "print('FROM', course_lib.__file__)\n"
                              "print('URL', m.distribution('course_lib').read_text('direct_url.json'))")
        nb.cells.append(probe)
        t = time.monotonic()
        NotebookClient(nb, timeout=600, kernel_name="colab", allow_errors=True,
                       resources={"metadata": {"path": str(workdir)}}).execute()
        timings[f"run {name}"] = time.monotonic() - t
        errors = [f"{nbrun.describe(nb, i)}: {nbrun.error_of(c)}" for i, c in enumerate(nb.cells)
                  if c.cell_type == "code" and nbrun.error_of(c)]
        assert not errors, f"{name} in the fresh environment:\n" + "\n".join(errors)
        text = {i: "".join(o.get("text", "") for o in c.get("outputs", [])) for i, c in enumerate(nb.cells)}
        setup = next(i for i, c in enumerate(nb.cells) if nbmeta.grade_id(c) == "setup")
        assert "course_lib 0.1.0 ready" in text[setup], text[setup]
        tests = [i for i, c in enumerate(nb.cells) if nbmeta.is_autograded_test(c)]
        assert tests and all("PASSED" in text[i] for i in tests), {nbrun.describe(nb, i): text[i] for i in tests}
        where = text[len(nb.cells) - 1]
        assert f"FROM {colab['site']}" in where and str(nbrun.ROOT / "src") not in where, where
        assert colab["wheel"].name in where, where
    print("fresh-env timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))


def nbformat_cell(source: str):
    import nbformat

    return nbformat.v4.new_code_cell(source)


def test_the_submit_helper_installs_nbgrader_on_colab_and_validates(colab, monkeypatch):
    """``course_lib.submit()`` on Colab: nbgrader is not there, so its validator is installed
    (nbgrader without its dependencies, plus the small modules it imports that are missing),
    then a solved notebook validates as passing in the Colab-like kernel."""
    monkeypatch.setenv("JUPYTER_PATH", str(colab["jupyter_path"]))
    workdir = colab["tmp"] / "content-validate"
    nbrun.write(solution_filled(nbrun.RELEASE_DIR / NOTEBOOKS[0], nbrun.SOURCE_DIR / NOTEBOOKS[0]),
                workdir / NOTEBOOKS[0])
    import nbformat

    release = nbformat.read(nbrun.RELEASE_DIR / NOTEBOOKS[0], as_version=4)
    setup = next(c for c in release.cells if nbmeta.grade_id(c) == "setup")
    probe = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(setup.source),
        nbformat.v4.new_code_cell(
            "import importlib.util\n"
            "print('NBGRADER BEFORE', importlib.util.find_spec('nbgrader') is not None)\n"
            "from course_lib.student.validate import load_validator, validate_notebook\n"
            f"report = validate_notebook({NOTEBOOKS[0]!r}, validator=load_validator())\n"
            "print('STATUS', report.status, report.n_tests, [p.line() for p in report.problems])"),
    ])
    t = time.monotonic()
    NotebookClient(probe, timeout=600, kernel_name="colab", allow_errors=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    errors = [nbrun.error_of(c) for c in probe.cells if nbrun.error_of(c)]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in probe.cells[1].outputs)
    assert "NBGRADER BEFORE False" in text and "Installing nbgrader 0.9.6" in text, text
    assert "STATUS passed 4 []" in text, text
    print(f"install nbgrader on the Colab stand-in and validate 01: {time.monotonic() - t:.0f} s")
