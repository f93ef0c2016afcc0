"""Look for tampering with the grading in students' notebooks: a static scan.

    python -m course_lib.instructor.tamper SUBMISSION_FOLDER [--source source_notebooks/ps1]

Each finding names the notebook cell (its nbgrader ``grade_id``, or ``cell N``
counting code and markdown cells from 1), the line in the cell (from 1), a
``kind`` and one sentence for the instructor. The tool only reports: the exit
status is always 0 and a person decides what a finding means.

Kinds (:data:`KINDS`)
---------------------
``shadows-check``
    a top-level ``def``/``class``/assignment/import/``del`` (or one in a
    function that declares the name ``global``, or a write to ``globals()``)
    of a name that starts with ``check_`` or that the notebook's test cells
    import from ``course_lib``.
``patches-course_lib``
    attribute or item writes, ``setattr``/``delattr``, ``__dict__``/``vars()``
    updates or ``mock.patch`` on anything reached from a name bound to
    ``course_lib`` (``import course_lib...``, ``from course_lib... import X``,
    ``... as L``, ``L2 = L``); file APIs writing ``course_lib``/``course_lib.py``.
``patches-nbgrader``
    ``import nbgrader``/``from nbgrader ...``, ``mock.patch("nbgrader...")``,
    files named ``nbgrader*``.
``patches-library``
    attribute writes or ``setattr`` on ``numpy``, ``torch`` (except
    ``torch.backends.*``), ``math``, ``os``, ``random``, ... modules, which the
    checks themselves use (``np.allclose = lambda *a, **k: True``).
``sys-modules``
    ``sys.modules`` used other than as ``name in sys.modules``;
    ``sys.meta_path``/``sys.path_hooks``; changes to ``sys.path`` or to any
    attribute of ``sys``; ``sitecustomize.py``/``*.pth`` files.
``builtins``
    writes to ``builtins``/``__builtins__``; top-level rebinding of a built-in
    name (``float = lambda x: 1.5`` fools ``assert abs(float(v) - 1.5) < 1e-9``).
``grading-env``
    ``os.environ[...]`` writes/deletes, ``os.environ.update/setdefault/pop/
    clear``, ``os.putenv``/``os.unsetenv``, ``%env``, ``mock.patch.dict(os.environ)``
    with a key starting ``COURSE_`` or ``NBGRADER_``, or a key that is not a
    literal (it cannot be told); replacing ``os.environ``.
``file-outside``
    ``open``, ``Path``, ``os.*``, ``shutil.*``, ``glob.*``, ``io.*`` and
    ``.load/.save/.read_text/...`` calls, ``%cd``, ``%%writefile`` and
    ``something / "..."`` with a string literal that is absolute (``/``,
    ``C:\\``), starts with ``~``, or has a ``..`` part; ``Path.home()``.
``network``
    imports or uses of ``socket``, ``urllib``, ``urllib3``, ``requests``,
    ``http``, ``httpx``, ``aiohttp``, ``ftplib``, ``smtplib``, ``telnetlib``,
    ``ssl``, ``xmlrpc``, ``websocket(s)``, ``paramiko``; ``torch.hub`` calls.
``subprocess``
    imports or uses of ``subprocess``/``pty``/``pexpect``; ``os.system``,
    ``os.popen``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn*``,
    ``os.fork*``, ``os.kill*``; ``!cmd`` shell lines, ``%system``/``%sx``,
    ``%%bash``/``%%sh``/``%%script``/... cells.
``dynamic-code``
    ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, ``ctypes``,
    ``runpy``, ``marshal``, ``get_ipython``, ``%run``/``%load``,
    ``getattr`` on ``course_lib``/``sys``/``builtins``/``nbgrader`` objects,
    ``globals()``/``locals()``/``vars()`` writes, ``gc.get_referrers``-like
    calls, and frame/function internals (``__globals__``, ``__code__``,
    ``__closure__``, ``__subclasses__``, ``f_globals``, ``f_back``, ...):
    code whose effect a static scan cannot see, so a person looks.
``tracing``
    ``sys.settrace``/``setprofile``/``_getframe``/``addaudithook``,
    ``sys.monitoring``, ``threading.settrace/setprofile``,
    ``inspect.currentframe/stack``.
``unparsable``
    a cell that is not Python even with its IPython magics removed and that
    contains a suspicious token (a cell that does not parse and has none is
    skipped: it only fails when run).
``corrupt-notebook``
    (:func:`scan_submission`) a file that nbformat cannot read.
``test-cell-missing`` / ``test-cell-edited`` / ``test-cell-retyped``
    (:func:`compare_test_cells`) an autograded test cell of the source notebook
    is not in the submission, its source differs from the released one (the
    source's with its ``BEGIN/END HIDDEN TESTS`` regions removed; trailing
    whitespace ignored), or it is no longer a locked, graded code cell with
    the same points.
``guard``
    (not from this scan: ``course-grade`` reads them from the run-time guard of
    each kernel, :mod:`course_lib.instructor.grading.guard`) an operation the
    guard refused, or a change to the checks or the kernel it undid.

Which cells are scanned
-----------------------
Every code cell except locked ones. Locked cells (the test cells and the
given, read-only cells such as the setup cell, which itself runs
``subprocess`` to install ``course_lib`` on Colab) are the course's code. But
``locked`` is metadata a student can write on a cell of their own: pass a
``reference`` notebook (the source or release notebook; :func:`scan_submission`
and the CLI do with ``--source``) and a locked cell is skipped only when the
reference has a locked cell of the same ``grade_id`` with the same released
source; any other cell is scanned. Names bound by imports anywhere in the
notebook, locked cells included, are tracked, so ``subprocess.run(...)`` in a
student cell is seen although ``import subprocess`` is in the setup cell.

What is not detected
--------------------
This is a static, syntactic scan: names are resolved without following the
program's flow (``x = os.environ`` then ``x[...] = ...`` is followed; values
passed through functions, containers or computed strings are not). Strings
built at run time (``"COURSE" + "_X"``, ``"/e" + "tc"``) hide keys and paths;
``exec``/``eval``/``getattr``/``importlib``/``globals()`` tricks hide
anything, which is why they are reported as ``dynamic-code`` without proof of
harm. Objects reached through return values (``load_value().__init__ = ...``)
are not tracked to ``course_lib``; nor are writes to other third-party
modules (``plt``, ``pandas``), reads of files inside the submission folder,
C extensions, or notebooks whose JSON a student edited to hide cells from
nbgrader. A clean report is evidence, not proof; a finding is a reason to
look, not proof of cheating (``def check_shapes`` may be an innocent helper).
"""
from __future__ import annotations

from .cells import compare_test_cells, scan_submission
from .findings import KINDS, Finding
from .scan import released_source, scan_notebook

__all__ = ["KINDS", "Finding", "compare_test_cells", "main", "released_source", "scan_notebook", "scan_submission"]


def main(argv: list[str] | None = None) -> int:
    """The command line (see :mod:`.__main__`)."""
    from .__main__ import main as _main

    return _main(argv)
