"""Written answers graded in nbgrader's formgrader, in a real browser, with the rubric page beside it.

The step of the semester loop after ``course-grade``: a TA opens formgrader in
JupyterLab, reads a student's written answer and types a score and a comment,
with ``rubric.html`` (``python -m course_lib.instructor.rubric``) open beside it.

A scratch course of notebook 01 (tests/grading_course.py) gets one student,
``zoe``: the solved notebook with her own words as the written answer
``a_expression``. ``course-grade``'s :func:`grade_class` autogrades her
(confined where bubblewrap works); the written answer then waits for a person
(``needs_manual_grade``, no score). JupyterLab is started in the course root
(tests/formgrader_ui.py) and headless Chromium (Debian's, driven by
Playwright) clicks through Manual Grading to her notebook, checks that her
answer is what the page shows (and that the page does not show its rubric:
that is why the rubric page exists), and enters score 1 and a comment. The
gradebook, read with nbgrader's own API, must then hold that score and
comment for that cell of her notebook and nothing for the other written
answers. The rubric page must hold ``a_expression``'s rubric at its anchor and
load nothing when the browser opens it.

No request leaves 127.0.0.1: the browser context aborts any other request and
the test asserts the only one tried is the MathJax that nbgrader's grading
page hard-codes from a CDN. Screenshots go to ``test-artifacts/formgrader/``.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import nbrun

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the tests extra)")
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the `all` extra)")
pytest.importorskip("nbgrader", reason="nbgrader is not installed (the grading extra)")
if not (shutil.which("chromium") or shutil.which("chromium-browser")):
    pytest.skip("no chromium on this machine (scripts/setup.sh installs Debian's chromium)", allow_module_level=True)

import formgrader_ui as UI  # noqa: E402 - after the skips: it imports playwright's browser settings
import grading_course as G  # noqa: E402
from course_lib import nbmeta  # noqa: E402
from course_lib.instructor.rubric import rubric_entries, write_rubric  # noqa: E402

ARTIFACTS = nbrun.ROOT / "test-artifacts" / "formgrader"
ASSIGNMENT, NOTEBOOK, STUDENT, GRADE_ID = "ps1", Path(G.NOTEBOOK).stem, "zoe", "a_expression"
STUDENT_ANSWER = ("Zoe's own words: dL/dw3 equals s, the sum w1 + w2, because L = s times w3 "
                  "grows by s for each unit of w3.")
SCORE = 1
COMMENT = "Right expression (s = w1 + w2), well argued. Marked by the formgrader browser test."


def _submission(root: Path):
    """The solved notebook 01 with ``STUDENT_ANSWER`` as the written answer ``a_expression``."""
    nb = G.solved(root)
    cell = next(c for c in nb.cells if nbmeta.grade_id(c) == GRADE_ID)
    assert nbmeta.is_manual_answer(cell), f"{GRADE_ID} is no longer a written answer of {G.NOTEBOOK}"
    cell.source = STUDENT_ANSWER
    return nb


def _manual(root: Path) -> dict[str, tuple[float | None, bool, str | None]]:
    """{grade id: (manual score, needs manual grade, manual comment)} of every written answer
    of the student's notebook, read from the gradebook with nbgrader's API."""
    from nbgrader.api import Gradebook

    from course_lib.instructor.grading import course

    with Gradebook(course.db_url(root), course.course_id(root)) as gb:
        nb = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, STUDENT)
        comments = {c.name: c.manual_comment for c in nb.comments}
        return {g.name: (g.manual_score, g.needs_manual_grade, comments.get(g.name))
                for g in nb.grades if g.cell_type == "markdown"}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scratch course after ``course-grade`` (zoe autograded) and the rubric page written."""
    from course_lib.instructor.grading.run import Options, grade_class

    tmp = tmp_path_factory.mktemp("formgrader")
    root = G.make_course(tmp / "course")
    G.submit(root, STUDENT, _submission(root), folder=tmp / "inbox")  # inbox/zoe/ps1/01_hand_gradients.ipynb
    start = time.monotonic()
    while True:  # course-grade runs one at a time per machine: wait (bounded) for another test's run
        try:
            results, rejected, abort = grade_class(Options(submissions=tmp / "inbox", course=root, jobs=1,
                                                           progress=False))
            break
        except RuntimeError as err:
            if "another course-grade is running" not in str(err) or time.monotonic() - start > 300:
                raise
            time.sleep(3)
    print(f"autograding took {time.monotonic() - start:.1f} s")
    assert not rejected and abort is None, (rejected, abort)
    # (not asserted: ``flagged``, which a concurrent edit of course_lib's own files during the run sets)
    assert [r.student for r in results] == [STUDENT] and not results[0].error, results
    assert results[0].score == results[0].max_score > 0, "the solved code parts should pass autograding"
    write_rubric(root, ASSIGNMENT)
    return root


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=UI.CHROMIUM, args=UI.LAUNCH_ARGS)
        yield b
        b.close()


def test_autograding_leaves_the_written_answers_to_a_person(course):
    """Before anyone grades: every written answer of zoe's notebook waits for a manual grade
    (so the browser test below is what sets the score and comment it finds)."""
    manual = _manual(course)
    expected = {e.grade_id for e in rubric_entries(course / "source_notebooks" / ASSIGNMENT)}
    assert set(manual) == expected, (manual, expected)
    assert all(score is None and needs and not comment for score, needs, comment in manual.values()), manual


def test_rubric_page_holds_the_rubric_and_loads_nothing(course, browser):
    """The rubric page (``grading/ps1/rubric.html``) opened at ``#01_hand_gradients-a_expression``
    shows that answer's points and rubric, and the browser fetches nothing but the page itself."""
    page_file = course / "grading" / ASSIGNMENT / "rubric.html"
    entry = next(e for e in rubric_entries(course / "source_notebooks" / ASSIGNMENT) if e.grade_id == GRADE_ID)
    assert entry.rubric.startswith("**Rubric (1 point).**"), entry.rubric
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(f"{page_file.as_uri()}#{entry.anchor}")
    section = page.locator(f'section[id="{entry.anchor}"]')  # ids may start with a digit: no #id
    assert section.is_visible()
    text = " ".join(section.inner_text().split())
    assert "1 point" in text and "Rubric (1 point). 1 point for the expression $s$ (or $w_1 + w_2$)" in text, text
    assert "Write $\\dfrac{\\partial L}{\\partial w_3}$ as an expression" in text, "the question is missing"
    assert page.evaluate("location.hash") == f"#{entry.anchor}"
    assert page.evaluate("document.querySelector(':target').id") == entry.anchor
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rubric_a_expression.png"))
    assert requests == [page_file.as_uri() + f"#{entry.anchor}"] or requests == [page_file.as_uri()], requests
    context.close()


def test_ta_grades_a_written_answer_in_formgrader(course, browser):
    """Manual Grading → ps1 → 01_hand_gradients → zoe: her answer is on the page (the rubric is
    not), score 1 and a comment typed into ``a_expression``'s boxes are saved in the gradebook
    for that cell of her notebook, and no other written answer changes."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked = UI.block_foreign_requests(context)
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    start = time.monotonic()
    with UI.start_formgrader(course, log_dir=ARTIFACTS) as (base, token, _):
        started = time.monotonic() - start
        graded = UI.grade_written_answer(page, base, token, ASSIGNMENT, STUDENT, NOTEBOOK, GRADE_ID, SCORE,
                                         COMMENT, screenshot_dir=ARTIFACTS)
        page_text = page.inner_text("#notebook")
    print(f"JupyterLab answered after {started:.1f} s; grading in the browser took "
          f"{time.monotonic() - start - started:.1f} s; blocked: {blocked}; page errors: {errors}")
    context.close()

    assert "/formgrader/submissions/" in graded.url, graded.url
    assert " ".join(STUDENT_ANSWER.split()) in " ".join(graded.answer_text.split()), graded.answer_text
    # her notebook has her words for a_expression, so its rubric is nowhere on the page (the other
    # written answers hold the model answers and rubrics the solved notebook copied from the source)
    assert "Rubric" not in graded.answer_text and "1 point for the expression" not in page_text, \
        "formgrader shows a_expression's rubric: the autograded notebook holds the source's solution?"
    assert graded.grade["manual_score"] == SCORE and graded.comment["manual_comment"] == COMMENT, graded
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in graded.screenshots), graded.screenshots

    manual = _manual(course)
    assert manual.pop(GRADE_ID) == (SCORE, False, COMMENT)
    assert manual and all(score is None and needs and not comment for score, needs, comment in manual.values()), \
        f"another written answer changed: {manual}"

    foreign = [u for u in requests if urlsplit(u).hostname not in UI.LOCAL_HOSTS
               and not u.startswith(("data:", "blob:"))]
    assert foreign == blocked, (foreign, blocked)  # every request off 127.0.0.1 was aborted ...
    assert all(u.startswith(UI.MATHJAX_CDN) for u in blocked), blocked  # ... and only nbgrader's MathJax tried
    assert all(UI.MATHJAX_ERROR in e for e in errors), errors
