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
  own, which are then not drawn (nor the room kept for them above the plot),
  with one line that says the view shown;
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

from .text import describe_figure, plain, view_entries
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
    static description (for a slider or buttons also what each view shows, each
    view named once: :func:`~course_lib.figures.text.view_entries`), not the
    view drawn now. With ``controls`` (the book, whose ``course_figures.js``
    binds them), a figure with sliders or menus gets native keyboard controls
    instead of plotly's own, which are not drawn, nor is the room its top margin
    keeps for them (:func:`drawn_with_keyboard_controls`), and the line under
    those controls says the state of the view shown
    (:mod:`course_lib.figures.views`), which the figure's title then no longer
    repeats. Without ``controls`` the figure keeps plotly's slider or buttons,
    the room for them and its own state line. Neither plotly.js nor MathJax is
    inlined or fetched: the page must load plotly.js itself (the book does, from
    its own static files).
    """
    fig = fig if isinstance(fig, go.Figure) else go.Figure(fig)
    div_id = div_id or f"fig-{uuid.uuid4().hex[:12]}"
    keyboard = controls_html(fig, div_id) if controls else ""
    drawn = drawn_with_keyboard_controls(fig) if keyboard else fig
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
    views = view_entries(fig)
    if views:
        items = "".join(f"<li>{escape(entry)}</li>" for entry in views)
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


def drawn_with_keyboard_controls(fig: go.Figure) -> go.Figure:
    """What :func:`figure_html` draws of ``fig`` under its keyboard controls: no
    state line in the title (:func:`~course_lib.figures.views.without_state`),
    plotly's own controls not drawn (:func:`plotly_controls_hidden`), and the
    room that ``fig``'s top margin keeps for them above the plot
    (:func:`room_above_plot_for_controls`) given back, so that no empty band is
    left between the title and the plot. The figure as built (a notebook, with
    plotly's controls drawn) keeps that room."""
    room = room_above_plot_for_controls(fig)
    out = plotly_controls_hidden(without_state(fig))
    if room > 0:
        floor = MIN_TOP_MARGIN if out.layout.title and out.layout.title.text else 0
        out.layout.margin.t = max(floor, round(_margin(fig, "t") - room))
    return out


#: plotly.js's defaults for what a figure does not set: its margins, its height
#: (also the book's ``default_height``) and the size of its text.
_PLOTLY_MARGIN = {"t": 100, "b": 80, "l": 80, "r": 80}
_PLOTLY_HEIGHT = 450
_PLOTLY_FONT_SIZE = 12
#: plotly.js draws a title's subtitle 1.6 em (of the subtitle's font) under the title.
_SUBTITLE_PADDING_EM = 1.6
#: The least top margin :func:`drawn_with_keyboard_controls` leaves a figure with a title.
MIN_TOP_MARGIN = 40


def _margin(fig: go.Figure, side: str) -> float:
    value = fig.layout.margin[side] if fig.layout.margin else None
    if value is None and fig.layout.template and fig.layout.template.layout.margin:
        value = fig.layout.template.layout.margin[side]
    return float(_PLOTLY_MARGIN[side] if value is None else value)


def _font_size(*fonts: Any) -> float:
    """The first size set among ``fonts`` (most specific first), else plotly's default."""
    return next((float(f.size) for f in fonts if f is not None and f.size), float(_PLOTLY_FONT_SIZE))


def _control_height(control: Any, font_size: float) -> float:
    """How tall plotly.js draws a menu or a slider, in pixels, padding included:
    a button (or a dropdown's header) is at least 30 px, its text 1.3 em, inside
    a border; a slider is its current value over a rail, ticks and labels."""
    pad = control.pad
    padding = ((pad.t or 0) + (pad.b or 0)) if pad else 0
    size = float(control.font.size) if control.font and control.font.size else font_size
    if isinstance(control, go.layout.Slider):
        current = control.currentvalue is None or control.currentvalue.visible is not False
        offset = control.currentvalue.offset if control.currentvalue and control.currentvalue.offset is not None else 10
        return padding + (1.3 * size + offset if current else 0) + 50
    count = max(1, len(control.buttons or ()))
    border = 2 * (control.borderwidth if control.borderwidth is not None else 1)
    row = max(30.0, 1.3 * size + 6) + border
    stacked = control.type == "buttons" and control.direction in ("up", "down")
    return padding + (count * row + 2 * (count - 1) if stacked else row)


def room_above_plot_for_controls(fig: go.Figure) -> float:
    """How many pixels of ``fig``'s top margin its sliders and menus take above
    its plot area, placed as plotly places them (``y`` in fractions of the plot's
    height from its bottom, anchored by ``yanchor``): the reach of the highest
    one above the plot and, when some do reach above it, the state line (the
    title's subtitle, :mod:`course_lib.figures.views`) that stands over them in
    the same margin, which the book does not draw either. 0 when they all sit
    on or below the plot: the bottom margin needs no such rule, plotly widens it
    for a slider below the plot only while it draws that slider."""
    height = float(fig.layout.height or _PLOTLY_HEIGHT)
    plot = max(1.0, height - _margin(fig, "t") - _margin(fig, "b"))
    font = _font_size(fig.layout.font)
    sliders, menus = _controlled(fig)
    reach = 0.0
    for control, y_default in ([(fig.layout.sliders[i], 0.0) for i in sliders]
                               + [(fig.layout.updatemenus[i], 1.0) for i in menus]):
        y = control.y if control.y is not None else y_default
        anchor = control.yanchor or "top"
        if anchor == "auto":
            anchor = "bottom" if y <= 1 / 3 else "top" if y >= 2 / 3 else "middle"
        h = _control_height(control, font)
        reach = max(reach, y * plot + {"bottom": h, "middle": h / 2, "top": 0.0}[anchor] - plot)
    if reach <= 0:
        return 0.0
    title = fig.layout.title
    if title and title.subtitle and title.subtitle.text:
        reach += (_SUBTITLE_PADDING_EM + 1) * _font_size(title.subtitle.font, fig.layout.font)
    return reach


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
