"""The built book in a real browser: headless Chromium (Debian's ``chromium``,
driven by Playwright; no browser download) against the student build served on
127.0.0.1. Every page loads with no failed request and nothing requested from
another host; math is typeset; every plotly figure draws; an interactive
figure has one control per slider or menu, the book's HTML one (plotly's own is
not drawn), and one line under it that says the view shown (the title does not
change); moving that slider or clicking a button with the mouse changes what is
drawn, and so do the same controls reached and operated with key presses only.
A screenshot of each interactive page is saved in ``test-artifacts/book/``. The WCAG audit with axe-core is in
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
        title: (gd.layout && gd.layout.title && gd.layout.title.text) || '',
        // what plotly itself draws of its sliders and menus, and the book's own controls
        plotlyControls: gd.querySelectorAll('.slider-container, .updatemenu-container').length,
        layoutControls: ((gd.layout && gd.layout.sliders) || []).length
            + ((gd.layout && gd.layout.updatemenus) || []).length,
        htmlControls: gd.closest('figure').querySelectorAll('.course-figure-controls input[type=range], '
            + '.course-figure-controls [role=group], .course-figure-controls select').length,
        status: Array.from(gd.closest('figure').querySelectorAll('[data-status]')).map(e => e.textContent)}))""")


def test_every_plotly_figure_draws(student_book, site, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    drawn = interactive = 0
    for rel in pages(student_book):
        if "plotly-graph-div" not in (student_book / rel).read_text(encoding="utf-8", errors="replace"):
            continue
        visit = Visit(browser, f"{site}/{rel}")
        figures = _figures(visit)
        assert figures, f"{rel}: a plotly figure is in the HTML but none was drawn"
        for fig in figures:
            assert fig["traces"] > 0 and fig["svg"] > 0, f"{rel}: figure {fig['id']} did not draw: {fig}"
            # one control per slider or menu: the book's HTML one; plotly's own is not drawn
            assert fig["plotlyControls"] == 0, f"{rel}: figure {fig['id']} draws plotly's own controls too"
            assert fig["htmlControls"] == fig["layoutControls"], f"{rel}: figure {fig['id']}: {fig}"
            assert len(fig["status"]) == (1 if fig["layoutControls"] else 0), f"{rel}: {fig['id']}: {fig['status']}"
            interactive += bool(fig["layoutControls"])
        drawn += len(figures)
        visit.page.screenshot(path=str(ARTIFACTS / (rel.replace("/", "_") + ".png")), full_page=True)
        visit.page.close()
    assert drawn >= 2, f"only {drawn} plotly figures in the whole book"
    assert interactive >= 5, f"only {interactive} figures with a slider or buttons in the whole book"


def _figure(visit: Visit, div_id: str) -> dict:
    return next(fig for fig in _figures(visit) if fig["id"] == div_id)


def _status(visit: Visit, div_id: str) -> str:
    return visit.js(f"document.querySelector('#{div_id}-box [data-status]').textContent")


def test_moving_a_slider_changes_the_figure(site, browser):
    """The pieces figure's range input, dragged to its right end with the mouse."""
    visit = Visit(browser, f"{site}/book/theory/relu_pieces.html")
    pieces = "fig-pieces-figure"                     # the plotly-figure directive's div id
    before = _figure(visit, pieces)
    assert before["plotlyControls"] == 0 and before["htmlControls"] == 1, before
    slider = visit.page.locator(f"#{pieces}-box input[type=range]")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    assert box, "the pieces figure has no slider"
    mouse = visit.page.mouse                         # drag the thumb to the right end, as a reader would
    value = visit.js(f"Number(document.querySelector('#{pieces}-box input[type=range]').value)")
    maximum = visit.js(f"Number(document.querySelector('#{pieces}-box input[type=range]').max)")
    y = box["y"] + box["height"] / 2
    mouse.move(box["x"] + box["width"] * (value + 0.5) / (maximum + 1), y)
    mouse.down()
    mouse.move(box["x"] + box["width"] - 1, y, steps=12)
    mouse.up()
    visit.page.wait_for_function(f"document.querySelector('#{pieces}-box [data-status]')"
                                 ".textContent.includes('sawtooth')",
                                 timeout=5000)
    visit.page.wait_for_timeout(300)
    after = _figure(visit, pieces)
    assert after["visible"] != before["visible"], "moving the slider did not change which traces are drawn"
    assert after["title"] == before["title"], "the title names the figure: it does not follow the slider"
    assert after["status"] == [_status(visit, pieces)] and "D = 6" in after["status"][0], after["status"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / "relu_pieces_after_slider.png"), full_page=True)
    visit.page.close()


def test_clicking_a_button_switches_the_figure(site, browser):
    visit = Visit(browser, f"{site}/book/theory/relu_pieces.html")
    before = _figure(visit, "fig-xor-figure")
    assert before["plotlyControls"] == 0 and before["htmlControls"] == 1, before
    button = visit.page.locator("#fig-xor-figure-box button[data-button='1']")
    button.scroll_into_view_if_needed()
    button.click()
    visit.page.wait_for_function("document.querySelector('#fig-xor-figure-box [data-status]').textContent"
                                 ".includes('100%')", timeout=5000)
    after = _figure(visit, "fig-xor-figure")
    assert after["visible"] != before["visible"], "the button did not change which traces are drawn"
    assert after["title"] == before["title"] and "%" not in after["title"], after["title"]
    assert visit.js("document.querySelector(\"#fig-xor-figure-box button[data-button='1']\")"
                    ".getAttribute('aria-pressed')") == "true"
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
    visible, and the live region, the one line that says the view drawn,
    announces it; the title stays the figure's name."""
    visit = Visit(browser, f"{site}/book/theory/relu_pieces.html")
    before = _figure(visit, "fig-pieces-figure")
    slider = "#fig-pieces-figure-box input[type=range]"
    _tab_to(visit, slider)
    style, width = _focus_ring(visit)
    assert style != "none" and width >= 2, f"the focused slider shows no focus ring ({style} {width}px)"
    visit.page.keyboard.press("End")                    # the last view: the deepest sawtooth
    visit.page.wait_for_function("document.querySelector('#fig-pieces-figure-box [data-status]').textContent"
                                 ".includes('sawtooth')", timeout=5000)
    visit.page.wait_for_timeout(300)
    after = _figure(visit, "fig-pieces-figure")
    assert after["visible"] != before["visible"], "the slider moved by keyboard did not change the traces drawn"
    assert after["title"] == before["title"], after["title"]
    assert visit.js(f"document.querySelector('{slider}').getAttribute('aria-valuetext')") == "sawtooth D=6"
    status = _status(visit, "fig-pieces-figure")
    assert status.startswith("sawtooth network (D = 6") and "κ(f) = 64 pieces" in status, f"live region: {status!r}"
    live = "document.querySelector('#fig-pieces-figure-box [data-status]').getAttribute('aria-live')"
    assert visit.js(live) == "polite"
    # plotly's own slider, kept in the layout but not drawn, records the view too
    assert visit.js("document.querySelector('#fig-pieces-figure').layout.sliders[0].active") == \
        visit.js(f"Number(document.querySelector('{slider}').max)")
    visit.page.keyboard.press("ArrowLeft")              # one view back
    visit.page.wait_for_function("document.querySelector('#fig-pieces-figure-box [data-status]').textContent"
                                 ".includes('D = 5')", timeout=5000)

    second = "#fig-xor-figure-box button[data-button='1']"
    _tab_to(visit, second)
    style, width = _focus_ring(visit)
    assert style != "none" and width >= 2, f"the focused button shows no focus ring ({style} {width}px)"
    visit.page.keyboard.press("Enter")
    visit.page.wait_for_function("document.querySelector('#fig-xor-figure-box [data-status]').textContent"
                                 ".includes('100%')", timeout=5000)
    assert visit.js(f"document.querySelector(\"{second}\").getAttribute('aria-pressed')") == "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / "relu_pieces_keyboard.png"), full_page=True)
    visit.page.close()
