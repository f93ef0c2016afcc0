"""The similarity screen's result and its report: :class:`Pair` (two students, the share of
each one's solution found in the other's, the matched code per notebook), the thresholds a
pair must reach, and :func:`write_report` (``similarity.csv`` and a self-contained
``similarity.html``). The screening itself is in :mod:`.similarity`."""
from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CSV_NAME", "HTML_NAME", "MIN_SIMILARITY", "MIN_TOKENS", "NOTICE", "Pair", "Shared", "write_report"]

MIN_TOKENS = 150
"""Default: fewest matched tokens, across the problem set, for a pair to be reported."""
MIN_SIMILARITY = 0.8
"""Default: the share of the smaller solution's tokens found in the other one for a pair to be reported."""

CSV_NAME = "similarity.csv"
HTML_NAME = "similarity.html"
CSV_COLUMNS = ("student_a", "student_b", "similarity_a", "similarity_b", "matched_tokens", "notebooks",
               "tokens_per_notebook")
NOTICE = "For a person to judge; no score is changed."


@dataclass
class Shared:
    """The code of one notebook of a pair, with the matched spans (offsets in the code)."""
    notebook: str
    tokens: int
    code_a: str
    spans_a: list[tuple[int, int]]
    code_b: str
    spans_b: list[tuple[int, int]]


@dataclass
class Pair:
    """Two students whose solution code is near-identical: for a person to judge."""
    student_a: str
    student_b: str
    similarity_a: float   # share of a's solution tokens found in b's
    similarity_b: float   # share of b's solution tokens found in a's
    matched_tokens: int   # the smaller of the two matched-token counts
    notebooks: list[str]  # the notebooks holding matched code, most matched tokens first
    shared: list[Shared] = field(default_factory=list, repr=False)

    @property
    def similarity(self) -> float:
        """The share of the smaller solution found in the other: what the threshold reads."""
        return max(self.similarity_a, self.similarity_b)



_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; }
.notice { border: 2px solid #8a5a00; background: #fff6e0; padding: .6rem 1rem; font-weight: 600; }
table { border-collapse: collapse; }
td, th { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left; vertical-align: top; }
table.code { width: 100%; table-layout: fixed; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; }
mark { background: #ffe066; color: inherit; }
h2 { margin-top: 2rem; }
"""


def _highlighted(code: str, spans: list[tuple[int, int]]) -> str:
    """The code, html-escaped, with the matched spans in <mark> (copydetect.utils.highlight_overlap)."""
    from copydetect.utils import highlight_overlap

    if not code:
        return "<em>(no code)</em>"
    if not spans:
        return html.escape(code)
    slices = np.array([[s for s, _ in spans], [e for _, e in spans]], dtype=np.int64)
    marked, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return marked


def write_report(pairs: Sequence[Pair], folder: Path, *, students: int | None = None,
                 min_tokens: int = MIN_TOKENS, min_similarity: float = MIN_SIMILARITY) -> tuple[Path, Path]:
    """Write ``similarity.csv`` (one row per pair) and ``similarity.html`` (self-contained:
    no script, no external resource; each pair's matched code side by side, matches
    highlighted, everything html-escaped) into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / CSV_NAME, folder / HTML_NAME

    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for p in pairs:
            tokens = {s.notebook: s.tokens for s in p.shared}
            writer.writerow([p.student_a, p.student_b, f"{p.similarity_a:.3f}", f"{p.similarity_b:.3f}",
                             p.matched_tokens, ";".join(p.notebooks),
                             ";".join(str(tokens.get(n, 0)) for n in p.notebooks)])

    e = html.escape
    class_size = f" among {students} students" if students is not None else ""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>Similarity screening of solution code</title>", f"<style>{_STYLE}</style></head><body>",
           f'<p class="notice">{e(NOTICE)} A pair listed here is not a finding of misconduct: '
           "look at the code and decide.</p>",
           "<h1>Similarity screening of solution code</h1>",
           f"<p>{len(pairs)} pair(s){e(class_size)} share at least {min_tokens} tokens of normalised solution code "
           f"and at least {min_similarity:.0%} of the smaller solution. Only solution code cells are compared, "
           "without the lines the release notebook already had; identifiers, strings, comments and whitespace "
           "are normalised away (copydetect, winnowing as in MOSS), and code of the release notebooks is "
           "boilerplate. A token is one character of normalised code (an identifier counts 1). "
           "The code shown is what was compared: each solution cell (under <code># --- its grade_id ---</code>) "
           "without the lines the release notebook gave. Highlighted: code found in the other student's "
           "solution.</p>"]
    if pairs:
        out.append("<table><tr><th>#</th><th>student a</th><th>student b</th><th>share of a</th>"
                   "<th>share of b</th><th>matched tokens</th><th>notebooks, most shared first</th></tr>")
        for i, p in enumerate(pairs, 1):
            out.append(f'<tr><td><a href="#pair-{i}">{i}</a></td><td>{e(p.student_a)}</td><td>{e(p.student_b)}</td>'
                       f"<td>{p.similarity_a:.0%}</td><td>{p.similarity_b:.0%}</td><td>{p.matched_tokens}</td>"
                       f"<td>{e(', '.join(p.notebooks))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p><strong>No pair reached the thresholds.</strong></p>")
    for i, p in enumerate(pairs, 1):
        out.append(f'<h2 id="pair-{i}">{i}. {e(p.student_a)} and {e(p.student_b)}: '
                   f"{p.similarity_a:.0%} / {p.similarity_b:.0%}, {p.matched_tokens} matched tokens</h2>")
        for s in p.shared:
            if s.tokens == 0 and not s.spans_a and not s.spans_b:
                continue
            out.append(f"<h3>{e(s.notebook)}: {s.tokens} matched tokens</h3>")
            out.append(f'<table class="code"><tr><th>{e(p.student_a)}</th><th>{e(p.student_b)}</th></tr>'
                       f"<tr><td><pre>{_highlighted(s.code_a, s.spans_a)}</pre></td>"
                       f"<td><pre>{_highlighted(s.code_b, s.spans_b)}</pre></td></tr></table>")
    out.append("</body></html>")
    html_path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return csv_path, html_path
