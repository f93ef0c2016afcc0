"""The numbers each problem states, in one place.

Notebooks print them from here and checks compute their oracles from them,
so a statement and its check can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HandGradientProblem:
    """L = (w1 + w2) * w3 with the intermediate node s = w1 + w2,
    and one gradient-descent step w <- w - eta * dL/dw."""

    w1: float = 2.0
    w2: float = -0.5
    w3: float = 4.0
    eta: float = 0.01

    @property
    def s(self) -> float:
        return self.w1 + self.w2

    @property
    def L(self) -> float:
        return self.s * self.w3


#: Problems 1 and 2(i) use the same expression and values.
HAND_GRADIENTS = HandGradientProblem()
