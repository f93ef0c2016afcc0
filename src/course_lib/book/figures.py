"""Figures drawn on the book's theory pages (see the ``plotly-figure`` directive).

Each function takes no argument and returns a :class:`plotly.graph_objects.Figure`.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def descent_step_figure() -> go.Figure:
    """Loss along the steepest-descent ray of the chain-rule page's worked example.

    For ``L = (w1 + w2) * w3`` at ``(w1, w2, w3) = (1.5, 0.5, -2)`` the gradient
    is ``g = (w3, w3, w1 + w2) = (-2, -2, 2)``. The figure compares the loss
    after a step of size ``eta``, ``L(w - eta * g)``, with the first-order
    prediction ``L(w) - eta * |g|^2`` (the tangent line).
    """
    w = np.array([1.5, 0.5, -2.0])

    def loss(v: np.ndarray) -> np.ndarray:
        return (v[0] + v[1]) * v[2]

    grad = np.array([w[2], w[2], w[0] + w[1]])
    etas = np.linspace(0.0, 0.5, 101)
    steps = w[:, None] - etas[None, :] * grad[:, None]
    exact = loss(steps)
    tangent = loss(w) - etas * float(grad @ grad)

    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=etas, y=exact, mode="lines", name="loss after the step",
        hovertemplate="η = %{x:.3f}<br>L = %{y:.4f}<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=etas, y=tangent, mode="lines", name="first-order prediction",
        line={"dash": "dash"},
        hovertemplate="η = %{x:.3f}<br>prediction = %{y:.4f}<extra></extra>",
    ))
    eta0 = 0.01
    fig.add_trace(go.Scatter(
        x=[eta0], y=[float(loss(w - eta0 * grad))], mode="markers",
        name="the step on this page (η = 0.01)", marker={"size": 10},
        hovertemplate="η = 0.01<br>L = %{y:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title={"text": "One gradient step: the loss and its first-order prediction",
               "x": 0.0, "xanchor": "left"},
        xaxis_title="step size η",
        yaxis_title="loss",
        template="plotly_white",
        height=420,
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
        legend={"x": 0.01, "y": 0.02, "xanchor": "left", "yanchor": "bottom"},
    )
    return fig


def xor_figure() -> go.Figure:
    """Decision regions on XOR of one linear layer and of a network with one hidden
    ReLU layer of 8 units, trained the same way (see :mod:`course_lib.figures.xor`);
    buttons switch between them, and the view's state gives its accuracy."""
    from ..figures import decision_regions_figure
    from ..figures.views import titled, view_step
    from ..figures.xor import train_xor

    results = [train_xor(hidden=None), train_xor(hidden=8)]
    panels = [decision_regions_figure(r.score, r.X, r.y, resolution=40) for r in results]
    fig = go.Figure()
    counts = []
    for k, panel in enumerate(panels):
        for trace in panel.data:
            trace.visible = k == 0
            fig.add_trace(trace)
        counts.append(len(panel.data))
    states = [f"{r.name}: {r.accuracy:.0%} of the XOR points right" for r in results]
    buttons = [view_step(result.name, [i == k for i, n in enumerate(counts) for _ in range(n)], state)
               for k, (result, state) in enumerate(zip(results, states))]
    fig.update_layout(panels[0].layout)
    fig.update_layout(title=titled("XOR: decision regions with and without a hidden layer", states[0], y=0.97),
                      width=None, height=520, margin=dict(t=130),
                      updatemenus=[dict(type="buttons", direction="right", buttons=buttons, x=0, y=1.03,
                                        xanchor="left", yanchor="bottom")])
    return fig
