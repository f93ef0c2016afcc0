"""The rubric page for grading written answers in nbgrader's formgrader.

    python -m course_lib.instructor.rubric [--course ROOT] [--assignment ps1] [--output FILE]

Written answers are markdown cells that nbgrader grades by hand (``grade`` and
``solution`` in their metadata). In ``source_notebooks/<assignment>/`` each
one's solution region (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) holds
a model answer and/or a rubric paragraph ("**Rubric (N points).**" or
"Rubric (N points):"). formgrader shows a TA the student's notebook, never the
source, so this module writes one self-contained HTML page (default
``<course>/grading/<assignment>/rubric.html``) to keep open beside it: a table
of contents, then per notebook and written answer a section with the id
``<notebook stem>-<grade_id>`` (``rubric.html#01_hand_gradients-a_expression``
jumps to it), its points, the question (the locked markdown cells just before
the answer cell) and the model answer and rubric.

The page loads nothing: CSS inline, no script, math left as TeX text (as
formgrader shows it offline), images embedded. It holds the solutions: keep it with the
graders, never hand it to students.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from course_lib import nbmeta
from course_lib.instructor.release import ASSIGNMENT, CONFIG_NAME, course_root, load_config

#: The line where the rubric starts inside a solution region:
#: ``**Rubric (1 point).**`` or ``Rubric (4 points, 2 per optimisation: ...):``.
RUBRIC_START = re.compile(r"^\s*(?:\*\*)?Rubric\s*\(\s*(?P<points>\d+(?:\.\d+)?)\s*(?:pts?|points?)\b",
                          re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class RubricEntry:
    """One written answer of a source notebook.

    ``notebook`` is the notebook's name without ``.ipynb`` (nbgrader's notebook
    id, ``01_hand_gradients``); ``question`` the markdown of the locked cells
    just before the answer; ``answer`` the text of the answer cell's solution
    region (model answer and rubric); ``folder`` the notebook's folder and
    ``attachments`` the attachments of the question and answer cells, for their images.
    """

    notebook: str
    grade_id: str
    points: float
    question: str
    answer: str
    folder: str = ""
    attachments: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def anchor(self) -> str:
        """The id of this answer's section on the page: ``01_hand_gradients-a_expression``."""
        return f"{self.notebook}-{self.grade_id}"

    @property
    def model_answer(self) -> str:
        """The solution region before its rubric paragraph ('' when there is only a rubric)."""
        match = RUBRIC_START.search(self.answer)
        return (self.answer[:match.start()] if match else self.answer).strip()

    @property
    def rubric(self) -> str:
        """The rubric: the solution region from its ``Rubric (N points)`` line on ('' if none)."""
        match = RUBRIC_START.search(self.answer)
        return self.answer[match.start():].strip() if match else ""

    @property
    def rubric_points(self) -> float | None:
        """The points the rubric text states, None when it has no ``Rubric (N points)`` line."""
        match = RUBRIC_START.search(self.answer)
        return float(match.group("points")) if match else None

    def problems(self) -> list[str]:
        """What a grader should know is wrong with this entry in the source notebook."""
        found = []
        if not self.rubric:
            found.append("no 'Rubric (N points)' paragraph in the solution region")
        elif self.rubric_points != self.points:
            found.append(f"the rubric says {self.rubric_points:g} points, the cell's metadata {self.points:g}")
        if not self.question.strip():
            found.append("no locked question cell before the answer cell")
        return found


def _question_cells(nb: NotebookNode, index: int) -> list[NotebookNode]:
    """The locked, ungraded markdown cells that ask the question answered in cell ``index``:
    the nearest run of them above it, looking past code cells (a code answer and its test cell
    may sit between question and written answer), from the nearest one that starts with a
    heading (``## (a) ...``: the part begins there, the cells above introduce something else);
    none when the previous written answer comes first."""
    cells: list[NotebookNode] = []
    for cell in reversed(nb.cells[:index]):
        is_question = cell.cell_type == "markdown" and nbmeta.is_locked(cell) and not nbmeta.is_grade(cell)
        if is_question:
            cells.append(cell)
            if cell.source.lstrip().startswith("#"):
                break
        elif cells or (cell.cell_type == "markdown" and nbmeta.is_grade(cell)):
            break
    return cells[::-1]


def rubric_entries(source_dir: Path) -> list[RubricEntry]:
    """Every written answer of the notebooks in ``source_dir`` (sorted by name), in notebook order."""
    entries = []
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        nb = nbmeta.read(path)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "markdown" or not nbmeta.is_manual_answer(cell):
                continue
            question = _question_cells(nb, index)
            entries.append(RubricEntry(
                notebook=path.stem, grade_id=str(nbmeta.grade_id(cell)), points=nbmeta.points(cell),
                question="\n\n".join(c.source.strip() for c in question),
                answer="\n".join(nbmeta.solution_lines(cell)).strip(), folder=str(path.parent),
                attachments={k: v for c in [*question, cell] for k, v in (c.get("attachments") or {}).items()}))
    return entries


# ---------------------------------------------------------------- HTML

CSS = """
:root { --ink: #1b1b1b; --muted: #555; --line: #c9c9c9; --accent: #0b5cad; --rubric: #fff7e0; --answer: #eef6ee; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #fff; margin: 0 auto; padding: 1rem 1.5rem 4rem; max-width: 60rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin: 0 0 .5rem; }
h4, h5, h6 { font-size: 1rem; margin: .6rem 0 .3rem; }
a { color: var(--accent); }
.note { color: var(--muted); margin-top: 0; }
nav ol { padding-left: 1.5rem; }
nav li li { list-style: none; }
section.answer { border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0;
                 scroll-margin-top: .5rem; }
section.answer:target { border-color: var(--accent); box-shadow: 0 0 0 3px rgba(11, 92, 173, .25); }
.points { font-weight: 600; white-space: nowrap; }
.label { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
         margin: .8rem 0 .2rem; }
.question, .model, .rubric { border-radius: 4px; padding: .1rem .8rem; overflow-x: auto; }
.question { background: #f5f5f5; }
.model { background: var(--answer); }
.rubric { background: var(--rubric); border-left: 4px solid #d9a400; }
.warning { background: #fde8e8; border-left: 4px solid #b00020; padding: .4rem .8rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
pre { white-space: pre-wrap; }
img { max-width: 100%; }
table { border-collapse: collapse; }
td, th { border: 1px solid var(--line); padding: .2rem .5rem; }
.top { font-size: .9rem; }
@media print { section.answer { break-inside: avoid; } .top { display: none; } }
"""


def _demoted(match: re.Match) -> str:
    """A heading tag three levels down (h2 -> h5), without its id."""
    close, level, attrs = match.groups()
    attrs = re.sub(r'\s+id="[^"]*"', "", attrs)
    return f"<{close}h{min(6, int(level) + 3)}{attrs}>"


def _markdown(text: str, entry: RubricEntry) -> str:
    """``text`` as HTML (nbconvert's markdown, as formgrader renders a cell: math kept as TeX),
    images embedded (``entry``'s attachments, files beside its notebook), headings moved
    below the page's own (h1-h3) and without their ids and anchor links (unique ids)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, embed_images=True, path=entry.folder,
                               attachments=dict(entry.attachments))
    try:
        out = MarkdownWithMath(renderer=renderer).render(text)
    except Exception as err:  # noqa: BLE001 - e.g. a missing attachment: name the answer
        raise ValueError(f"{entry.anchor}: {err}") from err
    out = re.sub(r'<a class="anchor-link" href="#[^"]*">[^<]*</a>', "", out)
    return re.sub(r"<(/?)h([1-6])([^>]*)>", _demoted, out)


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def render(entries: list[RubricEntry], assignment: str, course_id: str = "") -> str:
    """The rubric page for ``entries`` as one HTML document."""
    esc = html.escape
    notebooks: dict[str, list[RubricEntry]] = {}
    for entry in entries:
        notebooks.setdefault(entry.notebook, []).append(entry)
    total = sum(e.points for e in entries)
    title = f"{assignment}: rubric for the written answers"
    toc, body = [], []
    for notebook, items in notebooks.items():
        links = "".join(f'<li><a href="#{esc(e.anchor)}"><code>{esc(e.grade_id)}</code></a> '
                        f'<span class="points">({_points(e.points)})</span></li>' for e in items)
        toc.append(f'<li><a href="#{esc(notebook)}">{esc(notebook)}</a> '
                   f'({_points(sum(e.points for e in items))})<ol>{links}</ol></li>')
        body.append(f'<h2 id="{esc(notebook)}">{esc(notebook)}</h2>')
        for e in items:
            parts = [f'<section class="answer" id="{esc(e.anchor)}" aria-labelledby="{esc(e.anchor)}-title">',
                     f'<h3 id="{esc(e.anchor)}-title"><code>{esc(e.grade_id)}</code> '
                     f'<span class="points">{_points(e.points)}</span></h3>']
            parts += [f'<p class="warning"><strong>Check the source notebook:</strong> {esc(p)}.</p>'
                      for p in e.problems()]
            if e.question.strip():
                parts += ['<p class="label">Question</p>',
                          f'<div class="question">{_markdown(e.question, e)}</div>']
            if e.model_answer:
                parts += ['<p class="label">Model answer</p>',
                          f'<div class="model">{_markdown(e.model_answer, e)}</div>']
            if e.rubric:
                parts += ['<p class="label">Rubric</p>', f'<div class="rubric">{_markdown(e.rubric, e)}</div>']
            parts.append('<p class="top"><a href="#contents">Back to the contents</a></p></section>')
            body.append("\n".join(parts))
    course = f" of {esc(course_id)}" if course_id else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<p class="note">{len(entries)} written answers{course}, {_points(total)} in all, graded by hand in nbgrader's
formgrader. Each section's address is <code>#&lt;notebook&gt;-&lt;grade id&gt;</code>, the grade id formgrader
shows above the student's answer. Holds the solutions: for graders only.</p>
</header>
<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>
<main>
{chr(10).join(body)}
</main>
</body>
</html>
"""


def _source_dir(course: Path, assignment: str) -> Path:
    cfg = load_config(course / CONFIG_NAME)
    return course / cfg.CourseDirectory.get("source_directory", "source_notebooks") / assignment


def _write(course: Path, assignment: str, out: Path | None) -> tuple[Path, list[RubricEntry]]:
    course = Path(course).resolve()
    source_dir = _source_dir(course, assignment)
    if not any(source_dir.glob("*.ipynb")):
        raise FileNotFoundError(f"no notebooks in {source_dir}")
    entries = rubric_entries(source_dir)
    course_id = load_config(course / CONFIG_NAME).CourseDirectory.get("course_id", "")
    out = Path(out) if out else course / "grading" / assignment / "rubric.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(entries, assignment, course_id), encoding="utf-8")
    return out, entries


def write_rubric(course: Path, assignment: str = ASSIGNMENT, out: Path | None = None) -> Path:
    """Write the rubric page of ``assignment`` of the course rooted at ``course`` to ``out``
    (default ``<course>/grading/<assignment>/rubric.html``); returns its path."""
    return _write(course, assignment, out)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=None,
                        help="course root holding nbgrader_config.py (default: found from the working directory)")
    parser.add_argument("--assignment", default=ASSIGNMENT)
    parser.add_argument("--output", type=Path, default=None,
                        help="the page to write (default: <course>/grading/<assignment>/rubric.html)")
    args = parser.parse_args(argv)
    try:
        out, entries = _write(args.course or course_root(), args.assignment, args.output)
    except FileNotFoundError as err:
        print(f"rubric: {err}", file=sys.stderr)
        return 1
    print(f"{out}: {len(entries)} written answers, {_points(sum(e.points for e in entries))}")
    for e in entries:
        for problem in e.problems():
            print(f"warning: {e.anchor}: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
