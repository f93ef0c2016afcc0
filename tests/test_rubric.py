"""The rubric page of the written answers (``python -m course_lib.instructor.rubric``).

formgrader shows a TA the student's notebook, never the source, so the page is
the only place the grader sees the question, the model answer and the rubric
of each written answer. These tests build it from the real source notebooks
and check, against the notebooks' own metadata (read here independently of the
module), that it names every written answer with its points, shows its rubric
text under the anchor ``<notebook>-<grade_id>``, and loads nothing from
outside; and, on a small made-up notebook, that the question is the right
cells, the rubric is told apart from the model answer, images are embedded and
a rubric that disagrees with the cell's points is flagged on the page.
"""
from __future__ import annotations

import base64
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import nbrun
from course_lib import nbmeta
from course_lib.instructor.rubric import rubric_entries, write_rubric

pytest.importorskip("nbconvert", reason="nbconvert (with nbgrader, the grading extra) renders the markdown")


class Sections(HTMLParser):
    """The text of each ``<section id=...>`` of a page, every id on it, and the hrefs of its nav."""

    def __init__(self, page: str):
        super().__init__()
        self.text: dict[str, str] = {}
        self.ids: list[str] = []
        self.nav_links: list[str] = []
        self._section: str | None = None
        self._depth = 0
        self._in_nav = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "nav":
            self._in_nav = True
        if tag == "a" and self._in_nav:
            self.nav_links.append(attrs.get("href", ""))
        if tag == "section":
            self._section, self._depth = attrs["id"], 1
            self.text[self._section] = ""
        elif self._section and tag not in ("br", "img", "hr", "input", "meta"):
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        if self._section and tag not in ("br", "img", "hr", "input", "meta"):
            self._depth -= 1
            if self._depth == 0:
                self._section = None

    def handle_data(self, data):
        if self._section:
            self.text[self._section] += data


def _plain(markdown: str) -> str:
    """Markdown as the words a reader sees: emphasis, code ticks and list markers gone."""
    text = re.sub(r"^\s*[-*]\s+", "", markdown, flags=re.MULTILINE)
    return " ".join(text.replace("**", "").replace("`", "").split())


def _written_answers() -> list[tuple[str, str, float, str]]:
    """(notebook, grade id, points, rubric paragraph) of every written answer, from the notebooks."""
    found = []
    for path in nbrun.source_notebooks():
        for cell in nbmeta.read(path).cells:
            if nbmeta.is_manual_answer(cell):
                region = "\n".join(nbmeta.solution_lines(cell))
                start = region.find("Rubric (")
                found.append((path.stem, nbmeta.grade_id(cell), nbmeta.points(cell),
                              region[start:].lstrip("*") if start >= 0 else ""))
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    out = write_rubric(nbrun.ROOT, "ps1", tmp_path_factory.mktemp("rubric") / "rubric.html")
    return out.read_text(encoding="utf-8")


def test_every_written_answer_has_its_section_points_and_rubric(page):
    answers = _written_answers()
    assert answers, "no written answers in the source notebooks"
    parsed = Sections(page)
    assert len(parsed.ids) == len(set(parsed.ids)), "ids on the page are not unique"
    assert [f"{nb}-{gid}" for nb, gid, _, _ in answers] == list(parsed.text), "sections or their order differ"
    for notebook, grade_id, points, rubric in answers:
        anchor = f"{notebook}-{grade_id}"
        text = " ".join(parsed.text[anchor].split())
        assert text.startswith(f"{grade_id} {points:g} point"), f"{anchor}: {text[:80]!r}"
        assert rubric, f"{anchor}: the source notebook's solution region has no 'Rubric (N points)' paragraph"
        assert _plain(rubric) in text, f"{anchor}: the rubric text is not on the page:\n{_plain(rubric)}\n---\n{text}"
        assert "Question" in text and "Check the source notebook" not in text, f"{anchor}: {text[:300]}"
        assert f"#{anchor}" in parsed.nav_links, f"{anchor} is not in the table of contents"
    total = sum(p for _, _, p, _ in answers)
    assert f"{len(answers)} written answers" in page and f"{total:g} points in all" in page


def test_a_question_is_shown_with_its_answer(page):
    text = " ".join(Sections(page).text["01_hand_gradients-a_expression"].split())
    assert "Write $\\dfrac{\\partial L}{\\partial w_3}$ as an expression" in text, text
    assert "Model answer $\\dfrac{\\partial L}{\\partial w_3} = s = w_1 + w_2$" in text, text


def test_the_page_loads_nothing_from_outside(page):
    assert not re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", page, re.IGNORECASE)
    links = re.findall(r"""\b(src|href)\s*=\s*["']([^"']*)""", page, re.IGNORECASE)
    assert links, "the page should link its table of contents to the sections"
    outside = [(a, v) for a, v in links if not v.startswith("data:" if a.lower() == "src" else "#")]
    assert not outside, f"only in-page links and embedded data on the page: {outside[:5]}"
    assert not re.search(r"<(?:script|link|iframe|object|embed)\b|@import|url\(", page, re.IGNORECASE)
    assert "<style>" in page, "the CSS should be inline"


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
                       "rkJggg==")  # 1x1 pixel


def _cell(kind: str, source: str, grade_id: str | None = None, **meta) -> nbformat.NotebookNode:
    cell = (nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell)(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                                     "locked": False, **meta}
    return cell


def test_questions_rubrics_images_and_warnings_on_a_made_up_notebook(tmp_path):
    source = tmp_path / "source_notebooks" / "ps1"
    source.mkdir(parents=True)
    (source / "figure.png").write_bytes(PNG)
    intro = _cell("markdown", "# Made up\n\nIntro, not a question.", "intro", locked=True)
    q1 = _cell("markdown", "## (a) Explain\n\nWhy? ![plot](figure.png)", "q1", locked=True)
    answer1 = _cell("markdown", "YOUR ANSWER HERE\n### BEGIN SOLUTION\n**Model answer.** Because.\n\n"
                    "**Rubric (3 points).** 3 for because.\n### END SOLUTION", "a1",
                    grade=True, solution=True, points=2)
    q2 = _cell("markdown", "**(b)** Compute `x`, then say what it means. ![sketch](attachment:s.png)", "q2",
               locked=True)
    q2.attachments = {"s.png": {"image/png": base64.b64encode(PNG).decode()}}
    code = _cell("code", "x = 1", "x_value", solution=True)
    test = _cell("code", "assert x == 1", "test_x", grade=True, locked=True, points=1)
    answer2 = _cell("markdown", "### BEGIN SOLUTION\nIt means one.\n### END SOLUTION", "a2",
                    grade=True, solution=True, points=1)
    nb = nbformat.v4.new_notebook(cells=[intro, q1, answer1, q2, code, test, answer2])
    nbformat.write(nb, str(source / "01_made_up.ipynb"))
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.source_directory = 'source_notebooks'\n")

    first, second = rubric_entries(source)
    assert (first.anchor, first.points, second.anchor, second.points) == ("01_made_up-a1", 2, "01_made_up-a2", 1)
    assert first.question == q1.source  # not the intro before it
    assert second.question == q2.source  # past the code and test cells, not back to answer (a)
    assert (first.model_answer, first.rubric) == ("**Model answer.** Because.", "**Rubric (3 points).** 3 for because.")
    assert (second.model_answer, second.rubric) == ("It means one.", "")
    assert first.problems() == ["the rubric says 3 points, the cell's metadata 2"]
    assert second.problems() == ["no 'Rubric (N points)' paragraph in the solution region"]

    html = write_rubric(tmp_path).read_text()
    assert (tmp_path / "grading" / "ps1" / "rubric.html").is_file()
    sections = Sections(html).text
    assert "the rubric says 3 points, the cell's metadata 2" in sections["01_made_up-a1"]
    assert "no 'Rubric (N points)'" in sections["01_made_up-a2"]
    assert "Intro, not a question" not in html
    assert html.count('src="data:image/png;base64,') == 2, "both images should be embedded"
    assert "figure.png" not in html and "attachment:" not in html
    assert "<h5>(a) Explain</h5>" in html, "question headings go below the page's own (h1-h3)"


def test_command_line(tmp_path):
    out = tmp_path / "page.html"
    proc = subprocess.run([sys.executable, "-m", "course_lib.instructor.rubric", "--course", str(nbrun.ROOT),
                           "--assignment", "ps1", "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    n = len(_written_answers())
    assert proc.stdout.startswith(f"{out}: {n} written answers"), proc.stdout
    assert out.read_text(encoding="utf-8") == write_rubric(nbrun.ROOT, out=tmp_path / "again.html").read_text()

    proc = subprocess.run([sys.executable, "-m", "course_lib.instructor.rubric", "--course", str(nbrun.ROOT),
                           "--assignment", "no_such_assignment"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "no notebooks in" in proc.stderr, proc.stderr
