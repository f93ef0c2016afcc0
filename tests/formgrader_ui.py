"""nbgrader's formgrader in a real browser, as a TA uses it (helpers for the tests).

- :func:`start_formgrader`: JupyterLab (the venv's, with nbgrader's server
  extensions as the venv enables them) started in a course root, as a TA opens
  it there: nbgrader finds ``nbgrader_config.py`` from the working directory.
  On 127.0.0.1, a free port, a token, no browser; a context manager that
  yields ``(base_url, token, process)`` once the server answers.
- :func:`block_foreign_requests`: a browser context's requests that would leave
  127.0.0.1 are aborted and listed.
- :func:`grade_written_answer`: Manual Grading → assignment → notebook → the
  student's submission, then a score and a comment typed into one written
  answer's boxes, each saved by formgrader (its ``PUT /formgrader/api/grade/<id>``
  and ``PUT /formgrader/api/comment/<id>`` answered) before it returns.

What nbgrader 0.9.6 serves (``nbgrader/server_extensions/formgrader/``):
``/formgrader/gradebook`` (Manual Grading: assignments), ``…/gradebook/<assignment>``
(its notebooks), ``…/gradebook/<assignment>/<notebook>`` (submissions, names hidden
until *Show All Names*), ``/formgrader/submissions/<submission notebook id>/`` (the
autograded notebook as HTML). There a graded cell's score box is
``input.score#<grade_id>``, its comment box ``textarea.comment#<grade_id>-comment``,
both inside its ``.nbgrader_cell`` panel; the page script is ``window.formgrader``
(``grades.loaded``/``comments.loaded`` once the boxes are filled from the gradebook).

The grading page asks cdnjs.cloudflare.com for MathJax 2 (nbgrader's template
hard-codes it): blocked here, so math shows as TeX and the page script logs
``MathJax is not defined`` (:data:`MATHJAX_CDN`, :data:`MATHJAX_ERROR`); scores
and comments are saved all the same.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from test_jupyterlab_browser import CHROMIUM, LAUNCH_ARGS, stop  # noqa: F401 - re-exported for the formgrader tests

import nbrun

MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"
MATHJAX_ERROR = "MathJax is not defined"
LOCAL_HOSTS = ("127.0.0.1",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def start_formgrader(course: Path, timeout_s: float = 120,
                     log_dir: Path | None = None) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """JupyterLab serving the course root ``course``, started from it (cwd), with
    formgrader; yields ``(base_url, token, process)`` and stops the server after.

    The Jupyter config, runtime, settings and workspace folders are scratch ones
    (no user settings); the venv's own config still enables nbgrader's server
    extensions. The server's output goes to ``jupyterlab.log`` in ``log_dir``
    (default: a scratch folder, removed after); its tail is in the error when the
    server exits or does not answer within ``timeout_s``.
    """
    course = Path(course).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="formgrader-home-"))
    log_path = Path(log_dir or scratch) / "jupyterlab.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(scratch / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
               PATH=f"{nbrun.VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")  # alembic, jupyter
    env.pop("NBGRADER_EXECUTION", None)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    # formgrader's own API: up once the nbgrader extension is loaded, not just the server
                    urllib.request.urlopen(f"{base}/formgrader/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"formgrader did not answer within {timeout_s:.0f} s:\n"
                                           f"{log_path.read_text()[-3000:]}") from None
                    time.sleep(0.5)
            yield base, token, proc
        finally:
            stop(proc)
            shutil.rmtree(scratch, ignore_errors=True)


def block_foreign_requests(context) -> list[str]:
    """Abort every request of the Playwright browser ``context`` to a host other than
    127.0.0.1 (``data:``/``blob:`` stay); returns the list the aborted URLs are added to."""
    blocked: list[str] = []

    def route(r) -> None:
        url = r.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            blocked.append(url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    return blocked


@dataclass
class Graded:
    """What :func:`grade_written_answer` saw and saved."""

    url: str            # the grading page of the student's notebook
    answer_text: str    # the student's written answer as formgrader shows it
    grade: dict         # formgrader's answer to the score's PUT (the gradebook's Grade, as JSON)
    comment: dict       # its answer to the comment's PUT (the Comment, as JSON)
    screenshots: list[Path] = field(default_factory=list)


def _screenshot(page, cell, folder: Path | None, name: str, shots: list[Path]) -> None:
    """The window with ``cell`` in its middle (formgrader's own scrolling, animated by jQuery
    when a box gets focus, finished first), under formgrader's bar naming the student."""
    if folder is not None:
        page.wait_for_function("() => !window.jQuery || jQuery(':animated').length === 0", timeout=10_000)
        cell.evaluate("e => e.scrollIntoView({block: 'center'})")
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name))
        shots.append(folder / name)


def open_submission(page, base_url: str, token: str, assignment: str, student: str, notebook: str) -> str:
    """Click from formgrader's Manual Grading to ``student``'s ``notebook`` of ``assignment``
    and wait until its grade and comment boxes are filled; returns the grading page's URL."""
    page.goto(f"{base_url}/formgrader/gradebook?token={token}")  # the token logs in (a cookie) once
    page.click(f"#main-table a:text-is('{assignment}')", timeout=60_000)
    page.wait_for_url(f"**/formgrader/gradebook/{assignment}")
    page.click(f"#main-table a:text-is('{notebook}')", timeout=60_000)
    page.wait_for_url(f"**/formgrader/gradebook/{assignment}/{notebook}")
    page.wait_for_selector("#main-table a.name-hidden", timeout=60_000)  # the submissions, names hidden
    page.click("#toggle_names")  # "Show All Names"
    page.click(f"#main-table a.name-shown:text-is('{student}')")
    page.wait_for_url("**/formgrader/submissions/*/**")
    page.wait_for_function("() => window.formgrader && formgrader.grades && formgrader.grades.loaded"
                           " && formgrader.comments && formgrader.comments.loaded", timeout=60_000)
    return page.url


def grade_written_answer(page, base_url: str, token: str, assignment: str, student: str, notebook: str,
                         grade_id: str, score: float, comment: str, screenshot_dir: Path | None = None) -> Graded:
    """As a TA: open ``student``'s ``notebook`` in formgrader's Manual Grading, type ``score``
    into the score box of the written answer ``grade_id`` and ``comment`` into its comment box,
    each followed by Tab (formgrader saves a box on change), and wait for both saves.

    Screenshots (``<notebook>_<student>_<grade_id>_before.png`` / ``_after.png``) go to
    ``screenshot_dir`` when given. Raises AssertionError when a save is refused.
    """
    url = open_submission(page, base_url, token, assignment, student, notebook)
    cell = page.locator(".nbgrader_cell", has=page.locator(f'input.score[id="{grade_id}"]'))
    shots: list[Path] = []
    stem = f"{notebook}_{student}_{grade_id}"
    _screenshot(page, cell, screenshot_dir, f"{stem}_before.png", shots)
    answer_text = cell.locator(".panel-body").inner_text()

    def saved(kind: str):
        return lambda r: r.request.method == "PUT" and f"/formgrader/api/{kind}/" in r.url

    box = cell.locator(f'input.score[id="{grade_id}"]')
    with page.expect_response(saved("grade"), timeout=30_000) as grade_response:
        box.click()
        box.fill(f"{score:g}")
        box.press("Tab")  # leaving the box fires its change event: formgrader saves the score
    text = cell.locator(f'textarea.comment[id="{grade_id}-comment"]')
    with page.expect_response(saved("comment"), timeout=30_000) as comment_response:
        text.click()
        text.fill(comment)
        text.press("Tab")
    for response in (grade_response.value, comment_response.value):
        assert response.ok, f"formgrader refused to save: {response.status} {response.url}: {response.text()[:500]}"
    page.wait_for_function("() => !document.querySelector('.glyphicon-refresh')", timeout=30_000)  # icons settled
    _screenshot(page, cell, screenshot_dir, f"{stem}_after.png", shots)
    return Graded(url=url, answer_text=answer_text, grade=grade_response.value.json(),
                  comment=comment_response.value.json(), screenshots=shots)
