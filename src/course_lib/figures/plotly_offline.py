"""Plotly figures as HTML that renders with no network.

Plotly's default notebook output is a ``application/vnd.plotly.v1+json`` bundle
that myst-nb does not render, and its HTML renderers either inline the whole
plotly.js (~4.8 MB per figure) or load it, and MathJax 2, from a CDN. The book
serves its own plotly.js (``book/vendor/plotly/plotly.min.js``, added to a page
by :mod:`course_lib.book.sphinxext` when the page holds a figure), so a figure only
needs its ``<div>`` and the ``Plotly.newPlot`` call:

- :func:`figure_html` gives that fragment for a figure, inside a ``<figure>``
  whose caption is the figure's text alternative, computed from its data
  (:mod:`course_lib.figures.text`), and, for a figure with a slider or buttons,
  native HTML controls (a range input, buttons, a select) that drive it from the
  keyboard (bound by ``book/assets/course_figures.js``) *instead of* plotly's
  own, which are then not drawn, with one line that says the view shown;
- :func:`use_book_renderer` makes ``fig.show()`` in a notebook emit the plotly
  mime type (drawn by JupyterLab) *and* that fragment as ``text/html`` (used by
  the book), then the figure's text alternative as a plain-text output, so
  notebooks run in JupyterLab and render in the book, and a screen reader
  reads what each figure shows.
"""
from __future__ import annotations

import uuid
from html import escape
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import ExternalRenderer, MimetypeRenderer

from .text import describe_figure, describe_views, plain
from .views import view_state, without_state

#: Name under which :func:`use_book_renderer` registers the HTML renderer.
RENDERER_NAME = "course_book_html"

#: Name under which :func:`use_book_renderer` registers the text-alternative renderer.
TEXT_RENDERER_NAME = "course_figure_text"

#: Plotly config used for every figure in the book.
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}


def figure_html(fig: go.Figure | dict, *, div_id: str | None = None, controls: bool = True) -> str:
    """The ``<figure>`` that draws ``fig`` with a page-level plotly.js.

    It holds the plotly ``<div id=div_id>`` and its ``Plotly.newPlot`` call, and
    a caption with the figure's text alternative, computed from its data: a
    static description (for a slider or buttons also what each view shows), not
    the view drawn now. With ``controls`` (the book, whose ``course_figures.js``
    binds them), a figure with sliders or menus gets native keyboard controls
    instead of plotly's own, which are not drawn, and the line under those
    controls says the state of the view shown (:mod:`course_lib.figures.views`),
    which the figure's title then no longer repeats. Without ``controls`` the
    figure keeps plotly's slider or buttons and its own state line. Neither
    plotly.js nor MathJax is inlined or fetched: the page must load plotly.js
    itself (the book does, from its own static files).
    """
    fig = fig if isinstance(fig, go.Figure) else go.Figure(fig)
    div_id = div_id or f"fig-{uuid.uuid4().hex[:12]}"
    keyboard = controls_html(fig, div_id) if controls else ""
    drawn = plotly_controls_hidden(without_state(fig)) if keyboard else fig
    plot = pio.to_html(
        drawn,
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
    text_id = f"{div_id}-text"
    parts = [f'<figure class="course-figure" id="{div_id}-box" aria-describedby="{text_id}">']
    if keyboard:
        parts.append(keyboard)
    parts.append(plot)
    parts.append(f'<figcaption class="course-figure-text" id="{text_id}">{escape(describe_figure(fig, state=False))}')
    views = describe_views(fig)
    if views:
        items = "".join(f"<li>{escape(label)}: {escape(text)}</li>" for label, text in views)
        parts.append(f"<details><summary>What each of the {len(views)} views shows</summary><ul>{items}</ul></details>")
    parts.append("</figcaption></figure>")
    return "\n".join(parts)


def _controlled(fig: go.Figure) -> tuple[list[int], list[int]]:
    """Indices of the sliders and of the menus of ``fig`` that get a keyboard control
    (those with at least one step or button)."""
    return ([i for i, s in enumerate(fig.layout.sliders or ()) if s.steps],
            [i for i, m in enumerate(fig.layout.updatemenus or ()) if m.buttons])


def plotly_controls_hidden(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` in which plotly does not draw the sliders and menus that
    :func:`controls_html` replaces (``visible=False``). They stay in the layout,
    steps and buttons included: the keyboard controls apply them from there."""
    out = go.Figure(fig)
    sliders, menus = _controlled(out)
    for i in sliders:
        out.layout.sliders[i].visible = False
    for i in menus:
        out.layout.updatemenus[i].visible = False
    return out


def _state(item: Any) -> str:
    """What the line under the controls says for one step or button: its state
    (:func:`~course_lib.figures.views.view_state`), or else its label."""
    return plain(view_state(item)) or plain(item.label)


def controls_html(fig: go.Figure, div_id: str) -> str:
    """Keyboard controls for the sliders and menus of ``fig``: a range input per
    slider, a group of toggle buttons per button menu, a ``<select>`` per
    dropdown, and one live line that says the state of the view shown. Empty
    for a figure without sliders or menus."""
    title = plain(fig.layout.title.text) if fig.layout.title and fig.layout.title.text else "the figure"
    status_id = f"{div_id}-status"
    rows, status = [], ""
    sliders, menus = _controlled(fig)
    for i in sliders:
        slider = fig.layout.sliders[i]
        labels = [plain(step.label) for step in slider.steps]
        states = [_state(step) for step in slider.steps]
        active = slider.active or 0
        name = plain(slider.currentvalue.prefix).rstrip(" :=") if slider.currentvalue else ""
        rows.append(
            f'<label class="course-figure-slider">{escape(name or "view")} '
            f'<input type="range" min="0" max="{len(labels) - 1}" step="1" value="{active}" '
            f'data-slider="{i}" aria-valuetext="{escape(labels[active])}" aria-controls="{div_id}" '
            f"data-labels='{escape(_json(labels))}' data-states='{escape(_json(states))}'></label>")
        status = states[active]
    for i in menus:
        menu = fig.layout.updatemenus[i]
        labels = [plain(button.label) for button in menu.buttons]
        states = f"data-states='{escape(_json([_state(button) for button in menu.buttons]))}'"
        active = menu.active if menu.active is not None and 0 <= menu.active < len(labels) else 0
        if menu.type == "buttons":
            buttons = "".join(
                f'<button type="button" data-menu="{i}" data-button="{k}" aria-controls="{div_id}" '
                f'aria-pressed="{"true" if k == active else "false"}">{escape(label)}</button>'
                for k, label in enumerate(labels))
            rows.append(f'<div role="group" class="course-figure-buttons" data-menu-group="{i}" {states} '
                        f'aria-label="Views of {escape(title)}">{buttons}</div>')
        else:
            options = "".join(f'<option value="{k}"{" selected" if k == active else ""}>{escape(label)}</option>'
                              for k, label in enumerate(labels))
            rows.append(f'<label class="course-figure-menu">view <select data-menu="{i}" {states} '
                        f'aria-controls="{div_id}">{options}</select></label>')
        status = _state(menu.buttons[active])
    if not rows:
        return ""
    line = (f'<p class="course-figure-status" id="{status_id}" role="status" aria-live="polite" '
            f'data-status>{escape(status)}</p>')
    return f'<div class="course-figure-controls" data-figure="{div_id}">{"".join(rows)}{line}</div>'


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


class BookHtmlRenderer(MimetypeRenderer):
    """A plotly renderer whose ``text/html`` output relies on a page-level plotly.js.

    The caption carries the text alternative; no keyboard controls are added,
    since a notebook output does not load the book's ``course_figures.js``, so
    the figure keeps plotly's own slider or buttons and its subtitle says the
    view shown (a figure is never left without a control).
    """

    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        return {"text/html": figure_html(fig_dict, controls=False)}


class FigureTextRenderer(ExternalRenderer):
    """Displays a figure's text alternative as a plain-text output after the figure,
    where every notebook front end shows it and a screen reader reads it."""

    def render(self, fig_dict: dict) -> None:
        from IPython.display import display

        text = describe_figure(fig_dict)
        display({"text/plain": text, "text/markdown": f"*Text description:* {escape(text)}"}, raw=True)


def _in_colab() -> bool:
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def add_text_alternatives() -> str:
    """After every ``fig.show()``, also display the figure's text alternative
    (:class:`FigureTextRenderer`), keeping the renderer plotly chose for this
    front end. The setup cell of every notebook calls it. Returns the renderers."""
    pio.renderers[TEXT_RENDERER_NAME] = FigureTextRenderer()
    current = [r for r in (pio.renderers.default or "").split("+") if r]
    if TEXT_RENDERER_NAME not in current:
        pio.renderers.default = "+".join([*current, TEXT_RENDERER_NAME])
    return pio.renderers.default


def use_book_renderer() -> str:
    """Make ``fig.show()`` render in JupyterLab and in the offline book.

    Sets ``plotly.io.renderers.default`` to the plotly mime type (JupyterLab's
    interactive view) plus :class:`BookHtmlRenderer` (the book's ``text/html``),
    then :class:`FigureTextRenderer` (the figure's text alternative). On Colab,
    which is online and does not draw the plotly mime type, plotly's own Colab
    renderer is kept, followed by the text alternative. Returns the renderer
    string in use.
    """
    pio.renderers[RENDERER_NAME] = BookHtmlRenderer()
    pio.renderers[TEXT_RENDERER_NAME] = FigureTextRenderer()
    graphic = "colab" if _in_colab() else f"plotly_mimetype+{RENDERER_NAME}"
    pio.renderers.default = f"{graphic}+{TEXT_RENDERER_NAME}"
    return pio.renderers.default
