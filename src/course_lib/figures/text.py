"""Text alternatives of plotly figures, computed from the figure's own data.

A reader who cannot see a figure gets the same facts in words (WCAG 1.1.1):
:func:`describe_figure` reads the title, the axes and every visible trace and
says what the data do, e.g. "loss: falls from 2.3 to 0.4 as step goes from 0
to 9 (lowest 0.38 at step 8)". :func:`describe_views` lists what each
position of a slider or each button of a figure shows (the state a view
writes, see :mod:`course_lib.figures.views`, which the book's figures compute
from their data), and :func:`view_entries` words that list with each view
named once.

A figure function may lead the description with its own sentence by setting
``fig.layout.meta = {"alt": "..."}``; the data-derived sentences follow it.
"""
from __future__ import annotations

import base64
import html
import re
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["describe_figure", "describe_views", "plain", "view_entries"]

#: At most this many traces are described one by one; the rest are counted.
MAX_TRACES = 8
#: At most this many bars or categories are read out value by value.
MAX_BARS = 12

_TAG = re.compile(r"<[^>]+>")


def plain(text: Any) -> str:
    """Plotly rich text as plain text: tags dropped, ``<br>`` as a space, entities decoded."""
    text = re.sub(r"<br\s*/?>", " ", str(text or ""), flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub("", text))).strip()


def num(v: float) -> str:
    """A number in three significant digits (``2.3``, ``0.0123``, ``1.2e+04``)."""
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    return f"{v:.3g}"


def _figure(fig: Any) -> go.Figure:
    return fig if isinstance(fig, go.Figure) else go.Figure(fig)


def _axis_title(fig: go.Figure, trace: Any, letter: str) -> str:
    ref = getattr(trace, f"{letter}axis", None) or letter
    name = f"{letter}axis" + ref[1:]
    axis = fig.layout[name] if name in fig.layout else None
    return plain(axis.title.text) if axis is not None and axis.title and axis.title.text else ""


def _decoded(values: Any) -> Any:
    """``values``, with plotly's typed-array form (``{"dtype", "bdata", "shape"}``,
    found in figure dicts) decoded into a numpy array."""
    if isinstance(values, dict) and "bdata" in values:
        arr = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values.get("dtype", "f8")))
        shape = values.get("shape")
        if shape:
            arr = arr.reshape([int(n) for n in str(shape).split(",")])
        return arr
    return values


def _numeric(values: Any) -> np.ndarray | None:
    values = _decoded(values)
    if values is None:
        return None
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None
    return arr


def _trend(first: float, last: float, low: float, high: float) -> str:
    span = max(abs(high - low), 1e-12)
    if abs(last - first) <= 0.05 * span and high - low <= 0.05 * max(abs(high), abs(low), 1e-12):
        return f"stays near {num(first)}"
    if abs(last - first) <= 0.05 * span:
        return f"starts and ends near {num(first)}"
    return f"{'rises' if last > first else 'falls'} from {num(first)} to {num(last)}"


def _line(trace: Any, xname: str, yname: str) -> str:
    y = _numeric(trace.y)
    if y is None or y.size == 0:
        return "no values"
    x = _numeric(trace.x)
    if x is None or x.size != y.size:
        x = np.arange(y.size, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if y.size == 0:
        return "no finite values"
    if y.size == 1:
        return f"one point, {yname or 'y'} = {num(y[0])} at {xname or 'x'} = {num(x[0])}"
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    text = f"{_trend(y[0], y[-1], y[lo], y[hi])} as {xname or 'x'} goes from {num(x[0])} to {num(x[-1])}"
    extremes = []
    if 0 < lo < y.size - 1:
        extremes.append(f"lowest {num(y[lo])} at {num(x[lo])}")
    if 0 < hi < y.size - 1:
        extremes.append(f"highest {num(y[hi])} at {num(x[hi])}")
    return text + (f" ({', '.join(extremes)})" if extremes else "") + f", {y.size} points"


def _points(trace: Any, xname: str, yname: str) -> str:
    x, y = _numeric(trace.x), _numeric(trace.y)
    if x is None or y is None or x.size == 0:
        return f"{0 if x is None else x.size} points"
    if x.size == 1:
        return f"one point, {xname or 'x'} = {num(x[0])}, {yname or 'y'} = {num(y[0])}"
    return (f"{x.size} points, {xname or 'x'} from {num(np.nanmin(x))} to {num(np.nanmax(x))}, "
            f"{yname or 'y'} from {num(np.nanmin(y))} to {num(np.nanmax(y))}")


def _bars(trace: Any) -> str:
    values = _numeric(trace.y if trace.orientation != "h" else trace.x)
    cats = _decoded(trace.x if trace.orientation != "h" else trace.y)
    if values is None or values.size == 0:
        return "no bars"
    cats = [plain(c) for c in (cats if cats is not None else range(values.size))]
    if values.size <= MAX_BARS:
        return f"{values.size} bars: " + "; ".join(f"{c} {num(v)}" for c, v in zip(cats, values))
    top = int(np.nanargmax(values))
    return (f"{values.size} bars from {num(np.nanmin(values))} to {num(np.nanmax(values))}, "
            f"highest at {cats[top]}")


def _grid(trace: Any, kind: str) -> str:
    z = np.asarray(_decoded(trace.z) if trace.z is not None else [], dtype=float)
    if z.size == 0 or not np.isfinite(z).any():
        return f"{kind} with no values"
    shape = f"{z.shape[0]}×{z.shape[1] if z.ndim > 1 else 1}"
    return f"{kind} of {shape} values from {num(np.nanmin(z))} to {num(np.nanmax(z))}"


def _image(trace: Any) -> str:
    z = np.asarray(_decoded(trace.z) if trace.z is not None else [])
    if z.ndim < 2:
        return "an image"
    return f"an image of {z.shape[1]}×{z.shape[0]} pixels"


def describe_trace(fig: go.Figure, trace: Any) -> str:
    """One sentence about one trace: its name and what its data do."""
    xname, yname = _axis_title(fig, trace, "x"), _axis_title(fig, trace, "y")
    name = plain(trace.name) if getattr(trace, "name", None) else ""
    kind = trace.type
    if kind in ("scatter", "scattergl"):
        n = _numeric(trace.y)
        mode = trace.mode or ("lines" if n is not None and n.size >= 20 else "lines+markers")  # plotly's default
        what = _line(trace, xname, yname) if "lines" in mode else _points(trace, xname, yname)
    elif kind == "bar":
        what = _bars(trace)
    elif kind in ("heatmap", "contour"):
        what = _grid(trace, "a heat map" if kind == "heatmap" else "a contour map")
        if kind == "contour" and trace.contours and trace.contours.coloring == "none":
            what = "a line where the value is " + num(trace.contours.start or 0)
    elif kind == "image":
        what = _image(trace)
    else:
        what = f"a {kind} trace"
    label = name or (yname if kind in ("scatter", "scattergl", "bar") else "")
    return f"{label}: {what}" if label else what


def _visible(trace: Any) -> bool:
    return trace.visible is None or trace.visible is True


def _view_items(fig: go.Figure) -> list[Any]:
    """Every step of every slider and every button of every menu."""
    groups = [s.steps for s in fig.layout.sliders or ()] + [m.buttons for m in fig.layout.updatemenus or ()]
    return [item for items in groups for item in items or ()]


def _changes_with_the_view(fig: go.Figure) -> set[int]:
    """Indices of the traces that some step or button shows or hides."""
    first = [_visible(t) for t in fig.data]
    changing = set()
    for item in _view_items(fig):
        args = list(item.args or ())
        if args and isinstance(args[0], dict) and isinstance(args[0].get("visible"), (list, tuple)):
            changing |= {i for i, (v, w) in enumerate(zip(args[0]["visible"], first)) if (v is True) != w}
    return changing


def describe_figure(fig: Any, *, state: bool = True) -> str:
    """A text alternative of ``fig`` computed from its data: title, axes, and
    what every visible trace shows; a slider or buttons are named with their views.

    With ``state=False`` it leaves out what belongs to the view drawn now (the
    title's subtitle, which says that view's state, the traces that a slider or
    a button shows or hides, and which view is shown): the static caption of a
    figure whose live controls say the view (:func:`describe_views` lists them all).
    """
    fig = _figure(fig)
    parts = []
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    if meta.get("alt"):
        parts.append(str(meta["alt"]).rstrip(".") + ".")
    title = plain(fig.layout.title.text) if fig.layout.title and fig.layout.title.text else ""
    subtitle = plain(fig.layout.title.subtitle.text) if state and fig.layout.title and fig.layout.title.subtitle else ""
    title = f"{title} ({subtitle})" if title and subtitle else title or subtitle
    parts.append(f"Figure: {title}." if title else "Figure.")
    notes = [plain(a.text) for a in (fig.layout.annotations or ()) if a.text]
    if notes:
        more = "…" if len(notes) > MAX_BARS else ""
        parts.append(f"Labels on the figure: {'; '.join(notes[:MAX_BARS])}{more}.")
    hidden = set() if state else _changes_with_the_view(fig)
    shown = [t for i, t in enumerate(fig.data) if _visible(t) and i not in hidden]
    for trace in shown[:MAX_TRACES]:
        parts.append(describe_trace(fig, trace).rstrip(".") + ".")
    if len(shown) > MAX_TRACES:
        parts.append(f"{len(shown) - MAX_TRACES} more traces of the same kind.")
    for slider in fig.layout.sliders or ():
        labels = [plain(s.label) for s in slider.steps or ()]
        prefix = plain(slider.currentvalue.prefix).rstrip(" :=") if slider.currentvalue else ""
        active = f"; shown: {labels[slider.active or 0]}" if state and labels else ""
        parts.append(f"A slider{f' ({prefix})' if prefix else ''} picks one of {len(labels)} views, "
                     f"from {labels[0]} to {labels[-1]}{active}." if labels else "An empty slider.")
    for menu in fig.layout.updatemenus or ():
        labels = [plain(b.label) for b in menu.buttons or ()]
        if labels:
            active = labels[menu.active] if menu.active is not None and 0 <= menu.active < len(labels) else labels[0]
            parts.append(f"{'Buttons' if menu.type == 'buttons' else 'A menu'} pick one of {len(labels)} views: "
                         f"{', '.join(labels)}{f'; shown: {active}' if state else ''}.")
    return " ".join(parts)


def describe_views(fig: Any) -> list[tuple[str, str]]:
    """``(label, what the view shows)`` for each step of each slider and each
    button of each menu; what it shows is the state the view writes
    (:func:`~course_lib.figures.views.view_state`), or the traces it makes
    visible, described from their data."""
    from .views import view_state

    fig = _figure(fig)
    views = []
    for item in _view_items(fig):
        args = list(item.args or ())
        title = view_state(item)
        if not title and args and isinstance(args[0], dict) and "visible" in args[0]:
            visible = args[0]["visible"]
            traces = [t for t, v in zip(fig.data, visible) if v is True]
            title = "; ".join(describe_trace(fig, t) for t in traces[:3])
        views.append((plain(item.label), plain(title)))
    return views


def _names(text: str, label: str) -> bool:
    """Whether ``label`` occurs in ``text`` as a whole (not inside a longer word
    or number: ``0.1`` names itself in ``T = 0.1:``, not in ``0.15``)."""
    return bool(label) and re.search(rf"(?<![\w.]){re.escape(label)}(?!\w|\.\d)", text) is not None


def view_entries(fig: Any) -> list[str]:
    """One line per view of ``fig`` (:func:`describe_views`) that names the view
    once: ``"label: what it shows"``, or only what it shows when that already
    starts by naming the view, i.e. its lead (up to its first colon) holds the
    label. A state such as ``"one linear layer: 50% of the XOR points right"``
    under the button ``one linear layer``, or ``"T = 0.1: entropy ..."`` at the
    slider value ``0.1``, is not prefixed with the label a second time."""
    entries = []
    for label, text in describe_views(fig):
        lead = text.split(":", 1)[0]
        entries.append(text if _names(lead, label) else f"{label}: {text}" if label else text)
    return entries
