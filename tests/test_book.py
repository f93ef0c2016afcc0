"""The student build of the book: it builds with Sphinx warnings as errors,
holds the expected pages, loads nothing from another host, serves its own
MathJax and plotly.js, and carries no solution.

The build goes through ``python -m course_lib.instructor.book`` into a
temporary folder (about 5-10 s); it needs ``book/vendor/`` (scripts/setup.sh)
and the student notebooks in ``release/ps1/`` (``make release``).
"""
from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ("01_hand_gradients", "02_autograd", "03_mlp", "04_losses_optimisers", "05_gpu", "06_representation",
            "07_deepdream")
PAGES = (
    "index.html",
    "book/intro.html",
    "book/theory/chain_rule.html",
    *(f"release/ps1/{name}.html" for name in PROBLEMS),
)
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                    "BEGIN MARK SCHEME", "END MARK SCHEME")
# (tag, attribute) through which a browser fetches something when a page loads.
FETCHES = {
    ("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
    ("object", "data"), ("embed", "src"), ("source", "src"), ("video", "src"),
    ("audio", "src"),
}
LOCAL = re.compile(r"^(https?:)?//(127\.0\.0\.1|localhost)([:/]|$)", re.IGNORECASE)


class Refs(HTMLParser):
    """Collects (tag, attribute, url) for every fetching attribute of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self.text_has_plotly = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if (tag, name) in FETCHES and value:
                self.refs.append((tag, name, value.strip()))
            if name == "class" and value and "plotly-graph-div" in value.split():
                self.text_has_plotly = True


def parse(page: Path) -> Refs:
    refs = Refs()
    refs.feed(page.read_text(encoding="utf-8", errors="replace"))
    return refs


def local_target(page: Path, url: str) -> Path:
    """The file a relative URL of ``page`` points at."""
    return (page.parent / unquote(urlsplit(url).path)).resolve()


@pytest.fixture(scope="module")
def book(student_book) -> Path:
    return student_book


def html_pages(book: Path) -> list[Path]:
    return sorted(book.rglob("*.html"))


def test_pages_exist(book):
    missing = [page for page in PAGES if not (book / page).is_file()]
    assert not missing, f"pages missing from the student book: {missing}"


def test_no_external_fetches(book):
    offenders = []
    for page in html_pages(book):
        for tag, attr, url in parse(page).refs:
            if url.lower().startswith(("http://", "https://", "//")) and not LOCAL.match(url):
                offenders.append(f"{page.relative_to(book)}: <{tag} {attr}=\"{url}\">")
    assert not offenders, (
        f"{len(offenders)} reference(s) to another host; the book must work offline:\n  "
        + "\n  ".join(offenders)
    )


def test_local_references_resolve(book):
    """Every relative script/stylesheet/image a page loads is in the build."""
    broken = []
    for page in html_pages(book):
        if page.parent.name == "_static":  # theme template fragments, not pages
            continue
        for tag, attr, url in parse(page).refs:
            if urlsplit(url).scheme or url.startswith(("//", "#", "data:")):
                continue
            if tag == "link" and attr == "href" and not url.split("?")[0].endswith((".css", ".js", ".ico", ".png", ".svg")):
                continue  # navigation links (next/prev/index) are not fetched on load
            if not local_target(page, url).is_file():
                broken.append(f"{page.relative_to(book)}: <{tag} {attr}=\"{url}\">")
    assert not broken, "references to files missing from the build:\n  " + "\n  ".join(broken)


def test_mathjax_is_served_locally(book):
    for name in PAGES[1:]:
        page = book / name
        scripts = [url for tag, _, url in parse(page).refs if tag == "script" and "mathjax" in url.lower()]
        assert scripts, f"{name} loads no MathJax script"
        for url in scripts:
            target = local_target(page, url)
            assert target.is_file(), f"{name} loads MathJax from {url}, which is not in the build"
            assert target.name == "tex-chtml.js", f"{name} loads {url}, expected the vendored tex-chtml.js"
    fonts = book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), f"MathJax web fonts missing from {fonts.relative_to(book)}"


def test_plotly_figures_use_the_local_plotly(book):
    pages_with_figures = 0
    for page in html_pages(book):
        refs = parse(page)
        if not refs.text_has_plotly:
            continue
        pages_with_figures += 1
        scripts = [url for tag, _, url in refs.refs if tag == "script" and "plotly" in url.lower()]
        assert scripts, f"{page.relative_to(book)} draws a plotly figure but loads no plotly.js"
        assert all(local_target(page, url).is_file() for url in scripts), scripts
        html = page.read_text(encoding="utf-8")
        assert html.count("Plotly.newPlot") >= 1
        assert "cdn.plot.ly" not in html
    assert pages_with_figures >= 1, "the theory page's plotly figure did not render"


def test_no_solutions_in_the_student_book(book):
    leaks = []
    for path in sorted(p for p in book.rglob("*") if p.is_file()):
        rel = path.relative_to(book)
        if "source_notebooks" in rel.parts:
            leaks.append(f"{rel}: copied from source_notebooks/")
            continue
        if path.suffix in (".html", ".ipynb", ".md", ".txt", ".js", ".json", ".py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += [f"{rel}: contains {m!r}" for m in SOLUTION_MARKERS if m in text]
    assert not leaks, "solution material in the student book:\n  " + "\n  ".join(leaks)


def test_instructor_only_text_is_in_the_instructor_build_alone(book, tmp_path):
    """Worked answers to graded derivations (``{instructor-only}``) never reach students."""
    marker = "Numerator layout"                       # a heading inside an instructor-only block
    source = (ROOT / "book" / "theory" / "optimisers.md").read_text(encoding="utf-8")
    assert "{instructor-only}" in source and marker in source
    assert marker not in (book / "book" / "theory" / "optimisers.html").read_text(encoding="utf-8")
    out = tmp_path / "instructor"
    proc = subprocess.run([sys.executable, "-m", "course_lib.instructor.book", "--audience", "instructor",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (out / "book" / "theory" / "optimisers.html").read_text(encoding="utf-8")
    assert marker in page and "Instructor edition" in page


COLAB = "colab.research.google.com"
PUBLIC = "https://github.com/backprop-course/ps1-student"


def test_problem_pages_link_to_their_notebook_and_not_to_colab_while_unpublished(book):
    """``repository.url`` is empty here (this repository is private): no "Open in Colab" link
    anywhere, and each problem page offers its notebook for download."""
    import yaml

    assert not yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    for name in PROBLEMS:
        html = (book / "release" / "ps1" / f"{name}.html").read_text(encoding="utf-8")
        assert COLAB not in html, f"{name}: a Colab link although no student repository is published"
        download = re.search(rf'href="([^"]*_sources/release/ps1/{name}\.ipynb)"', html)
        assert download, f"{name}: no download link for the notebook"
        assert local_target(book / "release" / "ps1" / f"{name}.html", download.group(1)).is_file()
    assert not [p for p in html_pages(book) if COLAB in p.read_text(encoding="utf-8")]


def test_a_published_student_repository_gets_colab_links_and_the_setup_cell_into_it(tmp_path):
    """The instructor's one edit (``repository.url``): the book's Colab links open ``ps1/<name>.ipynb``
    of that public repository, and the setup cell downloads the wheel from it; nothing points
    into this repository's ``release/`` folder."""
    from course_lib.instructor.setup_cell import install_source, setup_cell_source

    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert '\n  url: ""' in text
    config = tmp_path / "_config.yml"
    config.write_text(text.replace('\n  url: ""', f"\n  url: {PUBLIC}", 1), encoding="utf-8")
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "course_lib.instructor.book", "--audience", "student",
                           "--out", str(out), "--config", str(config)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in PROBLEMS:
        html = (out / "release" / "ps1" / f"{name}.html").read_text(encoding="utf-8")
        links = re.findall(rf'href="(https://{COLAB}[^"]*)"', html)
        assert links == [f"https://{COLAB}/github/backprop-course/ps1-student/blob/main/ps1/{name}.ipynb"], links
    theory = (out / "book" / "theory" / "chain_rule.html").read_text(encoding="utf-8")
    assert COLAB not in theory, "only problem pages open a notebook"
    url = install_source(config)
    assert url.startswith(f"{PUBLIC}/raw/main/course_lib-") and url.endswith("-py3-none-any.whl")
    assert repr(url) in setup_cell_source(config)
