"""course_lib.instructor.tamper: the static scan for tampering in submissions.

No kernel is started: these tests read and edit the notebooks' JSON.
"""
from __future__ import annotations

import copy
import json

import nbformat
import pytest

import nbrun
from course_lib import nbmeta
from course_lib.instructor import tamper
from course_lib.instructor.release import solution_filled

RELEASES = nbrun.release_notebooks()
HOST = "03_mlp.ipynb"     # its test cells import check_linear & co. from course_lib.checks.layers
HOST_CELL = "linear"      # a solution cell of HOST


def _source_of(release_path):
    return nbrun.SOURCE_DIR / release_path.name


def _filled(name: str = HOST) -> nbformat.NotebookNode:
    return solution_filled(nbrun.RELEASE_DIR / name, nbrun.SOURCE_DIR / name)


def _with_snippet(snippet: str, name: str = HOST, gid: str = HOST_CELL) -> nbformat.NotebookNode:
    nb = _filled(name)
    cell = next(c for c in nb.cells if nbmeta.grade_id(c) == gid)
    assert nbmeta.is_solution(cell) and cell.cell_type == "code"
    cell.source = cell.source + "\n" + snippet
    return nb


def test_release_and_source_have_notebooks():
    assert RELEASES, "no release notebooks"
    assert (nbrun.RELEASE_DIR / HOST).is_file()


@pytest.mark.parametrize("release", RELEASES, ids=[p.name for p in RELEASES])
def test_solved_release_scans_clean(release):
    nb = solution_filled(release, _source_of(release))
    assert tamper.scan_notebook(nb) == []
    assert tamper.scan_notebook(nb, reference=_source_of(release)) == []
    assert tamper.scan_notebook(release) == []


HOSTILE = [
    # (snippet, expected kind)
    ("def check_linear(*args, **kwargs):\n    pass", "shadows-check"),
    ("check_linear = lambda *a, **k: None", "shadows-check"),
    ("class check_relu:\n    def __init__(self, *a): pass", "shadows-check"),
    ("from mystuff import check_softmax", "shadows-check"),
    ("def sneak():\n    global check_sgd\n    check_sgd = print", "shadows-check"),
    ("globals()['check_model'] = print", "shadows-check"),
    ("import course_lib.checks.layers as L\nL.check_linear = lambda *a: None", "patches-course_lib"),
    ("import course_lib.checks\nsetattr(course_lib.checks, 'layers', None)", "patches-course_lib"),
    ("import course_lib.checks._harness\ncourse_lib.checks._harness.CheckFailure = Exception",
     "patches-course_lib"),
    ("from course_lib.checks import layers\nlayers.__dict__.update(check_tanh=print)", "patches-course_lib"),
    ("from course_lib.checks import _harness as H\nH2 = H\ndelattr(H2, 'CheckFailure')", "patches-course_lib"),
    ("from unittest import mock\nmock.patch('course_lib.checks.layers.check_relu').start()", "patches-course_lib"),
    ("import nbgrader", "patches-nbgrader"),
    ("from nbgrader.preprocessors import OverwriteCells", "patches-nbgrader"),
    ("import sys\nsys.modules['course_lib.checks.layers'] = object()", "sys-modules"),
    ("import sys\ndel sys.modules['course_lib.checks']", "sys-modules"),
    ("import sys\nsys.path.insert(0, 'fake_libs')", "sys-modules"),
    ("import builtins\nbuiltins.print = lambda *a: None", "builtins"),
    ("__builtins__.AssertionError = Warning", "builtins"),
    ("float = lambda x: 1.5", "builtins"),
    ("import sys\nsys.settrace(lambda *a: None)", "tracing"),
    ("import os\nos.environ['COURSE_OFFLINE_WEIGHTS_TARGET'] = '0.0'", "grading-env"),
    ("import os\nos.environ.update({'NBGRADER_EXECUTION': 'autograde'})", "grading-env"),
    ("import os\nenv = os.environ\nenv.setdefault('COURSE_OFFLINE_WEIGHTS_TARGET', '0')", "grading-env"),
    ("import os\nos.putenv('COURSE_X', '1')", "grading-env"),
    ("import os\nkey = 'COURSE_' + 'X'\nos.environ[key] = '1'", "grading-env"),
    ("%env COURSE_OFFLINE_WEIGHTS_TARGET=0", "grading-env"),
    ("print(open('/etc/passwd').read())", "file-outside"),
    ("from pathlib import Path\nPath('~/.ssh/id_rsa').read_text()", "file-outside"),
    ("with open('../../gradebook.db', 'rb') as f:\n    f.read()", "file-outside"),
    ("import os\nos.remove('/etc/hosts')", "file-outside"),
    ("import shutil\nshutil.rmtree('..')", "file-outside"),
    ("from pathlib import Path\np = Path('data') / '..' / 'x'", "file-outside"),
    ("open('course_lib.py', 'w').write('x = 1')", "patches-course_lib"),
    ("import socket\nsocket.create_connection(('example.com', 80))", "network"),
    ("import urllib.request\nurllib.request.urlopen('http://example.com')", "network"),
    ("import requests", "network"),
    ("import http.client", "network"),
    ("import subprocess\nsubprocess.run(['ls'])", "subprocess"),
    ("subprocess.run(['rm', '-rf', 'x'])", "subprocess"),   # `import subprocess` is in the setup cell
    ("import os\nos.system('ls')", "subprocess"),
    ("!ls -la /", "subprocess"),
    ("%%bash\nls /", "subprocess"),
    ("exec('print(1)')", "dynamic-code"),
    ("eval('1 + 1')", "dynamic-code"),
    ("compile('x = 1', 'f', 'exec')", "dynamic-code"),
    ("__import__('os').system('ls')", "dynamic-code"),
    ("import importlib\nm = importlib.import_module('course_lib.checks.layers')", "dynamic-code"),
    ("import course_lib\nf = getattr(course_lib, 'checks')", "dynamic-code"),
    ("def f():\n    return f.__globals__", "dynamic-code"),
    ("import numpy\nnumpy.allclose = lambda *a, **k: True", "patches-library"),
    ("def broken(:\n    import course_lib.checks.layers as L", "unparsable"),
]


@pytest.mark.parametrize("snippet,kind", HOSTILE, ids=[f"{k}-{i}" for i, (_, k) in enumerate(HOSTILE)])
def test_hostile_snippet_is_flagged(snippet, kind):
    findings = tamper.scan_notebook(_with_snippet(snippet))
    assert kind in {f.kind for f in findings}, (snippet, findings)
    assert all(f.cell == HOST_CELL for f in findings), findings
    for f in findings:
        assert f.kind in tamper.KINDS and f.line >= 1 and f.why
        assert f.code == f.code.strip()


@pytest.mark.parametrize("source,kind", [("%%bash\nls /", "subprocess"),
                                         ("%%writefile ../evil.py\nx = 1", "file-outside"),
                                         ("%%time\nimport socket", "network")])
def test_cell_magic_replacing_a_solution_cell(source, kind):
    nb = _filled()
    cell = next(c for c in nb.cells if nbmeta.grade_id(c) == HOST_CELL)
    cell.source = source
    assert kind in {f.kind for f in tamper.scan_notebook(nb)}


def test_finding_points_at_the_line():
    findings = tamper.scan_notebook(_with_snippet("x = 1\nimport nbgrader"))
    (f,) = findings
    nb = _with_snippet("x = 1\nimport nbgrader")
    cell = next(c for c in nb.cells if nbmeta.grade_id(c) == HOST_CELL)
    assert nbmeta.source_lines(cell)[f.line - 1] == "import nbgrader"
    assert f.code == "import nbgrader" and f.kind == "patches-nbgrader"
    assert "patches-nbgrader" in str(f) and HOST_CELL in str(f)


INNOCENT = [
    "from course_lib.engine import load_value",
    "from course_lib.dream import jitter",
    "from course_lib.checks.layers import check_linear\ncheck_linear(Linear)",
    "with open('fashion_mlp.pt', 'rb') as f:\n    blob = f.read()",
    "import torch\ntorch.save({'w': 1}, 'fashion_mlp.pt')",
    "import os",
    "import os\nhome = os.environ.get('HOME')\ncuda = os.environ['CUDA_VISIBLE_DEVICES'] if 'X' in os.environ else None",
    "import os\nos.environ['OMP_NUM_THREADS'] = '1'",
    "import sys\nif 'google.colab' in sys.modules:\n    print('colab')",
    "import numpy as np\nparts = 'a/b/c'.split('/')\nx = np.zeros(3) / 2",
    "from pathlib import Path\np = Path('data') / 'weights.pt'",
    "import torch\ntorch.backends.cudnn.benchmark = True",
    "%matplotlib inline\n%time y = 1 + 1",
    "def forward(self, input):\n    input[0] = 1\n    return input",
    "class Helper:\n    def check_shape(self, x):\n        return x.shape",
    "import math\nimport random\nrandom.seed(0)\ntotal = sum(math.exp(v) for v in [1, 2])",
    "def broken(:\n    pass",   # does not parse, but nothing suspicious: it just fails when run
]


@pytest.mark.parametrize("snippet", INNOCENT, ids=[f"innocent-{i}" for i in range(len(INNOCENT))])
def test_innocent_snippet_is_not_flagged(snippet):
    assert tamper.scan_notebook(_with_snippet(snippet)) == []


def test_locked_cell_a_student_made_is_scanned_against_the_reference():
    nb = _filled()
    fake = nbformat.v4.new_code_cell("import nbgrader")
    fake.metadata["nbgrader"] = {"grade": False, "grade_id": "fake", "locked": True, "schema_version": 3,
                                 "solution": False}
    nb.cells.append(fake)
    assert tamper.scan_notebook(nb) == []   # without a reference a locked cell is trusted...
    found = tamper.scan_notebook(nb, reference=nbrun.SOURCE_DIR / HOST)
    assert [(f.cell, f.kind) for f in found] == [("fake", "patches-nbgrader")]   # ...with one, not


def test_edited_setup_cell_is_scanned_against_the_reference():
    nb = _filled()
    setup = next(c for c in nb.cells if nbmeta.grade_id(c) == "setup")
    setup.source += "\nimport os\nos.environ['COURSE_OFFLINE_WEIGHTS_TARGET'] = '0'"
    kinds = {f.kind for f in tamper.scan_notebook(nb, reference=nbrun.SOURCE_DIR / HOST)}
    assert "grading-env" in kinds


def test_setup_cell_of_another_release_is_trusted_and_an_edited_one_is_not():
    """A notebook released with another course_lib version (or wheel URL) has another setup cell,
    made by the same template: trusted like the reference's (the grader warns about the version);
    the same cell with one line changed is scanned."""
    from course_lib.instructor.setup_cell import setup_cell_source

    nb = _filled()
    setup = next(c for c in nb.cells if nbmeta.grade_id(c) == "setup")
    setup.source = setup_cell_source(version="0.0.9", url="https://github.com/c/ps1-student/raw/main/x.whl")
    assert tamper.scan_notebook(nb, reference=nbrun.SOURCE_DIR / HOST) == []
    assert 'os.environ.get("NBGRADER_EXECUTION")' in setup.source
    setup.source = setup.source.replace('os.environ.get("NBGRADER_EXECUTION")', "False")
    kinds = {f.kind for f in tamper.scan_notebook(nb, reference=nbrun.SOURCE_DIR / HOST)}
    assert "subprocess" in kinds


@pytest.mark.parametrize("release", RELEASES, ids=[p.name for p in RELEASES])
def test_release_test_cells_match_source(release):
    assert tamper.compare_test_cells(release, _source_of(release)) == []
    assert tamper.compare_test_cells(solution_filled(release, _source_of(release)), _source_of(release)) == []


def _first_test(nb):
    return next(c for c in nb.cells if nbmeta.is_autograded_test(c))


def test_compare_reports_deleted_test_cell():
    nb = _filled()
    gid = nbmeta.grade_id(_first_test(nb))
    nb.cells = [c for c in nb.cells if nbmeta.grade_id(c) != gid]
    found = tamper.compare_test_cells(nb, nbrun.SOURCE_DIR / HOST)
    assert [(f.cell, f.kind) for f in found] == [(gid, "test-cell-missing")]


def test_compare_reports_edited_test_cell():
    nb = _filled()
    cell = _first_test(nb)
    lines = nbmeta.source_lines(cell)
    cell.source = "\n".join(["pass  # check skipped" if "check_" in line and "import" not in line else line
                             for line in lines])
    found = tamper.compare_test_cells(nb, nbrun.SOURCE_DIR / HOST)
    assert [(f.cell, f.kind) for f in found] == [(nbmeta.grade_id(cell), "test-cell-edited")]
    assert found[0].code == "pass  # check skipped"


def test_compare_ignores_trailing_whitespace():
    nb = _filled()
    cell = _first_test(nb)
    cell.source = "\n".join(line + "   " for line in nbmeta.source_lines(cell)) + "\n\n"
    assert tamper.compare_test_cells(nb, nbrun.SOURCE_DIR / HOST) == []


def test_compare_reports_retyped_test_cell():
    nb = _filled()
    i, cell = next((i, c) for i, c in enumerate(nb.cells) if nbmeta.is_autograded_test(c))
    md = nbformat.v4.new_markdown_cell(cell.source)
    md.metadata = copy.deepcopy(cell.metadata)
    nb.cells[i] = md
    found = tamper.compare_test_cells(nb, nbrun.SOURCE_DIR / HOST)
    assert [(f.cell, f.kind) for f in found] == [(nbmeta.grade_id(cell), "test-cell-retyped")]


def test_compare_reports_unlocked_test_cell():
    nb = _filled()
    cell = _first_test(nb)
    cell.metadata["nbgrader"]["locked"] = False
    found = tamper.compare_test_cells(nb, nbrun.SOURCE_DIR / HOST)
    assert [f.kind for f in found] == ["test-cell-retyped"]


def _write(folder, name, nb):
    (folder / name).write_text(nbformat.writes(nb), encoding="utf-8")


def test_scan_submission_reports_corrupt_notebook_and_scans_others(tmp_path):
    (tmp_path / "00_broken.ipynb").write_text('{"cells": [ this is not json', encoding="utf-8")
    (tmp_path / "01_not_a_notebook.ipynb").write_text(json.dumps({"hello": 1}), encoding="utf-8")
    _write(tmp_path, HOST, _with_snippet("import nbgrader"))
    _write(tmp_path, "01_hand_gradients.ipynb", _filled("01_hand_gradients.ipynb"))
    results = tamper.scan_submission(tmp_path)
    assert set(results) == {"00_broken.ipynb", "01_not_a_notebook.ipynb", HOST, "01_hand_gradients.ipynb"}
    assert [f.kind for f in results["00_broken.ipynb"]] == ["corrupt-notebook"]
    assert [f.kind for f in results["01_not_a_notebook.ipynb"]] == ["corrupt-notebook"]
    assert [f.kind for f in results[HOST]] == ["patches-nbgrader"]
    assert results["01_hand_gradients.ipynb"] == []


def test_scan_submission_with_source_compares_test_cells(tmp_path):
    nb = _filled()
    gid = nbmeta.grade_id(_first_test(nb))
    nb.cells = [c for c in nb.cells if nbmeta.grade_id(c) != gid]
    _write(tmp_path, HOST, nb)
    results = tamper.scan_submission(tmp_path, source=nbrun.SOURCE_DIR)
    assert [(f.cell, f.kind) for f in results[HOST]] == [(gid, "test-cell-missing")]


def test_main_prints_and_exits_zero(tmp_path, capsys):
    (tmp_path / "broken.ipynb").write_text("not json", encoding="utf-8")
    _write(tmp_path, HOST, _with_snippet("import os\nos.system('ls')"))
    assert tamper.main([str(tmp_path), "--source", str(nbrun.SOURCE_DIR)]) == 0
    out = capsys.readouterr().out.strip().split("\n")
    assert any(line.startswith("broken.ipynb: ") and "corrupt-notebook" in line for line in out)
    assert any(line.startswith(f"{HOST}: {HOST_CELL}:") and "[subprocess]" in line for line in out)
    assert out[-1].startswith("2 finding(s) in 2 of 2 notebook(s)")


def test_main_on_clean_folder(tmp_path, capsys):
    _write(tmp_path, HOST, _filled())
    assert tamper.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "0 finding(s) in 0 of 1 notebook(s)"


def test_kinds_are_documented():
    for kind in tamper.KINDS:
        assert f"``{kind}``" in tamper.__doc__ or kind in tamper.__doc__
