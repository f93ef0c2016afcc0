"""Parsing in threads (course_lib.instructor.safe_ast): course-grade's parent scans two students
at once, and CPython 3.11's ast.parse can fail with "AST constructor recursion depth mismatch"
when another thread builds AST objects meanwhile (a garbage collection that runs Python code
is enough to switch threads mid-parse). Seen in a class run: a student left ungraded."""
from __future__ import annotations

import sys
import threading

import nbrun
from course_lib.instructor import safe_ast, tamper


class _Finalised:
    def __del__(self):
        sum(range(50))


def _stress(work, threads: int = 4, rounds: int = 30) -> list[str]:
    """Run ``work()`` in ``threads`` threads at different stack depths, switching threads as often
    as possible, with cyclic garbage whose collection runs Python code; the errors raised."""
    errors: list[str] = []
    interval = sys.getswitchinterval()

    def thread(depth: int) -> None:
        if depth > 0:
            return thread(depth - 1)
        for _ in range(rounds):
            junk = []
            for _ in range(300):
                obj = _Finalised()
                obj.me = obj
                junk.append(obj)
            del junk
            try:
                work()
            except Exception as err:  # noqa: BLE001 - collected for the assertion
                errors.append(f"{type(err).__name__}: {err}")

    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=thread, args=(7 * k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_parse_in_many_threads_at_once():
    source = "\n".join(f"def f{i}(x):\n    return [y * {i} for y in x if y > {i}]\n" for i in range(200))
    assert _stress(lambda: safe_ast.parse(source)) == []


def test_tamper_scans_of_two_students_at_once():
    folder = nbrun.RELEASE_DIR
    assert _stress(lambda: tamper.scan_submission(folder, nbrun.SOURCE_DIR), threads=2, rounds=3) == []
