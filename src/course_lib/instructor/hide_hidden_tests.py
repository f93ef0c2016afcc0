"""``HideHiddenTests``: nbgrader's feedback without the hidden tests.

``nbgrader generate_feedback`` (and formgrader's *Generate Feedback* button)
render the autograded notebook, into which autograde put the hidden tests
back; their tracebacks quote them too. Listed in
``c.GenerateFeedback.preprocessors`` (``nbgrader_config.py``), this
preprocessor runs before the page is rendered and

- removes every ``BEGIN HIDDEN TESTS`` ... ``END HIDDEN TESTS`` region, delimiters included;
- replaces each error's traceback by its one line ``ename: evalue``;
- replaces any output line that contains a hidden-test line of this notebook
  (a student's code can print the cells it ran) by a placeholder.

``course-grade`` writes its own pages (:mod:`.grading.feedback`); this makes
nbgrader's own route safe as well.
"""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from course_lib import nbmeta

PLACEHOLDER = "[line removed: it quotes a hidden test]"
MIN_SECRET = 12  # shorter hidden lines (``)``, ``pass``) are too generic to redact


def _without_hidden(source: str) -> str:
    out, hidden = [], False
    for line in source.split("\n"):
        if nbmeta.BEGIN_HIDDEN_TESTS in line:
            hidden = True
        elif nbmeta.END_HIDDEN_TESTS in line and hidden:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out).rstrip("\n")


def redact(text: str, secrets: set[str]) -> str:
    """``text`` with every line that contains one of ``secrets`` replaced by :data:`PLACEHOLDER`, also
    when it quotes it as Python writes it in a string (a test cell's source as the grader sends it,
    :func:`..grading.verdict.wrap`, echoed by student code)."""
    escaped = {s.replace("\\", "\\\\") for s in secrets}
    quoted = secrets | escaped | {e.replace(q, "\\" + q) for e in escaped for q in "'\""}
    return "\n".join(PLACEHOLDER if any(s in line for s in quoted) else line for line in text.split("\n"))


class HideHiddenTests(Preprocessor):
    """Strip hidden tests (and quotes of them) from an autograded notebook."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        secrets: set[str] = set()
        for cell in nb.cells:
            secrets.update(line.strip() for line in nbmeta.hidden_test_lines(cell))
        visible = {line.strip() for cell in nb.cells for line in nbmeta.source_lines(_stripped(cell))}
        secrets = {s for s in secrets - visible if len(s) >= MIN_SECRET}
        for cell in nb.cells:
            cell.source = _without_hidden(cell.source) if nbmeta.hidden_test_lines(cell) else cell.source
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                if out.get("output_type") == "error":
                    out["traceback"] = [redact(f"{out.get('ename', '')}: {out.get('evalue', '')}", secrets)]
                    out["evalue"] = redact(str(out.get("evalue", "")), secrets)
                elif out.get("output_type") == "stream":
                    out["text"] = redact(out.get("text", ""), secrets)
                for mime, data in list(out.get("data", {}).items()):
                    if isinstance(data, str) and mime.startswith("text/"):
                        out["data"][mime] = redact(data, secrets)
        return nb, resources


def _stripped(cell):
    copy = cell.copy()
    copy["source"] = _without_hidden(cell.source)
    return copy
