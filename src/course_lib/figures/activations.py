"""Nonlinearities and their derivatives, side by side, with a dropdown.

The curves are computed with torch (values) and torch autograd (derivatives),
so the derivative traces are exact, kinks included (torch's convention at 0).
The dropdown restyles trace visibility: it works in JupyterLab and in the
static book page alike.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from .style import SYMBOLS

#: name -> torch function, in the order of the dropdown.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ReLU": torch.relu,
    "LeakyReLU(0.01)": lambda x: F.leaky_relu(x, 0.01),
    "Softplus(beta=1)": lambda x: F.softplus(x, beta=1.0),
    "GELU": F.gelu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


def curves(x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (values, derivatives) on the grid ``x``."""
    out = {}
    for name, fn in ACTIVATIONS.items():
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        y = fn(t)
        (d,) = torch.autograd.grad(y.sum(), t)
        out[name] = (y.detach().numpy(), d.numpy())
    return out


def activation_figure(x_range: tuple[float, float] = (-4.0, 4.0), points: int = 801) -> go.Figure:
    """Each activation (solid) and its derivative (dashed), one marker symbol per
    activation; a dropdown shows one pair or all of them."""
    x = np.linspace(*x_range, points)
    data = curves(x)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    fig = go.Figure()
    for k, ((name, (y, d)), c) in enumerate(zip(data.items(), colors)):
        # in the "all" view each activation is told apart by its marker symbol (a few
        # markers per curve), not by colour alone; its derivative shares the symbol
        marker = dict(symbol=SYMBOLS[k % len(SYMBOLS)], size=8, color=c, maxdisplayed=14)
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers", line=dict(color=c),
                                 marker=marker, legendgroup=name))
        fig.add_trace(go.Scatter(x=x, y=d, name=f"{name}'", mode="lines+markers", line=dict(color=c, dash="dash"),
                                 marker=marker, legendgroup=name))
    n = len(data)
    buttons = [dict(label="all", method="restyle", args=[{"visible": [True] * (2 * n)}])]
    for i, name in enumerate(data):
        vis = [j // 2 == i for j in range(2 * n)]
        buttons.append(dict(label=name, method="restyle", args=[{"visible": vis}]))
    first = [j // 2 == 0 for j in range(2 * n)]
    for trace, v in zip(fig.data, first):
        trace.visible = v
    fig.update_layout(
        title="Activations (solid) and their derivatives (dashed)",
        xaxis_title="x", yaxis_title="value", template="plotly_white",
        yaxis=dict(range=[-1.5, 4.0]), height=450,
        updatemenus=[dict(type="dropdown", buttons=buttons, active=1, x=0.0, y=1.15,
                          xanchor="left", yanchor="top")],
    )
    return fig
