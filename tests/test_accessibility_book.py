"""WCAG 2.1 AA for the built book, checked by axe-core in headless Chromium.

Every page of the student build and of the instructor build is opened in
Debian's ``chromium`` (driven by Playwright, served on 127.0.0.1), waits until
MathJax has typeset and plotly has drawn, and gets axe-core (npm ``axe-core``,
vendored into ``book/vendor/axe-core/`` by ``scripts/vendor_assets.py``)
injected. The checks:

- zero violations of the rules tagged WCAG 2.0/2.1 level A and AA, light theme;
- zero colour-contrast violations in the dark theme as well;
- headings in order (axe's ``heading-order``, ``page-has-heading-one`` and
  ``empty-heading``, which axe files under best practice);
- every MathJax formula carries assistive MathML (``<mjx-assistive-mml>``
  holding a ``<math>`` element) for screen readers;
- every plotly figure sits in a ``<figure>`` described by a text that states
  numbers from its data, every graphviz drawing and image has a name (axe
  itself does not look inside plotly's SVG).

The per-page results are printed as a table (``pytest -s``), attached to the
JUnit report as a property, and written to
``test-artifacts/accessibility/axe-<build>.md``.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import socketserver
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "book" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "accessibility"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
HEADING_RULES = ["heading-order", "page-has-heading-one", "empty-heading"]
#: rules that depend on the colours of the theme, rerun in dark mode
CONTRAST_RULES = ["color-contrast", "link-in-text-block"]

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the tests extra)")
if CHROMIUM is None:
    pytest.skip("no chromium on this machine (scripts/setup.sh installs Debian's chromium)", allow_module_level=True)


@pytest.fixture(scope="session")
def instructor_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The instructor build of the book, built once per session."""
    out = tmp_path_factory.mktemp("book-instructor") / "html"
    proc = subprocess.run([sys.executable, "-m", "course_lib.instructor.book", "--audience", "instructor",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"the instructor book build exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n"
                    f"{proc.stderr[-3000:]}", pytrace=False)
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 - keep test output clean
        pass


def serve(folder: Path) -> tuple[socketserver.ThreadingTCPServer, str]:
    """Serve ``folder`` on 127.0.0.1 (a free port): the server and its base URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def book_pages(html: Path) -> list[str]:
    """Every HTML page of a build (the theme's template fragments in _static excluded)."""
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html") if "_static" not in p.parts)


# Waits until MathJax has typeset, plotly has drawn and the theme has settled.
_SETTLE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const divs = () => Array.from(document.querySelectorAll('.plotly-graph-div'));
  for (let i = 0; i < 300 && !divs().every(d => d.classList.contains('js-plotly-plot')); i++)
    await new Promise(r => setTimeout(r, 100));
  // the theme makes overflowing code blocks focusable 300 ms after the last DOM change
  await new Promise(r => setTimeout(r, 400));
}"""
# Runs the injected axe-core with the given options: its violations, per element.
_RUN = """async ([options]) => {
  const result = await axe.run(document, options);
  return result.violations.map(v => ({id: v.id, impact: v.impact, tags: v.tags, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
}"""
# Figures, drawings and images without a text alternative: a plotly figure must sit in a
# <figure> whose aria-describedby text states numbers from its data; a graphviz drawing
# and every image need a non-empty accessible name.
_FIGURES = """() => {
  const bad = [];
  document.querySelectorAll('.plotly-graph-div').forEach(d => {
    const box = d.closest('figure[aria-describedby]');
    const text = box && document.getElementById(box.getAttribute('aria-describedby'));
    if (!text || !/\\d/.test(text.textContent)) bad.push('plotly figure #' + d.id);
  });
  document.querySelectorAll('.graphviz object, .graphviz svg, main img').forEach(o => {
    const name = (o.getAttribute('aria-label') || o.getAttribute('alt') || '').trim();
    if (!name && o.getAttribute('role') !== 'presentation')
      bad.push(o.tagName.toLowerCase() + ' ' + (o.id || o.className || ''));
  });
  return bad;
}"""
# Switches to the dark theme as its colour-mode button does, then waits until the
# theme's colour transitions have finished (axe would measure colours half-way).
_DARK = """async () => {
  document.documentElement.dataset.mode = 'dark';
  document.documentElement.dataset.theme = 'dark';
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const finite = document.getAnimations().filter(a => a.effect && isFinite(a.effect.getComputedTiming().endTime));
  await Promise.race([Promise.all(finite.map(a => a.finished.catch(() => null))),
                      new Promise(r => setTimeout(r, 3000))]);
}"""
# a redirect page (index.html) is audited where it leads
_REFRESH = re.compile(r"<meta[^>]+http-equiv=.refresh", re.IGNORECASE)
# formulas without the assistive MathML that screen readers read
_MATH = """() => Array.from(document.querySelectorAll('mjx-container')).map(c => {
  const mml = c.querySelector('mjx-assistive-mml math');
  return mml ? '' : (c.textContent || '').slice(0, 40) || '(empty formula)';
})"""


def audit_page(browser, url: str, redirect: bool = False) -> dict:
    """axe-core's findings on one page: ``wcag``, ``headings`` and ``math`` in the
    light theme, then ``contrast`` after switching the page to the dark theme
    (as the theme's colour-mode button does: ``<html data-theme="dark">``).
    A ``redirect`` page (a meta refresh) is audited where it leads."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(url, wait_until="networkidle" if redirect else "load")
        page.evaluate(_SETTLE)  # MathJax typeset, plotly drawn, theme settled
        page.add_script_tag(path=str(AXE))
        found = {
            "wcag": page.evaluate(_RUN, [{"runOnly": {"type": "tag", "values": WCAG_TAGS}}]),
            "headings": page.evaluate(_RUN, [{"runOnly": {"type": "rule", "values": HEADING_RULES}}]),
            "math": [text for text in page.evaluate(_MATH) if text],
            "figures": page.evaluate(_FIGURES),
        }
        page.evaluate(_DARK)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), f"{url}: the dark theme did not apply"
        found["contrast"] = page.evaluate(_RUN, [{"runOnly": {"type": "rule", "values": CONTRAST_RULES}}])
        return found
    finally:
        page.close()


def audit_build(browser, html: Path) -> dict[str, dict]:
    """{page: findings} for every page of one build."""
    server, base = serve(html)
    try:
        return {rel: audit_page(browser, f"{base}/{rel}", redirect=bool(_REFRESH.search((html / rel).read_text())))
                for rel in book_pages(html)}
    finally:
        server.shutdown()


def _count(violations: list[dict]) -> int:
    """Violations counted per failing element (axe groups elements by rule)."""
    return sum(len(v["nodes"]) for v in violations)


def _rules(violations: list[dict]) -> str:
    counts = Counter({v["id"]: len(v["nodes"]) for v in violations})
    return ", ".join(f"{rule} ×{n}" for rule, n in sorted(counts.items())) or "-"


def report(build: str, results: dict[str, dict]) -> str:
    """A markdown table: one row per page, violations counted per element."""
    rows = [f"axe-core {build} build: WCAG 2.1 A/AA (light theme), colour contrast (dark theme), heading order",
            "",
            "| page | WCAG A/AA | dark contrast | headings | math without MathML | figures without text | rules |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for rel, r in results.items():
        rows.append(f"| {rel} | {_count(r['wcag'])} | {_count(r['contrast'])} | {_count(r['headings'])} | "
                    f"{len(r['math'])} | {len(r['figures'])} | {_rules(r['wcag'] + r['contrast'] + r['headings'])} |")
    total = sum(_count(r["wcag"]) + _count(r["contrast"]) + _count(r["headings"]) + len(r["math"])
                + len(r["figures"]) for r in results.values())
    rows.append(f"\n{len(results)} pages, {total} violations in all")
    return "\n".join(rows)


def details(results: dict[str, dict], limit: int = 40) -> list[str]:
    lines = []
    for rel, r in results.items():
        for kind in ("wcag", "contrast", "headings"):
            for v in r[kind]:
                for node in v["nodes"][:3]:
                    lines.append(f"{rel} [{kind}] {v['id']} ({v['impact']}): {v['help']} at {node['target']}: "
                                 f"{(node['summary'] or '').splitlines()[-1:]}")
        lines += [f"{rel} [math] no assistive MathML for: {text!r}" for text in r["math"]]
        lines += [f"{rel} [figures] no text alternative: {what}" for what in r["figures"]]
    return lines[:limit]


@pytest.fixture(scope="module")
def browser():
    assert AXE.is_file(), "book/vendor/axe-core/axe.min.js is missing: run scripts/setup.sh"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.mark.parametrize("build", ["student", "instructor"])
def test_every_page_passes_axe_core(build, request, browser, record_property):
    html = request.getfixturevalue(f"{build}_book")
    results = audit_build(browser, html)
    table = report(build, results)
    print("\n" + table)
    record_property(f"axe_{build}", table)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{build}.md").write_text(table + "\n\n" + "\n".join(details(results, 400)) + "\n",
                                               encoding="utf-8")
    assert len(results) >= 15, f"only {len(results)} pages audited in the {build} build"
    problems = details(results)
    assert not problems, f"accessibility violations in the {build} build:\n" + table + "\n\n" + "\n".join(problems)
