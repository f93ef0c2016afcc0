"""Figures of the book's page on optimisers (see the ``plotly-figure`` directive).

Each public function takes no argument and returns a :class:`plotly.graph_objects.Figure`
that stays interactive on a static page: a slider switches between traces computed
in advance, with no kernel behind it.

Nothing here is an optimiser object. The curves come from closed-form formulas or
from plain gradient steps on the page's three-variable expression, written inline.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..figures.style import series_style
from ..figures.views import titled, view_step


#: Start of the gradient-descent figure: not Problem 1's values (its first step would
#: reveal Problem 1's hand-computed gradients).
DESCENT_START = (1.0, 0.5, 3.0)
#: Learning rate and number of steps of the gradient-descent figure. Larger than
#: notebook 01's single step (eta = 0.01) so that the drift is visible in 20 steps.
DESCENT_ETA = 0.1
DESCENT_STEPS = 20
#: Traces drawn for each iteration of the gradient-descent figure: w1, w2, w3, L.
TRACES_PER_STEP = 4

#: Adam's default decay rates, used by the bias-correction figure.
BETA1 = 0.9
BETA2 = 0.999


def descent_path(eta: float = DESCENT_ETA, steps: int = DESCENT_STEPS) -> np.ndarray:
    """Plain gradient descent on ``L = (w1 + w2) * w3`` from :data:`DESCENT_START`.

    Returns an array of shape ``(steps + 1, 4)`` whose row ``t`` holds
    ``(w1, w2, w3, L)`` after ``t`` steps (row 0: the start). Every gradient is
    taken before any parameter moves.
    """
    w1, w2, w3 = DESCENT_START
    rows = [(w1, w2, w3, (w1 + w2) * w3)]
    for _ in range(steps):
        g1, g2, g3 = w3, w3, w1 + w2          # dL/dw1, dL/dw2, dL/dw3
        w1, w2, w3 = w1 - eta * g1, w2 - eta * g2, w3 - eta * g3
        rows.append((w1, w2, w3, (w1 + w2) * w3))
    return np.array(rows)


def gradient_descent_steps_figure() -> go.Figure:
    """Gradient descent on ``L = (w1 + w2) * w3``, one slider position per iteration.

    Slider position ``t`` (``t = 0`` is the start) shows exactly four traces, the
    histories of ``w1``, ``w2``, ``w3`` (left) and ``L`` (right) up to step ``t``;
    its state (:mod:`course_lib.figures.views`) gives the current values.
    """
    path = descent_path()
    n = len(path)
    t_all = np.arange(n)
    names = ("w₁", "w₂", "w₃", "L")
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("parameters", "loss L = (w₁ + w₂)·w₃"))
    states = []
    for t in range(n):
        for j, (name, colour) in enumerate(zip(names, colours)):
            fig.add_trace(go.Scatter(
                x=t_all[:t + 1], y=path[:t + 1, j], mode="lines+markers", name=name,
                **series_style(j, colour), visible=(t == 0),
                legendgroup=name, showlegend=True,
                hovertemplate=f"step %{{x}}<br>{name} = %{{y:.4f}}<extra></extra>",
            ), row=1, col=1 if j < 3 else 2)
        w1, w2, w3, loss = path[t]
        states.append(f"step {t} of {n - 1}: w₁ = {w1:.3f}, w₂ = {w2:.3f}, w₃ = {w3:.3f}, L = {loss:.3f}")

    slider_steps = [view_step(str(t), [i // TRACES_PER_STEP == t for i in range(TRACES_PER_STEP * n)], states[t])
                    for t in range(n)]

    # The step axis is fixed; the value axes rescale to the history shown, so that
    # the first steps stay readable although the values grow exponentially.
    fig.update_xaxes(title_text="step t", range=[-0.5, n - 0.5], autorange=False)
    fig.update_yaxes(autorange=True)
    fig.update_layout(
        title=titled(f"Gradient descent on L = (w₁ + w₂)·w₃ with η = {DESCENT_ETA:g}", states[0],
                     x=0.0, xanchor="left", y=0.98, yanchor="top", font={"size": 14}),
        template="plotly_white",
        height=480,
        margin={"l": 60, "r": 20, "t": 120, "b": 40},
        legend={"orientation": "h", "x": 0.0, "y": 1.1, "xanchor": "left", "yanchor": "bottom"},
        sliders=[dict(active=0, steps=slider_steps, currentvalue={"prefix": "step: "},
                      pad={"t": 50})],
    )
    for annotation in fig.layout.annotations:  # the two subplot titles
        annotation.update(font={"size": 12})
    return fig


def bias_correction_figure(t_max: int = 10_000) -> go.Figure:
    """Adam's bias-correction factors and their effect, from closed-form formulas.

    For a gradient that is the same number ``g`` at every step, the running averages
    that start at zero are ``m_t = (1 - beta1**t) g`` and ``v_t = (1 - beta2**t) g**2``.
    Left: ``1 - beta**t`` for ``beta1 = 0.9`` and ``beta2 = 0.999`` (the fraction of
    ``g`` or ``g**2`` that the raw averages hold), with the corrected estimates at 1.
    Right: the step length in units of the learning rate (``eps`` neglected),
    ``(1 - beta1**t) / sqrt(1 - beta2**t)`` without the correction, 1 with it.
    """
    t = np.unique(np.round(np.logspace(0, np.log10(t_max), 400)).astype(int))
    f1 = 1.0 - BETA1 ** t
    f2 = 1.0 - BETA2 ** t
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("raw averages / their target", "step length / η"))
    fig.add_trace(go.Scatter(
        x=t, y=f1, mode="lines", name=f"1 − β₁ᵗ (β₁ = {BETA1:g}): m_t / g",
        hovertemplate="t = %{x}<br>1 − β₁ᵗ = %{y:.4f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t, y=f2, mode="lines", name=f"1 − β₂ᵗ (β₂ = {BETA2:g}): v_t / g²", line={"dash": "dot"},
        hovertemplate="t = %{x}<br>1 − β₂ᵗ = %{y:.4f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t, y=np.ones_like(f1), mode="lines", name="corrected: m̂_t / g = v̂_t / g² = 1",
        line={"dash": "dash", "color": "grey"}, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t, y=f1 / np.sqrt(f2), mode="lines", name="step without correction",
        hovertemplate="t = %{x}<br>step = %{y:.3f} η<extra></extra>"), row=1, col=2)
    fig.add_trace(go.Scatter(
        x=t, y=np.ones_like(f1), mode="lines", name="step with correction",
        line={"dash": "dash", "color": "black"},
        hovertemplate="t = %{x}<br>step = η<extra></extra>"), row=1, col=2)
    fig.update_xaxes(type="log", title_text="step t (log scale)")
    fig.update_yaxes(range=[0, 1.08], row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_layout(
        title={"text": "Adam with a constant gradient g: what the bias correction undoes",
               "x": 0.0, "xanchor": "left"},
        template="plotly_white",
        height=480,
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
        legend={"orientation": "h", "x": 0.0, "y": -0.22, "xanchor": "left", "yanchor": "top"},
    )
    return fig
