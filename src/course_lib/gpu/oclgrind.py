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
from typing import Iterator

__all__ = ["Buffer", "capture_stderr", "explain"]

#: Environment Oclgrind reads when its platform is first used.
OCLGRIND_ENV = {"OCLGRIND_DATA_RACES": "1", "OCLGRIND_MAX_ERRORS": "1000"}


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


def _lines(entry: list[str]) -> list[int]:
    return [int(m.group(1)) for line in entry if (m := re.match(r"At line (\d+)", line))]


class _Source:
    def __init__(self, source: str, offset: int):
        self.lines = source.splitlines()
        self.offset = offset

    def at(self, line: int) -> str:
        n = line - self.offset
        if 1 <= n <= len(self.lines):
            return f"line {n} of your kernel: `{self.lines[n - 1].strip()}`"
        return "a line of the prelude"


def _where(buffers: list[Buffer], space: str, address: int) -> str:
    """``C[1073] (C has 1073 elements, ...)`` for a global address; the simulator
    gives every buffer its own range of addresses, starting at its base."""
    if space == "local":
        return "a __shared__ array"
    below = [b for b in buffers if b.base <= address]
    if below:
        b = max(below, key=lambda b: b.base)
        index = (address - b.base) // b.itemsize
        n = b.nbytes // b.itemsize
        if index < (1 << 40):
            return f"{b.name}[{index}] ({b.name} has {n} elements, indices 0 to {n - 1})"
    return f"{space} memory"


def explain(report: str, kernel: str, source: str, offset: int, buffers: list[Buffer]) -> str | None:
    """One message for the first problem in Oclgrind's ``report``, or None if it found none."""
    entries = [e for e in _entries(report) if not e[0].startswith(("Oclgrind", "1 error", "warning"))]
    if not entries:
        return None
    src = _Source(source, offset)
    first = entries[0]
    head, body = first[0], "\n".join(first[1:])
    lines = _lines(first)
    same = sum(1 for e in entries if e[0].split(" at ")[0] == head.split(" at ")[0])
    more = f" ({same} such reports in all; the first is shown)" if same > 1 else ""

    m = re.match(r"Invalid (read|write) of size (\d+) at (\w+) memory address (0x[0-9a-fA-F]+)", head)
    if m:
        what = _where(buffers, m.group(3), int(m.group(4), 16))
        thread, block = _triple(body, "Local"), _triple(body, "Group")
        at = src.at(lines[0]) if lines else "an unknown line"
        return (f"{kernel}: out-of-bounds {m.group(1)} of {what} by thread {thread} of block {block}, at "
                f"{at}{more}. A thread whose row or column lies outside the matrix must not touch memory: "
                f"guard the access with a bounds check such as `if (row < n && col < p)`, and check the "
                f"index arithmetic.")
    m = re.match(r"(Read-write|Write-write) data race at (\w+) memory address (0x[0-9a-fA-F]+)", head)
    if m:
        what = _where(buffers, m.group(2), int(m.group(3), 16))
        ents = re.findall(r"Local" + _TRIPLE + r" Group" + _TRIPLE, body)
        who = " and ".join(f"thread ({a},{b},{c})" for a, b, c, *_ in ents[:2])
        block = f"({ents[0][3]},{ents[0][4]},{ents[0][5]})" if ents else "?"
        at = " and ".join(src.at(n) for n in lines[:2])
        return (f"{kernel}: data race ({m.group(1).lower()}) on {what}: {who} of block {block} access it with "
                f"no barrier between them, at {at}{more}. Every thread must finish writing a shared tile "
                f"before any thread reads it, and finish reading it before it is overwritten: is a "
                f"__syncthreads() missing (after loading the tile, and at the end of each loop step)?")
    if head.startswith("Work-group divergence detected"):
        block = _triple(body, "Work-group: ") or "?"
        count = re.search(r"Only (\d+) out of (\d+) work-items", body)
        if count or len(lines) < 2:
            how = f" (only {count.group(1)} of its {count.group(2)} threads got there)" if count else ""
            at = src.at(lines[0]) if lines else "a barrier"
            what = f"not every thread of block {block} reached the __syncthreads() at {at}{how}"
        else:
            thread = _triple(body, "Local")
            what = (f"the threads of block {block} are split between two barriers: thread {thread} is at the "
                    f"__syncthreads() at {src.at(lines[0])}, while threads before it waited at the one at "
                    f"{src.at(lines[1])}")
        return (f"{kernel}: {what}{more}. Every thread of a block must reach every __syncthreads(), the same ones "
                f"in the same order: do not put one inside an `if` that only some threads enter (such as the "
                f"bounds guard); guard the loads and stores instead.")
    detail = " ".join(first[:4])
    return f"{kernel}: the checked run reported a problem: {detail}{more}"
