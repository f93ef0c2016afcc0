"""Checked mode: Oclgrind's diagnostics, turned into messages about the student's kernel.

Oclgrind (an OpenCL simulator) prints to the process's stderr an entry per
problem: invalid reads and writes with the work-item, work-group and line;
data races between two work-items; barriers that only some work-items of a
group reach. :func:`capture_stderr` collects that text around a launch and
:func:`explain` turns the first problem into one message in CUDA's terms
(thread = local id, block = group id, arrays by their parameter names).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from .opencl_prelude import SOURCE_NAME

__all__ = ["Buffer", "capture_stderr", "explain"]

#: Environment Oclgrind reads when its platform is first used.
OCLGRIND_ENV = {"OCLGRIND_DATA_RACES": "1", "OCLGRIND_MAX_ERRORS": "1000",
                "OCLGRIND_LOCAL_MEM_SIZE": "49152"}     # CUDA's 48 KB of __shared__ memory per block


@dataclass(frozen=True)
class Buffer:
    """An array argument as the simulator sees it: base address and size."""

    name: str
    base: int
    nbytes: int
    itemsize: int


@contextlib.contextmanager
def capture_stderr() -> Iterator[list[str]]:
    """Collect what C code writes to file descriptor 2 during the block into the yielded list."""
    out: list[str] = []
    sys.stderr.flush()
    fd = 2
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield out
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


def _entries(text: str) -> list[list[str]]:
    """Oclgrind's report split into entries (a heading line, then indented lines)."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(("\t", " ")):
            entries.append([line.strip()])
        elif entries:
            entries[-1].append(line.strip())
    return entries


_TRIPLE = r"\((\d+),(\d+),(\d+)\)"


def _triple(text: str, key: str) -> str | None:
    m = re.search(key + _TRIPLE, text)
    return f"({m.group(1)}, {m.group(2)}, {m.group(3)})" if m else None


def _lines(entry: list[str]) -> list[tuple[int, str]]:
    """(line, file) of each ``At line N (column C) of FILE:`` in an entry."""
    found = []
    for line in entry:
        m = re.match(r"At line (\d+)(?: \(column \d+\))?(?: of (\S+?):?)?$", line)
        if m:
            found.append((int(m.group(1)), m.group(2) or SOURCE_NAME))
    return found


class _Source:
    def __init__(self, lines: Sequence[str]):
        self.lines = list(lines)

    def at(self, where: tuple[int, str]) -> str:
        n, name = where
        if name != SOURCE_NAME:       # in the prelude: an atomic, which the simulator shows from the inside
            calls = [(i, line) for i, line in enumerate(self.lines, 1) if re.search(r"\batomic\w*\s*\(", line)]
            if len(calls) == 1:
                i, line = calls[0]
                return f"line {i} of your kernel: `{line.strip()}` (inside the atomic operation)"
            where_called = ", ".join(str(i) for i, _ in calls) or "?"
            return f"one of the atomic operations of your kernel (lines {where_called})"
        if 1 <= n <= len(self.lines):
            return f"line {n} of your kernel: `{self.lines[n - 1].strip()}`"
        return f"line {n} of your kernel"


def _where(buffers: list[Buffer], space: str, address: int) -> tuple[str, str | None]:
    """(``C[1073] (C has 1073 elements, ...)``, ``C``) for a global address; the
    simulator gives every buffer its own range of addresses, starting at its base."""
    if space == "local":
        return "a __shared__ array", None
    below = [b for b in buffers if b.base <= address]
    if below:
        b = max(below, key=lambda b: b.base)
        index = (address - b.base) // b.itemsize
        n = b.nbytes // b.itemsize
        if index < (1 << 40):
            return f"{b.name}[{index}] ({b.name} has {n} elements, indices 0 to {n - 1})", b.name
    return f"{space} memory", None


_SIZE_NAMES = ("n", "N", "size", "len", "length", "count", "num", "numel", "nelem", "total")


def guard_hint(kernel: Any, lines: Sequence[str], line: tuple[int, str] | None, array: str | None) -> str:
    """How to guard the access, in the terms of this kernel: a 2-D bound for a
    kernel that uses the y indices, ``if (i < n)`` with its own names otherwise."""
    text = "\n".join(lines)
    sizes = [p.name for p in getattr(kernel, "params", ()) if not p.pointer]
    if re.search(r"\b(threadIdx|blockIdx|blockDim)\s*\.\s*y\b", text):
        names = re.findall(r"\b\w+\b", text)
        if {"row", "col"} <= set(names) and {"n", "p"} <= set(sizes):
            example = "`if (row < n && col < p)`"
        elif {"row", "col"} <= set(names):
            example = "`if (row < rows && col < cols)`, with your kernel's sizes"
        else:
            example = "a bound on the row and one on the column"
        return (f"A thread whose row or column lies outside the matrix must not touch memory: guard the access "
                f"with a bounds check on both, such as {example}, and check the index arithmetic.")
    index = None
    if line is not None and array and 1 <= line[0] <= len(lines):
        m = re.search(rf"\b{re.escape(array)}\s*\[\s*([A-Za-z_]\w*)\s*\]", lines[line[0] - 1])
        index = m.group(1) if m else None
    size = next((s for s in sizes if s in _SIZE_NAMES), sizes[0] if len(sizes) == 1 else None)
    if index and size:
        example = f"`if ({index} < {size})`"
    else:
        example = "a bound on the index (`if (i < n)` in your kernel's names)"
    what = f"past the end of {array}" if array else "past the end of the array"
    return (f"A thread whose index lies {what} must not touch it: the grid usually has more threads than "
            f"elements, so guard the access with {example}, and check the index arithmetic.")


def explain(report: str, kernel: Any, lines: Sequence[str], buffers: list[Buffer]) -> str | None:
    """One message for the first problem in Oclgrind's ``report``, or None if it found none.
    ``kernel``: the :class:`~course_lib.gpu.signature.Kernel` launched; ``lines``: the student's lines."""
    name = kernel.name
    entries = [e for e in _entries(report) if not e[0].startswith(("Oclgrind", "1 error", "warning"))]
    if not entries:
        return None
    src = _Source(lines)
    first = entries[0]
    head, body = first[0], "\n".join(first[1:])
    where = _lines(first)
    same = sum(1 for e in entries if e[0].split(" at ")[0] == head.split(" at ")[0])
    more = f" ({same} such reports in all; the first is shown)" if same > 1 else ""

    m = re.match(r"Invalid (read|write) of size (\d+) at (\w+) memory address (0x[0-9a-fA-F]+)", head)
    if m:
        what, array = _where(buffers, m.group(3), int(m.group(4), 16))
        thread, block = _triple(body, "Local"), _triple(body, "Group")
        at = src.at(where[0]) if where else "an unknown line"
        return (f"{name}: out-of-bounds {m.group(1)} of {what} by thread {thread} of block {block}, at "
                f"{at}{more}. {guard_hint(kernel, lines, where[0] if where else None, array)}")
    m = re.match(r"(Read-write|Write-write) data race at (\w+) memory address (0x[0-9a-fA-F]+)", head)
    if m:
        what, _ = _where(buffers, m.group(2), int(m.group(3), 16))
        ents = re.findall(r"Local" + _TRIPLE + r" Group" + _TRIPLE, body)
        who = " and ".join(f"thread ({a},{b},{c})" for a, b, c, *_ in ents[:2])
        block = f"({ents[0][3]},{ents[0][4]},{ents[0][5]})" if ents else "?"
        at = " and ".join(src.at(n) for n in where[:2])
        if m.group(2) == "local":
            advice = ("Every thread must finish writing a shared tile before any thread reads it, and finish "
                      "reading it before it is overwritten: is a __syncthreads() missing (after loading the tile, "
                      "and at the end of each loop step)?")
        else:
            advice = ("Two threads touch the same element of global memory with nothing ordering them: give each "
                      "thread its own elements, or use an atomic operation (atomicAdd) for a shared total.")
        return (f"{name}: data race ({m.group(1).lower()}) on {what}: {who} of block {block} access it with "
                f"no barrier between them, at {at}{more}. {advice}")
    if head.startswith("Work-group divergence detected"):
        block = _triple(body, "Work-group: ") or "?"
        count = re.search(r"Only (\d+) out of (\d+) work-items", body)
        if count or len(where) < 2:
            how = f" (only {count.group(1)} of its {count.group(2)} threads got there)" if count else ""
            at = src.at(where[0]) if where else "a barrier"
            what = f"not every thread of block {block} reached the __syncthreads() at {at}{how}"
        else:
            thread = _triple(body, "Local")
            what = (f"the threads of block {block} are split between two barriers: thread {thread} is at the "
                    f"__syncthreads() at {src.at(where[0])}, while threads before it waited at the one at "
                    f"{src.at(where[1])}")
        return (f"{name}: {what}{more}. Every thread of a block must reach every __syncthreads(), the same ones "
                f"in the same order: do not put one inside an `if` that only some threads enter (such as the "
                f"bounds guard); guard the loads and stores instead.")
    detail = " ".join(first[:4])
    return f"{name}: the checked run reported a problem: {detail}{more}"
