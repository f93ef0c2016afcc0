"""The run-time guard of graded kernels (``course_lib.instructor.grading.guard``), in a real kernel.

One guarded kernel (``ConfinedKernelManager`` unconfined, so this runs anywhere;
``test_grading_hostile.py`` runs the same attacks confined, through
``course-grade``) started in a copy of a submission that plants a
``course_lib/`` package, a ``numpy/`` folder and a ``torch.py``. Cells run in
order, as a notebook's would:

- the planted modules are never imported;
- each operation no answer needs is refused with a ``PermissionError`` and
  reported on the guard's pipe, with the student's line;
- each change to what a test cell relies on (a check replaced in its module, in
  ``sys.modules``, numpy's namespace, IPython's exception handling and event
  callbacks) is undone before the next cell runs, and reported;
- ordinary code keeps working: namedtuples, dataclasses, scipy, numpy, torch,
  matplotlib, reading and writing files in the copy.
"""
from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from course_lib.instructor.grading.kernel import ConfinedKernelManager
from course_lib.instructor.grading.verdict import verify

pytestmark = pytest.mark.timeout(300)

PLANTED = {
    "course_lib/__init__.py": "raise SystemExit('the planted course_lib was imported')\n",
    "numpy/__init__.py": "raise SystemExit('the planted numpy was imported')\n",
    "torch.py": "raise SystemExit('the planted torch was imported')\n",
    "sitecustomize.py": "raise SystemExit('the planted sitecustomize ran')\n",
}

# (cell, what its outputs must hold, the guard's report must hold)
CELLS = [
    ("import course_lib, numpy, torch\nprint('imported', course_lib.__file__, numpy.__file__, torch.__file__)",
     "imported", None),
    ("import gc\ngc.get_objects()", "PermissionError: refused by the grading guard: gc.get_objects",
     "refused gc.get_objects"),
    ("def f(): pass\nf.__code__ = (lambda: 1).__code__", "refused by the grading guard: setting __code__",
     "refused setting __code__ of f"),
    ("import subprocess\nsubprocess.run(['true'])", "refused by the grading guard: subprocess.Popen",
     "refused subprocess.Popen"),
    ("import os\nos.kill(os.getpid(), 0)", "refused by the grading guard: os.kill", "refused os.kill"),
    ("import ctypes\nctypes.CDLL(None)", "refused by the grading guard: ctypes", "refused ctypes"),
    ("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)", "refused by the grading guard: socket",
     "refused socket."),
    ("import sys\nsys.settrace(lambda *a: None)", "refused by the grading guard: sys.settrace",
     "refused sys.settrace"),
    ("open('/etc/hostname-of-the-grader-outside', 'w')", "refused by the grading guard: opening",
     "refused opening /etc/hostname-of-the-grader-outside for writing"),
    # changes undone before the next cell
    ("import course_lib.checks.hand_gradients as hg\nname = 'check_' + 'dL_dw3'\nsetattr(hg, name, lambda *a: None)",
     "", None),
    ("from course_lib.checks.hand_gradients import check_dL_dw3\ncheck_dL_dw3(123.0)", "CheckFailure",
     "restored course_lib.checks.hand_gradients.check_dL_dw3"),
    ("import sys, types\nsys.modules['course_lib.checks.hand_gradients'] = types.ModuleType('fake')", "", None),
    ("from course_lib.checks.hand_gradients import check_dL_dw3\ncheck_dL_dw3(123.0)", "CheckFailure",
     "restored sys.modules['course_lib.checks.hand_gradients']"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "", None),
    ("import numpy as np\nprint('allclose', np.allclose([1.0], [2.0]))", "allclose False", "restored numpy.allclose"),
    ("import numpy as np\nnp.isclose = max", "", None),  # a built-in in place of a library function
    ("import numpy as np\nprint('isclose', np.isclose(1.0, 2.0))", "isclose False", "restored numpy.isclose"),
    ("import torch\ntorch.manual_seed(0)\nprint('seeded')", "seeded", None),  # torch may wrap its own functions
    ("get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)", "", None),
    ("raise ValueError('a failure that must be reported')", "ValueError: a failure that must be reported",
     "restored the IPython shell's custom_exceptions"),
    ("get_ipython().events.register('post_run_cell', lambda r: print('ECHO', r.info.raw_cell))", "", None),
    ("print('no echo after this')", "no echo after this", "restored IPython's post_run_cell event callbacks"),
    # a check's locals (the expected values) are out of reach of a student's object it calls
    (textwrap.dedent("""\
        import sys
        class Sneaky:
            def __float__(self):
                f = sys._getframe(1)
                return f.f_locals['t'].grad[2]
        from course_lib.checks.hand_gradients import check_dL_dw3
        check_dL_dw3(Sneaky())"""),
     "CheckFailure: dL_dw3: the check could not use your object: PermissionError: refused by the grading guard: "
     "a frame", "refused a frame from which the course's code or a generator is reachable ("),
    (textwrap.dedent("""\
        class Sneaky:
            def __float__(self):
                try:
                    raise ValueError
                except ValueError as err:
                    return err.__traceback__.tb_frame.f_back.f_locals['t'].grad[2]
        from course_lib.checks.hand_gradients import check_dL_dw3
        check_dL_dw3(Sneaky())"""),
     "refused by the grading guard: a traceback's frame", "refused a traceback's frame"),
    ("def g():\n    yield 1\nnext(iter([g().gi_frame]))", "refused by the grading guard: a generator's",
     "refused a generator's or coroutine's frame (gi_frame)"),
    ("import sys\ndef g():\n    yield sys._getframe()\nnext(g())", "refused by the grading guard: a frame",
     "refused a frame"),
    ("open('/proc/self/mem', 'rb')", "refused by the grading guard: opening /proc/self/mem",
     "refused opening /proc/self/mem"),
    ("import course_lib.instructor.grading.verdict as v\nv.run.__kwdefaults__['_exec'] = lambda *a: None",
     "refused by the grading guard: reading __kwdefaults__ of run", "refused reading __kwdefaults__ of run"),
    # verdicts the student's code tries to give itself (signed as forged, see test_verdicts_...)
    ("import sys\nsys.audit('course_lib.verdict', 5, 'pass', '')", "", None),
    ("import course_lib.instructor.grading.verdict as v\ndef mine():\n    v.run(6, 'pass = 1')\nmine()", "", None),
    # ordinary code still works
    (textwrap.dedent("""\
        import collections, dataclasses, scipy.stats, matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        P = collections.namedtuple('P', 'x y')
        @dataclasses.dataclass
        class Q:
            a: int
        plt.plot([1, 2]); plt.savefig('plot.png')
        open('notes.txt', 'w').write('mine')
        import traceback
        try:
            1 / 0
        except ZeroDivisionError:
            text = traceback.format_exc()
        print('ordinary', P(1, 2), Q(3), round(float(scipy.stats.norm.cdf(0)), 2), open('notes.txt').read(),
              'ZeroDivisionError' in text)"""),
     "ordinary P(x=1, y=2) Q(a=3) 0.5 mine True", None),
]


async def _run_cells(workdir: Path, log: Path) -> tuple[list[tuple[str, str]], tuple]:
    km = ConfinedKernelManager(confine=False, submission=str(workdir), guard_log=str(log))
    await km.start_kernel(cwd=str(workdir))
    kc = km.client()
    kc.start_channels()
    results = []
    try:
        await kc.wait_for_ready(timeout=120)
        for code, _, _ in CELLS:
            msg_id = kc.execute(code)
            out = []
            while True:
                msg = await kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    out.append(f"{content['ename']}: {content['evalue']}")
                elif kind == "status" and content["execution_state"] == "idle":
                    break
            while True:
                reply = await kc.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            results.append((reply["content"]["status"], " ".join(" ".join(out).split())))
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    await asyncio.sleep(0.5)  # the pipe's reader thread writes the last lines
    return results, verify(km.verdicts(), km.verdict_key)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> tuple[list[tuple[str, str]], str, tuple]:
    submission = tmp_path_factory.mktemp("submission")
    for name, text in PLANTED.items():
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_text(text)
    log = submission.parent / "guard.log"
    log.write_text("")
    results, verdicts = asyncio.run(_run_cells(submission, log))
    return results, log.read_text(), verdicts


def test_nothing_planted_in_the_submission_is_imported(guarded):
    results, _, _ = guarded
    status, out = results[0]
    assert status == "ok" and "planted" not in out, out
    assert "site-packages" in out or "/src/course_lib" in out, out


@pytest.mark.parametrize("k", range(1, len(CELLS)))
def test_each_attack_is_refused_or_undone_and_reported(guarded, k):
    results, log, _ = guarded
    code, shown, reported = CELLS[k]
    status, out = results[k]
    assert shown in out, f"cell {code!r}: outputs {out!r} should show {shown!r}"
    if reported:
        assert reported in log, f"the guard's report should say {reported!r}:\n{log}"
    if "PermissionError" in shown or "CheckFailure" in shown or "ValueError" in shown:
        assert status == "error", f"cell {code!r} must fail, it replied {status}"


def test_ordinary_code_raises_no_finding(guarded):
    results, log, _ = guarded
    status, out = results[-1]
    assert status == "ok", out
    assert "torch" not in log, log
    assert "matplotlib" not in log and "scipy" not in log and "notes.txt" not in log and "plot.png" not in log, log


def test_verdicts_the_student_code_gives_itself_are_signed_as_forged(guarded):
    """A verdict event raised by the student's code, and :func:`verdict.run` called from a
    student's function, are signed as forged: never a report for cell 5 or 6."""
    reports, problems = guarded[2]
    # one for the event, and the start and the pass of run() called from a function
    assert [r.status for r in reports] == ["forged"] * 3, reports
    assert problems == ["the student's code tried to report a test cell's verdict itself"] * 3
