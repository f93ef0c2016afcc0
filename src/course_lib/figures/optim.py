"""The first steps of Adam with and without bias correction, as a figure.

It runs the optimizer class it is given (the student's) on a 1-D quadratic
loss 0.5 * (p - 3)**2 from p = 0, once with ``bias_correction=True`` and once
with ``False``, and plots the size of each step and the parameter.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import series_style


def _trajectory(Adam: Any, correct: bool, steps: int, lr: float, betas: tuple[float, float]) -> np.ndarray:
    p = np.zeros(1)
    opt = Adam([p], lr=lr, betas=betas, bias_correction=correct)
    out = [p[0]]
    for _ in range(steps):
        opt.step([p - 3.0])
        out.append(float(p[0]))
    return np.array(out)


def adam_first_steps_figure(Adam: Any, steps: int = 30, lr: float = 0.1,
                            betas: tuple[float, float] = (0.9, 0.999)) -> go.Figure:
    """Step sizes |p_t - p_(t-1)| (left) and p_t (right), with and without correction."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("step size |p_t - p_(t-1)|", "parameter p_t"))
    t = np.arange(steps + 1)
    for k, (correct, color) in enumerate(((True, "#1f77b4"), (False, "#d62728"))):
        try:
            path = _trajectory(Adam, correct, steps, lr, betas)
        except NotImplementedError:
            raise NotImplementedError("the figure runs your Adam class, which is not implemented "
                                      "yet: fill in Adam, run its cell, then this one.") from None
        name = "with bias correction" if correct else "without bias correction"
        style = series_style(k, color)  # solid circles vs dashed squares, not colour alone
        fig.add_trace(go.Scatter(x=t[1:], y=np.abs(np.diff(path)), name=name, mode="lines+markers",
                                 legendgroup=name, **style), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=path, name=name, mode="lines+markers", showlegend=False,
                                 legendgroup=name, **style), row=1, col=2)
    fig.add_hline(y=lr, line_dash="dot", row=1, col=1, annotation_text="lr")
    fig.update_xaxes(title_text="step t")
    fig.update_layout(template="plotly_white", height=400,
                      title=f"Adam on 0.5 (p - 3)^2 from p = 0, lr = {lr}, betas = {betas}")
    return fig
