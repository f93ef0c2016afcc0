"""The student's path in real JupyterLab: a browser opens a release notebook, runs
all cells, sees the pictures and the check messages, and presses nbgrader's
*Validate* button.

JupyterLab 4 (the venv's, with nbgrader's lab and server extensions, as a
student installs them) is started on 127.0.0.1 with a token, in a scratch
folder holding a student's copies of release notebooks; headless Chromium
(Debian's ``chromium`` driven by Playwright, no browser download) opens them:

- ``01_hand_gradients`` with the answers filled in: *Run All Cells* draws the
  graphviz computation graph (an SVG image that loads), every check cell
  prints ``PASSED``, nothing fails, and *Validate* says the notebook passes;
- ``01_hand_gradients`` with a usual mistake in part (a): *Run All Cells*
  stops at that part's check cell, which shows ``CHECK FAILED`` and what is
  wrong, and *Validate* reports the failing cells with that message;
- ``06_representation`` with the answers filled in: the ipywidgets explorer
  renders its sliders, and moving one redraws the figure through the kernel.

No request leaves 127.0.0.1. Screenshots go to ``test-artifacts/jupyterlab/``.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import nbrun
from course_lib.instructor.release import solution_filled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ARTIFACTS = nbrun.ROOT / "test-artifacts" / "jupyterlab"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-extensions",
               "--disable-default-apps", "--disable-sync", "--no-first-run", "--mute-audio"]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the tests extra)")
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the `all` extra)")
pytest.importorskip("nbgrader", reason="nbgrader is not installed (the grading extra)")
if CHROMIUM is None:
    pytest.skip("no chromium on this machine (scripts/setup.sh installs Debian's chromium)", allow_module_level=True)

NB01, NB06 = "01_hand_gradients.ipynb", "06_representation.ipynb"
MISTAKE = "mistake"  # a second student's folder: mistake/ps1/01_hand_gradients.ipynb



def stop(proc: subprocess.Popen, wait: float = 20) -> None:
    """Terminate ``proc``; kill it if it is still there after ``wait`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

def _solved(name: str):
    return solution_filled(nbrun.RELEASE_DIR / name, nbrun.SOURCE_DIR / name)


def _with_mistake():
    """Notebook 01 answered, except part (a): dL/dw3 taken as w3 (it is s)."""
    nb = _solved(NB01)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "a_value")
    cell.source = 'dL_dw3 = w3\nprint("dL/dw3 =", dL_dw3)'
    return nb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab serving a student's folder ``ps1/`` on 127.0.0.1: (base URL, token, folder)."""
    root = tmp_path_factory.mktemp("student")
    folder = root / nbrun.ASSIGNMENT
    for name in (NB01, NB06):
        nbrun.write(_solved(name), folder / name)
    nbrun.write(_with_mistake(), root / MISTAKE / nbrun.ASSIGNMENT / NB01)
    home = tmp_path_factory.mktemp("jupyter-home")  # no user settings, workspaces or runtime files
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Lab 4 renders only the cells in view by default; draw them all so every output is in the page.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               PATH=f"{nbrun.VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NBGRADER_EXECUTION", None)
    port, token = _free_port(), secrets.token_hex(16)
    log = open(home / "jupyterlab.log", "w")  # noqa: SIM115 - the server writes to it until teardown
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(home / 'jupyterlab.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not answer within 120 s")
            time.sleep(0.5)
    yield base, token, folder
    stop(server)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


class Notebook:
    """One notebook opened in JupyterLab in a fresh browser context, with every request it made."""

    PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    PROMPTS_JS = "Array.from(document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputPrompt')).map(e => e.innerText.trim())"

    def __init__(self, browser, lab, name: str, folder: str = nbrun.ASSIGNMENT):
        base, token, _ = lab
        self.base, self.name = base, Path(name).stem
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # a workspace of its own, reset, so that only this notebook is open
        workspace = f"{folder}-{Path(name).stem}".replace("/", "-")
        self.page.goto(f"{base}/lab/workspaces/{workspace}/tree/{folder}/{name}?reset&token={token}")
        self.page.wait_for_selector(f"{self.PANEL} .jp-Cell", timeout=120_000)
        self.page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)

    def run_all(self, timeout_s: float = 300) -> float:
        """Run → Run All Cells, as a student does; wait until the kernel is done (JupyterLab
        stops at the first cell that fails). Returns seconds."""
        start = time.monotonic()
        started = (f"sel => {{ const p = {self.PROMPTS_JS}; return p.some(t => /[0-9*]/.test(t)); }}")
        for attempt in (1, 2):  # right after the page loads, JupyterLab may drop the first Run All (no kernel yet)
            self.page.click("#jp-MainMenu >> text=Run")
            self.page.click(".lm-Menu-content >> text=Run All Cells")
            try:
                self.page.wait_for_function(started, arg=self.PANEL, timeout=30_000)
                break
            except playwright.TimeoutError:
                if attempt == 2:
                    self.screenshot(f"NOT_STARTED_{self.name}.png")
                    pytest.fail(f"{self.name}: Run All Cells ran no cell, twice; prompts: {self.prompts()}")
        done = (f"sel => {{ const p = {self.PROMPTS_JS}; return p.some(t => /[0-9]/.test(t)) && "
                "!p.some(t => t.includes('*')) && "
                "!!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]'); }")
        try:
            self.page.wait_for_function(done, arg=self.PANEL, timeout=timeout_s * 1000)
        except playwright.TimeoutError:
            self.screenshot(f"TIMEOUT_{self.name}.png")
            pytest.fail(f"{self.name}: Run All Cells did not finish in {timeout_s:.0f} s; prompts: {self.prompts()}; "
                        f"dialogs: {self.page.locator('.jp-Dialog').all_inner_texts()}")
        return time.monotonic() - start

    def prompts(self) -> list[str]:
        """The input prompt of every code cell: ``[3]:`` ran, ``[ ]:`` did not."""
        return self.page.evaluate(f"sel => {self.PROMPTS_JS}", self.PANEL)

    def outputs(self) -> list[dict]:
        """Every output of the notebook: its mime type and text."""
        return self.page.evaluate(
            """sel => Array.from(document.querySelectorAll(sel + ' .jp-OutputArea-output')).map(e => ({
                   mime: e.dataset.mimeType || '', text: e.innerText,
                   images: Array.from(e.querySelectorAll('img')).map(i => ({
                       src: i.src.slice(0, 40), width: i.naturalWidth, height: i.naturalHeight}))}))""",
            self.PANEL)

    def validate(self) -> str:
        """Press nbgrader's Validate button; the text of the dialog it opens."""
        self.page.click(f"{self.PANEL} .validate-button")
        dialog = self.page.wait_for_selector(".jp-Dialog .jp-Dialog-content", timeout=300_000)
        self.page.wait_for_function("document.querySelector('.jp-Dialog-body').innerText.trim().length > 20")
        return dialog.inner_text()

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).hostname not in ("127.0.0.1", None)
                and not u.startswith(("data:", "blob:"))]

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def close(self) -> None:
        self.context.close()


def _errors(outputs: list[dict]) -> list[str]:
    return [o["text"][:300] for o in outputs if o["mime"] == "application/vnd.jupyter.stderr"
            or "Traceback" in o["text"] or "CHECK FAILED" in o["text"]]


def test_solved_notebook_draws_the_graph_passes_its_checks_and_validates(lab, browser):
    nb = Notebook(browser, lab, NB01)
    seconds = nb.run_all()
    outputs = nb.outputs()
    nb.screenshot("01_hand_gradients_run_all.png")
    assert all(p.startswith("[") and p[1:-2].strip().isdigit() for p in nb.prompts()), nb.prompts()
    assert not _errors(outputs), f"errors after Run All Cells ({seconds:.0f} s):\n" + "\n".join(_errors(outputs))
    # the graphviz drawing: an SVG image (as image/svg+xml, or inside the text/html course_lib also emits)
    graphs = [img for o in outputs for img in o["images"] if img["src"].startswith("data:image/svg+xml")]
    assert graphs, f"no graphviz drawing (an SVG image) was rendered; outputs: {[(o['mime'], o['images']) for o in outputs]}"
    assert all(img["width"] > 100 and img["height"] > 50 for img in graphs), f"a drawing did not load: {graphs}"
    passed = [o["text"] for o in outputs if o["text"].startswith("PASSED")]
    assert len(passed) == 4, f"expected the 4 check cells to print PASSED, got {passed}"
    assert any("course_lib" in o["text"] and "ready" in o["text"] for o in outputs), "the setup cell did not run"

    result = nb.validate()
    nb.screenshot("01_hand_gradients_validate.png")
    assert "Success! Your notebook passes all the tests." in result, result
    assert not nb.foreign_requests(), nb.foreign_requests()
    assert not nb.errors, nb.errors
    nb.close()


def test_a_mistake_shows_its_check_message_and_fails_validation(lab, browser):
    nb = Notebook(browser, lab, NB01, folder=f"{MISTAKE}/{nbrun.ASSIGNMENT}")
    nb.run_all()
    nb.screenshot("01_hand_gradients_mistake.png")
    failed = [o["text"] for o in nb.outputs() if o["text"].startswith("CHECK FAILED")]
    assert len(failed) == 1 and "dL_dw3 = 4.0 is not right" in failed[0], failed
    assert "[ ]:" in nb.prompts(), "Run All Cells should stop at the failing check cell"

    result = nb.validate()
    nb.screenshot("01_hand_gradients_mistake_validate.png")
    assert result.startswith("Validation Results") and "The following cell failed" in result, result
    assert "Success" not in result, result
    assert "check_dL_dw3(dL_dw3)\nCHECK FAILED\ndL_dw3 = 4.0 is not right" in result, result
    nb.close()


def test_the_widget_renders_and_redraws_through_the_kernel(lab, browser):
    nb = Notebook(browser, lab, NB06)
    seconds = nb.run_all()
    outputs = nb.outputs()
    assert not _errors(outputs), f"errors after Run All Cells ({seconds:.0f} s):\n" + "\n".join(_errors(outputs))
    panel = nb.page.locator(Notebook.PANEL)
    sliders = panel.locator(".widget-slider")
    assert sliders.count() >= 2, f"the ipywidgets explorer rendered {sliders.count()} sliders"
    explorer = f"{Notebook.PANEL} .jp-OutputArea-output:has(.widget-slider)"
    readout = panel.locator(".widget-slider .widget-readout").first
    before_value, before = readout.inner_text(), nb.page.inner_text(explorer)
    panel.locator(".widget-slider [role=slider]").first.focus()
    nb.page.keyboard.press("ArrowRight")  # one step deeper: the kernel computes and draws the new network
    nb.page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old",
                              arg=[explorer, before], timeout=60_000)
    assert readout.inner_text() != before_value, "the slider did not move"
    nb.screenshot("06_representation_widget.png")
    passed = [o["text"] for o in outputs if o["text"].startswith("PASSED")]
    assert len(passed) == 6, f"expected the 6 check cells to print PASSED, got {passed}"
    assert not nb.foreign_requests(), nb.foreign_requests()
    nb.close()
