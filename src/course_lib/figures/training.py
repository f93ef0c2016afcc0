"""Figures of a training run: a loss curve, loss and accuracy per epoch, and
the decision regions of a 2-D classifier."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import series_style

__all__ = ["decision_regions_figure", "loss_figure", "training_curves_figure"]


def _number(v: Any) -> float:
    """A float from a number, a 0-d array or a ``Value`` (its ``.data``)."""
    if isinstance(v, (int, float, np.number, np.ndarray)):
        return float(v)
    return float(getattr(v, "data", v))


def _numbers(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray([_number(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} should be a list of numbers (floats, or Values with .data): {exc}") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty: record one number per step while training.")
    return arr


def loss_figure(losses: Sequence[Any], title: str = "Training loss", xlabel: str = "step") -> go.Figure:
    """The loss against the step (log scale when every loss is positive)."""
    y = _numbers("losses", losses)
    fig = go.Figure(go.Scatter(x=np.arange(len(y)), y=y, mode="lines", name="loss"))
    fig.update_layout(template="plotly_white", height=350, title=title,
                      xaxis_title=xlabel, yaxis_title="loss")
    if np.all(y > 0):
        fig.update_yaxes(type="log")
    return fig


def decision_regions_figure(
    predict: Callable[[float, float], Any],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    resolution: int = 40,
    title: str = "Decision regions",
) -> go.Figure:
    """Background: the classifier's score ``predict(x1, x2)`` on a
    ``resolution × resolution`` grid (the decision boundary is the 0 contour);
    dots: the points ``X`` coloured by their label ``y`` (±1)."""
    pts = np.asarray(X, dtype=float)
    labels = np.asarray(y)
    pad = 0.5
    g1 = np.linspace(pts[:, 0].min() - pad, pts[:, 0].max() + pad, resolution)
    g2 = np.linspace(pts[:, 1].min() - pad, pts[:, 1].max() + pad, resolution)
    score = np.array([[_number(predict(a, b)) for a in g1] for b in g2])
    bound = float(np.max(np.abs(score))) or 1.0
    fig = go.Figure()
    fig.add_trace(go.Contour(x=g1, y=g2, z=score, colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound,
                             opacity=0.55, colorbar=dict(title="score"), name="score",
                             contours=dict(showlines=False)))
    fig.add_trace(go.Contour(x=g1, y=g2, z=score, showscale=False, name="boundary (score = 0)",
                             contours=dict(start=0, end=0, size=1, coloring="none"),
                             line=dict(color="black", width=2)))
    for label, color, symbol in ((1, "#08306b", "circle"), (-1, "#67000d", "x")):
        mask = labels == label
        fig.add_trace(go.Scatter(x=pts[mask, 0], y=pts[mask, 1], mode="markers", name=f"label {label:+d}",
                                 marker=dict(color=color, symbol=symbol, size=8,
                                             line=dict(color="white", width=1))))
    fig.update_layout(template="plotly_white", height=450, width=560, title=title,
                      xaxis_title="x1", yaxis_title="x2", legend=dict(orientation="h", y=-0.15))
    return fig


def training_curves_figure(history: Mapping[str, Sequence[float]], title: str = "Training") -> go.Figure:
    """Loss (left) and accuracy (right) against the epoch, for every series in
    ``history`` whose name ends in ``loss`` or ``acc`` (e.g. ``train_loss``,
    ``test_acc``)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    colors = {"train": "#1f77b4", "test": "#d62728"}
    drawn = 0
    splits: list[str] = []
    for key, values in history.items():
        col = 1 if key.endswith("loss") else 2 if key.endswith("acc") else None
        if col is None:
            continue
        v = _numbers(f"history[{key!r}]", values)
        split = key.rsplit("_", 1)[0]
        splits += [split] if split not in splits else []
        # train and test differ in dash and marker too, not only in colour
        fig.add_trace(go.Scatter(x=np.arange(1, len(v) + 1), y=v, mode="lines+markers", name=key,
                                 **series_style(splits.index(split), colors.get(split))), row=1, col=col)
        drawn += 1
    if not drawn:
        raise ValueError("history has no series named '..._loss' or '..._acc': record e.g. "
                         "history['train_loss'] and history['test_acc'] once per epoch.")
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(template="plotly_white", height=380, title=title)
    return fig
