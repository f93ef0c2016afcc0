"""Figures say what they show in words, and never rest on colour alone.

- The text alternative of a plotly figure (:mod:`course_lib.figures.text`) is
  computed from its data: change the data and the words change.
- Every figure of the book (each ``{plotly-figure}`` of ``book/``) and every
  figure function the notebooks call gets a ``<figure>`` whose caption is that
  text; a figure with a slider or buttons also gets native keyboard controls,
  and then plotly's own slider or buttons are not drawn (one control per view
  switch), and the state of the view shown is said once, in the line under the
  controls: not in the title, not in the caption. Without those controls (a
  notebook output) plotly's own stay, and the figure's subtitle says the state.
  The book's drawing keeps no room above the plot for plotly's controls it
  hides (a notebook output keeps it), and the list of what each view shows
  names each view once.
- In every view of every figure, two series drawn in the same panel differ by
  more than colour (dash, marker symbol, or lines against markers).
- Each ``{graphviz}`` drawing of the book has an ``:alt:`` text.
"""
from __future__ import annotations

import importlib
import json
import re
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from course_lib import figures
from course_lib.figures.text import describe_figure, describe_views, plain
from course_lib.figures.plotly_offline import BookHtmlRenderer, figure_html
from course_lib.figures.views import STATE, view_state

from nb04_refs import reference

ROOT = Path(__file__).resolve().parents[1]
BOOK_MD = sorted((ROOT / "book").rglob("*.md"))
BOOK_FIGURES = sorted({t for md in BOOK_MD for t in re.findall(r"```\{plotly-figure\}\s+(\S+)", md.read_text())})


def book_figure(target: str) -> go.Figure:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


#: The figure functions notebooks call, with small data of the shape they get there.
NOTEBOOK_FIGURES = {
    "loss_figure": lambda: figures.loss_figure(np.linspace(2.3, 0.4, 10), xlabel="epoch"),
    "training_curves_figure": lambda: figures.training_curves_figure(
        {"train_loss": [0.9, 0.5, 0.4], "test_loss": [1.0, 0.6, 0.5], "train_acc": [0.7, 0.8, 0.85],
         "test_acc": [0.68, 0.78, 0.83]}),
    "decision_regions_figure": lambda: figures.decision_regions_figure(
        lambda a, b: a - b, [[0, 0], [1, 0], [0, 1], [1, 1]], [1, 1, -1, -1], resolution=8),
    "predictions_figure": lambda: figures.predictions_figure(
        np.zeros((3, 784)), [0, 1, 2], [0, 2, 2], ["T-shirt", "Trouser", "Pullover"]),
    "matmul_benchmark_figure": lambda: figures.matmul_benchmark_figure(
        [{"name": k, "backend": "CPU", "n": n, "seconds": c * 1e-9 * n ** 3}
         for k, c in (("naive", 2.0), ("tiled", 1.0)) for n in (64, 128, 256)]),
    "activation_figure": figures.activation_figure,
    "block_tiling_figure": figures.block_tiling_figure,
    "adam_first_steps_figure": lambda: figures.adam_first_steps_figure(reference()["Adam"], steps=10),
}
ALL = [pytest.param(lambda t=t: book_figure(t), id=t) for t in BOOK_FIGURES] + \
      [pytest.param(make, id=name) for name, make in NOTEBOOK_FIGURES.items()]


# ----------------------------------------------------------------- colour alone

def _views(fig: go.Figure) -> list[list[bool]]:
    """The visibility of every trace in each view: as drawn, then per slider step and button."""
    first = [t.visible is None or t.visible is True for t in fig.data]
    views = [first]
    for items in [s.steps for s in fig.layout.sliders or ()] + [m.buttons for m in fig.layout.updatemenus or ()]:
        for item in items or ():
            args = list(item.args or ())
            if args and isinstance(args[0], dict) and "visible" in args[0]:
                views.append([v is True for v in args[0]["visible"]])
    return views


def _look(trace) -> tuple:
    """How a scatter trace looks apart from its colour."""
    mode = trace.mode or "lines+markers"
    dash = (trace.line.dash or "solid") if "lines" in mode else None
    symbol = (trace.marker.symbol or "circle") if "markers" in mode else None
    return "lines" in mode, "markers" in mode, dash, symbol


def colour_only_pairs(fig: go.Figure) -> list[tuple[str, str]]:
    """Pairs of differently named scatter series drawn together in one panel that
    look the same but for their colour."""
    pairs = set()
    for visible in _views(fig):
        shown = [t for t, v in zip(fig.data, visible) if v and t.type in ("scatter", "scattergl")]
        for i, a in enumerate(shown):
            for b in shown[i + 1:]:
                same_panel = (a.xaxis or "x", a.yaxis or "y") == (b.xaxis or "x", b.yaxis or "y")
                if same_panel and a.name != b.name and _look(a) == _look(b):
                    pairs.add((a.name, b.name))
    return sorted(pairs)


def test_the_colour_check_can_fail():
    fig = go.Figure([go.Scatter(y=[1, 2], name="train", line=dict(color="blue")),
                     go.Scatter(y=[2, 1], name="test", line=dict(color="red"))])
    assert colour_only_pairs(fig) == [("train", "test")]
    fig.data[1].line.dash = "dash"
    assert colour_only_pairs(fig) == []


@pytest.mark.parametrize("make", ALL)
def test_series_differ_by_more_than_colour(make):
    assert colour_only_pairs(make()) == []


def test_relu_breakpoints_are_marked_by_shape_and_named_in_the_legend():
    from course_lib.figures.pieces import pieces_figure

    fig = pieces_figure(depths=range(1, 3), widths=(2,))
    points = [t for t in fig.data if t.mode == "markers"]
    assert points and all(t.marker.symbol == "diamond" and "breakpoint" in t.name for t in points)
    assert fig.layout.showlegend is True


def test_right_and_wrong_predictions_are_said_in_words():
    fig = NOTEBOOK_FIGURES["predictions_figure"]()
    captions = [re.sub(r"<[^>]+>", "", a.text) for a in fig.layout.annotations]
    assert captions == ["T-shirt: right", "Trouser: wrong, predicted Pullover", "Pullover: right"]


# ------------------------------------------------------------ text alternatives

def test_the_description_is_computed_from_the_data():
    falling = describe_figure(figures.loss_figure(np.linspace(2.3, 0.4, 10), xlabel="epoch"))
    assert "loss: falls from 2.3 to 0.4 as epoch goes from 0 to 9" in falling
    rising = describe_figure(figures.loss_figure([0.5, 0.2, 0.9, 1.7], xlabel="epoch"))
    assert "rises from 0.5 to 1.7" in rising and "lowest 0.2 at 1" in rising
    curves = describe_figure(NOTEBOOK_FIGURES["training_curves_figure"]())
    assert "train_acc: rises from 0.7 to 0.85 as epoch goes from 1 to 3" in curves
    bars = describe_figure(go.Figure(go.Bar(x=["cat", "dog"], y=[0.25, 0.75]), layout=dict(title="p")))
    assert bars == "Figure: p. 2 bars: cat 0.25; dog 0.75."


def test_views_of_a_slider_come_from_what_each_step_computes():
    from course_lib.figures.pieces import pieces_figure, view

    fig = pieces_figure(depths=range(1, 3), widths=(2,))
    views = dict(describe_views(fig))
    assert list(views) == ["random D=1 W=2", "random D=2 W=2", "sawtooth D=1", "sawtooth D=2"]
    result, _ = view("sawtooth", 2, 2)
    assert f"κ(f) = {result.count} pieces" in views["sawtooth D=2"]
    assert "A slider (network) picks one of 4 views" in describe_figure(fig)


@pytest.mark.parametrize("make", ALL)
def test_every_figure_carries_its_text_alternative(make):
    fig = make()
    text = describe_figure(fig)
    assert re.search(r"\d", text) and len(text) > 40, text
    caption = describe_figure(fig, state=False)
    assert re.search(r"\d", caption) and len(caption) > 40, caption
    html = figure_html(fig, div_id="fig-under-test")
    assert '<figure class="course-figure" id="fig-under-test-box" aria-describedby="fig-under-test-text">' in html
    assert f'<figcaption class="course-figure-text" id="fig-under-test-text">{escape(caption)}' in html
    for slider in fig.layout.sliders or ():
        steps = slider.steps
        assert f'max="{len(steps) - 1}"' in html and f'value="{slider.active or 0}"' in html
        assert f'aria-valuetext="{escape(steps[slider.active or 0].label)}"' in html
        assert f"What each of the {len(describe_views(fig))} views shows" in html
    for menu in fig.layout.updatemenus or ():
        for button in menu.buttons:
            assert f">{escape(button.label)}</" in html
    if not (fig.layout.sliders or fig.layout.updatemenus):
        assert "course-figure-controls" not in html


# ------------------------------------------- one control, the state said once

INTERACTIVE = [p for p in ALL if p.values[0]().layout.sliders or p.values[0]().layout.updatemenus]
#: every interactive figure the book draws, at least; the notebooks' activation menu too
INTERACTIVE_IDS = {p.id for p in INTERACTIVE}


def test_the_interactive_figures_are_all_checked():
    assert {"course_lib.book.optim:gradient_descent_steps_figure", "course_lib.book.layers:softmax_temperature_figure",
            "course_lib.book.figures:xor_figure", "course_lib.figures.pieces:pieces_figure",
            "activation_figure"} <= INTERACTIVE_IDS


def plotted(html: str) -> tuple[list, dict]:
    """The data and layout that ``Plotly.newPlot`` draws in a ``figure_html`` fragment."""
    call = html.index("Plotly.newPlot(")
    decoder = json.JSONDecoder()
    start = html.index("[", call)
    data, end = decoder.raw_decode(html, start)
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return data, layout


class _Text(HTMLParser):
    """The text a reader sees in a ``figure_html`` fragment, by where it is: the
    line under the controls, the caption without its list of views, the list,
    and everything else outside scripts (attributes are not text)."""

    def __init__(self) -> None:
        super().__init__()
        self.where: list[str] = []
        self.found: dict[str, list[str]] = {"status": [], "caption": [], "views": [], "other": []}
        self.controls = {"range": 0, "buttons": 0, "select": 0, "status": 0}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") == "range":
            self.controls["range"] += 1
            assert a.get("aria-valuetext") and a.get("aria-controls"), attrs
        if tag == "div" and a.get("role") == "group":
            self.controls["buttons"] += 1
            assert a.get("aria-label"), attrs
        if tag == "button":
            assert a.get("aria-pressed") in ("true", "false"), attrs
        if tag == "select":
            self.controls["select"] += 1
        if "data-status" in a:
            self.controls["status"] += 1
            assert a.get("aria-live") == "polite", attrs
        if tag in ("p", "figcaption", "details", "script") or "data-status" in a:
            kind = ("status" if "data-status" in a else "views" if tag == "details" else
                    "caption" if tag == "figcaption" else "script" if tag == "script" else None)
            self.where.append(kind or (self.where[-1] if self.where else "other"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "figcaption", "details", "script") and self.where:
            self.where.pop()

    def handle_data(self, data: str) -> None:
        where = self.where[-1] if self.where else "other"
        if where != "script" and data.strip():
            self.found[where].append(data)


def read(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("make", INTERACTIVE)
def test_the_book_draws_one_control_per_slider_and_menu(make):
    fig = make()
    html = figure_html(fig, div_id="fig-under-test")
    _, layout = plotted(html)
    sliders, menus = layout.get("sliders", []), layout.get("updatemenus", [])
    assert len(sliders) == len(fig.layout.sliders or ()) and len(menus) == len(fig.layout.updatemenus or ())
    # plotly's own are kept (the keyboard controls apply their steps) but not drawn
    assert all(s.get("visible") is False for s in sliders + menus), [s.get("visible") for s in sliders + menus]
    text = read(html)
    kinds = [m.type or "dropdown" for m in fig.layout.updatemenus or ()]
    assert text.controls == {"range": len(sliders), "buttons": kinds.count("buttons"),
                             "select": kinds.count("dropdown"), "status": 1}, text.controls


@pytest.mark.parametrize("make", INTERACTIVE)
def test_the_state_of_the_view_is_said_once(make):
    fig = make()
    html = figure_html(fig, div_id="fig-under-test")
    _, layout = plotted(html)
    title = plain(layout["title"]["text"])
    assert title == plain(fig.layout.title.text) and not layout["title"].get("subtitle", {}).get("text")
    items = [item for s in layout.get("sliders", []) for item in s["steps"]] + \
            [item for m in layout.get("updatemenus", []) for item in m["buttons"]]
    for item in items:   # no step or button rewrites the title: it names the figure in every view
        update = item["args"][1] if item["method"] == "update" and len(item["args"]) > 1 else {}
        assert not {key for key in update if key.startswith("title")}, update
    control = (fig.layout.sliders or fig.layout.updatemenus)[-1]
    items = control.steps if control in (fig.layout.sliders or ()) else control.buttons
    active = control.active or 0
    state = view_state(items[active])
    text = read(html)
    status = plain(" ".join(text.found["status"]))
    assert status == plain(state or items[active].label)
    if state:   # a view that writes its own state: said in the status line, nowhere else
        said = plain(state)
        assert said not in title
        assert said not in plain(" ".join(text.found["caption"])), "the caption repeats the state"
        assert said not in plain(" ".join(text.found["other"]))
        call = html.index("Plotly.newPlot(")
        assert said not in html[call:html.index("</script>", call)], "the figure itself repeats the state"
        # the collapsed list of every view is static: each view once, the shown one too
        assert plain(" ".join(text.found["views"])).count(said) == 1


@pytest.mark.parametrize("make", INTERACTIVE)
def test_a_notebook_output_keeps_plotlys_controls(make):
    fig = make()
    html = BookHtmlRenderer().to_mimebundle(fig.to_dict())["text/html"]
    _, layout = plotted(html)
    assert "course-figure-controls" not in html and "data-status" not in html
    assert all(s.get("visible", True) is not False for s in layout.get("sliders", []) + layout.get("updatemenus", []))
    items = [item for s in fig.layout.sliders or () for item in s.steps] + \
            [item for m in fig.layout.updatemenus or () for item in m.buttons]
    states = [view_state(item) for item in items]
    if any(states):   # the state goes in the subtitle, which each step rewrites; the title stays
        assert all(item.args[1] == {STATE: state} for item, state in zip(items, states))
        assert plain(layout["title"]["subtitle"]["text"]) in map(plain, states)



# ------------------------------- no room for hidden controls, each view named once

#: plotly.js's defaults for a figure's height and margins (the book draws a figure
#: without a height 450 px tall), and the least height of one of its buttons
PLOTLY_HEIGHT, PLOTLY_MARGIN, PLOTLY_BUTTON = 450, {"t": 100, "b": 80}, 30


def _top(layout: dict) -> float:
    return layout.get("margin", {}).get("t", PLOTLY_MARGIN["t"])


def reach_above_plot(layout: dict) -> float:
    """How far (px) the sliders and menus of a drawn ``layout`` reach at least above
    its plot: from where plotly anchors each (``y`` in plot heights), counting
    one button's least height for a control that stands on its anchor."""
    margin = {side: layout.get("margin", {}).get(side, PLOTLY_MARGIN[side]) for side in "tb"}
    plot = layout.get("height", PLOTLY_HEIGHT) - margin["t"] - margin["b"]
    reach = 0.0
    for control, y in [(s, 0.0) for s in layout.get("sliders", [])] + [(m, 1.0) for m in layout.get("updatemenus", [])]:
        y = control.get("y", y)
        above = {"bottom": PLOTLY_BUTTON, "middle": PLOTLY_BUTTON / 2}.get(control.get("yanchor", "top"), 0)
        reach = max(reach, (y - 1) * plot + above)
    return reach


@pytest.mark.parametrize("make", INTERACTIVE)
def test_the_book_keeps_no_room_above_the_plot_for_plotlys_hidden_controls(make):
    fig = make()
    _, notebook = plotted(BookHtmlRenderer().to_mimebundle(fig.to_dict())["text/html"])
    _, book = plotted(figure_html(fig, div_id="fig-under-test"))
    # a notebook draws plotly's controls: it keeps the room the figure gives them
    assert notebook.get("margin", {}) == fig.layout.margin.to_plotly_json()
    reach = reach_above_plot(notebook)
    if reach > 0:   # they stood above the plot: the book draws none, so its plot moves up
        assert _top(book) <= _top(notebook) - reach + 1, (_top(notebook), _top(book), reach)
        assert _top(book) >= 40, "the title still needs its room"
    else:           # on or below the plot: plotly widens the margin only for controls it draws
        assert _top(book) == _top(notebook)
    assert {k: v for k, v in book.get("margin", {}).items() if k != "t"} == \
           {k: v for k, v in notebook.get("margin", {}).items() if k != "t"}


def test_the_xor_figure_has_no_gap_above_its_plot_in_the_book():
    from course_lib.book.figures import xor_figure

    fig = xor_figure()
    _, book = plotted(figure_html(fig, div_id="fig-under-test"))
    # 130 px held the title, its state line and plotly's buttons; the book draws the title only
    assert fig.layout.margin.t == 130 and _top(book) <= 130 - PLOTLY_BUTTON - 30


def test_buttons_above_a_plot_leave_no_room_in_the_book_only():
    buttons = [dict(label=name, method="update", args=[{"visible": [k == j for j in range(2)]}])
               for k, name in enumerate(("a", "b"))]
    fig = go.Figure([go.Scatter(y=[1, 2], name="a"), go.Scatter(y=[2, 1], name="b", visible=False)],
                    layout=dict(title="two views", height=400, margin=dict(t=150, b=60),
                                updatemenus=[dict(type="buttons", direction="right", buttons=buttons,
                                                  y=1.05, yanchor="bottom")]))
    _, book = plotted(figure_html(fig, div_id="fig-under-test"))
    _, notebook = plotted(figure_html(fig, div_id="fig-under-test", controls=False))
    assert _top(notebook) == 150 and notebook["updatemenus"][0].get("visible", True)
    assert _top(book) <= 150 - (0.05 * (400 - 150 - 60) + PLOTLY_BUTTON) and book["updatemenus"][0]["visible"] is False
    below = go.Figure(fig)
    below.layout.updatemenus[0].update(y=-0.2, yanchor="top")
    assert _top(plotted(figure_html(below, div_id="fig-under-test"))[1]) == 150


def _named(text: str, label: str) -> bool:
    """``label`` as a whole in ``text``: not inside a longer word, number or name (``ReLU'``)."""
    return re.search(rf"(?<![\w.]){re.escape(label)}(?![\w']|\.\d)", text) is not None


@pytest.mark.parametrize("make", INTERACTIVE)
def test_each_view_is_named_once_in_the_list_of_views(make):
    fig = make()
    html = figure_html(fig, div_id="fig-under-test")
    entries = [plain(unescape(e)) for e in re.findall(r"<li>(.*?)</li>", html)]
    labels = [label for label, _ in describe_views(fig)]
    assert len(entries) == len(labels) > 1
    for label, entry in zip(labels, entries):
        lead, rest = (entry.split(":", 2) + ["", ""])[:2]
        # "one linear layer: 50% ...", "T = 0.1: entropy ...", "all: ReLU: ..."; never
        # "one linear layer: one linear layer: 50% ..." nor "0.1: T = 0.1: entropy ..."
        assert _named(lead, label) and not _named(rest, label), (label, entry)


def test_the_xor_views_say_each_model_once():
    from course_lib.book.figures import xor_figure

    fig = xor_figure()
    html = figure_html(fig, div_id="fig-under-test")
    entries = [plain(unescape(e)) for e in re.findall(r"<li>(.*?)</li>", html)]
    assert entries == [plain(view_state(b)) for b in fig.layout.updatemenus[0].buttons]
    assert entries[0].startswith("one linear layer: ") and entries[0].count("one linear layer") == 1


def test_notebook_output_adds_the_text_as_its_own_output(monkeypatch):
    import IPython.display
    import plotly.io as pio

    from course_lib.figures.plotly_offline import TEXT_RENDERER_NAME, FigureTextRenderer, use_book_renderer

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    fig = NOTEBOOK_FIGURES["loss_figure"]()
    FigureTextRenderer().render(fig.to_dict())
    ((bundle, raw),) = shown
    assert raw and bundle["text/plain"] == describe_figure(fig)
    assert bundle["text/markdown"].startswith("*Text description:* Figure: Training loss.")
    saved = pio.renderers.default
    try:
        assert use_book_renderer().endswith("+" + TEXT_RENDERER_NAME)
    finally:
        pio.renderers.default = saved


def test_every_graphviz_drawing_of_the_book_has_alt_text():
    blocks = [(md.name, block) for md in BOOK_MD
              for block in re.findall(r"```\{graphviz\}\n(.*?)```", md.read_text(), re.DOTALL)]
    assert blocks, "no {graphviz} drawing found in book/"
    missing = [name for name, block in blocks if not re.match(r":alt:[ \t]*\S.{20,}", block)]
    assert not missing, f"{{graphviz}} without an :alt: text in {missing}"
