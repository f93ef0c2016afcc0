"""The built book in a real browser: headless Chromium (Debian's ``chromium``,
driven by Playwright; no browser download) against the student build served on
127.0.0.1. Every page loads with no failed request and nothing requested from
another host; math is typeset; every plotly figure draws; moving a slider
changes what is drawn, and so do the keyboard controls of a figure, reached and
operated with key presses only. A screenshot of each interactive page is saved
in ``test-artifacts/book/``. The WCAG audit with axe-core is in
``test_accessibility_book.py``."""
from __future__ import annotations

import functools
import http.server
import shutil
import socketserver
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "book"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the tests extra)")
if CHROMIUM is None:
    pytest.skip("no chromium on this machine (scripts/setup.sh installs Debian's chromium)", allow_module_level=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 - keep test output clean
        pass


@pytest.fixture(scope="module")
def site(student_book):
    """The book served on 127.0.0.1 (a free port): its base URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(student_book)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def pages(student_book: Path) -> list[str]:
    return sorted(str(p.relative_to(student_book)) for p in student_book.rglob("*.html")
                  if "_static" not in p.parts and p.name not in ("search.html", "genindex.html"))


class Visit:
    """One page opened in a fresh tab, with every request it made."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url, wait_until="networkidle")
        # every figure div has been drawn by plotly.js (large figures finish after the network is idle)
        self.page.wait_for_function("Array.from(document.querySelectorAll('.plotly-graph-div'))"
                                    ".every(d => d.classList.contains('js-plotly-plot'))", timeout=30000)

    def js(self, code: str):
        return self.page.evaluate(code)


def test_every_page_loads_locally_and_cleanly(student_book, site, browser):
    problems = []
    for rel in pages(student_book):
        visit = Visit(browser, f"{site}/{rel}")
        foreign = [u for u in visit.requests if urlsplit(u).hostname not in ("127.0.0.1", None) and
                   not u.startswith(("data:", "blob:"))]
        for kind, items in (("request to another host", foreign), ("failed request", visit.failed),
                            ("JavaScript error", visit.errors)):
            problems += [f"{rel}: {kind}: {item}" for item in items]
        visit.page.close()
    assert not problems, "\n".join(problems[:40])


def test_math_is_typeset(student_book, site, browser):
    for rel in ("book/theory/chain_rule.html", "book/theory/relu_pieces.html", "release/ps1/04_losses_optimisers.html"):
        visit = Visit(browser, f"{site}/{rel}")
        visit.page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=20000)
        raw = visit.js("document.body.innerText.match(/\\$\\$|\\\\\\(|\\\\\\[/g)")
        assert not raw, f"{rel}: untypeset TeX delimiters left in the text: {raw[:5]}"
        visit.page.close()


def _figures(visit: Visit) -> list[dict]:
    return visit.js("""Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
        id: gd.id, traces: (gd.data || []).length, svg: gd.querySelectorAll('.main-svg').length,
        visible: (gd.data || []).map(t => t.visible === undefined ? true : t.visible),
        title: (gd.layout && gd.layout.title && gd.layout.title.text) || ''}))""")


def test_every_plotly_figure_draws(student_book, site, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    drawn = 0
    for rel in pages(student_book):
        if "plotly-graph-div" not in (student_book / rel).read_text(encoding="utf-8", errors="replace"):
            continue
        visit = Visit(browser, f"{site}/{rel}")
        figures = _figures(visit)
        assert figures, f"{rel}: a plotly figure is in the HTML but none was drawn"
        for fig in figures:
            assert fig["traces"] > 0 and fig["svg"] > 0, f"{rel}: figure {fig['id']} did not draw: {fig}"
        drawn += len(figures)
        visit.page.screenshot(path=str(ARTIFACTS / (rel.replace("/", "_") + ".png")), full_page=True)
        visit.page.close()
    assert drawn >= 2, f"only {drawn} plotly figures in the whole book"


def _figure(visit: Visit, div_id: str) -> dict:
    return next(fig for fig in _figures(visit) if fig["id"] == div_id)


def test_moving_a_slider_changes_the_figure(site, browser):
    visit = Visit(browser, f"{site}/book/theory/relu_pieces.html")
    pieces = "#fig-pieces-figure"                    # the plotly-figure directive's div id
    before = _figure(visit, pieces[1:])
    visit.page.locator(f"{pieces} .slider-rail-rect").first.scroll_into_view_if_needed()
    rail = visit.page.locator(f"{pieces} .slider-rail-rect").first.bounding_box()
    grip = visit.page.locator(f"{pieces} .slider-grip-rect").first.bounding_box()
    assert rail and grip, "the pieces figure has no slider"
    mouse = visit.page.mouse                        # drag the grip to the right end, as a reader would
    mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    mouse.down()
    mouse.move(rail["x"] + 0.99 * rail["width"], grip["y"] + grip["height"] / 2, steps=12)
    mouse.up()
    visit.page.wait_for_timeout(500)
    after = _figure(visit, pieces[1:])
    assert after["visible"] != before["visible"], "moving the slider did not change which traces are drawn"
    assert after["title"] != before["title"] and "sawtooth" in after["title"], after["title"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / "relu_pieces_after_slider.png"), full_page=True)
    visit.page.close()


def test_clicking_a_button_switches_the_figure(site, browser):
    visit = Visit(browser, f"{site}/book/theory/relu_pieces.html")
    before = _figure(visit, "fig-xor-figure")
    button = visit.page.locator("#fig-xor-figure .updatemenu-button").nth(1)
    button.scroll_into_view_if_needed()
    button.click()
    visit.page.wait_for_timeout(500)
    after = _figure(visit, "fig-xor-figure")
    assert after["visible"] != before["visible"] and "100%" in after["title"], after["title"]
    visit.page.close()


def _tab_to(visit: Visit, selector: str, limit: int = 400) -> int:
    """Press Tab (nothing else) until the element ``selector`` has the focus; the number of presses."""
    for presses in range(1, limit + 1):
        visit.page.keyboard.press("Tab")
        if visit.page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return presses
    raise AssertionError(f"{selector} never received the focus in {limit} presses of Tab")


def _focus_ring(visit: Visit) -> tuple[str, float]:
    style, width = visit.js("[getComputedStyle(document.activeElement).outlineStyle,"
                            " getComputedStyle(document.activeElement).outlineWidth]")
    return style, float(width.rstrip("px") or 0)


def test_a_figure_is_driven_by_the_keyboard_alone(site, browser):
    """The pieces figure's slider and the XOR figure's buttons, reached with Tab and
    operated with End / Enter: no mouse, no script focusing anything. Focus is
    visible, and the live region announces the view that is drawn."""
    visit = Visit(browser, f"{site}/book/theory/relu_pieces.html")
    before = _figure(visit, "fig-pieces-figure")
    slider = "#fig-pieces-figure-box input[type=range]"
    _tab_to(visit, slider)
    style, width = _focus_ring(visit)
    assert style != "none" and width >= 2, f"the focused slider shows no focus ring ({style} {width}px)"
    visit.page.keyboard.press("End")                    # the last view: the deepest sawtooth
    visit.page.wait_for_function("document.querySelector('#fig-pieces-figure').layout.title.text.includes('sawtooth')",
                                 timeout=5000)
    after = _figure(visit, "fig-pieces-figure")
    assert after["visible"] != before["visible"], "the slider moved by keyboard did not change the traces drawn"
    assert "D = 6" in after["title"], after["title"]
    assert visit.js(f"document.querySelector('{slider}').getAttribute('aria-valuetext')") == "sawtooth D=6"
    status = visit.js("document.querySelector('#fig-pieces-figure-box [data-status]').textContent")
    assert status == after["title"].replace("<br>", " "), f"live region says {status!r}"
    # plotly's own (mouse) slider follows the keyboard one
    assert visit.js("document.querySelector('#fig-pieces-figure').layout.sliders[0].active") == \
        visit.js(f"Number(document.querySelector('{slider}').max)")
    visit.page.keyboard.press("ArrowLeft")              # one view back
    visit.page.wait_for_function("!document.querySelector('#fig-pieces-figure').layout.title.text.includes('D = 6')",
                                 timeout=5000)

    second = "#fig-xor-figure-box button[data-button='1']"
    _tab_to(visit, second)
    style, width = _focus_ring(visit)
    assert style != "none" and width >= 2, f"the focused button shows no focus ring ({style} {width}px)"
    visit.page.keyboard.press("Enter")
    visit.page.wait_for_function("document.querySelector('#fig-xor-figure').layout.title.text.includes('100%')",
                                 timeout=5000)
    assert visit.js(f"document.querySelector(\"{second}\").getAttribute('aria-pressed')") == "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / "relu_pieces_keyboard.png"), full_page=True)
    visit.page.close()
