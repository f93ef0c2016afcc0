"""The wheel and the student kit (``python -m course_lib.instructor.kit``, ``make kit``).

The kit is built once into a scratch folder (a few seconds: ``pip wheel`` of
``src/``). It must hold no answer (the leak scan of tests/test_release.py, on
the wheel, the folder and the zip), be laid out as the public student
repository, carry one version everywhere, and install into a fresh venv.
Running the notebooks from it is tests/test_fresh_env.py.
"""
from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

import course_lib
import freshenv
import nbrun
from course_lib.instructor import kit, leaks, stamp

ROOT = nbrun.ROOT
VERSION = course_lib.__version__
WHEEL = f"course_lib-{VERSION}-py3-none-any.whl"
PLACEHOLDER = "example-course"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    return kit.build_kit(ROOT, tmp_path_factory.mktemp("dist"))


def _secret() -> dict[str, str]:
    return leaks.secret_lines(nbrun.source_notebooks())


def test_one_version_string(built):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "course_lib.__version__"}
    assert built["wheel"].name == WHEEL
    with zipfile.ZipFile(built["wheel"]) as zf:
        meta = zf.read(f"course_lib-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in meta


def test_the_wheel_holds_course_lib_and_no_answer(built):
    with zipfile.ZipFile(built["wheel"]) as zf:
        names = zf.namelist()
        entry_points = zf.read(f"course_lib-{VERSION}.dist-info/entry_points.txt").decode()
    assert "course_lib/student/bootstrap.py" in names and "course_lib/checks/hand_gradients.py" in names
    assert not [n for n in names if not n.startswith(("course_lib/", f"course_lib-{VERSION}.dist-info/"))], names
    assert not [n for n in names if n.endswith((".ipynb", ".pyc")) or "source_notebooks" in n]
    assert "course-submit = course_lib.student.submit:main" in entry_points
    assert leaks.scan(leaks.archive_files(built["wheel"]), _secret()) == []


def test_the_scan_finds_an_answer_planted_in_a_wheel(built, tmp_path):
    """The wheel's scan can fail: a hidden-test line and a written answer's rubric copied into a module are found."""
    secret = _secret()
    hidden = next(line for line, where in secret.items() if where.startswith("hidden test"))
    answer = next(line for line in secret if line.startswith("**Rubric ("))
    doctored = tmp_path / WHEEL
    with zipfile.ZipFile(built["wheel"]) as src, zipfile.ZipFile(doctored, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "course_lib/checks/hand_gradients.py":
                data += f"\n    {answer}\n{hidden}\n".encode()
            dst.writestr(info, data)
    found = leaks.scan_path(doctored, nbrun.source_notebooks())
    assert len(found) == 2 and all(f.startswith("course_lib/checks/hand_gradients.py line") for f in found), found


def test_the_wheel_installs_into_a_fresh_venv(built, tmp_path):
    """pip installs the wheel (its dependencies are tests/test_fresh_env.py's business) and it imports there."""
    venv = tmp_path / "venv"
    python, site = freshenv.new_venv(venv)
    env = freshenv.clean_env(venv)
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(built["wheel"])],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = subprocess.run([str(python), "-c", "import course_lib; print(course_lib.__version__, course_lib.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert probe.returncode == 0, probe.stderr[-2000:]
    version, where = probe.stdout.split()
    assert version == VERSION and where.startswith(str(site)), probe.stdout
    assert (venv / "bin" / "course-submit").is_file() and (venv / "bin" / "course-grade").is_file()


def test_the_kit_is_laid_out_as_the_public_student_repository(built):
    folder = built["folder"]
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    notebooks = [p.name for p in nbrun.release_notebooks()]
    assert files == sorted(["START_HERE.md", WHEEL, *(f"ps1/{n}" for n in notebooks)]), files
    for name in notebooks:
        assert (folder / "ps1" / name).read_bytes() == (nbrun.RELEASE_DIR / name).read_bytes()
        assert stamp.released_version(folder / "ps1" / name) == VERSION
    assert (folder / WHEEL).read_bytes() == built["wheel"].read_bytes()
    assert leaks.scan(leaks.folder_files(folder), _secret()) == []


def test_start_here_covers_the_laptop_and_colab(built):
    page = (built["folder"] / "START_HERE.md").read_text(encoding="utf-8")
    assert f"pip install {WHEEL}" in page and "python3 -m venv" in page and "jupyter lab" in page
    assert "## On Colab" in page and f"upload `{WHEEL}`" in page and "setup cell" in page
    assert "course-submit ps1 --student" in page
    assert "colab.research.google.com" not in page          # the setting is unset here: no links to nowhere
    assert len(page.splitlines()) < 70, "START_HERE.md is one page"


def test_the_zip_is_the_kit_folder(built):
    folder = built["folder"]
    with zipfile.ZipFile(built["zip"]) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    want = {f"ps1-student/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert members == want
    assert leaks.scan(leaks.archive_files(built["zip"]), _secret()) == []


def test_the_kit_is_reproducible(built, tmp_path):
    again = kit.build_kit(ROOT, tmp_path / "dist")
    assert again["wheel"].read_bytes() == built["wheel"].read_bytes()
    assert again["zip"].read_bytes() == built["zip"].read_bytes()


def test_a_stale_release_is_refused(tmp_path):
    release = tmp_path / "ps1"
    release.mkdir()
    for path in nbrun.release_notebooks():
        (release / path.name).write_bytes(path.read_bytes())
    assert len(kit.check_release(release, ROOT / "_config.yml", VERSION)) == len(nbrun.release_notebooks())
    with pytest.raises(kit.KitError, match="stamped 0.1.0, not 9.9.9|stamped .*, not 9.9.9"):
        kit.check_release(release, ROOT / "_config.yml", "9.9.9")
    nb = nbformat.read(release / "01_hand_gradients.ipynb", as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").source += "\n# edited"
    nbformat.write(nb, str(release / "01_hand_gradients.ipynb"))
    with pytest.raises(kit.KitError, match="01_hand_gradients.ipynb: its setup cell"):
        kit.check_release(release, ROOT / "_config.yml", VERSION)


def test_a_published_setting_gives_start_here_colab_links():
    from course_lib.instructor.student_repo import StudentRepository

    repo = StudentRepository("https://github.com/backprop-course/ps1-student")
    page = kit.start_here(VERSION, repo, ["01_hand_gradients", "02_autograd"])
    assert ("(https://colab.research.google.com/github/backprop-course/ps1-student/blob/main/ps1/"
            "02_autograd.ipynb)") in page
    assert "installs `course_lib` from this repository" in page


def test_no_placeholder_address_where_students_read(built):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    students = readme[readme.index("## For students"):readme.index("## For instructors")]
    assert "START_HERE.md" in students and WHEEL.replace(VERSION, "<version>") in students
    places = {"README.md (For students)": students, "_config.yml": (ROOT / "_config.yml").read_text()}
    places.update({str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
                   for p in [*nbrun.release_notebooks(), *sorted((ROOT / "book").glob("**/*.md"))]
                   if "node_modules" not in p.parts and "vendor" not in p.parts})
    places.update({f"kit/{p.relative_to(built['folder'])}": p.read_text(encoding="utf-8")
                   for p in built["folder"].rglob("*") if p.suffix in (".md", ".ipynb")})
    assert [name for name, text in places.items() if PLACEHOLDER in text] == []
    assert not re.search(r"git\+https://", students), "students install the wheel, not this repository"


def test_make_all_builds_the_kit():
    out = subprocess.run(["make", "-n", "all"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"python -m course_lib\.instructor\.kit\s*$", out.stdout, re.MULTILINE), out.stdout
    wheel = subprocess.run(["make", "-n", "wheel"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "python -m course_lib.instructor.kit --wheel-only" in wheel.stdout
