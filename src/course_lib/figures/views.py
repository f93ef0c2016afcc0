"""Figures with views: where the state of the view shown is written.

A figure whose slider or buttons switch between precomputed views names itself
in its title, which never changes, and says what the view shown holds (the
numbers of a step, a count, an accuracy) in one line, its *state*:

- in the figure as built (what ``fig.show()`` draws in a notebook, next to
  plotly's own slider or buttons), the state is the title's subtitle, which
  each slider step or button rewrites;
- in the book, :func:`course_lib.figures.plotly_offline.figure_html` draws the
  figure without plotly's controls and without that subtitle (:func:`without_state`):
  the line under its keyboard controls says the state instead, taken from the
  steps with :func:`view_state`.

Every builder of such a figure goes through :func:`titled` and :func:`view_step`,
so the rule lives here only.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import plotly.graph_objects as go

__all__ = ["STATE", "titled", "view_step", "view_state", "without_state"]

#: The layout property that holds a view's state, as a slider step or a button updates it.
STATE = "title.subtitle.text"
#: Font size of that state line (plotly's default subtitle, 70% of the title's, is too small to read numbers).
STATE_FONT_SIZE = 12


def titled(name: str, state: str, **style: Any) -> dict:
    """``layout.title`` of a figure with views: ``name`` (the figure's own, fixed
    title), then ``state`` of the view drawn first as its subtitle. ``style``:
    more title properties (``x``, ``xanchor``, ``font``, ...)."""
    return {"text": name, "subtitle": {"text": state, "font": {"size": STATE_FONT_SIZE}}, **style}


def view_step(label: str, visible: Sequence[bool], state: str) -> dict:
    """A slider step or a button (``method="update"``) that shows the traces
    ``visible`` and writes ``state`` as the title's subtitle; ``label`` is the
    control's value."""
    return {"method": "update", "label": label, "args": [{"visible": list(visible)}, {STATE: state}]}


def _layout_update(item: Any) -> dict | None:
    """The layout part of a step's or button's ``args``, where a view writes its state."""
    method = item["method"] if isinstance(item, dict) else item.method
    args = list((item.get("args") if isinstance(item, dict) else item.args) or ())
    if method == "update" and len(args) > 1 and isinstance(args[1], dict):
        return args[1]
    if method == "relayout" and args and isinstance(args[0], dict):
        return args[0]
    return None


def view_state(item: Any) -> str | None:
    """The state a slider step or a button writes (:data:`STATE`), or ``None``.
    A figure not built with :func:`view_step` whose steps rewrite the whole title
    gets that title."""
    update = _layout_update(item) or {}
    for key in (STATE, "title.text"):
        if update.get(key):
            return str(update[key])
    title = update.get("title")
    if isinstance(title, dict):
        subtitle = title.get("subtitle")
        return str((subtitle or {}).get("text") or title.get("text") or "") or None
    return None


def without_state(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` whose title never says the view's state: no subtitle, and
    its slider steps, buttons and frames no longer write one. (A step that rewrites
    the whole title keeps doing so: that figure has no fixed title to show.)"""
    out = go.Figure(fig)
    if out.layout.title and out.layout.title.subtitle:
        out.layout.title.subtitle.text = None
    for items in [s.steps for s in out.layout.sliders or ()] + [m.buttons for m in out.layout.updatemenus or ()]:
        for item in items or ():
            args = copy.deepcopy(list(item.args or ()))
            probe = {"method": item.method, "args": args}
            update = _layout_update(probe)
            if update and STATE in update:
                del update[STATE]
                item.args = args
    for frame in out.frames or ():
        if frame.layout and frame.layout.title and frame.layout.title.subtitle:
            frame.layout.title.subtitle.text = None
    return out
