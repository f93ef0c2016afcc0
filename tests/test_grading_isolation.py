"""Kernels forked from the slot's zygote (one per worker slot, kept across students) share
nothing: what a notebook changes in its kernel (a global, a monkeypatched check, a module in
``sys.modules``, files in ``/tmp``, the home folder or its working folder, a process left
running) is not visible to the student's next notebook, nor to the next student; and each
student's kernels get that student's hidden seed.

(A process left running cannot even be made: the guard refuses subprocess, fork and ctypes; the
planter tries through libc anyway, and the kernel manager kills whatever of the sandbox uid is
left before each fork.)

A course of notebooks 01 and 02; ``a_planter`` plants all of that in its notebook 01 (and
shows it can see it there: the control), then looks for it in its notebook 02;
``b_observer``, graded next by the same worker slot, looks for it in its notebook 01.
"""
from __future__ import annotations

import re
import shutil

import nbformat
import pytest

import grading_course as G
import nbrun
from course_lib import nbmeta
from course_lib.instructor.grading import sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(sandbox.probe() is not None, reason=f"no confinement here: {sandbox.probe()}")]

SECOND = "02_autograd.ipynb"

# the guard refuses subprocess and os.fork: a process left running has to come through libc
PLANT = """\
import builtins, os, sys, types
import course_lib.checks.hand_gradients as planted_into
setattr(builtins, "PLANTED", 1)
planted_into.PLANTED = 1
sys.modules["planted_module"] = types.ModuleType("planted_module")
for path in ("/tmp/planted.txt", os.path.expanduser("~/planted.txt"), "planted_here.txt"):
    open(path, "w").write("planted")
try:
    import ctypes, time
    if ctypes.CDLL(None).fork() == 0:
        while True:
            open("/tmp/stray_alive", "w").close()
            time.sleep(0.05)
except Exception:
    pass
"""

LOOK = """\
import builtins as _b, os as _os, sys as _sys, time as _time
import course_lib.checks.hand_gradients as _hg
_time.sleep(0.5)
_seen = [name for name, there in [
    ("builtins", hasattr(_b, "PLANTED")), ("check module", hasattr(_hg, "PLANTED")),
    ("sys.modules", "planted_module" in _sys.modules), ("/tmp", _os.path.exists("/tmp/planted.txt")),
    ("home", _os.path.exists(_os.path.expanduser("~/planted.txt"))), ("cwd", _os.path.exists("planted_here.txt")),
    ("stray process", _os.path.exists("/tmp/stray_alive"))] if there]
print("ISOLATION-SEEN:", _seen)
from course_lib.checks.seeds import hidden_seed as _hidden_seed
print("ISOLATION-SEED:", _hidden_seed(2026), _os.environ.get("COURSE_HIDDEN_SEED"))
import gc as _gc
print("ISOLATION-FROZEN:", _gc.get_freeze_count(), _gc.isenabled())
print("ISOLATION-ENV:", _os.environ.get("OMP_NUM_THREADS"), _os.environ.get("COURSE_GRADE_SCRATCH"))
"""


def _with(root, notebook: str, code: str) -> nbformat.NotebookNode:
    nb = nbformat.read(root / "release" / "ps1" / notebook, as_version=4)
    first = next(c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code")
    first.source = code + "\n" + first.source
    return nb


def _seen(root, student: str, notebook: str, what: str = "ISOLATION-SEEN:") -> str:
    nb = nbformat.read(root / "autograded" / student / "ps1" / notebook, as_version=4)
    lines = [line for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             for line in str(o.get("text", "")).splitlines() if line.startswith(what)]
    assert len(lines) == 1, f"{student}/{notebook}: {lines}"
    return lines[0]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("isolation")
    (root / "source_notebooks" / "ps1").mkdir(parents=True)
    shutil.copy(nbrun.SOURCE_DIR / SECOND, root / "source_notebooks" / "ps1" / SECOND)
    G.make_course(root)
    G.submit(root, "a_planter", _with(root, G.NOTEBOOK, PLANT + LOOK))
    G.submit(root, "a_planter", _with(root, SECOND, LOOK), notebook=SECOND)
    G.submit(root, "b_observer", _with(root, G.NOTEBOOK, LOOK))
    proc = G.course_grade(root, "submitted", "--jobs", "1", "--no-feedback")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_both_students_kernels_were_forked_from_the_same_zygote(graded):
    zygotes = set()
    for student in ("a_planter", "b_observer"):
        log = (graded / "grading" / "ps1" / "logs" / f"{student}.log").read_text()
        assert "start from scratch" not in log
        zygotes |= set(re.findall(r"kernels fork from the slot's zygote \((\S+)\)", log))
    assert len(zygotes) == 1, zygotes


def test_each_student_meets_its_own_hidden_seed(graded, monkeypatch):
    from course_lib.checks import seeds

    salt = (graded / "grading" / "ps1" / "hidden_seed_salt").read_text().strip()
    got = {}
    for student in ("a_planter", "b_observer"):
        monkeypatch.setattr(seeds, "HIDDEN_SEED", seeds.student_seed(salt, "ps1", student))
        # the variable itself is gone before student code runs
        assert _seen(graded, student, G.NOTEBOOK, "ISOLATION-SEED:") == f"ISOLATION-SEED: {seeds.hidden_seed(2026)} None"
        got[student] = seeds.hidden_seed(2026)
    assert got["a_planter"] != got["b_observer"]
    assert _seen(graded, "a_planter", SECOND, "ISOLATION-SEED:") == f"ISOLATION-SEED: {got['a_planter']} None"


def test_the_preloaded_objects_are_frozen_out_of_the_collector(graded):
    """torch, plotly, IPython and the checks (about 400,000 objects) are in gc's permanent
    generation, so a scalar engine's half a million nodes do not make every full collection
    walk them too (notebook 03's training took twice as long); the collector is still on."""
    for student, notebook in (("a_planter", SECOND), ("b_observer", G.NOTEBOOK)):
        _, count, enabled = _seen(graded, student, notebook, "ISOLATION-FROZEN:").split()
        assert int(count) > 100_000 and enabled == "True", (student, notebook, count, enabled)


def test_kernels_get_the_environment_the_grader_prepared(graded):
    """The slot's worker starts before the grader's set-up and is handed its environment with the
    settings: the kernels get the math threads per slot and the variables it set then."""
    import os

    threads = str(max(1, (os.cpu_count() or 1) // 1))  # --jobs 1
    for student, notebook in (("a_planter", SECOND), ("b_observer", G.NOTEBOOK)):
        _, omp, scratch = _seen(graded, student, notebook, "ISOLATION-ENV:").split()
        assert omp == threads and scratch == str(graded.resolve() / "grading" / "ps1" / "scratch"), (omp, scratch)


def test_the_planter_sees_its_own_plants(graded):
    seen = _seen(graded, "a_planter", G.NOTEBOOK)
    for name in ("builtins", "check module", "/tmp", "home", "cwd"):
        assert name in seen, seen


@pytest.mark.parametrize("student, notebook", [("a_planter", SECOND), ("b_observer", G.NOTEBOOK)])
def test_nothing_reaches_the_next_notebook_or_student(graded, student, notebook):
    assert _seen(graded, student, notebook) == "ISOLATION-SEEN: []"


SLOW = "import time\ntime.sleep(600)\n"


def test_a_student_past_the_time_limit_costs_only_that_student(tmp_path):
    """Its slot's worker is killed with everything it started; the next student in the slot gets a
    new worker and is graded as if nothing happened."""
    root = G.make_course(tmp_path / "course")
    G.submit(root, "a_slow", _with(root, G.NOTEBOOK, SLOW))
    G.submit(root, "b_fine", G.solved(root))
    proc = G.course_grade(root, "submitted", "--jobs", "1", "--no-feedback", "--student-timeout", "60",
                          "--cell-timeout", "900")
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    results = G.results(root)
    assert "took longer than 60 s" in results["a_slow"]["error"], results["a_slow"]
    assert not results["b_fine"]["error"] and all(p["status"] == "passed" for p in results["b_fine"]["problems"])
    assert not any((root / "grading" / "ps1" / "scratch").iterdir())
