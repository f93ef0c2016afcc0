"""A test cell's verdict, from the check to the grader, past the student's process.

A test cell scores by what the kernel reports (no error output: full points),
and the kernel is the student's process. So ``course-grade`` does not take the
kernel's word alone: each test cell is sent wrapped as

    __import__("course_lib.instructor.grading.verdict", fromlist=["run"]).run(N, STATEMENTS, LAST_EXPRESSION)

and :func:`run` (trusted code, imported before any student line) executes the
cell's source and reports ``start``, then ``pass`` (with the cell's numeric
result, if any: nbgrader's partial credit) or ``fail`` through an audit event.
The audit hook :func:`install` adds (it cannot be removed) signs each report
with a key only it holds, ``HMAC-SHA256(key, "seq cell status value")``, and
writes it to the grader's pipe. It signs only a report that

- comes straight from :func:`run`'s own code object,
- whose caller is the top level of a cell that IPython's ``run_code`` runs, with
  no other ``run_code`` below it (no cell run from inside a cell),
- in the main thread, never nested in another :func:`run`.

The key reaches the kernel through a pipe it reads once, before IPython starts;
it lives only in the hook's closure, which no student code can reach: the
garbage collector's lists, frames of the course's code, ``/proc/self/mem`` and
the defaults of ``course_lib``'s functions are refused by :mod:`.guard`, and
the hook never raises and never calls an object it did not create.

The grader (:func:`judge`) then compares, for each test cell it sent, what the
kernel's outputs would score with what the signed reports say: a cell whose
outputs would score but whose report is not exactly one ``start`` and one
``pass`` (with the same number) scores 0 (an error output ``VerdictMismatch``
is put first) and is a finding; so is a report that is unsigned, out of order,
or about a cell that was not a test cell. A failure that disappears on its way
to the grader is a finding, never a pass.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass

from .. import safe_ast

EVENT = "course_lib.verdict"
PREFIX = "VERDICT "
MISMATCH = "VerdictMismatch"
STATUSES = ("start", "pass", "fail")


# --------------------------------------------------------------------------- in the kernel
def run(cell, body, last=None, *, _audit=sys.audit, _frame=sys._getframe, _compile=compile, _exec=exec,
        _eval=eval, _Base=BaseException, _isinstance=isinstance, _number=(int, float), _bool=bool, _float=float,
        _repr=repr):
    """Run test cell ``cell`` (its statements ``body``, then its ``last`` expression, whose value
    IPython shows) in the notebook's namespace and report the verdict.

    Every name it uses after the source starts is a default bound when this module
    was imported (reading or changing them is refused): a student's code, running
    inside the checks, cannot swap what this function calls."""
    namespace = _frame(1).f_globals
    _audit(EVENT, cell, "start", "")
    try:
        _exec(_compile(body, f"<test cell {cell}>", "exec"), namespace)
        value = None if last is None else _eval(_compile(last, f"<test cell {cell}>", "eval"), namespace)
    except _Base:
        _audit(EVENT, cell, "fail", "")
        raise
    number = _repr(_float(value)) if _isinstance(value, _number) and not _isinstance(value, _bool) else ""
    _audit(EVENT, cell, "pass", number)
    return value


def install(key: bytes, channel_fd: int, run_code) -> None:
    """Add the audit hook that signs :func:`run`'s reports (once per kernel).

    ``run_code``: the code object of IPython's ``InteractiveShell.run_code``, taken
    before any student line ran."""
    import _thread
    from _hashlib import hmac_digest

    write, frame_at, ident, main, runner = __import__("os").write, sys._getframe, _thread.get_ident, \
        _thread.get_ident(), run.__code__
    kind, int_, str_, statuses = type, int, str, STATUSES
    state = [0, None, False]  # next sequence number, the cell being run, busy

    def emit(cell: int, status: str, value: str) -> None:
        message = f"{state[0]} {cell} {status} {value or '-'}"
        mac = hmac_digest(key, message.encode(), "sha256").hex()
        state[0] += 1
        try:
            write(channel_fd, f"{PREFIX}{message} {mac}\n".encode())
        except OSError:
            pass

    def shaped(caller) -> bool:
        """The report comes from :func:`run`, called at a cell's top level by the only run_code."""
        if caller.f_code is not runner:
            return False
        cell_frame = caller.f_back
        if cell_frame is None or cell_frame.f_code.co_name != "<module>":
            return False
        top = cell_frame.f_back
        if top is None or top.f_code is not run_code:
            return False
        seen, f = 0, top
        while f is not None:
            seen += f.f_code is run_code
            f = f.f_back
        return seen == 1

    def hook(event, args) -> None:
        if event != EVENT or state[2]:
            return
        state[2] = True
        try:
            ok = (len(args) == 3 and kind(args[0]) is int_ and kind(args[1]) is str_ and kind(args[2]) is str_
                  and args[1] in statuses and len(args[2]) < 64 and ident() == main and shaped(frame_at(1)))
            if not ok:
                emit(-1, "forged", "")
                return
            cell, status, value = args
            if status == "start":
                if state[1] is not None:
                    emit(-1, "forged", "")
                    return
                state[1] = cell
            elif state[1] != cell:
                emit(-1, "forged", "")
                return
            else:
                state[1] = None
            emit(cell, status, value)
        except BaseException:  # noqa: BLE001 - the hook never raises: its frame must not reach a traceback
            pass
        finally:
            state[2] = False

    sys.addaudithook(hook)


# --------------------------------------------------------------------------- in the grader
def _split(source: str) -> tuple[str, str | None]:
    """``(statements, last expression or None)``: IPython shows the value of a cell's last
    expression (unless a ``;`` ends the cell)."""
    try:
        tree = safe_ast.parse(source)
    except SyntaxError:
        return source, None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr) or source.rstrip().endswith(";"):
        return source, None
    last = tree.body[-1]
    lines = source.splitlines(keepends=True)
    head = "".join(lines[:last.lineno - 1]) + lines[last.lineno - 1][:last.col_offset]
    return head, ast.get_source_segment(source, last)


def wrap(cell: int, source: str) -> str:
    """The source sent to the kernel for test cell ``cell`` (its index in the notebook)."""
    body, last = _split(source)
    return f'__import__("{__name__}", fromlist=["run"]).run({cell}, {body!r}, {last!r})'


@dataclass(frozen=True)
class Report:
    seq: int
    cell: int
    status: str
    value: str


def verify(lines: list[str], key: bytes) -> tuple[list[Report], list[str]]:
    """The signed reports in ``lines`` (the pipe's ``VERDICT`` lines, prefix removed), in
    order, and what is wrong with the others (unsigned, out of sequence, forged)."""
    import hmac

    reports, problems = [], []
    for line in lines:
        parts = line.split()
        if len(parts) != 5:
            problems.append(f"an unsigned verdict line: {line[:80]!r}")
            continue
        message, mac = " ".join(parts[:4]), parts[4]
        if not hmac.compare_digest(hmac.new(key, message.encode(), "sha256").hexdigest(), mac):
            problems.append(f"a verdict line the check did not sign: {line[:80]!r}")
            continue
        seq, cell, status, value = int(parts[0]), int(parts[1]), parts[2], parts[3]
        if seq != len(reports):
            problems.append(f"verdict {seq} arrived where {len(reports)} was due (a report was lost)")
        if status == "forged":
            problems.append("the student's code tried to report a test cell's verdict itself")
        reports.append(Report(seq, cell, status, "" if value == "-" else value))
    return reports, problems


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def judge(nb, sent: list[int], reports: list[Report], problems: list[str]) -> list[str]:
    """Compare each test cell in ``sent`` (cell indices) with its reports; zero the cells
    whose outputs would score without a signed pass. Returns the findings."""
    from nbformat.v4 import new_output
    from nbgrader.utils import determine_grade
    from course_lib import nbmeta

    findings = [f"verdict: {p}" for p in problems]
    by_cell: dict[int, list[Report]] = {}
    for r in reports:
        by_cell.setdefault(r.cell, []).append(r)
    for cell in sorted(set(by_cell) - set(sent) - {-1}):
        findings.append(f"verdict: a report for code cell {cell + 1}, which is not a test cell that was run")
    for index in sent:
        cell = nb.cells[index]
        name = nbmeta.grade_id(cell) or f"cell {index + 1}"
        got = [(r.status, r.value) for r in by_cell.get(index, [])]
        statuses = [status for status, _ in got]
        if len(got) > 2 or (got and statuses[0] != "start"):
            findings.append(f"verdict: test {name}: {len(got)} reports for one run of the cell")
        score, _ = determine_grade(cell)
        if not score:
            continue  # an error output already scores 0, whatever the report says
        why = None
        if statuses[-2:] != ["start", "pass"]:
            why = f"the check recorded {statuses[-1] if got else 'nothing'}, the kernel reported a pass"
        elif len(got) > 2:
            why = f"the check reported {len(got)} times for one run of the cell"
        else:
            shown = next((_as_float(o.get("data", {}).get("text/plain", "")) for o in cell.outputs
                          if o.get("output_type") == "execute_result"), None)
            if shown is not None and shown != _as_float(got[-1][1]):
                why = f"the kernel showed the result {shown}, the check computed {got[-1][1] or 'no number'}"
        if why:
            # first: nbgrader scores by the first error or result it meets
            cell.outputs.insert(0, new_output("error", ename=MISMATCH, evalue=f"{why}: scored 0",
                                              traceback=[f"{MISMATCH}: {why}"]))
            findings.append(f"verdict: test {name}: {why}; scored 0")
    return findings
