"""The notebooks a student opens are accessible without running anything, and so
is what course_lib prints and shows in them.

- Every release notebook (and its instructor source, which the instructor book
  renders): one level-1 heading, first; no heading level skipped (an ``##``
  may follow ``#``, never ``###`` straight after ``#``); no empty heading.
- No image without a text alternative: markdown ``![alt](src)`` needs ``alt``,
  HTML ``<img>`` needs a non-empty ``alt`` (or ``role="presentation"``), an
  ``<svg>`` needs ``role="img"`` and a label, and a stored image output needs a
  plain-text or HTML alternative that is not just a Python repr.
- Check messages are plain text that says PASSED / CHECK FAILED in words: no
  ANSI colour codes, no emoji, no meaning left to colour.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
RELEASE = sorted((ROOT / "release" / "ps1").glob("*.ipynb"))
SOURCE = sorted((ROOT / "source_notebooks" / "ps1").glob("*.ipynb"))

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SVG = re.compile(r"<svg\b[^>]*>", re.IGNORECASE)
_ATTR = r"""\b{}\s*=\s*("([^"]*)"|'([^']*)')"""
_REPR = re.compile(r"^<.* at 0x[0-9a-f]+>$|^<(Figure|IPython\.core\.display\.\w+) ")
#: ANSI escapes and pictographs (emoji, dingbats such as check marks and crosses)
_ANSI = re.compile(r"\x1b\[")
_PICTOGRAPH = re.compile("[\u2600-\u27bf\u2b50\u2b55\U0001f000-\U0001faff]")


def headings(nb) -> list[tuple[int, str, int]]:
    """(level, text, cell index) of every markdown heading, code fences skipped."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if _FENCE.match(line.strip()):
                fenced = not fenced
            elif not fenced and (m := _HEADING.match(line)):
                found.append((len(m.group(1)), m.group(2), index))
        found += [(int(level), re.sub(r"<[^>]+>", "", text).strip(), index)
                  for level, text in _HTML_HEADING.findall(cell.source)]
    return found


def heading_problems(nb) -> list[str]:
    """Skipped levels, a missing or late level-1 heading, and empty headings."""
    found = headings(nb)
    if not found:
        return ["no heading at all"]
    problems = []
    if found[0][0] != 1:
        problems.append(f"the first heading is level {found[0][0]} ({found[0][1]!r}), not a level-1 title")
    ones = [h for h in found if h[0] == 1]
    if len(ones) != 1:
        problems.append(f"{len(ones)} level-1 headings: {[h[1] for h in ones]}")
    for (before, _, _), (level, text, index) in zip(found, found[1:]):
        if level > before + 1:
            problems.append(f"cell {index}: heading {text!r} is level {level} right after a level {before}")
    problems += [f"cell {index}: empty level-{level} heading" for level, text, index in found if not text]
    return problems


def _attr(tag: str, name: str) -> str | None:
    m = re.search(_ATTR.format(name), tag, re.IGNORECASE)
    return None if m is None else (m.group(2) if m.group(2) is not None else m.group(3))


def html_image_problems(html: str) -> list[str]:
    """``<img>`` without a non-empty alt and ``<svg>`` without role="img" and a label."""
    problems = []
    for tag in _IMG.findall(html):
        if _attr(tag, "role") != "presentation" and not (_attr(tag, "alt") or "").strip():
            problems.append(f"<img> without alt: {tag[:80]}")
    for tag in _SVG.findall(html):
        labelled = (_attr(tag, "aria-label") or "").strip() or _attr(tag, "aria-labelledby")
        if _attr(tag, "aria-hidden") != "true" and not (_attr(tag, "role") == "img" and labelled):
            problems.append(f"<svg> without role=img and a label: {tag[:80]}")
    return problems


def image_problems(nb) -> list[str]:
    """Images in markdown and in stored outputs that have no text alternative."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            problems += [f"cell {index}: markdown image {src!r} without alt text"
                         for alt, src in _MD_IMAGE.findall(cell.source) if not alt.strip()]
            problems += [f"cell {index}: {p}" for p in html_image_problems(cell.source)]
            for name in (cell.get("attachments") or {}):
                if not re.search(r"!\[[^\]]+\]\(attachment:" + re.escape(name), cell.source):
                    problems.append(f"cell {index}: attachment {name} shown without alt text")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                html = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
                problems += [f"cell {index} output: {p}" for p in html_image_problems(html)]
            if any(k.startswith("image/") for k in data) and "text/html" not in data:
                text = "".join(data.get("text/plain", "")).strip()
                if not text or _REPR.match(text):
                    problems.append(f"cell {index}: image output whose only text is {text[:60]!r}")
    return problems


# ----------------------------------------------------------------- the scanners can fail

def test_the_scanners_find_what_they_look_for():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\n### skipped a level\n\n![](plot.png)\n\n<img src='a.png'>"),
        nbformat.v4.new_markdown_cell("```python\n# a comment, not a heading\n```\n## Part\n\n<svg width='3'></svg>"),
    ])
    nb.cells.append(nbformat.v4.new_code_cell("draw()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBOR", "text/plain": "<graphviz.graphs.Digraph at 0x7f00>"})]))
    assert heading_problems(nb) == ["cell 0: heading 'skipped a level' is level 3 right after a level 1"]
    problems = image_problems(nb)
    assert len(problems) == 4, problems
    assert any("plot.png" in p for p in problems) and any("<img>" in p for p in problems)
    assert any("<svg>" in p for p in problems) and any("image output" in p for p in problems)
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# T\n## A\n### B\n## C\n![a loss curve falling from 2.3 to 0.4](loss.png)\n<img alt='x' src='b.png'>")])
    assert heading_problems(good) == [] and image_problems(good) == []


# ------------------------------------------------------------------ every notebook

@pytest.mark.parametrize("path", RELEASE + SOURCE, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_headings_are_structured(path):
    problems = heading_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", RELEASE + SOURCE, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_no_image_without_a_text_alternative(path):
    problems = image_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def test_every_release_notebook_was_scanned():
    assert len(RELEASE) == 7 and len(SOURCE) == 7, (RELEASE, SOURCE)


# ------------------------------------------------------------ what course_lib shows

def test_check_messages_are_plain_words(capsys):
    from course_lib.checks._harness import CheckFailure, call, passed

    passed("Value.__mul__", "12 cases")
    out = capsys.readouterr().out
    assert out == "PASSED: Value.__mul__ (12 cases)\n"

    def not_done():
        raise NotImplementedError()

    with pytest.raises(CheckFailure) as info:
        call("Value.backward", "calling backward()", not_done)
    shown = info.value._render_traceback_()
    assert shown[0] == "CHECK FAILED" and "not implemented yet" in shown[1]
    for text in [out, *shown]:
        assert not _ANSI.search(text) and not _PICTOGRAPH.search(text), text


def test_no_colour_codes_or_pictographs_in_check_messages():
    """The strings of every check module: meaning is in words, never an ANSI colour or an emoji."""
    offenders = []
    for module in sorted((ROOT / "src" / "course_lib" / "checks").glob("*.py")):
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            if _ANSI.search(line) or "\\x1b[" in line or "\\033[" in line or _PICTOGRAPH.search(line):
                offenders.append(f"{module.name}:{number}: {line.strip()[:80]}")
    assert not offenders, "\n".join(offenders)


def test_a_graph_drawing_shows_itself_with_its_text_alternative():
    from course_lib.figures.graph import draw_hand_graph

    drawing = draw_hand_graph(2.0, -0.5, 4.0, grads={"w1": 4, "w2": 4, "w3": 1.5, "s": 4, "L": 1})
    bundle = drawing._repr_mimebundle_()
    alt = drawing.alt_text
    assert "L = * of its inputs: data 6.0000, grad 1.0000" in alt and "w1 feeds s" in alt
    assert bundle["text/plain"] == alt
    assert not image_problems(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "", outputs=[nbformat.v4.new_output("display_data", data=bundle)])]))
    assert f'alt="{alt}"' in bundle["text/html"]
    assert f'<svg role="img" aria-label="{alt}"' in bundle["image/svg+xml"]
    assert set(drawing._repr_mimebundle_(include=["image/svg+xml"])) == {"image/svg+xml"}
