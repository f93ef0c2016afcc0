"""Plotly figures as HTML that renders with no network.

Plotly's default notebook output is a ``application/vnd.plotly.v1+json`` bundle
that myst-nb does not render, and its HTML renderers either inline the whole
plotly.js (~4.8 MB per figure) or load it, and MathJax 2, from a CDN. The book
serves its own plotly.js (``book/vendor/plotly/plotly.min.js``, added to a page
by :mod:`course_lib.sphinxext` when the page holds a figure), so a figure only
needs its ``<div>`` and the ``Plotly.newPlot`` call:

- :func:`figure_html` gives that fragment for a figure;
- :func:`use_book_renderer` makes ``fig.show()`` in a notebook emit the plotly
  mime type (drawn by JupyterLab) *and* that fragment as ``text/html`` (used by
  the book), so notebooks run in JupyterLab and render in the book.
"""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

#: Name under which :func:`use_book_renderer` registers the HTML renderer.
RENDERER_NAME = "course_book_html"

#: Plotly config used for every figure in the book.
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}


def figure_html(fig: go.Figure | dict, *, div_id: str | None = None) -> str:
    """The ``<div>`` and ``<script>`` that draw ``fig`` with a page-level plotly.js.

    Neither plotly.js nor MathJax is inlined or fetched: the page must load
    plotly.js itself (the book does, from its own static files).
    """
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config=PLOTLY_CONFIG,
        div_id=div_id,
        validate=True,
        # plotly's fragment default, height 100%, collapses in a page of
        # unknown height; a figure that sets layout.height keeps its own
        default_width="100%",
        default_height="450px",
    )


class BookHtmlRenderer(MimetypeRenderer):
    """A plotly renderer whose ``text/html`` output relies on a page-level plotly.js."""

    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        return {"text/html": figure_html(fig_dict)}


def _in_colab() -> bool:
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def use_book_renderer() -> str:
    """Make ``fig.show()`` render in JupyterLab and in the offline book.

    Sets ``plotly.io.renderers.default`` to the plotly mime type (JupyterLab's
    interactive view) plus :class:`BookHtmlRenderer` (the book's ``text/html``).
    On Colab, which is online and does not draw the plotly mime type, plotly's
    own Colab renderer is kept. Returns the renderer string in use.
    """
    pio.renderers[RENDERER_NAME] = BookHtmlRenderer()
    if not _in_colab():
        pio.renderers.default = f"plotly_mimetype+{RENDERER_NAME}"
    return pio.renderers.default
