"""Figures for notebook 05: how blocks of threads tile a matrix, and matmul timings."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import series_style

__all__ = ["block_tiling_figure", "matmul_benchmark_figure"]


def block_tiling_figure(n: int = 37, p: int = 29, block: int = 16) -> go.Figure:
    """An ``n×p`` matrix C covered by ``block×block`` thread blocks, one thread per
    entry: colour = which block, grey = threads of the grid that fall outside C
    (they must do nothing: the bounds guard). Hover shows each thread's
    ``blockIdx``, ``threadIdx`` and the entry it computes."""
    gx, gy = -(-p // block), -(-n // block)
    rows, cols = gy * block, gx * block
    r, c = np.mgrid[0:rows, 0:cols]
    bid = (r // block) * gx + (c // block)
    inside = (r < n) & (c < p)
    z = np.where(inside, bid % 2 + 2 * ((r // block) % 2), np.nan)
    text = [[f"blockIdx = ({cc // block}, {rr // block}), threadIdx = ({cc % block}, {rr % block})<br>"
             + (f"computes C[{rr}][{cc}]" if rr < n and cc < p else "outside C: does nothing")
             for cc in range(cols)] for rr in range(rows)]
    fig = go.Figure()
    fig.add_trace(go.Heatmap(z=np.where(inside, np.nan, 0), colorscale=[[0, "#dddddd"], [1, "#dddddd"]],
                             showscale=False, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=z, text=text, hovertemplate="%{text}<extra></extra>", showscale=False,
                             colorscale=[[0, "#9ecae1"], [0.33, "#6baed6"], [0.66, "#fdae6b"], [1, "#fd8d3c"]]))
    for k in range(gx + 1):
        fig.add_vline(x=k * block - 0.5, line_color="black", line_width=2)
    for k in range(gy + 1):
        fig.add_hline(y=k * block - 0.5, line_color="black", line_width=2)
    # C's edge is dashed as well as red, so it does not rest on colour alone
    fig.add_shape(type="rect", x0=-0.5, y0=-0.5, x1=p - 0.5, y1=n - 0.5,
                  line=dict(color="#c0392b", width=3, dash="dash"))
    for by in range(gy):
        for bx in range(gx):
            fig.add_annotation(x=bx * block + block / 2 - 0.5, y=by * block + block / 2 - 0.5, showarrow=False,
                               text=f"block ({bx}, {by})", font=dict(size=13, color="black"))
    fig.update_yaxes(range=[rows - 0.5, -0.5], title="row = blockIdx.y · 16 + threadIdx.y", scaleanchor="x",
                     showgrid=False, zeroline=False)
    fig.update_xaxes(range=[-0.5, cols - 0.5], title="col = blockIdx.x · 16 + threadIdx.x", side="top",
                     showgrid=False, zeroline=False)
    fig.update_layout(template="plotly_white", height=560, width=520, margin=dict(t=110),
                      title=f"C is {n}×{p}: grid = ({gx}, {gy}) blocks of {block}×{block} threads "
                            f"(dashed red outline: C itself)",
                      meta={"alt": f"{gx * gy} blocks of {block}×{block} threads, {rows * cols} threads in all, "
                                   f"cover the {n}×{p} entries of C; the {rows * cols - n * p} threads outside C, "
                                   f"shaded grey, do nothing"})
    return fig


def matmul_benchmark_figure(rows: Sequence[dict]) -> go.Figure:
    """Time (left) and GFLOP/s (right) against the size n of n×n matrices, log–log.
    ``rows``: dicts with ``name``, ``backend``, ``n``, ``seconds``; one curve per
    (name, backend), labelled with both."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("time per multiplication", "throughput"))
    curves: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        curves.setdefault((row["name"], row["backend"]), []).append((int(row["n"]), float(row["seconds"])))
    for k, ((name, backend), pts) in enumerate(curves.items()):
        pts.sort()
        n = np.array([q[0] for q in pts], dtype=float)
        t = np.array([q[1] for q in pts])
        label = f"{name} — {backend}"
        style = series_style(k, _color(k))  # each curve has its own dash and marker, not only a colour
        fig.add_trace(go.Scatter(x=n, y=t, mode="lines+markers", name=label, legendgroup=label,
                                 **style), row=1, col=1)
        fig.add_trace(go.Scatter(x=n, y=2 * n ** 3 / t / 1e9, mode="lines+markers", name=label, legendgroup=label,
                                 showlegend=False, **style), row=1, col=2)
    fig.update_xaxes(type="log", title_text="n (n×n times n×n)")
    fig.update_yaxes(type="log", title_text="seconds", row=1, col=1)
    fig.update_yaxes(type="log", title_text="GFLOP/s (2n³ / time)", row=1, col=2)
    fig.update_layout(template="plotly_white", height=430, legend=dict(orientation="h", y=-0.25))
    return fig


def _color(k: int) -> str:
    return ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")[k % 6]
