"""Text edits on the student's source, applied by byte range.

The translation to OpenCL C changes little of what a student wrote: it
inserts address spaces, renames, rewrites a few C++ forms, moves
``__shared__`` declarations. Each change is an :class:`Edit` of a byte range
of the original text; :func:`render` applies the edits that fall inside a
range. An edit that replaces a range supersedes the edits inside it (a moved
declaration is rendered once, at its new place, with its own edits);
insertions at the start of a replaced range come before its replacement.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

__all__ = ["Edit", "blank", "render"]

_ids = count()


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` by ``new`` (an insertion when start == end)."""

    start: int
    end: int
    new: str
    order: int = field(default_factory=lambda: next(_ids))


def blank(text: bytes, start: int, end: int) -> str:
    """What replaces a removed range: its newlines, so that later lines keep their numbers."""
    return "\n" * text.count(b"\n", start, end)


def render(text: bytes, start: int, end: int, edits: list[Edit]) -> str:
    """``text[start:end]`` with the edits inside that range applied."""
    inside = sorted((e for e in edits if start <= e.start and e.end <= end and not (e.start == e.end == end)),
                    key=lambda e: (e.start, e.end > e.start, -(e.end - e.start), e.order))
    out: list[str] = []
    pos = start
    for e in inside:
        if e.start < pos:          # inside a range already replaced
            continue
        out.append(text[pos:e.start].decode("utf-8", "replace"))
        out.append(e.new)
        pos = e.end
    out.append(text[pos:end].decode("utf-8", "replace"))
    return "".join(out)
