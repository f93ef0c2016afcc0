"""Exploring the linear pieces of ReLU networks: a live widget and its static twin.

:func:`pieces_explorer` is an ipywidgets panel for JupyterLab: sliders for the
depth, the width and the seed, a choice of construction (random network or the
sawtooth), and a plot of f(x) with its breakpoints, its exact piece count
(:func:`~course_lib.pieces.count_pieces`) next to the bound 2^D·∏W_d, and the
count after each layer. :func:`pieces_figure` precomputes the same views into
one plotly figure whose slider switches between them, so the book, which has
no kernel, stays interactive.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from ..pieces import count_pieces, random_net, sawtooth
from .views import titled, view_step

__all__ = ["pieces_explorer", "pieces_figure", "view"]

CONSTRUCTIONS = ("random", "sawtooth")
INTERVALS = {"random": (-1.0, 1.0), "sawtooth": (0.0, 1.0)}
#: The title of :func:`pieces_figure`, whatever view it shows.
PIECES_TITLE = "The linear pieces of f(x), a ReLU network of one input"


def view(construction: str, depth: int, width: int, seed: int = 0) -> tuple[Any, str]:
    """(Pieces, one-line description) of one network of the explorer."""
    if construction == "sawtooth":
        net, widths = sawtooth(depth), [2] * depth
    elif construction == "random":
        net, widths = random_net(depth, width, seed=seed), [width] * depth
    else:
        raise ValueError(f"construction must be one of {CONSTRUCTIONS}, got {construction!r}")
    result = count_pieces(net, INTERVALS[construction])
    shape = f"D = {depth}, widths {widths[0]}" if len(set(widths)) == 1 else f"widths {widths}"
    text = (f"{construction} network ({shape}): κ(f) = {result.count} pieces; bound 2^D·∏W_d = {result.bound:,}; "
            f"after each layer: {', '.join(map(str, result.layer_counts))}")
    return result, text


def _traces(result: Any, visible: bool) -> list[go.Scatter]:
    y_at = result(result.breakpoints) if len(result.breakpoints) else np.array([])
    return [
        go.Scatter(x=result.knots_x, y=result.knots_y, mode="lines", name="f(x)", visible=visible,
                   line=dict(color="#1f77b4", width=2)),
        # breakpoints are diamonds with a dark outline, told from the curve by shape, not colour alone
        go.Scatter(x=result.breakpoints, y=y_at, mode="markers", name="breakpoints (a piece ends)",
                   visible=visible, marker=dict(color="#d62728", size=9, symbol="diamond",
                                                line=dict(color="#222222", width=1))),
    ]


def _figure(result: Any) -> go.Figure:
    """The explorer's plot; its title names the figure, the panel's line above says the counts."""
    fig = go.Figure(_traces(result, True))
    fig.update_layout(template="plotly_white", height=380, title=dict(text=PIECES_TITLE, font=dict(size=13)),
                      xaxis_title="x", yaxis_title="f(x)", legend=dict(orientation="h", y=-0.2))
    return fig


def pieces_explorer(max_depth: int = 8, max_width: int = 8) -> Any:
    """The live explorer (ipywidgets): returns the widget; display it (or leave it last in a cell)."""
    import ipywidgets as w
    from IPython.display import display

    construction = w.ToggleButtons(options=CONSTRUCTIONS, value="random", description="network")
    depth = w.IntSlider(value=3, min=1, max=max_depth, description="depth D")
    width = w.IntSlider(value=4, min=1, max=max_width, description="width W")
    seed = w.IntSlider(value=0, min=0, max=20, description="seed")
    info = w.HTML()
    out = w.Output()

    def redraw(*_: Any) -> None:
        width.disabled = seed.disabled = construction.value == "sawtooth"
        result, _ = view(construction.value, depth.value, width.value, seed.value)
        info.value = (f"<b>κ(f) = {result.count}</b> linear pieces &nbsp;·&nbsp; bound 2<sup>D</sup>·∏W<sub>d</sub> = "
                      f"{result.bound:,} &nbsp;·&nbsp; after each layer: {', '.join(map(str, result.layer_counts))}")
        with out:
            out.clear_output(wait=True)
            display(_figure(result))

    for control in (construction, depth, width, seed):
        control.observe(redraw, names="value")
    redraw()
    return w.VBox([construction, w.HBox([depth, width, seed]), info, out])


def pieces_figure(depths: Iterable[int] = range(1, 7), widths: Sequence[int] = (2, 4, 8), seed: int = 0,
                  start: str = "random D=3 W=4") -> go.Figure:
    """Every random network (depth × width) and every sawtooth depth, precomputed;
    a slider picks one (first shown: the view labelled ``start``, if any), and the view's
    state (:mod:`course_lib.figures.views`) gives its piece count. Works with no kernel."""
    depths = list(depths)
    views = [view("random", d, wd, seed) for d in depths for wd in widths]
    views += [view("sawtooth", d, 2) for d in depths]
    labels = [f"random D={d} W={wd}" for d in depths for wd in widths] + [f"sawtooth D={d}" for d in depths]
    first = labels.index(start) if start in labels else 0
    fig = go.Figure()
    for k, (result, _) in enumerate(views):
        for trace in _traces(result, k == first):
            fig.add_trace(trace)
    steps = [view_step(label, [i // 2 == k for i in range(2 * len(views))], text)
             for k, ((_, text), label) in enumerate(zip(views, labels))]
    fig.update_layout(template="plotly_white", height=460,
                      title=titled(PIECES_TITLE, views[first][1], font=dict(size=13)),
                      xaxis_title="x", yaxis_title="f(x)", showlegend=True,
                      legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom"),
                      sliders=[dict(active=first, steps=steps, currentvalue=dict(prefix="network: "), pad=dict(t=40))])
    return fig
