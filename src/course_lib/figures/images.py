"""A grid of images with their true and predicted classes."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["predictions_figure"]


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def predictions_figure(images: Any, labels: Any, predicted: Any, classes: Sequence[str],
                       columns: int = 6, title: str = "Test images: true class (prediction when wrong)") -> go.Figure:
    """Each image (``N×784``, ``N×28×28`` or ``N×1×28×28``, values in [0, 1])
    with its true class as the caption, followed by ``right`` or, in bold red,
    ``wrong, predicted ...`` (``Shirt: wrong, predicted Coat``)."""
    imgs = _array(images).reshape(-1, 28, 28)
    y, p = _array(labels).reshape(-1).astype(int), _array(predicted).reshape(-1).astype(int)
    if not len(imgs) == len(y) == len(p):
        raise ValueError(f"predictions_figure: {len(imgs)} images, {len(y)} labels and {len(p)} predictions; "
                         f"give one label and one prediction per image.")
    rows = max(1, math.ceil(len(imgs) / columns))
    # right and wrong are said in words (and a wrong one is bold), colour only adds to them
    captions = [f"{classes[t]}: right" if t == q else
                f"<b style='color:#b03a2e'>{classes[t]}: wrong, predicted {classes[q]}</b>"
                for t, q in zip(y, p)]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=captions, horizontal_spacing=0.02,
                        vertical_spacing=0.08)
    for i, img in enumerate(imgs):
        fig.add_trace(go.Heatmap(z=img[::-1], colorscale="gray_r", zmin=0, zmax=1, showscale=False,
                                 hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>"),
                      row=i // columns + 1, col=i % columns + 1)
    fig.update_xaxes(visible=False, scaleanchor=None)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    right = int(np.sum(y == p))
    fig.update_layout(template="plotly_white", height=140 * rows + 80,
                      title=f"{title}: {right} of {len(y)} right")
    return fig
