"""course_lib.engine.load_value: the student's Value from notebook 02, with
clear failures for a missing, corrupt, crashing or wrong notebook."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_lib import engine
from course_lib.checks import CheckFailure
from course_lib.engine import engine_cells, load_cells, load_value

ROOT = Path(__file__).resolve().parents[1]
SOURCE_02 = ROOT / "source_notebooks" / "ps1" / "02_autograd.ipynb"
RELEASE_02 = ROOT / "release" / "ps1" / "02_autograd.ipynb"


def _nb() -> dict:
    return json.loads(SOURCE_02.read_text(encoding="utf-8"))


def _cell(nb: dict, grade_id: str) -> dict:
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _write(folder: Path, nb: dict) -> Path:
    path = folder / "02_autograd.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text


def test_loads_the_solution_and_checks_it(capsys):
    Value = load_value(SOURCE_02)
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a.tanh()
    c.backward()
    assert a.grad == pytest.approx(-3.0 + 1 - __import__("math").tanh(2.0) ** 2)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "passes notebook 02's checks" in out
    assert "PASSED" not in out  # the checks ran silently


def test_default_is_the_notebook_beside_the_working_directory(monkeypatch, capsys):
    monkeypatch.chdir(SOURCE_02.parent)
    Value = load_value()
    assert Value(1.0).data == 1.0
    assert load_value(folder=SOURCE_02.parent, quiet=True) is not Value  # a fresh class each time
    assert capsys.readouterr().out.count("Loaded your Value") == 1


def test_only_the_engine_cells_run(tmp_path):
    nb = _nb()
    marker = tmp_path / "ran.txt"
    nb["cells"].insert(4, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                           "source": f"open({str(marker)!r}, 'w').write('x')\nraise RuntimeError('boom')"})
    labels = [c.label for c in engine_cells(_write(tmp_path, nb))]
    assert labels[0] == "value_class" and "backward" in labels and "tanh" in labels
    load_value(folder=tmp_path, quiet=True)
    assert not marker.exists()


def test_missing_notebook_says_where_it_looked(tmp_path):
    (tmp_path / "03_mlp.ipynb").write_text("{}")
    with pytest.raises(CheckFailure) as info:
        load_value(folder=tmp_path)
    text = str(info.value)
    assert "could not find 02_autograd.ipynb" in text and str(tmp_path) in text
    assert "03_mlp.ipynb" in text and "folder=" in text


def test_corrupt_json(tmp_path):
    (tmp_path / "02_autograd.ipynb").write_text(SOURCE_02.read_text()[:5000])
    with pytest.raises(CheckFailure, match="not a valid notebook: its JSON is broken at line"):
        load_value(folder=tmp_path)


def test_json_that_is_not_a_notebook(tmp_path):
    (tmp_path / "02_autograd.ipynb").write_text("[1, 2, 3]")
    with pytest.raises(CheckFailure, match="not a Jupyter notebook"):
        load_value(folder=tmp_path)


def test_missing_value_cell(tmp_path):
    nb = _nb()
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "value_class"]
    _write(tmp_path, nb)
    with pytest.raises(CheckFailure, match="no cell with grade_id 'value_class'"):
        load_value(folder=tmp_path)


def test_a_cell_that_raises_is_named(tmp_path):
    nb = _nb()
    cell = _cell(nb, "mul")
    _set_source(cell, "x = 1 / 0\n" + "".join(cell["source"]))
    _write(tmp_path, nb)
    with pytest.raises(CheckFailure) as info:
        load_value(folder=tmp_path)
    text = str(info.value)
    assert "cell 'mul'" in text and "ZeroDivisionError" in text and "x = 1 / 0" in text
    assert "Traceback" not in text


def test_a_cell_with_a_syntax_error_is_named(tmp_path):
    nb = _nb()
    _set_source(_cell(nb, "pow"), "def __pow__(self, other)\n    return self\n")
    _write(tmp_path, nb)
    with pytest.raises(CheckFailure, match="cell 'pow' of 02_autograd.ipynb raised SyntaxError"):
        load_value(folder=tmp_path)


def test_a_cell_that_never_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "CELL_BUDGET_S", 0.3)
    nb = _nb()
    _set_source(_cell(nb, "relu"), "while True:\n    pass\n")
    _write(tmp_path, nb)
    with pytest.raises(CheckFailure, match="cell 'relu' of 02_autograd.ipynb did not finish"):
        load_value(folder=tmp_path)


def test_magics_in_an_engine_cell_are_ignored(tmp_path):
    nb = _nb()
    cell = _cell(nb, "tanh")
    _set_source(cell, "%load_ext autoreload\n!echo hi\n" + "".join(cell["source"]))
    _write(tmp_path, nb)
    assert load_value(folder=tmp_path, quiet=True)(0.5).tanh().data == pytest.approx(0.46211715726)


def test_a_wrong_engine_is_refused_first_and_clearly(tmp_path):
    nb = _nb()
    cell = _cell(nb, "mul")
    _set_source(cell, "".join(cell["source"]).replace("self.grad += other.data * out.grad",
                                                     "self.grad = other.data * out.grad"))
    _write(tmp_path, nb)
    with pytest.raises(CheckFailure) as info:
        load_value(folder=tmp_path)
    text = str(info.value)
    assert text.startswith("Your Value from 02_autograd.ipynb does not pass its own checks yet: Value.__mul__")
    assert text.endswith("Fix notebook 02 first: save it, then run load_value() again and this cell.")
    assert load_value(folder=tmp_path, check=False, quiet=True)  # loading alone still works


@pytest.mark.skipif(not RELEASE_02.exists(), reason="no release notebook 02 generated")
def test_the_blank_release_notebook_is_not_implemented(tmp_path):
    shutil.copy(RELEASE_02, tmp_path / "02_autograd.ipynb")
    with pytest.raises(CheckFailure) as info:
        load_value(folder=tmp_path)
    text = str(info.value)
    assert text.startswith("Your Value from 02_autograd.ipynb does not pass its own checks yet")
    assert "not implemented yet" in text


def test_load_cells_selects_by_grade_id_and_tag(tmp_path):
    ns = load_cells(SOURCE_02, grade_ids=("value_class",))
    assert not hasattr(ns["Value"], "backward")  # only the given class
    ns = load_cells("02_autograd.ipynb", folder=SOURCE_02.parent, grade_ids=("value_class", "mul"))
    assert (ns["Value"](2.0) * 3).data == 6.0
    assert load_cells(SOURCE_02, tags=("no such tag",)) == {"__name__": "student_notebook",
                                                           "__builtins__": __builtins__}


def test_a_renamed_value_class(tmp_path):
    nb = _nb()
    cell = _cell(nb, "value_class")
    _set_source(cell, "".join(cell["source"]).replace("class Value:", "class MyValue:"))
    nb["cells"] = [c for c in nb["cells"] if "engine" not in c["metadata"].get("tags", [])]
    _write(tmp_path, nb)
    with pytest.raises(CheckFailure, match="no class named Value"):
        load_value(folder=tmp_path, check=False)


def test_not_strict_prints_the_reason_and_returns_none(tmp_path, capsys):
    assert load_value(folder=tmp_path, strict=False) is None
    out = capsys.readouterr().out
    assert out.startswith("VALUE NOT LOADED. load_value: could not find 02_autograd.ipynb")
    shutil.copy(RELEASE_02, tmp_path / "02_autograd.ipynb")       # the blank release: not implemented
    assert load_value(folder=tmp_path, strict=False) is None
    assert "does not pass its own checks yet" in capsys.readouterr().out


def test_grading_one_notebook_alone_finds_the_submitted_sibling(tmp_path, monkeypatch):
    graded = tmp_path / "autograded" / "alice" / "ps1"
    submitted = tmp_path / "submitted" / "alice" / "ps1"
    graded.mkdir(parents=True)
    submitted.mkdir(parents=True)
    shutil.copy(SOURCE_02, submitted / "02_autograd.ipynb")
    monkeypatch.chdir(graded)
    Value = load_value(quiet=True)
    assert (Value(2.0) * 3).data == 6.0
