"""The test classifier of the DeepDream checks (notebook 07): a *spy* whose scores are
linear in the input, s_c(x) = ⟨W_c, x⟩, so that the gradient of a score is the same
at every step and a trajectory can be written down exactly. It remembers whether it
ran in training mode and every input it saw; at any size other than its own its
weights are a smooth field sampled at that size (for octaves).

:func:`few_threads`: the checks run their small tensors (the spy's 12 and 28 pixels,
the digit CNN at 64) on one torch thread.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
from torch import nn

from ..dream.models import Classifier

__all__ = ["Spy", "spy_classifier", "close_enough", "few_threads"]

#: A model with fewer parameters than this is small: its steps run on one torch thread.
SMALL_MODEL = 1_000_000


@contextlib.contextmanager
def few_threads(clf: Classifier | None = None) -> Iterator[None]:
    """One torch thread for the block when its tensors are small: the spy (``clf`` None or
    the spy), or a real classifier of under :data:`SMALL_MODEL` parameters (the digit CNN);
    a large one (GoogLeNet) keeps the threads it has. On a tiny tensor each operation is
    over in microseconds, and splitting it between threads only adds their meeting: on a
    2-core machine that is busy (grading several students at once) a blur of a 28×28
    image took 50 times as long on two threads as on one, and a DeepDream check cell
    went from 0.3 to 4 s. The results are the same up to rounding; the student's code
    runs inside the block too."""
    small = clf is None or sum(p.numel() for p in clf.model.parameters()) < SMALL_MODEL
    before = torch.get_num_threads()
    if not small or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Spy(nn.Module):
    """Scores linear in the input; remembers whether it ran in training mode and
    every input it saw. At its own size the weights are ``W`` (random); at any
    other size (octaves) they are a smooth field sampled at that size."""

    def __init__(self, channels: int, size: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(10, channels, size, size, generator=g))
        self.coef = torch.randn(10, channels, 5, generator=g)
        self.modes: list[bool] = []
        self.inputs: list[torch.Tensor] = []

    def weights(self, h: int, w: int) -> torch.Tensor:
        if (h, w) == tuple(self.W.shape[-2:]):
            return self.W
        u = ((torch.arange(h) + 0.5) / h).view(-1, 1)
        v = ((torch.arange(w) + 0.5) / w).view(1, -1)
        basis = torch.stack([torch.ones(h, w).expand(h, w), torch.cos(math.pi * u).expand(h, w),
                             torch.cos(math.pi * v).expand(h, w), torch.cos(math.pi * u) * torch.cos(math.pi * v),
                             torch.sin(math.pi * u) * torch.sin(math.pi * v)])
        return torch.einsum("kcb,bhw->kchw", self.coef, basis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        self.inputs.append(x.detach().clone())
        return torch.einsum("nchw,kchw->nk", x, self.weights(*x.shape[-2:]))


def spy_classifier(seed: int, size: int = 12) -> Classifier:
    spy = Spy(1, size, seed)
    spy.train()
    return Classifier(spy, "spy", [str(d) for d in range(10)], (0.5,), (0.25,), 1, size, {}, "spy", lr=0.01)


def close_enough(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))
