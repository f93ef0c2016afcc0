"""Similarity screening of solution code after grading: pairs of students whose
solution code is near-identical once names, comments and whitespace are
normalised away.

    python -m course_lib.instructor.grading.similarity [--course ROOT] [--assignment ps1]
                                                       [--min-tokens N] [--min-similarity F]

writes ``grading/<assignment>/similarity.csv`` and ``similarity.html`` and prints
a short table. **It only flags pairs for a person to judge; it never changes a
score.**

Method (``copydetect``, winnowing as in MOSS)
---------------------------------------------
* **What is compared.** Only solution code: code cells whose nbgrader metadata
  says ``solution: true``. Given code, test cells and markdown are left out. In
  each solution cell, the lines the release notebook already had in the cell of
  the same ``grade_id`` (the given lines around the solution region, ``# YOUR
  CODE HERE``, ``raise NotImplementedError()``; lines compared without
  whitespace and comments) are left out too, and a cell the student did not
  touch counts as no code.
* **Boilerplate.** Every k-gram of every code cell of the release notebooks
  (given code, starter stubs, test cells) is boilerplate: a match made of
  starter code, or of the given pattern students are meant to imitate, never
  counts. (Dropped with a set lookup: copydetect 0.5's own boilerplate filter,
  ``np.intersect1d(..., assume_unique=True)`` on hashes that are not unique,
  also drops a student's repeated k-grams.)
* **Normalisation.** copydetect tokenises each cell with pygments and writes
  every identifier as one letter (``V`` variable or attribute, ``F`` function,
  ``O`` class) and every string literal as ``S``, drops comments and whitespace,
  keeps keywords, numbers and operators.
* **Fingerprints.** Every k-gram of ``NOISE_T`` = 25 characters of that
  normalised code is hashed (``GUARANTEE_T`` = ``NOISE_T``: winnowing window 1,
  so every shared 25-character run is found). Each cell is fingerprinted on its
  own (a cell with an unclosed string cannot swallow the next one, and no
  fingerprint spans two cells or two notebooks); a student's cells of all
  notebooks are then put end to end, in notebook and cell order, into one
  document per student (``# ===== notebook =====`` and ``# --- grade_id ---``
  comment lines between them), fingerprinted **once**, and the documents are
  compared pairwise with ``copydetect.compare_files``' measure (shared
  fingerprints, ``get_copied_slices``, matched tokens over fingerprinted
  tokens), computed with arrays instead of its per-hash Python loop.
* **Tokens.** copydetect's unit: one character of the normalised code. An
  identifier or a string is 1 token, ``return`` is 6; ``self.grad += out.grad *
  other.data`` is 15 tokens. The whole of ps1 solved is about 6,300 tokens
  once the given lines are left out.

Thresholds: a pair is reported only when both hold
---------------------------------------------------
* ``matched_tokens >= min_tokens`` (default ``MIN_TOKENS`` = 150, about 10 to
  15 lines of code shared, counted across the whole problem set): independent
  students legitimately write identical short code (``dL_dw3 = s``, ``w1_new =
  w1 - eta * dL_dw1``); short shared code is no evidence. With ``NOISE_T`` = 25
  a run shorter than 25 tokens is never a match at all.
* ``max(similarity_a, similarity_b) >= min_similarity`` (default
  ``MIN_SIMILARITY`` = 0.8): at least 80% of the smaller of the two solutions
  (its fingerprinted tokens, boilerplate excluded) is found in the other one.

``similarity_a`` is the share of student a's solution tokens found in b's code
and ``similarity_b`` the converse; ``matched_tokens`` the smaller of the two
matched-token counts.

Limits: CUDA C written inside Python strings (notebook 05) is normalised like
any string, to ``S``, so kernels themselves are not compared; a copier who
restructures code (reorders statements, rewrites loops) is not found, as with
any token-based screen.

Cost: reading and fingerprinting (pygments) is linear in the class, about 0.2 s a
student; the pairwise comparison is one boolean-table lookup of one student's
fingerprints per pair, well under a millisecond (a class of 400 is 80,000 pairs).
Students with fewer than ``min_tokens`` fingerprinted tokens are never compared
(they cannot reach the threshold).
"""
from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .similarity_report import MIN_SIMILARITY, MIN_TOKENS, NOTICE, Pair, Shared, write_report
from .solution_code import _read_cells, _solution_cells, _source, solution_code

__all__ = ["MIN_SIMILARITY", "MIN_TOKENS", "NOISE_T", "GUARANTEE_T", "Pair", "Shared", "main", "screen",
           "solution_code", "write_report"]

NOISE_T = 25
"""k: the length, in tokens (characters of normalised code), of a fingerprinted k-gram."""
GUARANTEE_T = 25
"""A shared run this long is always found; the winnowing window is GUARANTEE_T - NOISE_T + 1."""
_LANGUAGE = "python"


# --------------------------------------------------------------------------- fingerprints

@dataclass
class _Cell:
    notebook: str
    grade_id: str
    raw: tuple[int, int]        # [start, end) in the student's raw_code
    filtered: tuple[int, int]   # [start, end) in the student's filtered_code
    offsets: np.ndarray         # copydetect's filtered -> raw offsets, local to the cell


@dataclass
class _StudentCode:
    """One student's solution code as one document. Has the attributes of a
    ``copydetect.CodeFingerprint`` that ``copydetect.compare_files`` reads."""
    filename: str
    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    hashes: set[int]
    hash_idx: dict[int, list[int]]
    k: int
    token_coverage: float
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # sorted
    position_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # hash at each
    unique_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))    # sorted
    cells: list[_Cell] = field(default_factory=list)
    notebook_raw: dict[str, tuple[int, int]] = field(default_factory=dict)

    def matched_positions(self, other: _StudentCode) -> np.ndarray:
        """The fingerprint positions of this document whose hash ``other`` has, sorted: what
        ``copydetect.utils.find_fingerprint_overlap`` returns for it, vectorised."""
        if not len(self.positions) or not len(other.unique_hashes):
            return np.zeros(0, np.int64)
        j = np.searchsorted(other.unique_hashes, self.position_hashes)
        j[j == len(other.unique_hashes)] = 0
        return self.positions[other.unique_hashes[j] == self.position_hashes]


def _import_copydetect() -> None:
    """Import copydetect without ``matplotlib.pyplot``, which its detector module imports
    at the top for plots this screen never draws (0.75 s of a 2 s screen). A stand-in
    module is in ``sys.modules`` only during the import; pyplot is used as it is when
    something imported it already."""
    import importlib
    import types

    if "copydetect.detector" in sys.modules or "matplotlib.pyplot" in sys.modules:
        importlib.import_module("copydetect")
        return

    stand_in = types.ModuleType("matplotlib.pyplot", "not imported: copydetect's plots are not used")
    sys.modules["matplotlib.pyplot"] = stand_in
    try:
        importlib.import_module("copydetect")
    finally:
        if sys.modules.get("matplotlib.pyplot") is stand_in:
            del sys.modules["matplotlib.pyplot"]


_BOILERPLATE: dict[tuple, frozenset[int]] = {}  # the release's files (path, size, mtime) -> its hashes


def prewarm(release_dir: Path) -> None:
    """Import copydetect and fingerprint the release's code now: ``course-grade`` does it in a
    thread while the class is graded, so the screen at the end is that much shorter."""
    _import_copydetect()
    _boilerplate(release_dir)


def _boilerplate(release_dir: Path | None) -> frozenset[int]:
    """Hashes of every k-gram of every code cell of the release notebooks (computed once while
    the release's files are unchanged)."""
    if release_dir is None or not release_dir.is_dir():
        return frozenset()
    paths = sorted(release_dir.glob("*.ipynb"))
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    if key not in _BOILERPLATE:
        _BOILERPLATE.clear()
        _BOILERPLATE[key] = frozenset(_release_hashes(paths))
    return _BOILERPLATE[key]


def _release_hashes(paths: Sequence[Path]) -> set[int]:
    from copydetect import CodeFingerprint

    hashes: set[int] = set()
    for path in paths:
        for cell in _read_cells(path):
            code = _source(cell)
            if cell.get("cell_type") == "code" and code.strip():
                fp = CodeFingerprint(path.name, NOISE_T, 1, fp=io.StringIO(code), language=_LANGUAGE)
                hashes.update(int(h) for h in fp.hashes)
    return hashes


def _fingerprint(student: str, notebooks: Sequence[tuple[str, list[tuple[str, str]]]],
                 boilerplate: frozenset[int] | set[int], cache: dict[str, Any] | None = None) -> _StudentCode:
    """One document of the student's cells of all notebooks, each cell fingerprinted on
    its own (no k-gram spans two cells), boilerplate fingerprints dropped. ``cache``
    ({code: CodeFingerprint}) spares tokenising a cell two students have in common."""
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    window = GUARANTEE_T - NOISE_T + 1
    raw_parts: list[str] = []
    filtered_parts: list[str] = []
    offsets: list[np.ndarray] = []
    hash_idx: dict[int, list[int]] = {}
    cells: list[_Cell] = []
    notebook_raw: dict[str, tuple[int, int]] = {}
    raw_pos = filtered_pos = 0
    for name, nb_cells in notebooks:
        header = f"# ===== {' '.join(name.split())} =====\n"
        raw_parts.append(header)
        raw_pos += len(header)
        nb_start = raw_pos
        for gid, code in nb_cells:
            cell_header = f"# --- {gid} ---\n"
            raw_parts.append(cell_header)
            raw_pos += len(cell_header)
            fp = cache.get(code) if cache is not None else None
            if fp is None:
                fp = CodeFingerprint(f"{student}/{name}/{gid}.py", NOISE_T, window, fp=io.StringIO(code),
                                     language=_LANGUAGE)
                if cache is not None:
                    cache[code] = fp
            n = len(fp.filtered_code)
            if n:
                local = np.asarray(fp.offsets, dtype=np.int64).reshape(-1, 2)
                shifted = local.copy()
                shifted[:, 0] += filtered_pos
                shifted[:, 1] += raw_pos - filtered_pos
                offsets.append(shifted)
                for h, positions in fp.hash_idx.items():
                    h = int(h)
                    if h not in boilerplate:
                        hash_idx.setdefault(h, []).extend(int(p) + filtered_pos for p in positions)
                cells.append(_Cell(name, gid, (raw_pos, raw_pos + len(code)), (filtered_pos, filtered_pos + n),
                                   local))
                filtered_parts.append(fp.filtered_code)
            raw_parts.append(code + "\n\n")
            raw_pos += len(code) + 2
            filtered_pos += n
        notebook_raw[name] = (nb_start, raw_pos)
        raw_parts.append("\n")
        raw_pos += 1
    filtered = "".join(filtered_parts)
    pairs = sorted((p, h) for h, ps in hash_idx.items() for p in ps)
    return _StudentCode(
        filename=student, raw_code="".join(raw_parts), filtered_code=filtered,
        offsets=np.concatenate(offsets) if offsets else np.array([]),
        hashes=set(hash_idx), hash_idx=hash_idx, k=NOISE_T,
        token_coverage=float(get_token_coverage(hash_idx, NOISE_T, len(filtered))) if filtered else 0.0,
        positions=np.array([p for p, _ in pairs], dtype=np.int64),
        position_hashes=np.array([h for _, h in pairs], dtype=np.int64),
        unique_hashes=np.array(sorted(hash_idx), dtype=np.int64),
        cells=cells, notebook_raw=notebook_raw)


def _student_notebooks(course: Path, assignment: str, student: str) -> list[tuple[str, list[tuple[str, str]]]]:
    folder = course / "submitted" / student / assignment
    release = course / "release" / assignment
    out = []
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        rel = release / path.name
        out.append((path.name, _solution_cells(path, rel if rel.is_file() else None)))
    return out


# --------------------------------------------------------------------------- pairs



def _side(doc: _StudentCode, matched: np.ndarray) -> tuple[int, float, np.ndarray]:
    """(matched tokens, similarity, copied slices in filtered coordinates) of one document
    from its matched fingerprint positions: ``copydetect.compare_files``' measure."""
    from copydetect.utils import get_copied_slices

    slices = np.asarray(get_copied_slices(matched, doc.k), dtype=np.int64).reshape(2, -1)
    overlap = int(np.sum(slices[1] - slices[0]))
    return overlap, (min(overlap / doc.token_coverage, 1.0) if doc.token_coverage else 0.0), slices


def _compare(doc_a: _StudentCode, doc_b: _StudentCode
             ) -> tuple[tuple[int, float, np.ndarray], tuple[int, float, np.ndarray]]:
    """Both sides of one pair (see ``_side``), fingerprints matched by ``searchsorted``."""
    return _side(doc_a, doc_a.matched_positions(doc_b)), _side(doc_b, doc_b.matched_positions(doc_a))


class _Tables:
    """Fingerprint membership for a whole class: every distinct hash gets a small id, and
    a boolean table over the ids marks one document's fingerprints at a time, so that
    "which of a's positions does b have" is one indexing: well under a millisecond a
    pair for a solved problem set, where ``copydetect.compare_files`` takes about 10 ms
    (a class of 400 is 80,000 pairs)."""

    def __init__(self, docs: Iterable[_StudentCode]):
        vocabulary: dict[int, int] = {}
        self.ids: dict[int, np.ndarray] = {}
        for doc in docs:
            hashes = doc.position_hashes.tolist()
            self.ids[id(doc)] = np.fromiter((vocabulary.setdefault(h, len(vocabulary)) for h in hashes),
                                            dtype=np.int64, count=len(hashes))
        self.marked = np.zeros(len(vocabulary), dtype=bool)
        self.scratch = np.zeros(len(vocabulary), dtype=bool)

    def mark(self, doc: _StudentCode, on: bool = True) -> None:
        self.marked[self.ids[id(doc)]] = on

    def in_marked(self, doc: _StudentCode) -> np.ndarray:
        """doc's positions whose fingerprint the marked document has."""
        return doc.positions[self.marked[self.ids[id(doc)]]]

    def in_other(self, doc: _StudentCode, other: _StudentCode) -> np.ndarray:
        """doc's positions whose fingerprint ``other`` has."""
        self.scratch[self.ids[id(other)]] = True
        found = doc.positions[self.scratch[self.ids[id(doc)]]]
        self.scratch[self.ids[id(other)]] = False
        return found


def _per_cell(doc: _StudentCode, slices: np.ndarray) -> Iterable[tuple[_Cell, int, int]]:
    """Each slice of the filtered code cut at cell boundaries: (cell, start, end), local to the cell."""
    starts = np.array([c.filtered[0] for c in doc.cells], dtype=np.int64)
    for start, end in zip(slices[0].tolist(), slices[1].tolist()):
        i = max(int(np.searchsorted(starts, start, side="right")) - 1, 0)
        while i < len(doc.cells) and doc.cells[i].filtered[0] < end:
            cell = doc.cells[i]
            lo, hi = max(start, cell.filtered[0]), min(end, cell.filtered[1])
            if lo < hi:
                yield cell, lo - cell.filtered[0], hi - cell.filtered[0]
            i += 1


def _raw_pos(cell: _Cell, pos: int) -> int:
    """A position in the cell's filtered code mapped to its raw code (copydetect's own mapping)."""
    keys = cell.offsets[:, 0]
    i = min(int(np.searchsorted(keys, pos)), len(keys) - 1)
    return pos + int(cell.offsets[i, 1])


def _shared(doc_a: _StudentCode, doc_b: _StudentCode, slices_a: np.ndarray, slices_b: np.ndarray) -> list[Shared]:
    """Matched tokens and raw spans per notebook, most matched tokens first."""
    tokens: dict[str, int] = {}
    spans: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    for side, (doc, slices) in enumerate(((doc_a, slices_a), (doc_b, slices_b))):
        for cell, lo, hi in _per_cell(doc, slices):
            if side == 0:
                tokens[cell.notebook] = tokens.get(cell.notebook, 0) + hi - lo
            code_len = cell.raw[1] - cell.raw[0]
            start = min(_raw_pos(cell, lo), code_len)
            end = code_len if hi >= cell.filtered[1] - cell.filtered[0] else min(_raw_pos(cell, hi), code_len)
            text = doc.raw_code[cell.raw[0]:cell.raw[0] + code_len]
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                nb_start = doc.notebook_raw[cell.notebook][0]
                spans.setdefault(cell.notebook, ([], []))[side].append(
                    (cell.raw[0] + start - nb_start, cell.raw[0] + end - nb_start))
    out = []
    for name in sorted(set(tokens) | set(spans), key=lambda n: (-tokens.get(n, 0), n)):
        a = doc_a.notebook_raw.get(name)
        b = doc_b.notebook_raw.get(name)
        sa, sb = spans.get(name, ([], []))
        out.append(Shared(name, tokens.get(name, 0),
                          doc_a.raw_code[a[0]:a[1]].rstrip() if a else "", _merged(sa),
                          doc_b.raw_code[b[0]:b[1]].rstrip() if b else "", _merged(sb)))
    return out


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _students(course: Path, assignment: str) -> list[str]:
    submitted = course / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))


def screen(course: Path, assignment: str = "ps1", students: list[str] | None = None,
           min_tokens: int = MIN_TOKENS, min_similarity: float = MIN_SIMILARITY) -> list[Pair]:
    """The pairs of students whose solution code of the whole assignment is near-identical,
    most similar first.

    Reads ``<course>/submitted/<student>/<assignment>/*.ipynb`` (every student folder
    when ``students`` is None) and takes the boilerplate from
    ``<course>/release/<assignment>/*.ipynb``. A pair is reported when at least
    ``min_tokens`` tokens of normalised code match AND at least ``min_similarity`` of
    the smaller solution's tokens are found in the other (see the module docstring).
    A student with no code of their own, or with fewer than ``min_tokens`` tokens of
    it, is never reported."""
    if min_tokens < 1:
        raise ValueError(f"min_tokens must be at least 1, got {min_tokens}")
    if not 0.0 < min_similarity <= 1.0:
        raise ValueError(f"min_similarity must be in (0, 1], got {min_similarity}")
    course = Path(course)
    names = sorted(set(_students(course, assignment) if students is None else students))
    _import_copydetect()
    boilerplate = _boilerplate(course / "release" / assignment)
    cache: dict[str, Any] = {}
    docs = {s: _fingerprint(s, _student_notebooks(course, assignment, s), boilerplate, cache) for s in names}
    cache.clear()
    eligible = [docs[s] for s in names if docs[s].token_coverage >= min_tokens]
    tables = _Tables(eligible)
    pairs = []
    for j, doc_b in enumerate(eligible):
        tables.mark(doc_b)
        for doc_a in eligible[:j]:
            overlap_a, sim_a, slices_a = _side(doc_a, tables.in_marked(doc_a))
            if overlap_a < min_tokens:
                continue
            overlap_b, sim_b, slices_b = _side(doc_b, tables.in_other(doc_b, doc_a))
            matched = min(overlap_a, overlap_b)
            if matched < min_tokens or max(sim_a, sim_b) < min_similarity:
                continue
            shared = _shared(doc_a, doc_b, slices_a, slices_b)
            pairs.append(Pair(doc_a.filename, doc_b.filename, sim_a, sim_b, matched,
                              [s.notebook for s in shared if s.tokens > 0], shared))
        tables.mark(doc_b, on=False)
    pairs.sort(key=lambda p: (-p.similarity, -p.matched_tokens, p.student_a, p.student_b))
    return pairs


# --------------------------------------------------------------------------- command line

def _table(pairs: Sequence[Pair]) -> str:
    rows = [("student a", "student b", "share a", "share b", "tokens", "notebooks")]
    rows += [(p.student_a, p.student_b, f"{p.similarity_a:.0%}", f"{p.similarity_b:.0%}", str(p.matched_tokens),
              ", ".join(Path(n).stem for n in p.notebooks[:3]) + (", ..." if len(p.notebooks) > 3 else ""))
             for p in pairs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.instructor.grading.similarity",
        description="Similarity screening of solution code: pairs of students whose solution code is "
                    "near-identical after normalising names, comments and whitespace. For a person to judge; "
                    "no score is changed.")
    parser.add_argument("--course", type=Path, default=None,
                        help="course root holding submitted/ and release/ (default: found from the cwd)")
    parser.add_argument("--assignment", default="ps1", help="assignment name (default ps1)")
    parser.add_argument("--min-tokens", type=int, default=MIN_TOKENS,
                        help=f"fewest matched tokens of normalised code, across the assignment (default {MIN_TOKENS})")
    parser.add_argument("--min-similarity", type=float, default=MIN_SIMILARITY,
                        help="least share of the smaller solution found in the other "
                             f"(default {MIN_SIMILARITY})")
    args = parser.parse_args(argv)
    if args.min_tokens < 1:
        parser.error("--min-tokens must be at least 1")
    if not 0.0 < args.min_similarity <= 1.0:
        parser.error("--min-similarity must be in (0, 1]")
    if args.course is None:
        from course_lib.instructor.release import course_root
        args.course = course_root()
    course = args.course.resolve()
    if not (course / "submitted").is_dir():
        print(f"similarity: no submitted/ folder in {course}", file=sys.stderr)
        return 2
    students = _students(course, args.assignment)
    pairs = screen(course, args.assignment, students, args.min_tokens, args.min_similarity)
    csv_path, html_path = write_report(pairs, course / "grading" / args.assignment, students=len(students),
                                       min_tokens=args.min_tokens, min_similarity=args.min_similarity)
    print(f"Similarity screening of {args.assignment}, {len(students)} students "
          f"(>= {args.min_tokens} matched tokens and >= {args.min_similarity:.0%} of the smaller solution). "
          f"{NOTICE}")
    print(_table(pairs) if pairs else "No pair reached the thresholds.")
    print(f"Report: {html_path}\nTable:  {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
