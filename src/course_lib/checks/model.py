"""Check of a whole numpy model of notebook 03: its layers in ``model.layers``,
``forward(A0)`` through them in order, ``backward(dLdA)`` through them in reverse
(the chain rule, each layer passing its returned gradient on to the one before).
The output, the returned gradient and every Linear's ``dLdW``, ``dLdb`` are compared
with the same network in PyTorch (autograd, float64).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._arrays import shape_text as _shape
from ._harness import CheckFailure, call, guarded, passed
from ._layer_harness import batch_note, call_quiet, compare_grad, compare_layer, layer_attr, tensor, to_numpy

__all__ = ["check_model", "describe_layers"]


_MODEL_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Identity": lambda z: z,
    "ReLU": torch.relu,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "GELU": lambda z: F.gelu(z, approximate="none"),
    "Softmax": lambda z: torch.softmax(z, dim=1),
}


def _is_linear(layer: Any) -> bool:
    return hasattr(layer, "W") and hasattr(layer, "b") and np.ndim(layer.W) == 2


def describe_layers(layers: Sequence[Any]) -> list[str]:
    """``["Linear(2, 3)", "ReLU", ...]``: a model's layers as the check sees them."""
    out = []
    for layer in layers:
        if _is_linear(layer):
            o, i = np.shape(layer.W)
            out.append(f"Linear({i}, {o})")
        else:
            out.append(type(layer).__name__)
    return out


@guarded("model")
def check_model(model: Any, architecture: Sequence[str] | None = None, seed: int = 0,
                hard: bool = False) -> None:
    """A model with ``.layers`` (Linear-like layers with ``W``, ``b`` and the
    activations ``ReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``Swish``,
    ``Softmax``, ``Identity``), ``forward(A0)`` through the layers in order and
    ``backward(dLdA)`` through them in reverse: output, returned gradient (if
    any) and every Linear's ``dLdW``/``dLdb`` against the same network in
    PyTorch. ``architecture``, e.g. ``["Linear(2, 3)", "ReLU"]``, is compared
    with ``model.layers`` first. ``model`` may be an instance or a class that
    takes no arguments. The check OVERWRITES every Linear's ``W`` and ``b``
    with its own random values: pass a fresh model, not a trained one."""
    title = type(model).__name__ if not isinstance(model, type) else model.__name__
    if isinstance(model, type):
        model = call(f"{title}.__init__", f"creating {title}()", model)
    layers = layer_attr(f"{title}.__init__", model, "layers", "after creating the model,")
    if not isinstance(layers, (list, tuple)) or not layers:
        raise CheckFailure(f"{title}.__init__: model.layers should be a non-empty list of layers, "
                           f"got {type(layers).__name__} ({layers!r:.60}).")
    desc = describe_layers(layers)
    if architecture is not None and list(architecture) != desc:
        raise CheckFailure(f"{title}.__init__: model.layers is [{', '.join(desc)}] but should be "
                           f"[{', '.join(architecture)}].")
    if not any(_is_linear(layer) for layer in layers):
        raise CheckFailure(f"{title}.__init__: model.layers has no Linear layer (one with W and b): {desc}.")
    rng = np.random.default_rng(seed + 1000)
    params: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    width = None
    for i, (layer, d) in enumerate(zip(layers, desc)):
        if _is_linear(layer):
            o, n_in = np.shape(layer.W)
            if width is not None and n_in != width:
                raise CheckFailure(f"{title}.__init__: layer {i}, {d}, takes {n_in} features but the "
                                   f"layer before it gives {width}.")
            W = np.round(rng.normal(0, 1 / math.sqrt(n_in), size=(o, n_in)), 3)
            b = np.round(rng.normal(0, 0.5, size=(o, 1)), 3)
            layer.W, layer.b = W.copy(), b.copy()
            params[i] = (W, b)
            width = o
        elif d not in _MODEL_ACTIVATIONS and d != "Swish":
            raise CheckFailure(f"{title}: layer {i} is a {d}, which this check does not know. Use "
                               f"Linear layers (with W and b) and the activations "
                               f"{', '.join(sorted([*_MODEL_ACTIVATIONS, 'Swish']))}.")
    n_in0 = np.shape(layers[next(iter(params))].W)[1]

    def torch_forward(At, Ws, skip=None):
        x = At
        for i, (layer, d) in enumerate(zip(layers, desc)):
            if i == skip:
                continue
            if i in Ws:
                W, b = Ws[i]
                x = F.linear(x, W, b.reshape(-1))
            elif d == "Swish":
                beta = float(getattr(layer, "beta", 1.0))
                x = x * torch.sigmoid(beta * x)
            else:
                x = _MODEL_ACTIVATIONS[d](x)
        return x

    sizes = [1, int(rng.integers(3, 7))] + ([int(rng.integers(20, 40))] if hard else [])
    noted: set[str] = set()
    for n in sizes:
        A0 = np.round(rng.normal(size=(n, n_in0)), 3)
        At = tensor(A0)
        Ws = {i: (tensor(W), tensor(b)) for i, (W, b) in params.items()}
        out = torch_forward(At, Ws)
        G = np.round(rng.normal(size=tuple(out.shape)), 3)
        (out * tensor(G, False)).sum().backward()
        where = f"for A0 of shape {_shape(A0.shape)}{batch_note(n)} through [{', '.join(desc)}] (seed {seed})"
        skipped = []
        with torch.no_grad():
            for k in range(len(layers)):
                if k not in params:
                    pred = torch_forward(torch.tensor(A0), {i: (torch.tensor(W), torch.tensor(b))
                                                            for i, (W, b) in params.items()}, skip=k)
                    skipped.append((pred.numpy(), f"That is the output without layer {k} ({desc[k]}): "
                                                  f"forward must apply EVERY layer in order."))
        got = call_quiet(f"{title}.forward", f"{where}, forward(A0)", model.forward, A0.copy())
        compare_layer(f"{title}.forward", where, "the output", got, to_numpy(out), skipped)
        bwhere = f"{where}, after forward(A0) and backward(dLdA) with dLdA of shape {_shape(G.shape)}"
        try:
            ret = call_quiet(f"{title}.backward", f"{where}, backward(dLdA)", model.backward, G.copy())
        except CheckFailure as failure:
            if "ValueError" not in failure.message or "not implemented yet" in failure.message:
                raise
            raise CheckFailure(failure.message + " The shapes do not fit: does backward go through the "
                               "layers from the LAST to the first (reversed(self.layers)), passing each "
                               "returned gradient on to the layer before?") from None
        for i, (Wt, bt) in sorted(Ws.items(), reverse=True):
            layer = layers[i]
            for name, want in (("dLdW", to_numpy(Wt.grad)), ("dLdb", to_numpy(bt.grad))):
                got = getattr(layer, name, None)
                if got is None:
                    raise CheckFailure(f"{title}.backward: {bwhere}, layer {i} ({desc[i]}) has no {name}: "
                                       f"backward must call every layer's backward, last layer first.")
                compare_grad(f"{title}.backward", bwhere, f"layers[{i}].{name}", got, want,
                             f"layers[{i}].{name[3:]}", noted, [
                    (np.zeros_like(want), f"It is still zero: was layer {i}'s backward called?"),
                ])
        if ret is not None:
            compare_layer(f"{title}.backward", bwhere, "the returned dLdA0", ret, to_numpy(At.grad))
    passed(title, f"{len(layers)} layers, {len(sizes)} batches including batch size 1; output and "
                  f"gradients match the same network in PyTorch")
