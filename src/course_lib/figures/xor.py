"""XOR with and without a hidden layer: the experiment behind notebook 06's figure.

A single layer scores ``s(x) = w · x + b``: its decision boundary is a line,
and no line puts (0, 0), (1, 1) on one side and (1, 0), (0, 1) on the other.
A hidden ReLU layer bends the boundary. Both are trained the same way
(logistic loss, Adam) on noisy copies of the four XOR points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..toy_data import xor_points

__all__ = ["XorResult", "train_xor"]


@dataclass
class XorResult:
    """A trained model's score function, training accuracy and a description."""

    score: Callable[[float, float], float]
    accuracy: float
    name: str
    X: list[list[float]]
    y: list[int]


def train_xor(hidden: int | None = None, seed: int = 0, steps: int = 400, n: int = 80) -> XorResult:
    """Train one linear layer (``hidden=None``) or Linear → ReLU → Linear with
    ``hidden`` units on :func:`~course_lib.toy_data.xor_points`; labels ±1."""
    X, y = xor_points(n=n, noise=0.15, seed=seed)
    torch.manual_seed(seed)
    model = nn.Linear(2, 1) if hidden is None else nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    xt = torch.tensor(X, dtype=torch.float32)
    target = (torch.tensor(y, dtype=torch.float32) > 0).float().unsqueeze(1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(xt), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = float(((model(xt) > 0).float() == target).float().mean())

    def score(a: float, b: float) -> float:
        with torch.no_grad():
            return float(model(torch.tensor([[a, b]], dtype=torch.float32)))

    name = "one linear layer" if hidden is None else f"Linear → ReLU ({hidden} units) → Linear"
    return XorResult(score, accuracy, name, X, y)
