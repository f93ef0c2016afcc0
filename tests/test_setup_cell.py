"""Every notebook opens with the same locked setup cell, made from one template, the pinned
course_lib version and the one repository setting in _config.yml.

What the cell does when it runs is tested in tests/test_bootstrap.py (decisions)
and tests/test_fresh_env.py (the real wheel, a laptop and Colab).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import nbformat
import pytest

import course_lib
from course_lib.student.bootstrap import ensure_course_lib
from course_lib.instructor import stamp, student_repo
from course_lib.instructor.setup_cell import SETUP_GRADE_ID, generated_for, install_source, setup_cell_source, sync

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "source_notebooks").glob("*/*.ipynb")) + sorted((ROOT / "release").glob("*/*.ipynb"))
PUBLIC = "https://github.com/backprop-course/ps1-student"


def _config(tmp_path: Path, repository: str) -> Path:
    """A copy of _config.yml with its repository section replaced (the instructor's one edit)."""
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    start = text.index("\nrepository:\n") + 1
    end = text.index("\n\n", start)
    path = tmp_path / "_config.yml"
    path.write_text(text[:start] + repository.rstrip("\n") + text[end:], encoding="utf-8")
    return path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_setup_cell_comes_from_the_setting(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    meta = first_code.metadata.get("nbgrader", {})
    assert meta.get("grade_id") == SETUP_GRADE_ID and meta.get("locked"), "the first code cell must be the locked setup cell"
    assert first_code.source == setup_cell_source(), (
        f"{path.name}: setup cell differs from the setting; run `make release`")


def test_the_cell_holds_the_bootstrap_and_pins_this_course_lib():
    cell = setup_cell_source()
    assert inspect.getsource(ensure_course_lib).rstrip() in cell
    version = course_lib.__version__
    assert f"ensure_course_lib({version!r}, '')" in cell and f"setup_notebook(version={version!r})" in cell
    assert cell.index("ensure_course_lib(") < cell.index("import course_lib")  # installed before it is imported
    assert len(cell.splitlines()) <= 45, "keep the setup cell short"
    compile(cell, "<setup cell>", "exec")


def test_unset_setting_means_no_install_url_and_no_colab_link():
    repo = student_repo.read()
    assert repo.url == "" and install_source() == ""
    assert repo.colab_url("01_hand_gradients") is None


def test_a_public_setting_points_the_cell_into_the_student_repository(tmp_path):
    config = _config(tmp_path, f"repository:\n  url: {PUBLIC}.git\n  path_to_book: \"\"\n  branch: spring\n")
    wheel = f"course_lib-{course_lib.__version__}-py3-none-any.whl"
    assert install_source(config) == f"{PUBLIC}/raw/spring/{wheel}"
    assert f"ensure_course_lib({course_lib.__version__!r}, '{PUBLIC}/raw/spring/{wheel}')" in setup_cell_source(config)
    assert student_repo.read(config).colab_url("03_mlp") == (
        "https://colab.research.google.com/github/backprop-course/ps1-student/blob/spring/ps1/03_mlp.ipynb")
    # the instructor's one edit, then `make release`: every setup cell is rewritten
    nb_path = tmp_path / "01.ipynb"
    nb_path.write_bytes((ROOT / "source_notebooks" / "ps1" / "01_hand_gradients.ipynb").read_bytes())
    assert sync([nb_path], config) == [nb_path] and sync([nb_path], config) == []
    setup = next(c for c in nbformat.read(nb_path, as_version=4).cells if c.cell_type == "code")
    assert PUBLIC + "/raw/spring/" in setup.source


def test_other_hosts_and_an_explicit_wheel_url(tmp_path):
    gitlab = student_repo.StudentRepository("https://gitlab.com/course/ps1-student/")
    assert gitlab.wheel_url("1.2.3") == "https://gitlab.com/course/ps1-student/-/raw/main/course_lib-1.2.3-py3-none-any.whl"
    assert gitlab.colab_url("01_hand_gradients") is None        # Colab opens GitHub notebooks only
    with pytest.raises(ValueError, match="wheel_url"):
        student_repo.StudentRepository("https://git.example.org/ps1").wheel_url("1.2.3")
    with pytest.raises(ValueError, match="https"):
        student_repo.StudentRepository("http://github.com/course/ps1-student")
    config = _config(tmp_path, "repository:\n  url: \"\"\n  branch: main\n"
                               "  wheel_url: https://lms.example.edu/files/course_lib-{version}-py3-none-any.whl\n")
    assert install_source(config, "2.0.0") == "https://lms.example.edu/files/course_lib-2.0.0-py3-none-any.whl"


def test_a_cell_of_another_release_is_recognised_and_an_edited_one_is_not():
    assert generated_for(setup_cell_source()) == (course_lib.__version__, "")
    other = setup_cell_source(version="0.0.9", url=f"{PUBLIC}/raw/main/course_lib-0.0.9-py3-none-any.whl")
    assert generated_for(other) == ("0.0.9", f"{PUBLIC}/raw/main/course_lib-0.0.9-py3-none-any.whl")
    assert generated_for(other.replace("NBGRADER_EXECUTION", "NOTHING")) is None
    assert generated_for(other + "\nimport os") is None
    assert generated_for("import course_lib") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stamped_with_the_version_their_setup_cell_pins(path):
    """``metadata.course_lib.version``: written into the source by `make release`, kept by nbgrader."""
    assert stamp.released_version(path) == course_lib.__version__ == \
        generated_for(next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"))[0]


def test_sync_stamps_an_unstamped_notebook(tmp_path):
    nb = nbformat.read(ROOT / "source_notebooks" / "ps1" / "01_hand_gradients.ipynb", as_version=4)
    del nb.metadata["course_lib"]
    nbformat.write(nb, str(tmp_path / "01.ipynb"))
    assert sync([tmp_path / "01.ipynb"]) == [tmp_path / "01.ipynb"]
    assert stamp.released_version(tmp_path / "01.ipynb") == course_lib.__version__
