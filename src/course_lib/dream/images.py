"""Images for DeepDream: start photographs that ship offline, the model's input
normalisation, jitter, blur, resizing for octaves, and figures.

Images are torch tensors of shape ``1×C×H×W`` with pixels in [0, 1]. The model
sees ``(image − mean) / std``; :func:`to_model_input` and :func:`to_image` go
back and forth.
"""
from __future__ import annotations

import math
import random
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

__all__ = ["PHOTOS", "blur", "jitter", "load_photo", "random_shift", "resize", "shift_log", "to_image",
           "to_model_input", "unjitter", "images_figure", "probability_figure"]

#: Photographs bundled inside installed packages (no download).
PHOTOS = ("chelsea", "astronaut", "coffee", "grace_hopper", "china")


def _photo_array(name: str) -> np.ndarray:
    if name in ("chelsea", "astronaut", "coffee"):
        import skimage.data

        return getattr(skimage.data, name)()
    if name == "china":
        from sklearn.datasets import load_sample_image

        return load_sample_image("china.jpg")
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            import PIL.Image

            return np.asarray(PIL.Image.open(fh).convert("RGB"))
    raise ValueError(f"load_photo: unknown photo {name!r}; choose one of {', '.join(PHOTOS)}")


def load_photo(name: str = "chelsea", size: int = 224, channels: int = 3) -> torch.Tensor:
    """A bundled photograph, centre-cropped to a square, resized to ``size``,
    as a ``1×channels×size×size`` tensor in [0, 1] (``channels=1``: grey)."""
    arr = torch.tensor(_photo_array(name), dtype=torch.float32).permute(2, 0, 1) / 255.0
    h, w = arr.shape[1:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    arr = arr[:, top:top + side, left:left + side].unsqueeze(0)
    arr = F.interpolate(arr, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if channels == 1:
        arr = (0.299 * arr[:, 0:1] + 0.587 * arr[:, 1:2] + 0.114 * arr[:, 2:3])
    return arr.clamp(0, 1)


def to_model_input(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(image − mean) / std``, channel by channel."""
    m = torch.tensor(mean, dtype=image.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=image.dtype).view(1, -1, 1, 1)
    return (image - m) / s


def to_image(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The inverse of :func:`to_model_input`: ``x · std + mean``."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return x * s + m


#: Every shift :func:`random_shift` drew, in order (the checks read it).
shift_log: list[tuple[int, int]] = []
_rng = random.Random(0)


def random_shift(max_shift: int = 8) -> tuple[int, int]:
    """A random (dy, dx) with each entry in [−max_shift, max_shift]."""
    shift = (_rng.randint(-max_shift, max_shift), _rng.randint(-max_shift, max_shift)) if max_shift > 0 else (0, 0)
    shift_log.append(shift)
    return shift


def jitter(x: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
    """``x`` rolled by ``shift = (dy, dx)`` pixels (what leaves one side comes back on the other)."""
    return torch.roll(x, shifts=tuple(int(s) for s in shift), dims=(-2, -1))


def unjitter(x: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`jitter`: roll back by ``−shift``."""
    return jitter(x, (-shift[0], -shift[1]))


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of every channel with standard deviation ``sigma`` pixels (reflecting edges)."""
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    pad = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(pad, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """``x`` resized (bilinear) to ``size`` pixels (one int: square)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _rgb(image: torch.Tensor) -> np.ndarray:
    img = image.detach().float().clamp(0, 1)[0]
    if img.shape[0] == 1:
        img = img.repeat(3, 1, 1)
    return (img.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def images_figure(images: Sequence[torch.Tensor], titles: Sequence[str], title: str = "",
                  columns: int | None = None) -> go.Figure:
    """Images side by side (``1×C×H×W`` tensors in [0, 1]), each with a caption."""
    n = len(images)
    columns = columns or n
    rows = math.ceil(n / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(titles), horizontal_spacing=0.02,
                        vertical_spacing=0.08)
    for i, img in enumerate(images):
        fig.add_trace(go.Image(z=_rgb(img)), row=i // columns + 1, col=i % columns + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(template="plotly_white", height=260 * rows + 60, title=title, margin=dict(l=10, r=10))
    return fig


def probability_figure(history: dict[str, Sequence[float]], title: str = "Target class against steps") -> go.Figure:
    """Each series of ``history`` (e.g. ``probability``, ``logit``) against the step."""
    fig = make_subplots(rows=1, cols=len(history), subplot_titles=list(history))
    for k, (name, values) in enumerate(history.items(), start=1):
        fig.add_trace(go.Scatter(y=list(values), mode="lines", name=name), row=1, col=k)
        fig.update_xaxes(title_text="step", row=1, col=k)
    fig.update_layout(template="plotly_white", height=320, title=title, showlegend=False)
    return fig
