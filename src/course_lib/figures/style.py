"""Line and marker styles that tell series apart without colour (WCAG 1.4.1).

Series ``k`` of a figure gets the ``k``-th dash pattern and marker symbol as well
as its colour, so a reader who cannot tell the colours apart (or prints the page
in grey) still matches each curve to its legend entry.
"""
from __future__ import annotations

#: Dash patterns, one per series, in order.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
#: Marker symbols, one per series, in order (filled and open shapes alternate).
SYMBOLS = ("circle", "square-open", "diamond", "triangle-up-open", "x", "star-open")


def series_style(k: int, color: str | None = None) -> dict:
    """``line`` and ``marker`` settings for series ``k`` (a plotly Scatter's keyword arguments)."""
    line = {"dash": DASHES[k % len(DASHES)]}
    marker = {"symbol": SYMBOLS[k % len(SYMBOLS)], "size": 7}
    if color is not None:
        line["color"] = marker["color"] = color
    return {"line": line, "marker": marker}
