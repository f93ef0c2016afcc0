"""What the checks of notebook 03's scalar network share: the student's ``Value`` must
pass notebook 02's checks first; a :class:`Net` describes the network being checked
(Perceptron, Layer or MLP, its sizes and where ReLU applies); the numbers are drawn
with every pre-activation away from ReLU's kink; the oracle is the same network in
torch, ``h ← act(W h + b)`` layer by layer (``F.linear`` and autograd, float64).
Parameters are listed per neuron as ``w[0..nin-1]`` then ``b``, neurons in order,
layers in order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._harness import CheckFailure, call, fmt

__all__ = ["RTOL", "ATOL", "require_engine", "Net", "perceptron_net", "layer_net", "mlp_net", "build_net",
           "rounded_uniform", "ACTS", "torch_forward", "draw_numbers", "flatten", "unflatten", "fmt_list",
           "outputs_of", "set_data"]

RTOL, ATOL = 1e-6, 1e-9
#: Pre-activations closer than this to 0 are redrawn (ReLU's kink).
KINK = 0.1
MAX_DRAWS = 200


# --------------------------------------------------------------------------
# The engine from notebook 02 comes first
# --------------------------------------------------------------------------
def require_engine(Value: Any, title: str) -> None:
    if Value is None:
        raise CheckFailure(
            f"{title}: Value is None: your Value from notebook 02 could not be loaded. The cell that "
            f"calls load_value() printed why; fix notebook 02, save it, and run that cell again."
        )
    if not isinstance(Value, type):
        raise CheckFailure(
            f"{title}: the second argument should be the class Value itself (from "
            f"load_value()), got a {type(Value).__name__}."
        )
    from .autograd import engine_refusal

    message = engine_refusal(Value)
    if message is not None:
        raise CheckFailure(f"{title}: the network is built on your Value. {message}")


# --------------------------------------------------------------------------
# What network is being checked
# --------------------------------------------------------------------------
@dataclass
class Net:
    kind: str               # "perceptron" | "layer" | "mlp"
    nin: int
    sizes: list[int]        # outputs of each layer
    relu: list[bool]        # ReLU after each layer?
    title: str              # how it was constructed, e.g. "MLP(3, [4, 4, 1])"

    @property
    def cls(self) -> str:
        return {"perceptron": "Perceptron", "layer": "Layer", "mlp": "MLP"}[self.kind]

    def shapes(self) -> list[tuple[int, int]]:
        return list(zip([self.nin, *self.sizes[:-1]], self.sizes))

    def count(self) -> int:
        return sum(i * o + o for i, o in self.shapes())

    def names(self) -> list[str]:
        """A name for each parameter, in the documented order."""
        out = []
        for l, (i, o) in enumerate(self.shapes()):
            for j in range(o):
                pre = {"perceptron": "", "layer": f"neurons[{j}].",
                       "mlp": f"layers[{l}].neurons[{j}]."}[self.kind]
                out += [f"{pre}w[{k}]" for k in range(i)] + [f"{pre}b"]
        return out


def perceptron_net(nin: int, nonlin: bool) -> Net:
    title = f"Perceptron({nin})" if nonlin else f"Perceptron({nin}, nonlin=False)"
    return Net("perceptron", nin, [1], [nonlin], title)


def layer_net(nin: int, nout: int, nonlin: bool) -> Net:
    title = f"Layer({nin}, {nout})" if nonlin else f"Layer({nin}, {nout}, nonlin=False)"
    return Net("layer", nin, [nout], [nonlin], title)


def mlp_net(nin: int, nouts: Sequence[int]) -> Net:
    nouts = list(nouts)
    return Net("mlp", nin, nouts, [True] * (len(nouts) - 1) + [False], f"MLP({nin}, {nouts})")


def build_net(net: Net, cls: Any) -> Any:
    if not isinstance(cls, type):
        raise CheckFailure(f"{net.cls}: expected the class {net.cls} itself, got a {type(cls).__name__}.")
    if net.kind == "perceptron":
        args, kwargs = (net.nin,), ({} if net.relu[0] else {"nonlin": False})
    elif net.kind == "layer":
        args, kwargs = (net.nin, net.sizes[0]), ({} if net.relu[0] else {"nonlin": False})
    else:
        args, kwargs = (net.nin, list(net.sizes)), {}
    return call(f"{net.cls}.__init__", f"creating {net.title}", cls, *args, **kwargs)


# --------------------------------------------------------------------------
# Numbers: drawing parameters and inputs, the torch oracle
# --------------------------------------------------------------------------
def rounded_uniform(rng: np.random.Generator, shape: Any, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return np.round(rng.uniform(lo, hi, size=shape), 3)


ACTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "id": lambda z: z, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
}


def torch_forward(Ws: Sequence[torch.Tensor], bs: Sequence[torch.Tensor], x: Sequence[float],
                  acts: Sequence[str], bias: bool = True, skip: int | None = None) -> list[torch.Tensor]:
    """The network in torch; returns the pre-activations of every layer and the output last.
    ``skip`` leaves one layer out (with zip's truncation, as a student's loop would)."""
    h = torch.tensor([float(v) for v in x], dtype=torch.float64)
    zs = []
    for l, (W, b) in enumerate(zip(Ws, bs)):
        if l == skip:
            continue
        n = min(W.shape[1], h.shape[0])
        z = F.linear(h[:n], W[:, :n], b if bias else None)
        zs.append(z)
        h = ACTS[acts[l]](z)
    return [*zs, h]


def draw_numbers(net: Net, rng: np.random.Generator, targets: Sequence[float] | None = None
                 ) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Weights, biases and an input x with every pre-activation away from ReLU's kink,
    both signs inside every ReLU layer of width >= 2, and for a linear last layer a
    negative first output (so a ReLU there shows). ``targets`` fixes the last layer's
    pre-activations (Perceptron)."""
    acts = ["relu" if r else "id" for r in net.relu]
    best = None
    for _ in range(MAX_DRAWS):
        Ws = [rounded_uniform(rng, (o, i)) for i, o in net.shapes()]
        bs = [rounded_uniform(rng, o) for _, o in net.shapes()]
        x = [float(v) for v in rounded_uniform(rng, net.nin, -2.0, 2.0)]
        T = lambda a: [torch.tensor(v, dtype=torch.float64) for v in a]  # noqa: E731
        zs = torch_forward(T(Ws), T(bs), x, acts)[:-1]
        last = zs[-1].numpy()
        if targets is not None:
            bs[-1] = np.round(bs[-1] + np.asarray(targets) - last, 3)
        elif not net.relu[-1]:
            bs[-1][0] = round(float(bs[-1][0]) - float(last[0]) - float(rng.uniform(0.3, 1.0)), 3)
        zs = torch_forward(T(Ws), T(bs), x, acts)[:-1]
        ok = all(bool((z.abs() >= KINK).all()) for z in zs)
        ok = ok and all(
            not r or o < 2 or (bool((z > 0).any()) and bool((z < 0).any()))
            for z, r, (_, o) in zip(zs, net.relu, net.shapes())
        )
        best = (Ws, bs, x)
        if ok:
            break
    assert best is not None
    return best


def flatten(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray]) -> list[float]:
    """Parameters in the documented order: per neuron w..., b; neurons; layers."""
    out: list[float] = []
    for W, b in zip(Ws, bs):
        for j in range(W.shape[0]):
            out += [float(v) for v in W[j]] + [float(b[j])]
    return out


def unflatten(net: Net, flat: Sequence[float]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    Ws, bs, k = [], [], 0
    for i, o in net.shapes():
        W, b = np.zeros((o, i)), np.zeros(o)
        for j in range(o):
            W[j] = flat[k:k + i]
            b[j] = flat[k + i]
            k += i + 1
        Ws.append(torch.tensor(W, dtype=torch.float64))
        bs.append(torch.tensor(b, dtype=torch.float64))
    return Ws, bs


def fmt_list(x: Sequence[float]) -> str:
    return "[" + ", ".join(fmt(v) for v in x) + "]"


def outputs_of(net: Net, out: Any, Value: type, where: str) -> list[Any]:
    m = f"{net.cls}.__call__"
    nout = net.sizes[-1]
    if isinstance(out, Value):
        if nout == 1:
            return [out]
        raise CheckFailure(
            f"{m}: {where} returned a single Value but should return a list of {nout} outputs, one per "
            f"neuron of the last layer. Is only the first neuron's output returned (e.g. `outs[0]`)?"
        )
    if isinstance(out, (list, tuple)):
        out = list(out)
        if len(out) != nout:
            if len(out) == 1:
                hint = " Is only the first neuron's output returned?"
            elif net.kind == "mlp":
                hint = (" Does __call__ pass x through every layer in self.layers, in order, and "
                        "return the last layer's outputs?")
            else:
                hint = ""
            raise CheckFailure(f"{m}: {where} returned {len(out)} output{'s' * (len(out) != 1)} but "
                               f"should return {nout} "
                               f"(one per neuron of the last layer).{hint}")
        for k, o in enumerate(out):
            if not isinstance(o, Value):
                raise CheckFailure(
                    f"{m}: {where} returned a list whose item {k} is a {type(o).__name__} ({o!r:.40}), "
                    f"not a Value. Keep everything a Value (no .data) so gradients can flow back."
                )
        return out
    raise CheckFailure(
        f"{m}: {where} returned a {type(out).__name__} ({out!r:.40}); it should return "
        + ("a Value." if net.kind == "perceptron" else "a list of Values (or one Value when nout == 1).")
    )


def set_data(ps: list[Any], flat: Sequence[float]) -> None:
    for p, v in zip(ps, flat):
        p.data = float(v)
