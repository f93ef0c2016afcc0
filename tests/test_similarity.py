"""Similarity screening of solution code (``course_lib.instructor.grading.similarity``).

A small class in a scratch course folder, every notebook of ps1:

* ``alice`` solved everything (the source notebooks' solutions);
* ``carol`` is alice's code disguised: every identifier alice defined (not given by the
  release) renamed consistently, comments replaced or removed, whitespace and blank
  lines changed (``disguised``, with ``tokenize``; every cell still parses);
* ``bob`` submitted the blank release notebooks;
* ``dave`` solved notebook 01 only, identically to alice: short code that everybody
  writes the same way, never a pair;
* ``erin`` solved notebook 02 with her own, differently written engine (``ERIN_02``)
  and nothing else: independent work, never paired with alice.

Only (alice, carol) may be reported.
"""
from __future__ import annotations

import copy
import csv
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import nbrun
from classmates import disguised
from course_lib import nbmeta
from course_lib.instructor.grading import similarity
from course_lib.instructor.release import solution_filled

pytest.importorskip("copydetect", reason="copydetect (the grading extra) is not installed")

ASSIGNMENT = "ps1"
SCRIPT = "<script>alert(1)</script>"


# --------------------------------------------------------------------------- erin: her own engine

ERIN_02 = {
    "backward": '''def backward(self):
    """Set .grad of every node that self depends on to d(self)/d(node)."""
    # iterative post-order walk, no recursion
    topo, seen, stack = [], set(), [(self, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            topo.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
    self.grad = 1.0
    for n in topo[::-1]:
        n._backward()


Value.backward = backward''',
    "mul": '''def __mul__(self, other):  # self * other
    other = Value.lift(other)
    a, b = self, other
    result = Value(a.data * b.data, _children=(a, b), _op='*')

    def propagate():
        a.grad = a.grad + b.data * result.grad
        b.grad = b.grad + a.data * result.grad
    result._backward = propagate
    return result


def __rmul__(self, other):  # other * self, when other is a plain number
    return Value.lift(other).__mul__(self)


Value.__mul__ = __mul__
Value.__rmul__ = __rmul__''',
    "sub": '''def __sub__(self, other):  # self - other
    return self.__add__(Value.lift(other).__neg__())


def __rsub__(self, other):  # other - self, when other is a plain number
    return Value.lift(other).__add__(self.__neg__())


Value.__sub__ = __sub__
Value.__rsub__ = __rsub__''',
    "pow": '''def __pow__(self, other):  # self ** other, other a plain number
    assert isinstance(other, (int, float)), "only an int or float exponent is supported"
    base, n = self, other
    res = Value(base.data ** n, _children=(base,), _op='pow')

    def propagate():
        slope = n * base.data ** (n - 1) if n != 0 else 0.0
        base.grad = base.grad + slope * res.grad
    res._backward = propagate
    return res


Value.__pow__ = __pow__''',
    "truediv": '''def __truediv__(self, other):  # self / other
    return self.__mul__(Value.lift(other).__pow__(-1))


def __rtruediv__(self, other):  # other / self, when other is a plain number
    return Value.lift(other).__mul__(self.__pow__(-1))


Value.__truediv__ = __truediv__
Value.__rtruediv__ = __rtruediv__''',
    "relu": '''def relu(self):
    inp = self
    res = Value(max(inp.data, 0.0), _children=(inp,), _op='relu')

    def propagate():
        if inp.data > 0:
            inp.grad = inp.grad + res.grad
    res._backward = propagate
    return res


Value.relu = relu''',
    "sigmoid": '''def sigmoid(self):
    inp, z = self, self.data
    if z >= 0:
        sig = 1.0 / (1.0 + math.exp(-z))
    else:
        ez = math.exp(z)
        sig = ez / (1.0 + ez)
    res = Value(sig, _children=(inp,), _op='sigmoid')

    def propagate():
        inp.grad = inp.grad + sig * (1 - sig) * res.grad
    res._backward = propagate
    return res


Value.sigmoid = sigmoid''',
    "tanh": '''def tanh(self):
    inp = self
    th = (math.exp(2 * inp.data) - 1) / (math.exp(2 * inp.data) + 1) if abs(inp.data) < 20 else math.copysign(1.0, inp.data)
    res = Value(th, _children=(inp,), _op='tanh')

    def propagate():
        inp.grad = inp.grad + (1 - th * th) * res.grad
    res._backward = propagate
    return res


Value.tanh = tanh''',
    "rebuild_forward": '''w1, w2, w3, s, L = None, None, None, None, None
w1 = Value(P.w1)
w2 = Value(P.w2)
w3 = Value(P.w3)
s = w1 + w2
L = s * w3''',
    "rebuild_step": '''L_new = None
L.backward()
for param in [w1, w2, w3]:
    param.data = param.data - eta * param.grad
L_new = (w1 + w2) * w3''',
}


def erin_02(release_nb: Path) -> nbformat.NotebookNode:
    nb = nbmeta.read(release_nb)
    filled = set()
    for cell in nb.cells:
        gid = nbmeta.grade_id(cell)
        if nbmeta.is_solution(cell) and cell.cell_type == "code":
            cell.source = ERIN_02[gid]
            filled.add(gid)
    assert filled == set(ERIN_02), f"notebook 02's solution cells changed: {sorted(filled)} vs {sorted(ERIN_02)}"
    return nb


# --------------------------------------------------------------------------- the class

def _course(root: Path) -> Path:
    (root / "release" / ASSIGNMENT).mkdir(parents=True)
    for path in nbrun.release_notebooks():
        shutil.copy(path, root / "release" / ASSIGNMENT / path.name)
    return root


def _submit(root: Path, student: str, name: str, nb: nbformat.NotebookNode | str) -> Path:
    dest = root / "submitted" / student / ASSIGNMENT / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        dest.write_text(nb)
    else:
        nbformat.write(nb, str(dest))
    return dest


def _solved(name: str) -> nbformat.NotebookNode:
    return solution_filled(nbrun.RELEASE_DIR / name, nbrun.SOURCE_DIR / name)


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    root = _course(tmp_path_factory.mktemp("similarity"))
    names = [p.name for p in nbrun.release_notebooks()]
    assert len(names) == 7
    for name in names:
        release_nb = nbmeta.read(nbrun.RELEASE_DIR / name)
        alice = _solved(name)
        _submit(root, "alice", name, alice)
        _submit(root, "carol", name, disguised(alice, release_nb, extra_comment=SCRIPT if name.startswith("02")
                                               else None))
        _submit(root, "bob", name, release_nb)
        _submit(root, "dave", name, alice if name.startswith("01") else release_nb)
        _submit(root, "erin", name, erin_02(nbrun.RELEASE_DIR / name) if name.startswith("02") else release_nb)
    return root


@pytest.fixture(scope="module")
def pairs(klass) -> list[similarity.Pair]:
    return similarity.screen(klass, ASSIGNMENT)


def _measured(root: Path, a: str, b: str) -> tuple[int, float, float]:
    """(matched tokens, share of a, share of b) of one pair, whatever the thresholds."""
    found = similarity.screen(root, ASSIGNMENT, [a, b], min_tokens=1, min_similarity=1e-9)
    return (found[0].matched_tokens, found[0].similarity_a, found[0].similarity_b) if found else (0, 0.0, 0.0)


# --------------------------------------------------------------------------- tests

def test_only_alice_and_carol_are_paired(pairs):
    found = [(p.student_a, p.student_b) for p in pairs]
    assert found == [("alice", "carol")], f"expected exactly the pair (alice, carol), screen found {pairs}"
    pair = pairs[0]
    assert pair.similarity_a >= 0.9 and pair.similarity_b >= 0.9, pair
    assert pair.matched_tokens >= 3000, pair  # ps1 solved is several thousand tokens of normalised code
    # notebook 03 (the MLP) holds the most code; notebook 01's cells are each shorter than a fingerprint
    assert pair.notebooks[0] == "03_mlp.ipynb", pair.notebooks
    assert "01_hand_gradients.ipynb" not in pair.notebooks, pair.notebooks


def test_carol_is_really_disguised(klass):
    """The disguise must be real, or the pair above proves nothing."""
    rel = klass / "release" / ASSIGNMENT / "02_autograd.ipynb"
    alice = similarity.solution_code(klass / "submitted" / "alice" / ASSIGNMENT / "02_autograd.ipynb", rel)
    carol = similarity.solution_code(klass / "submitted" / "carol" / ASSIGNMENT / "02_autograd.ipynb", rel)
    assert "visited" in alice and "visited" not in carol
    alice_lines = {line.strip() for line in alice.splitlines() if line.strip() and not line.startswith("# ---")}
    carol_lines = {line.strip() for line in carol.splitlines() if line.strip() and not line.startswith("# ---")}
    common = alice_lines & carol_lines
    assert len(common) <= len(alice_lines) // 3, f"carol shares too many lines verbatim with alice: {sorted(common)}"


def test_dave_short_identical_code_is_not_a_pair(klass):
    """dave's notebook 01 is alice's, character for character, but it is a few one-line
    formulas everyone writes the same: not reported, even with no similarity threshold."""
    rel = klass / "release" / ASSIGNMENT / "01_hand_gradients.ipynb"
    dave = similarity.solution_code(klass / "submitted" / "dave" / ASSIGNMENT / "01_hand_gradients.ipynb", rel)
    alice = similarity.solution_code(klass / "submitted" / "alice" / ASSIGNMENT / "01_hand_gradients.ipynb", rel)
    assert "dL_dw3 = s" in dave and dave == alice
    assert similarity.screen(klass, ASSIGNMENT, ["alice", "dave"], min_similarity=1e-9) == []
    assert _measured(klass, "alice", "dave")[0] < similarity.MIN_TOKENS


def test_min_tokens_protects_a_short_identical_function(tmp_path):
    """Two students whose only code is the same three-line ``collapse`` (notebook 06): 100%
    similar, but too short to mean anything, so not a pair; it is one when min_tokens is
    lowered below its size (the threshold, not chance, decides)."""
    root = _course(tmp_path)
    name = "06_representation.ipynb"
    solved = _solved(name)
    for student in ("xavier", "yves"):
        nb = nbmeta.read(nbrun.RELEASE_DIR / name)
        for cell in nb.cells:
            if nbmeta.grade_id(cell) == "collapse":
                cell.source = next(c.source for c in solved.cells if nbmeta.grade_id(c) == "collapse")
        _submit(root, student, name, nb)
    assert similarity.screen(root, ASSIGNMENT) == []
    found = similarity.screen(root, ASSIGNMENT, min_tokens=30)
    assert [(p.student_a, p.student_b) for p in found] == [("xavier", "yves")]
    assert found[0].similarity_a == found[0].similarity_b == 1.0
    assert 30 <= found[0].matched_tokens < similarity.MIN_TOKENS, found[0]
    assert found[0].notebooks == [name]


def test_erin_independent_engine_is_not_paired_with_alice(klass):
    matched, share_alice, share_erin = _measured(klass, "alice", "erin")
    assert share_erin < 0.5, f"erin's own engine shares {share_erin:.0%} of her code with alice's"
    assert similarity.screen(klass, ASSIGNMENT, ["alice", "erin"], min_tokens=1) == []


def test_thresholds_are_the_parameters(klass, pairs):
    pair = pairs[0]
    assert similarity.screen(klass, ASSIGNMENT, min_tokens=pair.matched_tokens + 1) == []
    assert similarity.screen(klass, ASSIGNMENT, min_similarity=min(1.0, pair.similarity + 1e-6)) == [] \
        or pair.similarity == 1.0
    with pytest.raises(ValueError, match="min_similarity"):
        similarity.screen(klass, ASSIGNMENT, min_similarity=1.5)
    with pytest.raises(ValueError, match="min_tokens"):
        similarity.screen(klass, ASSIGNMENT, min_tokens=0)


def test_report_files(klass, pairs, tmp_path):
    csv_path, html_path = similarity.write_report(pairs, tmp_path / "out", students=5)
    assert csv_path.name == "similarity.csv" and html_path.name == "similarity.html"
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert len(rows) == 1, rows
    assert (rows[0]["student_a"], rows[0]["student_b"]) == ("alice", "carol")
    assert float(rows[0]["similarity_a"]) == pytest.approx(pairs[0].similarity_a, abs=1e-3)
    assert int(rows[0]["matched_tokens"]) == pairs[0].matched_tokens
    assert rows[0]["notebooks"].split(";")[0] == "03_mlp.ipynb"

    page = html_path.read_text(encoding="utf-8")
    assert "for a person to judge; no score is changed" in page.lower()
    assert "<script" not in page.lower(), "student content reached the report unescaped"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, "carol's comment should be shown, escaped"
    assert "<mark>" in page, "matched code should be highlighted"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the report must be self-contained"
    assert "alice" in page and "carol" in page and "dave" not in page and "erin" not in page


def test_empty_report(tmp_path):
    csv_path, html_path = similarity.write_report([], tmp_path)
    assert list(csv.reader(csv_path.open()))[1:] == []
    assert "No pair reached the thresholds" in html_path.read_text()


def test_starter_code_alone_never_counts(tmp_path):
    """Two students who submitted the release notebooks unchanged share all of it: no pair,
    and the blank notebook has no solution code at all."""
    root = _course(tmp_path)
    for student in ("bob", "ben"):
        for path in nbrun.release_notebooks():
            _submit(root, student, path.name, nbmeta.read(path))
    for path in nbrun.release_notebooks():
        assert similarity.solution_code(path, path) == "", path.name
    assert similarity.screen(root, ASSIGNMENT, min_tokens=1, min_similarity=1e-9) == []


def test_given_lines_are_recognised_when_respaced(tmp_path):
    """A stub the student re-indented, re-spaced, stripped of its comments and padded with
    blank lines is still no code of theirs."""
    for path in nbrun.release_notebooks():
        nb = nbmeta.read(path)
        for cell in nb.cells:
            if nbmeta.is_solution(cell) and cell.cell_type == "code":
                cell.source = "\n\n".join("  " + line.split("  #")[0].replace(" = ", "=").replace(", ", ",")
                                          for line in cell.source.split("\n")
                                          if not line.strip().startswith("#"))
        dest = tmp_path / path.name
        nbformat.write(nb, str(dest))
        assert similarity.solution_code(dest, path) == "", (path.name, similarity.solution_code(dest, path))
        solved = tmp_path / f"solved_{path.name}"
        nbformat.write(_solved(path.name), str(solved))
        assert similarity.solution_code(solved, path) != "", path.name


def test_starter_code_is_boilerplate_even_when_moved(tmp_path):
    """Release code a student keeps but re-spaces or moves is still not theirs: a
    student whose notebook 02 is the release's given ``Value`` class pasted into a
    solution cell is not paired with another who did the same."""
    root = _course(tmp_path)
    release = nbmeta.read(nbrun.RELEASE_DIR / "02_autograd.ipynb")
    given = next(c.source for c in release.cells if nbmeta.grade_id(c) == "value_class")
    for student in ("bob", "ben"):
        nb = nbmeta.read(release)
        cell = next(c for c in nb.cells if nbmeta.grade_id(c) == "backward")
        cell.source += "\n\n" + given.replace("    ", "  ")
        _submit(root, student, "02_autograd.ipynb", nb)
    assert similarity.screen(root, ASSIGNMENT, min_tokens=1, min_similarity=1e-9) == []


def test_no_students_one_student_and_no_code(tmp_path):
    root = _course(tmp_path)
    assert similarity.screen(root, ASSIGNMENT) == []  # no submitted/ at all
    (root / "submitted" / "ghost" / ASSIGNMENT).mkdir(parents=True)  # a folder with no notebook
    assert similarity.screen(root, ASSIGNMENT) == []
    name = "02_autograd.ipynb"
    _submit(root, "alice", name, _solved(name))
    assert similarity.screen(root, ASSIGNMENT) == []
    assert similarity.screen(root, ASSIGNMENT, ["alice"]) == []
    assert similarity.screen(root, ASSIGNMENT, []) == []


def test_corrupt_notebook_does_not_raise(tmp_path, capfd):
    root = _course(tmp_path)
    name = "02_autograd.ipynb"
    alice = _submit(root, "alice", name, _solved(name))
    broken = _submit(root, "mallory", name, '{"cells": [ this is not JSON')
    _submit(root, "mallory", "03_mlp.ipynb", b"\xff\xfe not utf-8".decode("latin-1"))
    _submit(root, "trent", name, '{"cells": [{"cell_type": "code", "metadata": {"nbgrader": "x"}, "source": 3}]}')
    _submit(root, "victor", name, "[1, 2, 3]")
    assert similarity.solution_code(broken, root / "release" / ASSIGNMENT / name) == ""
    assert similarity.solution_code(tmp_path / "absent.ipynb", None) == ""
    assert similarity.solution_code(alice, None) != ""
    assert similarity.screen(root, ASSIGNMENT, min_tokens=1, min_similarity=1e-9) == []
    captured = capfd.readouterr()
    assert captured.err == "", captured.err


def test_main_writes_the_report(klass, capsys):
    assert similarity.main(["--course", str(klass), "--assignment", ASSIGNMENT]) == 0
    out = capsys.readouterr().out
    assert "no score is changed" in out and "alice" in out and "carol" in out and "erin" not in out
    folder = klass / "grading" / ASSIGNMENT
    assert (folder / "similarity.csv").is_file() and (folder / "similarity.html").is_file()
    assert similarity.main(["--course", str(klass), "--min-tokens", "999999"]) == 0
    assert "No pair reached the thresholds" in capsys.readouterr().out


def test_vectorised_comparison_is_copydetects(klass):
    """screen's pairwise comparison gives the numbers of ``copydetect.compare_files``."""
    from copydetect import compare_files

    boilerplate = similarity._boilerplate(klass / "release" / ASSIGNMENT)
    docs = {s: similarity._fingerprint(s, similarity._student_notebooks(klass, ASSIGNMENT, s), boilerplate)
            for s in ("alice", "carol", "erin")}
    for a, b in (("alice", "carol"), ("carol", "alice"), ("alice", "erin")):
        overlap, (sim_a, sim_b), _ = compare_files(docs[a], docs[b])
        (mine_a, mine_sim_a, _), (mine_b, mine_sim_b, _) = similarity._compare(docs[a], docs[b])
        assert (mine_a, mine_sim_a, mine_sim_b) == pytest.approx((overlap, sim_a, sim_b)), (a, b)
        found = similarity.screen(klass, ASSIGNMENT, [a, b], min_tokens=1, min_similarity=1e-9)
        if overlap:
            pair = found[0]
            expected = (sim_a, sim_b) if pair.student_a == a else (sim_b, sim_a)
            assert (pair.similarity_a, pair.similarity_b) == pytest.approx(expected), (a, b)
            assert pair.matched_tokens == min(mine_a, mine_b)
        else:
            assert found == []


def _write_nb(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


def _own_variant(code: str, rng: random.Random) -> str:
    """A stand-in for code a student wrote their own way: as many lines, of about the same
    length, of numbers nobody else has (numbers survive normalisation)."""
    return "\n".join(f"v = [{', '.join(str(rng.randrange(10**6)) for _ in range(max(1, len(line) // 9)))}]"
                     for line in code.split("\n") if line.strip())


def test_time_is_bounded(tmp_path):
    """50 students whose solutions are alice's with a random half of the cells their own
    (so every pair shares code and is really compared), and one planted copy: the planted
    pair and nothing else, fast. A class of 400 is 65 times the pairs."""
    root = _course(tmp_path)
    names = [p.name for p in nbrun.release_notebooks()]
    solved = {name: json.loads(nbformat.writes(_solved(name))) for name in names}
    for i in range(50):
        rng = random.Random(0 if i == 1 else i)  # s01 is a copy of s00
        for name in names:
            nb = copy.deepcopy(solved[name])
            for cell in nb["cells"]:
                if cell["cell_type"] == "code" and nbmeta.is_solution(cell) and rng.random() < 0.5:
                    cell["source"] = _own_variant("".join(cell["source"]), rng)
            _write_nb(root / "submitted" / f"s{i:02d}" / ASSIGNMENT / name, nb)
    start = time.perf_counter()
    found = similarity.screen(root, ASSIGNMENT)
    elapsed = time.perf_counter() - start
    assert [(p.student_a, p.student_b) for p in found] == [("s00", "s01")], found[:5]
    assert elapsed < 60, f"screening 50 students took {elapsed:.1f} s"


def test_copydetect_is_imported_without_pyplot_and_leaves_pyplot_importable():
    """The screen imports copydetect with a stand-in for matplotlib.pyplot (its detector imports
    it for plots the screen never draws); the stand-in is gone afterwards, and a pyplot imported
    before is the one copydetect gets."""
    code = (
        "import sys\n"
        "from course_lib.instructor.grading import similarity\n"
        "similarity._import_copydetect()\n"
        "import copydetect.detector as d\n"
        "print('pyplot' in sys.modules.get('matplotlib.pyplot', sys).__name__, hasattr(d.plt, 'plot'))\n"
        "import matplotlib.pyplot as plt\n"
        "print(hasattr(plt, 'plot'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"], out
    before = "import matplotlib.pyplot\n" + code
    out = subprocess.run([sys.executable, "-c", before], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True"], out


def test_the_release_boilerplate_is_fingerprinted_once_while_the_release_is_unchanged(tmp_path):
    """course-grade fingerprints the release's code in a thread while it grades (prewarm); the
    screen at the end reuses it, and a changed release file is fingerprinted again."""
    release = tmp_path / "release"
    shutil.copytree(nbrun.RELEASE_DIR, release)
    similarity._BOILERPLATE.clear()
    similarity.prewarm(release)
    first = similarity._boilerplate(release)
    assert len(similarity._BOILERPLATE) == 1 and first
    assert similarity._boilerplate(release) is first  # reused, not computed again
    nb = nbformat.read(str(release / "01_hand_gradients.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def given_helper(values):\n    return sorted(set(values))[::-1]\n"))
    nbformat.write(nb, str(release / "01_hand_gradients.ipynb"))
    again = similarity._boilerplate(release)
    assert again is not first and again > first
