"""Reading a middle layer's activation during a forward pass (for the layer objective)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["LayerActivation"]


class LayerActivation:
    """``with LayerActivation(module) as act: model(x)`` leaves ``module``'s output
    (with its graph, so it can be differentiated) in ``act.value``."""

    def __init__(self, module: nn.Module):
        if not isinstance(module, nn.Module):
            raise TypeError(f"LayerActivation needs a torch module (e.g. clf.layers['block2']), got "
                            f"{type(module).__name__}")
        self.module = module
        self.value: torch.Tensor | None = None
        self._handle: Any = None

    def _hook(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        self.value = output

    def __enter__(self) -> "LayerActivation":
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()
