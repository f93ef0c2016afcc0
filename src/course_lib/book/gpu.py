"""Figures of the book's GPU page (``book/theory/gpu_dream.md``).

Each function takes no argument and returns a :class:`plotly.graph_objects.Figure`
(see the ``plotly-figure`` directive in :mod:`course_lib.book.sphinxext`).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

#: Inner dimension of the product in :func:`intensity_figure`.
INTENSITY_M = 1024
#: Tile widths drawn; 1 is the naive kernel, 32 × 32 = 1024 threads is the largest CUDA block.
TILE_WIDTHS = (1, 2, 4, 8, 16, 32)


def loads_per_output(m: int, tile: int) -> float:
    """Global-memory loads per entry of C for C = A B with inner dimension ``m``.

    A ``tile × tile`` block of threads computes ``tile²`` entries of C. It walks
    over ``m / tile`` pairs of tiles and loads ``2 · tile²`` numbers for each
    pair, ``2 · m · tile`` loads in all, that is ``2 m / tile`` per entry.
    ``tile = 1`` is the naive kernel: a row of A and a column of B, ``2 m``.
    """
    return 2.0 * m / tile


def intensity_figure() -> go.Figure:
    """Loads from global memory per output entry against the tile width (log–log).

    Every entry of C costs ``2 m`` floating-point operations (``m`` multiplies,
    ``m`` adds) whatever the kernel, so the flops per loaded number are
    ``2 m / loads = tile``: the hover text shows both.
    """
    m = INTENSITY_M
    tiles = np.array(TILE_WIDTHS)
    loads = np.array([loads_per_output(m, int(t)) for t in tiles])
    flops_per_load = 2.0 * m / loads
    labels = ["naive kernel" if t == 1 else f"{t}×{t} tiles" for t in tiles]
    text = [f"{lab}<br>{ld:.0f} loads per entry of C<br>{f:.0f} flops per loaded number"
            for lab, ld, f in zip(labels, loads, flops_per_load)]

    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=tiles, y=loads, mode="lines+markers", name="loads per entry of C, 2m / T",
        text=text, hovertemplate="%{text}<extra></extra>", marker={"size": 9},
    ))
    for t, note, ay in ((1, "naive kernel: a row of A and a column of B", -10),
                        (16, "the 16×16 tiled kernel of Problem 5", -40)):
        fig.add_annotation(x=np.log10(t), y=np.log10(loads_per_output(m, t)), text=note,
                           showarrow=True, arrowhead=2, ax=40, ay=ay, xanchor="left")
    fig.update_layout(
        title={"text": f"Global-memory loads per entry of C = AB (inner dimension m = {m})",
               "x": 0.0, "xanchor": "left"},
        xaxis={"title": "tile width T (threads per side of a block)", "type": "log",
               "tickvals": list(tiles), "ticktext": [str(t) for t in tiles]},
        yaxis={"title": "numbers loaded from global memory", "type": "log",
               "tickvals": [float(v) for v in loads], "ticktext": [f"{v:.0f}" for v in loads]},
        template="plotly_white",
        height=420,
        margin={"l": 70, "r": 20, "t": 80, "b": 50},
        showlegend=False,
    )
    return fig
