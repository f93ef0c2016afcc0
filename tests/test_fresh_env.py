"""A fresh machine: the student kit, unzipped, is all a student needs; on a laptop and on Colab.

What stands in for the student's machine, and why it is fair:

- the kit is built from this repository (``course_lib.instructor.kit``, as
  ``make kit``) and unzipped: ``ps1-student/`` with ``START_HERE.md``, the wheel
  and ``ps1/``. No repository checkout is on any path the kernels see;
- each machine is a new virtual environment with nothing but Python and pip.
  What is heavy and already on this machine's disk is not installed again:
  torch, torchvision and the Jupyter kernel (with what they depend on) are
  exposed read-only through a ``.pth`` file, which pip sees as installed
  (Colab has them preinstalled the same way; on a laptop pip would take them
  from the index, ~80 s and 5.5 GB here). Everything else course_lib needs,
  pip resolves from the package index as a student's pip does;
- nobody runs ``pip install`` by hand: the notebook's own setup cell does,
  through its bootstrap. On the **laptop** the kernel runs in ``ps1/`` and the
  setup cell installs the wheel it finds one folder up; on **Colab** the kernel
  starts with ``google.colab`` imported (as Colab's does) in a ``/content``-like
  folder where the student uploaded the wheel;
- the notebooks are the release notebooks with the source's answers filled in
  (``solution_filled``): every cell runs without error and every check cell
  prints ``PASSED``. A notebook released with another course_lib version gets
  the warning that says what to run, and nothing is installed behind its back.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from datetime import datetime
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement

import course_lib
import freshenv
import nbrun
from course_lib import nbmeta
from course_lib.instructor import kit, stamp
from course_lib.instructor.release import solution_filled
from course_lib.instructor.setup_cell import setup_cell_source

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

VERSION = course_lib.__version__
WHEEL = f"course_lib-{VERSION}-py3-none-any.whl"
OTHER = "9.9.9"   # a release of the notebooks that is not this course_lib's
#: What Colab has preinstalled, and what this test takes from the local disk, with their dependencies.
PREINSTALLED = ("torch", "torchvision", "ipykernel")
NB01, NB02 = "01_hand_gradients.ipynb", "02_autograd.ipynb"
COLAB_STARTUP = """# Stand-in for Colab: its kernels start with google.colab imported.
import sys, types
_google = sys.modules.setdefault("google", types.ModuleType("google"))
_google.colab = sys.modules.setdefault("google.colab", types.ModuleType("google.colab"))
"""
PROBE = ("import course_lib, importlib.metadata as m\n"
         "print('FROM', course_lib.__file__)\n"
         "print('URL', m.distribution('course_lib').read_text('direct_url.json'))")


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


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The kit, built and unzipped, and what both machines share (the preinstalled packages)."""
    tmp = tmp_path_factory.mktemp("fresh-machine")
    t = time.monotonic()
    built = kit.build_kit(nbrun.ROOT, tmp / "dist")
    timings = {"build the kit": time.monotonic() - t}
    with zipfile.ZipFile(built["zip"]) as zf:
        zf.extractall(tmp / "unzipped")
    preinstalled = _preinstalled_folder(tmp / "preinstalled")
    return {"tmp": tmp, "kit": tmp / "unzipped" / kit.KIT_NAME, "preinstalled": preinstalled,
            "timings": timings}


def _environment(machine: dict, name: str, colab: bool) -> dict:
    """A new venv ``name`` and a Jupyter kernel ``name`` that runs in it (Colab-like if ``colab``)."""
    tmp = machine["tmp"] / name
    t = time.monotonic()
    venv = tmp / "venv"
    python, site = freshenv.new_venv(venv)
    (site / "00-preinstalled.pth").write_text(str(machine["tmp"] / "preinstalled") + "\n")
    env = freshenv.clean_env(venv, PYTHONPATH="")
    if colab:
        ipython = tmp / "ipython"
        (ipython / "profile_default" / "startup").mkdir(parents=True)
        (ipython / "profile_default" / "startup" / "00-colab.py").write_text(COLAB_STARTUP)
        env["IPYTHONDIR"] = str(ipython)
    spec = tmp / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python", "env": env}))
    return {"name": name, "python": python, "site": site, "env": env, "jupyter_path": tmp / "jupyter",
            "tmp": tmp, "created": time.monotonic() - t}


@pytest.fixture(scope="module")
def laptop(machine) -> dict:
    return _environment(machine, "laptop", colab=False)


@pytest.fixture(scope="module")
def colab(machine) -> dict:
    return _environment(machine, "colab", colab=True)


def _run(env: dict, nb, workdir: Path, monkeypatch) -> tuple[object, dict[int, str]]:
    """Execute ``nb`` in ``env``'s kernel in ``workdir``; every cell runs. Returns it and each cell's text output."""
    monkeypatch.setenv("JUPYTER_PATH", str(env["jupyter_path"]))
    NotebookClient(nb, timeout=900, kernel_name=env["name"], allow_errors=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    text = {i: "".join(o.get("text", "") for o in c.get("outputs", [])) for i, c in enumerate(nb.cells)}
    return nb, text


def _seconds(cell) -> float:
    """How long a cell ran, from the timing nbclient records in its metadata."""
    ex = cell.metadata.get("execution", {})
    start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds() if start and end else float("nan")


def _solved(name: str):
    nb = solution_filled(nbrun.RELEASE_DIR / name, nbrun.SOURCE_DIR / name)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    return nb


def _assert_checks_pass(nb, text: dict[int, str], name: str) -> int:
    errors = [f"{nbrun.describe(nb, i)}: {nbrun.error_of(c)}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" and nbrun.error_of(c)]
    assert not errors, f"{name} on the fresh machine:\n" + "\n".join(errors)
    tests = [i for i, c in enumerate(nb.cells) if nbmeta.is_autograded_test(c)]
    assert tests and all("PASSED" in text[i] for i in tests), {nbrun.describe(nb, i): text[i] for i in tests}
    return next(i for i, c in enumerate(nb.cells) if nbmeta.grade_id(c) == "setup")


def test_the_fresh_environments_start_without_course_lib(machine, laptop, colab):
    probe = ("import importlib.util, torch; print(importlib.util.find_spec('course_lib') is None, "
             "importlib.util.find_spec('nbgrader') is None, torch.__version__)")
    for env in (laptop, colab):
        out = subprocess.run([str(env["python"]), "-c", probe], capture_output=True, text=True, timeout=120,
                             cwd=machine["tmp"], env=env["env"])
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split()[:2] == ["True", "True"], out.stdout
    assert "torch" in machine["preinstalled"] and "ipykernel" in machine["preinstalled"]
    assert "course_lib" not in " ".join(machine["preinstalled"]).lower()


@pytest.fixture(scope="module")
def laptop_01(machine, laptop):
    """Notebook 01, solved, run in the unzipped kit's ps1/ on the laptop: the setup cell installs the kit's wheel."""
    mp = pytest.MonkeyPatch()
    try:
        t = time.monotonic()
        nb, text = _run(laptop, _solved(NB01), machine["kit"] / "ps1", mp)
        return {"nb": nb, "text": text, "seconds": time.monotonic() - t}
    finally:
        mp.undo()


def test_laptop_the_setup_cell_installs_the_kit_wheel_and_notebook_01_passes(machine, laptop, laptop_01):
    nb, text = laptop_01["nb"], laptop_01["text"]
    setup = _assert_checks_pass(nb, text, NB01)
    wheel = machine["kit"] / WHEEL
    assert f"Installing course_lib {VERSION} from {wheel.resolve().as_uri()}" in text[setup], text[setup]
    assert f"course_lib {VERSION} ready" in text[setup] and "WARNING" not in text[setup], text[setup]
    where = text[len(nb.cells) - 1]
    assert f"FROM {laptop['site']}" in where and str(nbrun.ROOT / "src") not in where, where
    assert WHEEL in where, where
    install = _seconds(nb.cells[setup])
    print(f"\nfresh laptop venv: created in {laptop['created']:.1f} s; the setup cell installed the kit's wheel "
          f"and its dependencies in {install:.0f} s; notebook 01 ran in {laptop_01['seconds']:.0f} s "
          f"(kit built in {machine['timings']['build the kit']:.1f} s)")


def test_laptop_a_notebook_released_with_another_version_gets_the_warning(machine, laptop, laptop_01, monkeypatch):
    nb = _solved(NB01)
    stamp.stamp(nb, OTHER)
    setup = next(c for c in nb.cells if nbmeta.grade_id(c) == "setup")
    setup.source = setup_cell_source(version=OTHER, url="")     # as `make release` of that version wrote it
    nb, text = _run(laptop, nb, machine["kit"] / "ps1", monkeypatch)
    i = _assert_checks_pass(nb, text, "01 released with another version")
    assert "Installing" not in text[i], text[i]
    assert (f"WARNING: this notebook was released with course_lib {OTHER}, but this kernel has course_lib {VERSION}"
            in text[i]), text[i]
    assert f"pip install course_lib-{OTHER}-py3-none-any.whl" in text[i] and "restart the kernel" in text[i]
    assert not [o for o in nb.cells[i].outputs if o.get("name") == "stderr"], "the setup cell keeps stderr clean"
    out = subprocess.run([str(laptop["python"]), "-c", "import course_lib; print(course_lib.__version__)"],
                         capture_output=True, text=True, env=laptop["env"], timeout=60, cwd=machine["tmp"])
    assert out.stdout.strip() == VERSION, "nothing else was installed"


def test_colab_the_setup_cell_asks_for_the_wheel_then_installs_the_upload(machine, colab, monkeypatch):
    content = colab["tmp"] / "content"        # Colab's working folder, the Files pane
    content.mkdir()
    release_01 = nbformat.read(nbrun.RELEASE_DIR / NB01, as_version=4)
    setup_cell = next(c for c in release_01.cells if nbmeta.grade_id(c) == "setup")
    only_setup = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup_cell.source)])
    nb, text = _run(colab, only_setup, content, monkeypatch)
    assert nbrun.error_of(nb.cells[0]) and f"upload {WHEEL}" in nbrun.error_of(nb.cells[0]), nb.cells[0].outputs

    shutil.copy(machine["kit"] / WHEEL, content / WHEEL)   # the student uploads the kit's wheel
    timings = {}
    for name in (NB01, NB02):
        t = time.monotonic()
        nb, text = _run(colab, _solved(name), content, monkeypatch)
        timings[name] = time.monotonic() - t
        setup = _assert_checks_pass(nb, text, name)
        assert f"course_lib {VERSION} ready" in text[setup] and "Colab" in text[setup], text[setup]
        first = name == NB01    # installed by the first notebook of the session, then left alone
        assert (f"Installing course_lib {VERSION} from {(content / WHEEL).as_uri()}" in text[setup]) is first, text[setup]
        where = text[len(nb.cells) - 1]
        assert f"FROM {colab['site']}" in where and WHEEL in where, where
    print(f"\nColab stand-in: notebook 01 (setup cell installs the uploaded wheel) {timings[NB01]:.0f} s, "
          f"notebook 02 {timings[NB02]:.0f} s")


def test_the_submit_helper_installs_nbgrader_on_colab_and_validates(machine, colab, monkeypatch):
    """``course_lib.submit()`` on Colab: nbgrader is not there, so its validator is installed
    (nbgrader without its dependencies, plus the small modules it imports that are missing),
    then a solved notebook validates as passing in the Colab-like kernel."""
    workdir = colab["tmp"] / "content-validate"
    nbrun.write(solution_filled(nbrun.RELEASE_DIR / NB01, nbrun.SOURCE_DIR / NB01), workdir / NB01)
    shutil.copy(machine["kit"] / WHEEL, workdir / WHEEL)
    release = nbformat.read(nbrun.RELEASE_DIR / NB01, as_version=4)
    setup = next(c for c in release.cells if nbmeta.grade_id(c) == "setup")
    probe = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(setup.source),
        nbformat.v4.new_code_cell(
            "import importlib.util\n"
            "print('NBGRADER BEFORE', importlib.util.find_spec('nbgrader') is not None)\n"
            "from course_lib.student.validate import load_validator, validate_notebook\n"
            f"report = validate_notebook({NB01!r}, validator=load_validator())\n"
            "print('STATUS', report.status, report.n_tests, [p.line() for p in report.problems])"),
    ])
    t = time.monotonic()
    nb, text = _run(colab, probe, workdir, monkeypatch)
    errors = [nbrun.error_of(c) for c in nb.cells if nbrun.error_of(c)]
    assert not errors, errors
    assert "NBGRADER BEFORE False" in text[1] and "Installing nbgrader 0.9.6" in text[1], text[1]
    assert "STATUS passed 4 []" in text[1], text[1]
    print(f"install nbgrader on the Colab stand-in and validate 01: {time.monotonic() - t:.0f} s")
