"""Figures of the book page on layers, activations and losses (``book/theory/layers_losses.md``).

Each function takes no argument and returns a :class:`plotly.graph_objects.Figure`
that stays interactive on a static page: its slider switches precomputed traces.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..figures.views import titled, view_step

#: The fixed logit vector of the temperature figure (one score per class).
LOGITS = np.array([2.0, 1.6, 0.5, 0.0, -0.8, -1.5])
#: The temperatures the slider offers, from 0.1 to 5.
TEMPERATURES = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax of a vector, computed after subtracting its maximum (no overflow)."""
    e = np.exp(z - np.max(z))
    return e / e.sum()


def entropy(p: np.ndarray) -> float:
    """Shannon entropy ``-sum p log p`` in nats (terms with ``p = 0`` count as 0)."""
    p = np.asarray(p, dtype=float)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


def softmax_temperature_figure() -> go.Figure:
    """Probabilities ``softmax(z / T)`` of the fixed logits ``LOGITS``, one bar chart
    per temperature ``T`` in ``TEMPERATURES``; a slider picks ``T`` and the view's
    state (:mod:`course_lib.figures.views`) gives the entropy. Small ``T`` puts the
    mass on the largest logit, large ``T`` spreads it towards the uniform
    distribution ``1/C``."""
    z = LOGITS
    C = len(z)
    labels = [f"class {c + 1}<br>z = {v:g}" for c, v in enumerate(z)]
    start = TEMPERATURES.index(1.0)

    def state(T: float, p: np.ndarray) -> str:
        return f"T = {T:g}: entropy {entropy(p):.2f} nats (uniform: log {C} = {np.log(C):.2f})"

    fig = go.Figure()
    steps = []
    for k, T in enumerate(TEMPERATURES):
        p = softmax(z / T)
        fig.add_trace(go.Bar(
            x=labels, y=p, name=f"T = {T:g}", visible=k == start,
            text=[f"{v:.3f}" for v in p], textposition="outside",
            marker={"color": "#1f77b4"},
            hovertemplate="%{x}<br>probability %{y:.4f}<extra></extra>",
        ))
        steps.append(view_step(f"{T:g}", [j == k for j in range(len(TEMPERATURES))], state(T, p)))
    fig.add_hline(y=1 / C, line={"dash": "dash", "color": "#888"},
                  annotation_text=f"uniform 1/{C}", annotation_position="top right")
    fig.update_layout(
        title=titled(f"softmax(z / T) of {C} fixed logits z at temperature T",
                     state(TEMPERATURES[start], softmax(z / TEMPERATURES[start])),
                     x=0.0, xanchor="left", font={"size": 14}),
        xaxis_title="class (and its logit z)",
        yaxis={"title": "probability", "range": [0.0, 1.1]},
        template="plotly_white",
        height=460,
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 70, "b": 60},
        sliders=[{"active": start, "steps": steps, "currentvalue": {"prefix": "temperature T = "},
                  "pad": {"t": 60}}],
    )
    return fig
