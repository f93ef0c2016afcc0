"""``ast.parse`` that threads may call at once.

CPython 3.11 keeps the depth counter of its AST-object constructor in state the threads
share; two threads building AST objects at once can make either fail with ``SystemError:
AST constructor recursion depth mismatch`` (python/cpython gh-106905). ``course-grade``'s
parent scans two students' submissions at once (one thread per slot), and that error
left a student ungraded. One lock: a parse takes milliseconds.
"""
from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """:func:`ast.parse`, one thread at a time (it raises what ``ast.parse`` raises)."""
    with _LOCK:
        return ast.parse(source, filename, mode)
