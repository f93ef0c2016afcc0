"""Attacks on the verdict, through ``course-grade``, confined: points without answers.

Each attacker hands in the *blank* notebook 01 with one attack in its first
answer cell (or, for ``planted_package``, a ``course_lib/`` package and a
``numpy/`` folder and a ``torch.py`` beside the notebook), next to two clean
students. The attacks are those a student who read ``course_lib`` tried, with
names built at run time so that no static pattern sees them:

- rewriting the checks' code through the garbage collector's object list;
- a replaced ``builtins.__import__`` that answers ``from course_lib.checks... import``
  with no-ops;
- look-alike modules in ``sys.modules``;
- IPython's custom exception handler and error display silenced;
- a ``post_run_cell`` callback that clears the cell's error from the result;
- a planted package that the setup cell would import ahead of the installed one;
- the kernel's message session patched so that a failing test cell sends no
  error and replies "ok" (IPython and the checks untouched, so only the signed
  verdict can tell);
- verdict lines written into every pipe the kernel holds, and the verdict
  runner called from an answer cell for every test cell;
- an answer whose ``__float__``, called by the check, reads the expected value
  from the check's frame (through ``sys._getframe``, or a traceback's frame).

For each: no point over a blank submission, flagged with the guard's (or the
planted-module) finding, and the clean students' grades as in a run without it.
"""
from __future__ import annotations

import pytest

import grading_course as G
from course_lib.instructor.grading import sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
needs_bwrap = pytest.mark.skipif(sandbox.probe() is not None, reason=f"no confinement here: {sandbox.probe()}")

ATTACKS = {
    "gc_rewrites_checks": """\
import gc, types
prefix = "che" + "ck_"
for obj in getattr(gc, "get_" + "objects")():
    if isinstance(obj, types.FunctionType) and obj.__name__.startswith(prefix):
        setattr(obj, "__co" + "de__", (lambda *a, **k: None).__code__)""",
    "import_hook_fakes_checks": """\
import builtins, types
real = builtins.__import__
def fake(name, globals=None, locals=None, fromlist=(), level=0):
    module = real(name, globals, locals, fromlist, level)
    if name.startswith("course_lib.ch" + "ecks") and fromlist:
        return types.SimpleNamespace(**{n: (lambda *a, **k: None) for n in fromlist})
    return module
setattr(builtins, "__imp" + "ort__", fake)""",
    "sys_modules_lookalikes": """\
import sys, types
table = getattr(sys, "mod" + "ules")
for name in [m for m in list(table) if m.startswith("course_lib.ch" + "ecks.")]:
    fake = types.ModuleType(name)
    fake.__getattr__ = lambda attr: (lambda *a, **k: None)
    table[name] = fake""",
    "ipython_silences_errors": """\
shell = get_ipython()
getattr(shell, "set_custom" + "_exc")((BaseException,), lambda *a, **k: None)
setattr(shell, "show" + "traceback", lambda *a, **k: None)""",
    "callback_clears_errors": """\
def clear(result):
    result.error_in_exec = None
    result.error_before_exec = None
get_ipython().events.register("post_run" + "_cell", clear)""",
    "session_drops_errors": """\
session = get_ipython().kernel.session
real = session.send
def send(stream, kind, content=None, parent=None, *args, **kwargs):
    name = kind if isinstance(kind, str) else kind.get("header", {}).get("msg_type")
    if name == "error":
        return None
    if name == "execute_" + "reply" and isinstance(content, dict) and content.get("status") == "error":
        content = {"status": "ok", "execution_count": content.get("execution_count"), "user_expressions": {},
                   "payload": []}
    return real(stream, kind, content, parent, *args, **kwargs)
setattr(session, "se" + "nd", send)""",
    "forged_verdict_lines": """\
import os, stat
for fd in range(3, 256):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            for cell in range(40):
                os.write(fd, f"VERDICT {2 * cell} {cell} start - {'0' * 64}\\n".encode())
                os.write(fd, f"VERDICT {2 * cell + 1} {cell} pass - {'0' * 64}\\n".encode())
    except OSError:
        pass""",
    "runner_called_directly": """\
import importlib
runner = importlib.import_module("course_lib.instructor.grading." + "ver" + "dict")
for cell in range(40):
    getattr(runner, "r" + "un")(cell, "pass")""",
}
#: Attacks that are the whole answer cell (the answer itself is the attack).
ANSWERS = {
    "frame_reads_expected": """\
import sys
class Sneaky:
    def __float__(self):
        frame = getattr(sys, "_get" + "frame")(1)
        while frame is not None:
            truth = frame.f_locals.get("t")
            if truth is not None and hasattr(truth, "grad"):
                return truth.grad[2]
            frame = frame.f_back
        return 0.0
dL_dw3 = Sneaky()""",
    "traceback_reads_expected": """\
class Sneaky:
    def __float__(self):
        try:
            raise ZeroDivisionError
        except ZeroDivisionError as err:
            frame = getattr(err.__traceback__, "tb_" + "frame")
        while frame is not None:
            truth = frame.f_locals.get("t")
            if truth is not None and hasattr(truth, "grad"):
                return truth.grad[2]
            frame = frame.f_back
        return 0.0
dL_dw3 = Sneaky()""",
}
PLANTED = {
    "course_lib/__init__.py": "from importlib import import_module as _im\n",
    "course_lib/checks/__init__.py": "",
    "course_lib/checks/hand_gradients.py": "def __getattr__(name):\n    return lambda *a, **k: None\n",
    "numpy/__init__.py": "raise SystemExit('planted numpy imported')\n",
    "torch.py": "raise SystemExit('planted torch imported')\n",
}
EXPECTED_FINDING = {
    "gc_rewrites_checks": "refused gc.get_objects",
    "import_hook_fakes_checks": "restored builtins.__import__",
    "sys_modules_lookalikes": "restored sys.modules['course_lib.checks.hand_gradients']",
    "ipython_silences_errors": "restored the IPython shell's",
    "callback_clears_errors": "restored IPython's post_run_cell event callbacks",
    "planted_package": "[planted-module] course_lib/__init__.py",
    "session_drops_errors": "verdict: test test_a: the check recorded fail, the kernel reported a pass; scored 0",
    "forged_verdict_lines": "verdict: a verdict line the check did not sign",
    "runner_called_directly": "which is not a test cell that was run",
    "frame_reads_expected": "refused a frame from which the course's code",
    "traceback_reads_expected": "refused a traceback's frame from which the course's code",
}


def _blank_with(root, code: str, replace: bool = False):
    from course_lib import nbmeta

    nb = nbmeta.read(root / "release" / "ps1" / G.NOTEBOOK)
    first = next(c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code")
    first.source = code if replace else code + "\n" + first.source
    return nb


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    from course_lib import nbmeta

    root = G.make_course(tmp_path_factory.mktemp("guard_attacks"))
    for student in G.CLEAN:
        G.submit(root, student, G.solved(root))
    G.submit(root, "blank", nbmeta.read(root / "release" / "ps1" / G.NOTEBOOK))
    for kind, code in ATTACKS.items():
        G.submit(root, kind, _blank_with(root, code))
    for kind, code in ANSWERS.items():
        G.submit(root, kind, _blank_with(root, code, replace=True))
    folder = G.submit(root, "planted_package", nbmeta.read(root / "release" / "ps1" / G.NOTEBOOK))
    for name, text in PLANTED.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    proc = G.course_grade(root, "submitted", "--jobs", "2", "--cell-timeout", "20", "--interrupt-grace", "4")
    results = G.results(root)
    # the same submission without the guard and the signed verdicts: what the session attack buys there
    unguarded = G.course_grade(root, "submitted", "--student", "session_drops_errors", "--regrade", "--no-guard",
                               "--cell-timeout", "20")
    return {"root": root, "proc": proc, "results": results, "unguarded": (unguarded, G.results(root))}


@needs_bwrap
def test_the_run_grades_everyone(attacked):
    assert attacked["proc"].returncode == 0, attacked["proc"].stderr[-3000:]
    assert sorted(attacked["results"]) == sorted([*G.CLEAN, "blank", *ATTACKS, *ANSWERS, "planted_package"])


@needs_bwrap
@pytest.mark.parametrize("kind", [*ATTACKS, *ANSWERS, "planted_package"])
def test_no_point_over_blank_and_flagged_for_the_right_reason(attacked, kind):
    r = attacked["results"][kind]
    blank = attacked["results"]["blank"]
    assert sum(p["score"] for p in r["problems"]) <= sum(p["score"] for p in blank["problems"]) == 0, \
        f"{kind} bought points: {[(p['grade_id'], p['score']) for p in r['problems']]}"
    assert any(EXPECTED_FINDING[kind] in f for f in r["findings"]), f"{kind}: findings {r['findings']}"
    row = next(line for line in attacked["proc"].stdout.splitlines() if line.startswith(kind + " "))
    assert "YES" in row, row


@needs_bwrap
def test_clean_students_are_untouched_and_unflagged(attacked):
    for student in G.CLEAN:
        r = attacked["results"][student]
        assert all(p["status"] == "passed" for p in r["problems"]), r["problems"]
        assert not r["findings"], (student, r["findings"])
    assert not attacked["results"]["blank"]["findings"]


@needs_bwrap
def test_the_session_attack_is_real_and_only_the_signed_verdict_stops_it(attacked):
    """Without the guard and the verdicts, the patched session turns the blank notebook's failing test
    cells into passes; with them it scores nothing (above)."""
    proc, results = attacked["unguarded"]
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    bought = [p["grade_id"] for p in results["session_drops_errors"]["problems"] if p["score"] > 0]
    assert bought, "the attack should score without the verdict, or it tests nothing"
