"""Sphinx extension for the workbook's book (loaded from ``_config.yml``).

- Pages that draw a plotly figure get ``plotly/plotly.min.js`` from the book's
  own static files (``book/vendor/``, see ``scripts/vendor_assets.py``); other
  pages load nothing extra.
- The ``plotly-figure`` directive draws a figure made by a function of
  ``course_lib`` when the book is built, so a markdown page can hold an
  interactive figure without executing a notebook::

      ```{plotly-figure} course_lib.book.figures:descent_step_figure
      ```

- The ``instructor-only`` directive holds text (worked answers to graded
  derivations) that only the instructor build shows; the student build drops
  it (config value ``course_audience``, set by ``course_lib.instructor.book``)::

      ```{instructor-only}
      The answer ...
      ```

- "Open in Colab": a problem page (a notebook of ``release/ps1/``) gets a
  launch button to the same notebook, ``ps1/<name>.ipynb``, in the public
  student repository that ``repository.url`` of ``_config.yml`` names (see
  :mod:`course_lib.instructor.student_repo`); never into this repository,
  and no button at all while the setting is empty.

- Accessibility: every page gets ``course_a11y.css`` (visible focus, figure
  captions); pages with a plotly figure also get ``course_figures.js``, which
  binds the keyboard controls :func:`course_lib.figures.plotly_offline.figure_html`
  puts above an interactive figure (both in ``book/assets/``). A ``{graphviz}``
  drawing must give ``:alt:`` (a warning, so an error under ``-W``, otherwise),
  and its SVG ``<object>`` carries that text as ``role="img"`` and
  ``aria-label``; Sphinx alone puts it only in fallback content that assistive
  technology never reads.
"""
from __future__ import annotations

import importlib
from html import escape
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PLOTLY_JS = "plotly/plotly.min.js"
#: Keyboard controls of interactive figures, and the book's accessibility styles (book/assets/).
FIGURES_JS = "course_figures.js"
A11Y_CSS = "course_a11y.css"
#: Every figure plotly writes as HTML lives in a div with this class.
PLOTLY_MARKER = "plotly-graph-div"


class PlotlyFigure(SphinxDirective):
    """Insert the figure returned by ``module:function`` (called with no argument)."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        from course_lib.figures.plotly_offline import figure_html

        target = self.arguments[0]
        module_name, _, func_name = target.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise self.error(f"plotly-figure: cannot import {target!r}: {exc}") from exc
        fig = func()
        div_id = f"fig-{func_name.replace('_', '-')}"
        html = figure_html(fig, div_id=div_id)
        return [nodes.raw("", html, format="html", classes=["course-plotly-figure"])]


class InstructorOnly(SphinxDirective):
    """Content shown only when ``course_audience`` is ``"instructor"``."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        if self.env.config.course_audience != "instructor":
            return []
        box = nodes.container(classes=["course-instructor-only"])
        box += nodes.paragraph(text="Instructor edition — not in the student book:")
        self.state.nested_parse(self.content, self.content_offset, box)
        return [box]


def add_plotly_js(app: Sphinx, pagename: str, templatename: str,
                  context: dict[str, Any], doctree: Any) -> None:
    """Load the vendored plotly.js on the pages whose body holds a plotly figure.

    Called during ``html-page-context``: Sphinx then adds the script to this
    page only. It goes in ``<head>`` without ``defer`` so that ``Plotly`` is
    defined before the inline ``Plotly.newPlot`` calls in the body run.
    """
    if PLOTLY_MARKER in context.get("body", ""):
        app.add_js_file(PLOTLY_JS, priority=100)
        app.add_js_file(FIGURES_JS, priority=900, defer="defer")


#: The folder of the student notebooks in the book (a problem page's name starts with it).
RELEASE_PAGES = "release/ps1/"


def add_colab_link(app: Sphinx, pagename: str, templatename: str,
                   context: dict[str, Any], doctree: Any) -> None:
    """Add "Open in Colab" to a problem page, pointing into the public student repository.

    Runs after the theme has prepared its header buttons (``html-page-context``,
    priority 502). The theme's own Colab button is not used: it would point at
    ``release/ps1/...`` in the repository of the book's sources.
    """
    from course_lib.instructor.student_repo import StudentRepository

    if not pagename.startswith(RELEASE_PAGES) or "header_buttons" not in context:
        return
    options = app.config.html_theme_options or {}
    repo = StudentRepository(options.get("repository_url") or "", options.get("repository_branch") or "main")
    url = repo.colab_url(pagename[len(RELEASE_PAGES):]) if repo.url else None
    if url:
        context["header_buttons"].append({
            "type": "group", "tooltip": "Launch interactive content", "icon": "fas fa-rocket",
            "label": "launch-buttons",
            "buttons": [{"type": "link", "text": "Colab", "tooltip": "Open this notebook in Colab",
                         "icon": "_static/images/logo_colab.png", "url": url}],
        })


def visit_graphviz_html(self: Any, node: Any) -> None:
    """Sphinx's HTML rendering of a ``{graphviz}`` drawing, with its ``:alt:``
    text on the ``<object>`` as ``role="img"`` and ``aria-label``."""
    from sphinx.ext.graphviz import html_visit_graphviz

    alt = node.get("alt")
    if not alt:
        logger.warning("graphviz drawing without :alt: - give it a text alternative that says "
                       "what the graph shows", location=node)
    start = len(self.body)
    try:
        html_visit_graphviz(self, node)
    finally:
        for i in range(start, len(self.body)):
            if alt and self.body[i].startswith("<object "):
                self.body[i] = self.body[i].replace("<object ", f'<object role="img" aria-label="{escape(alt)}" ', 1)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("plotly-figure", PlotlyFigure)
    app.add_directive("instructor-only", InstructorOnly)
    app.add_config_value("course_audience", "student", "env")
    app.connect("html-page-context", add_plotly_js)
    app.connect("html-page-context", add_colab_link, priority=502)
    app.add_css_file(A11Y_CSS)
    from sphinx.ext.graphviz import graphviz

    app.add_node(graphviz, override=True, html=(visit_graphviz_html, None))
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
