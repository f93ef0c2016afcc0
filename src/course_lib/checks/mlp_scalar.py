"""Checks for notebook 03, part 1: a tiny neural-network library on the
student's own scalar ``Value`` engine, in micrograd's convention.

Conventions checked:

- ``Module``: ``parameters()`` (a list of ``Value``) and ``zero_grad()``
  (sets every parameter's ``.grad`` to 0);
- ``Perceptron(nin, nonlin=True)``: ``w`` (a list of ``nin`` Values), ``b``
  (a Value); ``p(x) = relu(sum_i w_i x_i + b)``, or without the ReLU when
  ``nonlin=False``; ``x`` is a list of numbers or Values;
  ``parameters() = w + [b]``;
- ``Layer(nin, nout, **kwargs)``: ``neurons`` (``nout`` Perceptrons, built with
  ``kwargs``); ``layer(x)`` is the list of the ``nout`` outputs (a bare Value
  is accepted too when ``nout == 1``, as in micrograd);
- ``MLP(nin, nouts)``: ``layers``; hidden layers use ReLU, the last layer is
  linear; ``parameters()`` lists, layer by layer and neuron by neuron, the
  weights ``w[0..nin-1]`` and then the bias ``b``.

Each check makes one instance of the student's class, overwrites the
``.data`` of the Values returned by ``parameters()`` with numbers from a
fixed-seed generator, runs a forward pass and ``backward()`` on the sum of the
outputs, and compares outputs and every parameter's gradient with PyTorch
(``torch.nn.functional.linear`` + ``relu`` and autograd, float64): the oracle.
Before anything else the student's ``Value`` must pass notebook 02's checks.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._harness import CheckFailure, as_number, call, close, fmt, guarded, passed
from .partial import score

__all__ = ["check_perceptron", "check_layer", "check_mlp", "check_zero_grad", "check_trained_classifier"]

RTOL, ATOL = 1e-6, 1e-9
#: Pre-activations closer than this to 0 are redrawn (ReLU's kink).
KINK = 0.1
MAX_DRAWS = 200

_ORDER = ("for each neuron its weights w[0], ..., w[nin-1] and then its bias b; neurons in "
          "order; layers in order")


# --------------------------------------------------------------------------
# The engine from notebook 02 comes first
# --------------------------------------------------------------------------
def _require_engine(Value: Any, title: str) -> None:
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
class _Net:
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


def _perceptron_net(nin: int, nonlin: bool) -> _Net:
    title = f"Perceptron({nin})" if nonlin else f"Perceptron({nin}, nonlin=False)"
    return _Net("perceptron", nin, [1], [nonlin], title)


def _layer_net(nin: int, nout: int, nonlin: bool) -> _Net:
    title = f"Layer({nin}, {nout})" if nonlin else f"Layer({nin}, {nout}, nonlin=False)"
    return _Net("layer", nin, [nout], [nonlin], title)


def _mlp_net(nin: int, nouts: Sequence[int]) -> _Net:
    nouts = list(nouts)
    return _Net("mlp", nin, nouts, [True] * (len(nouts) - 1) + [False], f"MLP({nin}, {nouts})")


def _build(net: _Net, cls: Any) -> Any:
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
# parameters(): objects, count, order
# --------------------------------------------------------------------------
def _neurons_of(net: _Net, model: Any) -> list[list[Any]]:
    """The Perceptrons of ``model`` per layer, from the attributes ``neurons`` / ``layers``."""
    if net.kind == "perceptron":
        return [[model]]
    if net.kind == "layer":
        layers = [model]
        where = [net.title]
    else:
        layers = getattr(model, "layers", None)
        if not isinstance(layers, (list, tuple)):
            raise CheckFailure(
                f"MLP.__init__: {net.title} should keep its Layers in a list self.layers; "
                f"found {type(layers).__name__}."
            )
        if len(layers) != len(net.sizes):
            raise CheckFailure(
                f"MLP.__init__: {net.title} has {len(layers)} layers in self.layers but should have "
                f"{len(net.sizes)}, one Layer per entry of nouts (sizes [nin] + nouts, consecutive "
                f"pairs). Is a layer left out?"
            )
        where = [f"{net.title}.layers[{l}]" for l in range(len(layers))]
    out = []
    for l, layer in enumerate(layers):
        neurons = getattr(layer, "neurons", None)
        if not isinstance(neurons, (list, tuple)):
            raise CheckFailure(
                f"Layer.__init__: {where[l]} should keep its Perceptrons in a list self.neurons; "
                f"found {type(neurons).__name__}."
            )
        if len(neurons) != net.sizes[l]:
            raise CheckFailure(
                f"Layer.__init__: {where[l]} has {len(neurons)} neurons but should have "
                f"{net.sizes[l]} (nout)."
            )
        out.append(list(neurons))
    return out


def _expected_objects(net: _Net, model: Any, Value: type) -> list[Any]:
    """The Values w..., b of every neuron, in the documented order (from attributes)."""
    objs = []
    for l, neurons in enumerate(_neurons_of(net, model)):
        nin = net.shapes()[l][0]
        for j, n in enumerate(neurons):
            name = {"perceptron": "", "layer": f"neurons[{j}]", "mlp": f"layers[{l}].neurons[{j}]"}[net.kind]
            w = getattr(n, "w", None)
            if not isinstance(w, (list, tuple)) or len(w) != nin or not all(isinstance(v, Value) for v in w):
                got = f"a list of {len(w)}" if isinstance(w, (list, tuple)) else f"a {type(w).__name__}"
                raise CheckFailure(
                    f"Perceptron.__init__: in {net.title}, {name or 'the Perceptron'}.w should be a list of "
                    f"{nin} Values (one weight per input), but it is {got}"
                    + ("" if not isinstance(w, (list, tuple)) or len(w) != nin else " with non-Value items")
                    + "."
                )
            if not hasattr(n, "b"):
                raise CheckFailure(
                    f"Perceptron.__init__: in {net.title}, {name or 'the Perceptron'} has no bias b. Each "
                    f"Perceptron needs a bias self.b (a Value), added in __call__ and listed in parameters()."
                )
            if not isinstance(n.b, Value):
                raise CheckFailure(
                    f"Perceptron.__init__: in {net.title}, {name or 'the Perceptron'}.b is a "
                    f"{type(n.b).__name__}, not a Value. Make the bias a Value so it gets a gradient."
                )
            objs += [*w, n.b]
    return objs


def _get_params(net: _Net, model: Any, Value: type) -> list[Any]:
    m = f"{net.cls}.parameters"
    ps = call(m, f"{net.title}.parameters()", model.parameters)
    if not isinstance(ps, (list, tuple)):
        try:
            ps = list(ps)
        except TypeError:
            raise CheckFailure(f"{m}: {net.title}.parameters() returned a {type(ps).__name__}, "
                               f"not a list of Values.") from None
    ps = list(ps)
    names = net.names()
    for k, p in enumerate(ps):
        if not isinstance(p, Value):
            raise CheckFailure(
                f"{m}: item {k} of {net.title}.parameters() is a {type(p).__name__} ({p!r:.40}), not a "
                f"Value. Return the Value objects themselves (e.g. self.w + [self.b]), not their .data."
            )
    _neurons_of(net, model)  # self.layers / self.neurons have the right lengths
    want = net.count()
    ids = [id(p) for p in ps]
    if len(set(ids)) < len(ids):
        first = next(k for k, i in enumerate(ids) if ids.index(i) != k)
        if len(ps) == 2 * want and len(set(ids)) == want:
            why = ("every parameter is listed twice: is a list added to parameters() twice (e.g. "
                   "the weights collected once per neuron and again per layer)?")
        else:
            why = ("several parameters are one and the same Value object: are weights shared "
                   "between neurons (e.g. `[Perceptron(nin)] * nout` or `[Value(...)] * nin` "
                   "repeats ONE object; build a new one each time in a list comprehension), or is "
                   "a list counted twice?")
        raise CheckFailure(
            f"{m}: {net.title}.parameters() holds {len(ps)} Values but only {len(set(ids))} distinct "
            f"objects (item {first} repeats an earlier one): {why}"
        )
    if len(ps) != want:
        nw = sum(i * o for i, o in net.shapes())
        detail = " + ".join(f"{i}*{o} + {o}" for i, o in net.shapes())
        why = ""
        if len(ps) == nw:
            neurons = [n for layer in _neurons_of(net, model) for n in layer]
            if not all(hasattr(n, "b") for n in neurons):
                why = (" That is the number of weights alone, and the Perceptrons have no bias b: "
                       "each neuron needs a bias, out = act(sum_i w_i x_i + b).")
            else:
                why = (" That is the number of weights alone: the bias b is missing from "
                       "parameters(). Return self.w + [self.b].")
        elif len(ps) == sum(o for _, o in net.shapes()):
            why = " That is the number of biases alone: the weights w are missing from parameters()."
        elif net.kind == "mlp" and len(ps) < want:
            why = (" Some layers' parameters are missing: MLP.parameters() should collect "
                   "the parameters of every layer in self.layers.")
        elif net.kind == "layer" and len(ps) == net.nin + 1:
            why = " That is one neuron's worth: Layer.parameters() should collect every neuron's parameters."
        raise CheckFailure(
            f"{m}: {net.title}.parameters() returned {len(ps)} Values but should return "
            f"{want} (nin*nout weights + nout biases per layer: {detail}).{why}"
        )
    expected = _expected_objects(net, model, Value)
    got_ids, want_ids = [id(p) for p in ps], [id(p) for p in expected]
    if got_ids != want_ids:
        missing = [names[k] for k, i in enumerate(want_ids) if i not in set(got_ids)]
        if not missing:
            k = next(k for k in range(len(ps)) if got_ids[k] != want_ids[k])
            raise CheckFailure(
                f"{m}: {net.title}.parameters() has the right Values in the wrong order: item {k} "
                f"should be {names[k]}. Keep the documented order: {_ORDER}."
            )
        if all(name.endswith(".b") or name == "b" for name in missing):
            why = "the bias b is not in parameters(): return self.w + [self.b]."
        else:
            why = (f"{missing[0]} is not in parameters(): does parameters() return new Values "
                   f"(copies) instead of the objects self.w and self.b that __call__ uses?")
        raise CheckFailure(
            f"{m}: {net.title}.parameters() does not return the network's own w and b Values "
            f"({len(missing)} missing, e.g. {missing[0]}): {why}"
        )
    return ps


def _check_distinct_init(net: _Net, ps: list[Any]) -> None:
    """Before the check overwrites them: the neurons of a layer must not all start equal."""
    k = 0
    for l, (i, o) in enumerate(net.shapes()):
        ws = []
        for _ in range(o):
            ws.append(tuple(float(p.data) for p in ps[k:k + i]))
            k += i + 1
        if o >= 2 and all(w == ws[0] for w in ws):
            where = net.title if net.kind != "mlp" else f"{net.title}.layers[{l}]"
            shown = "[" + ", ".join(fmt(x) for x in ws[0][:4]) + (", ...]" if i > 4 else "]")
            raise CheckFailure(
                f"{net.cls}.__init__: all {o} neurons of {where} start with the same weights {shown}. "
                f"Identical neurons compute the same output and receive the same gradient, so "
                f"training can never make them different. Initialise every weight at random, "
                f"e.g. Value(random.uniform(-1, 1)), separately for each neuron."
            )


# --------------------------------------------------------------------------
# Numbers: drawing parameters and inputs, the torch oracle
# --------------------------------------------------------------------------
def _r(rng: np.random.Generator, shape: Any, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return np.round(rng.uniform(lo, hi, size=shape), 3)


_ACTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "id": lambda z: z, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
}


def _forward(Ws: Sequence[torch.Tensor], bs: Sequence[torch.Tensor], x: Sequence[float],
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
        h = _ACTS[acts[l]](z)
    return [*zs, h]


def _draw(net: _Net, rng: np.random.Generator, targets: Sequence[float] | None = None
          ) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Weights, biases and an input x with every pre-activation away from ReLU's kink,
    both signs inside every ReLU layer of width >= 2, and for a linear last layer a
    negative first output (so a ReLU there shows). ``targets`` fixes the last layer's
    pre-activations (Perceptron)."""
    acts = ["relu" if r else "id" for r in net.relu]
    best = None
    for _ in range(MAX_DRAWS):
        Ws = [_r(rng, (o, i)) for i, o in net.shapes()]
        bs = [_r(rng, o) for _, o in net.shapes()]
        x = [float(v) for v in _r(rng, net.nin, -2.0, 2.0)]
        T = lambda a: [torch.tensor(v, dtype=torch.float64) for v in a]  # noqa: E731
        zs = _forward(T(Ws), T(bs), x, acts)[:-1]
        last = zs[-1].numpy()
        if targets is not None:
            bs[-1] = np.round(bs[-1] + np.asarray(targets) - last, 3)
        elif not net.relu[-1]:
            bs[-1][0] = round(float(bs[-1][0]) - float(last[0]) - float(rng.uniform(0.3, 1.0)), 3)
        zs = _forward(T(Ws), T(bs), x, acts)[:-1]
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


def _flat(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray]) -> list[float]:
    """Parameters in the documented order: per neuron w..., b; neurons; layers."""
    out: list[float] = []
    for W, b in zip(Ws, bs):
        for j in range(W.shape[0]):
            out += [float(v) for v in W[j]] + [float(b[j])]
    return out


def _unflat(net: _Net, flat: Sequence[float]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
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


def _xs(x: Sequence[float]) -> str:
    return "[" + ", ".join(fmt(v) for v in x) + "]"


# --------------------------------------------------------------------------
# Forward and backward against the oracle
# --------------------------------------------------------------------------
def _outputs(net: _Net, out: Any, Value: type, where: str) -> list[Any]:
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


def _forward_hint(net: _Net, got: list[float], Ws: list[torch.Tensor], bs: list[torch.Tensor],
                  x: Sequence[float], orig: tuple[list[torch.Tensor], list[torch.Tensor]]) -> str:
    acts = ["relu" if r else "id" for r in net.relu]
    L = len(acts)
    hidden_relu = any(net.relu[:-1])
    tries: list[tuple[str, dict]] = []
    if not net.relu[-1]:
        what = ("Perceptron(nin, nonlin=False) must not apply ReLU." if net.kind == "perceptron" else
                "the output layer must be linear: MLP builds its last Layer with nonlin=False."
                if net.kind == "mlp" else "with nonlin=False the neurons must not apply ReLU: does "
                "Layer pass **kwargs (nonlin) on to every Perceptron?")
        tries.append((f"It looks like ReLU is applied to the output: {what}",
                      {"acts": acts[:-1] + ["relu"]}))
    if net.relu[-1] or hidden_relu:
        tries.append(("It looks like ReLU is missing: with nonlin=True a Perceptron returns "
                      "relu(sum_i w_i x_i + b)" + (", and the hidden layers of an MLP use ReLU."
                                                   if net.kind == "mlp" else "."),
                      {"acts": ["id"] * L}))
        for name in ("tanh", "sigmoid"):
            tries.append((f"It looks like {name} is used as the nonlinearity: use ReLU (x.relu()).",
                          {"acts": [name if r else "id" for r in net.relu]}))
            tries.append((f"It looks like {name} is used as the nonlinearity: use ReLU (x.relu()).",
                          {"acts": [name] * L}))
    tries.append(("It looks like the bias is not added: out = act(sum_i w_i x_i + b).",
                  {"bias": False}))
    tries.append(("The output did not change when the check set the .data of the Values from "
                  "parameters(): does parameters() return the very Value objects that __call__ "
                  "uses (self.w + [self.b]), not copies?", {"orig": True}))
    if net.kind == "mlp":
        for l in range(L):
            tries.append((f"It looks like layers[{l}] is skipped: __call__ must pass x through every "
                          f"layer in self.layers, in order.", {"skip": l}))
    for hint, kw in tries:
        W_, b_ = orig if kw.get("orig") else (Ws, bs)
        a = kw.get("acts", acts)
        pred = _forward(W_, b_, x, a, bias=kw.get("bias", True), skip=kw.get("skip"))[-1]
        if pred.shape[0] == len(got) and all(close(g, float(p), RTOL, ATOL) for g, p in zip(got, pred)):
            return " " + hint
    return ""


def _set_data(ps: list[Any], flat: Sequence[float]) -> None:
    for p, v in zip(ps, flat):
        p.data = float(v)


def _reset_grads(ps: list[Any]) -> None:
    for p in ps:
        p.grad = 0.0


def _run(net: _Net, model: Any, Value: type, ps: list[Any], Ws: list[np.ndarray], bs: list[np.ndarray],
         x: Sequence[float], as_values: bool, orig_flat: list[float], backward: bool = True) -> None:
    """One forward pass (and backward on the sum of outputs) checked against torch."""
    flat = _flat(Ws, bs)
    _set_data(ps, flat)
    _reset_grads(ps)
    acts = ["relu" if r else "id" for r in net.relu]
    tW, tb = _unflat(net, flat)
    for t in (*tW, *tb):
        t.requires_grad_(True)
    want = _forward(tW, tb, x, acts)[-1]
    xin: list[Any] = [call(f"{net.cls}.__call__", f"Value({fmt(v)})", Value, v) for v in x] if as_values else list(x)
    kind = "Values" if as_values else "floats"
    if net.kind == "perceptron":
        where = (f"{net.title}(x) with w = {_xs(flat[:-1])}, b = {fmt(flat[-1])} (set by the check) "
                 f"and x = {_xs(x)} (as {kind})")
    else:
        where = f"{net.title}(x) with x = {_xs(x)} (as {kind}), parameters set by the check"
    out = call(f"{net.cls}.__call__", f"computing {net.title}(x) with x = {_xs(x)} (as {kind})", model, xin)
    outs = _outputs(net, out, Value, f"{net.title}(x) with x = {_xs(x)} (as {kind})")
    got = [as_number(f"{net.cls}.__call__", f"for {where}, output {k}'s .data", o.data)
           for k, o in enumerate(outs)]
    wd = want.detach()
    for k, g in enumerate(got):
        if not close(g, float(wd[k]), RTOL, ATOL):
            hint = _forward_hint(net, got, [t.detach() for t in tW], [t.detach() for t in tb], x,
                                 _unflat(net, orig_flat))
            label = "the output" if len(got) == 1 else f"output {k}"
            raise CheckFailure(
                f"{net.cls}.__call__: for {where}, {label} is {fmt(g)} but should be "
                f"{fmt(float(wd[k]))}.{hint or ' Check act(sum_i w_i x_i + b) for every neuron.'}"
            )
    if not backward:
        return
    total = call(f"{net.cls}.__call__", "adding up the outputs", functools.reduce, lambda a, b: a + b, outs)
    call(f"{net.cls}.__call__", f"calling backward() on the sum of the outputs of {net.title}(x)", total.backward)
    want.sum().backward()
    tgrad = _flat([t.grad.numpy() for t in tW], [t.grad.numpy() for t in tb])
    names = net.names()
    for k, (p, wg) in enumerate(zip(ps, tgrad)):
        g = as_number(net.cls, f"after backward(), {names[k]}.grad", p.grad)
        if close(g, wg, RTOL, ATOL):
            continue
        if close(g, 0.0):
            hint = (f" No gradient reached {names[k]}: is this very Value (not a copy, not its .data) "
                    f"used in the expression that __call__ builds?")
        elif close(g, 2 * wg):
            hint = " It is twice too large: is this Value used twice in the expression?"
        else:
            hint = ""
        raise CheckFailure(
            f"{net.cls}: for {where}, after backward() on the sum of the outputs, {names[k]}.grad "
            f"is {fmt(g)} but should be {fmt(wg)}.{hint}"
        )
    if as_values:
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        h = tx
        for l, (W, b) in enumerate(zip(tW, tb)):
            h = _ACTS[acts[l]](F.linear(h, W.detach(), b.detach()))
        h.sum().backward()
        for k, (xv, wg) in enumerate(zip(xin, tx.grad.tolist())):
            g = float(xv.grad)
            if not close(g, wg, RTOL, ATOL):
                raise CheckFailure(
                    f"{net.cls}.__call__: for {where}, after backward() x[{k}].grad is {fmt(g)} but "
                    f"should be {fmt(wg)}. When x holds Values, use them as they are in the "
                    f"expression (not x[i].data), so gradients reach the inputs too."
                )


def _prepare(net: _Net, cls: Any, Value: type) -> tuple[Any, list[Any], list[float]]:
    model = _build(net, cls)
    if not hasattr(model, "parameters"):
        raise CheckFailure(f"{net.cls}: {net.title} has no parameters() method. Does {net.cls} "
                           f"inherit from Module and define parameters()?")
    ps = _get_params(net, model, Value)
    orig = [as_number(f"{net.cls}.__init__", f"in {net.title}, {net.names()[k]}.data", p.data)
            for k, p in enumerate(ps)]
    _check_distinct_init(net, ps)
    return model, ps, orig


def _check_nets(title: str, cls: Any, Value: Any, cases: Sequence[tuple[_Net, list[dict]]], seed: int,
                points: float | None, detail: Callable[[int], str]) -> float | None:
    """Every forward and backward pass of ``cases``; with ``points``, each pass earns its share
    (:mod:`.partial`). The random numbers are drawn first, so they do not depend on what fails."""
    _require_engine(Value, title)
    rng = np.random.default_rng(seed)
    drawn = [(k, net, run, _draw(net, rng, run.get("targets"))) for k, (net, runs) in enumerate(cases) for run in runs]
    prepared: dict[int, Any] = {}

    def one(k: int, net: _Net, run: dict, numbers: tuple) -> None:
        if k not in prepared:
            try:
                prepared[k] = _prepare(net, cls, Value)
            except CheckFailure as failure:
                prepared[k] = failure
        if isinstance(prepared[k], CheckFailure):
            raise prepared[k]
        model, ps, orig = prepared[k]
        _run(net, model, Value, ps, *numbers, run.get("as_values", False), orig)

    parts = [(f"{net.title}, pass {i + 1}", functools.partial(one, k, net, run, numbers))
             for i, (k, net, run, numbers) in enumerate(drawn)]
    return score(title, parts, points, detail(len(parts)))


# --------------------------------------------------------------------------
# Public checks
# --------------------------------------------------------------------------
@guarded("Perceptron")
def check_perceptron(Perceptron: Any, Value: Any, seed: int = 0, hard: bool = False,
                     points: float | None = None) -> float | None:
    """``Perceptron(nin)`` and ``Perceptron(nin, nonlin=False)``: ``parameters()``
    (``w + [b]``), outputs for positive and negative pre-activations, and every
    gradient, against torch."""
    nin = 5 if hard else 3
    cases = [
        (_perceptron_net(nin, True), [{"targets": [0.7], "as_values": True}, {"targets": [-0.6]}]),
        (_perceptron_net(nin, False), [{"targets": [-0.8]}, {"targets": [1.3], "as_values": True}]),
    ]
    if hard:
        cases.append((_perceptron_net(1, True), [{"targets": [0.4]}, {"targets": [-1.1], "as_values": True}]))
    return _check_nets("Perceptron", Perceptron, Value, cases, seed, points,
                       lambda n: f"{n} forward and backward passes, with and without ReLU, match PyTorch")


@guarded("Layer")
def check_layer(Layer: Any, Value: Any, seed: int = 0, hard: bool = False,
                points: float | None = None) -> float | None:
    """``Layer(nin, nout)`` (ReLU), ``Layer(nin, nout, nonlin=False)`` and ``nout == 1``
    (a one-item list or a bare Value): outputs and gradients against torch."""
    if hard:
        nets = [_layer_net(5, 6, True), _layer_net(4, 3, False), _layer_net(3, 1, False)]
    else:
        nets = [_layer_net(3, 4, True), _layer_net(3, 2, False), _layer_net(2, 1, True)]
    cases = [(net, [{}, {"as_values": True}]) for net in nets]
    return _check_nets("Layer", Layer, Value, cases, seed, points,
                       lambda n: f"{n} forward and backward passes on {len(nets)} layers match PyTorch")


@guarded("MLP")
def check_mlp(MLP: Any, Value: Any, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``MLP(nin, nouts)``: ReLU hidden layers, a linear last layer, ``parameters()``
    in order; outputs and every gradient against torch."""
    nets = [_mlp_net(4, [6, 5, 3]), _mlp_net(3, [5, 1])] if hard else [_mlp_net(3, [4, 4, 1]), _mlp_net(2, [3, 2])]
    cases = [(net, [{}, {"as_values": True}]) for net in nets]
    return _check_nets("MLP", MLP, Value, cases, seed, points,
                       lambda n: f"{n} forward and backward passes on {', '.join(net.title for net in nets)} "
                                 "match PyTorch")


@guarded("MLP.zero_grad")
def check_zero_grad(MLP: Any, Value: Any, seed: int = 0, hard: bool = False) -> None:
    """``zero_grad()`` sets every parameter's ``.grad`` to 0 and leaves ``.data``
    alone; two backward passes separated by ``zero_grad()`` give the gradients
    of one."""
    title = "MLP.zero_grad"
    _require_engine(Value, title)
    net = _mlp_net(4, [6, 5, 3]) if hard else _mlp_net(3, [4, 4, 1])
    model, ps, orig = _prepare(net, MLP, Value)
    if not callable(getattr(model, "zero_grad", None)):
        raise CheckFailure(f"{title}: {net.title} has no zero_grad() method. Define zero_grad in Module "
                           f"and let Perceptron, Layer and MLP inherit from Module.")
    rng = np.random.default_rng(seed)
    names = net.names()
    Ws, bs, x = _draw(net, rng)
    flat = _flat(Ws, bs)
    _set_data(ps, flat)
    stale = [float(v) for v in _r(rng, len(ps), 0.5, 2.0)]
    for p, g in zip(ps, stale):
        p.grad = g
    call(title, f"{net.title}.zero_grad()", model.zero_grad)
    left = [k for k, p in enumerate(ps) if not close(float(p.grad), 0.0, 0.0, 0.0)]
    if len(left) == len(ps):
        raise CheckFailure(
            f"{title}: after {net.title}.zero_grad() no gradient was reset (e.g. {names[0]}.grad is "
            f"still {fmt(float(ps[0].grad))}, was {fmt(stale[0])}). zero_grad must set p.grad = 0 for "
            f"every p in self.parameters()."
        )
    if left:
        k = left[0]
        raise CheckFailure(
            f"{title}: after {net.title}.zero_grad() {len(left)} of {len(ps)} gradients were not "
            f"reset, e.g. {names[k]}.grad is still {fmt(float(ps[k].grad))}. zero_grad must reach "
            f"every parameter of every layer: loop over self.parameters()."
        )
    for k, p in enumerate(ps):
        if not close(float(p.data), flat[k], 0.0, 0.0):
            raise CheckFailure(
                f"{title}: {net.title}.zero_grad() changed {names[k]}.data from {fmt(flat[k])} to "
                f"{fmt(float(p.data))}. zero_grad must only reset .grad, never the parameters."
            )
    # two passes with zero_grad in between: the gradients of one pass
    acts = ["relu" if r else "id" for r in net.relu]
    tW, tb = _unflat(net, flat)
    for t in (*tW, *tb):
        t.requires_grad_(True)
    _forward(tW, tb, x, acts)[-1].sum().backward()
    want = _flat([t.grad.numpy() for t in tW], [t.grad.numpy() for t in tb])
    for step in (1, 2):
        call(title, f"{net.title}.zero_grad() (before pass {step})", model.zero_grad)
        out = call("MLP.__call__", f"computing {net.title}(x) with x = {_xs(x)}", model, list(x))
        outs = _outputs(net, out, Value, f"{net.title}(x) with x = {_xs(x)}")
        total = call(title, "adding up the outputs", functools.reduce, lambda a, b: a + b, outs)
        call(title, "calling backward() on the sum of the outputs", total.backward)
    for k, (p, wg) in enumerate(zip(ps, want)):
        g = float(p.grad)
        if close(g, wg, RTOL, ATOL):
            continue
        hint = (" It is twice the gradient of one pass: the gradient of the first pass was not "
                "reset by zero_grad()." if close(g, 2 * wg) else "")
        raise CheckFailure(
            f"{title}: after zero_grad(), forward, backward, then zero_grad(), forward, backward "
            f"again with x = {_xs(x)}, {names[k]}.grad is {fmt(g)} but should be {fmt(wg)} (the "
            f"gradient of one pass).{hint}"
        )
    passed(title, f"{len(ps)} gradients reset to 0, data untouched, no accumulation across passes")


# --------------------------------------------------------------------------
# A trained classifier on a 2-D toy problem
# --------------------------------------------------------------------------
#: Training accuracy the trained network must reach on the toy problem.
TRAINED_ACCURACY = 0.85


def _data_of(v: Any) -> Any:
    """``v.data`` for a Value, ``v`` itself for a number (numpy scalars have a ``.data`` too)."""
    return v if isinstance(v, (int, float, np.number, np.ndarray)) else getattr(v, "data", v)


def _score(model: Any, x: Sequence[float], Value: type) -> float:
    out = call("MLP.__call__", f"computing model(x) with x = {_xs(x)}", model, list(x))
    if isinstance(out, (list, tuple)):
        if len(out) != 1:
            raise CheckFailure(f"check_trained_classifier: model(x) returned {len(out)} outputs; a "
                               f"classifier of ±1 labels has one output (MLP(2, [..., 1])).")
        out = out[0]
    return as_number("MLP.__call__", "model(x).data", _data_of(out))


@guarded("check_trained_classifier")
def check_trained_classifier(model: Any, X: Sequence[Sequence[float]], y: Sequence[int],
                             losses: Sequence[Any], Value: Any) -> None:
    """After training: ``losses`` (one per step) fell, and ``sign(model(x))``
    equals the label ``y`` (±1) for at least 90% of the points ``X``.
   """
    title = "check_trained_classifier"
    _require_engine(Value, title)
    ls = [as_number(title, f"losses[{i}]", _data_of(v)) for i, v in enumerate(losses)]
    if len(ls) < 2:
        raise CheckFailure(f"{title}: losses has {len(ls)} entries; append the loss of every training "
                           f"step (as a float: loss.data).")
    if not all(np.isfinite(ls)):
        raise CheckFailure(f"{title}: the loss became nan or inf during training: lower the learning rate.")
    if not ls[-1] < ls[0]:
        raise CheckFailure(
            f"{title}: the loss went from {fmt(ls[0])} to {fmt(ls[-1])}; it should fall. In each step: "
            f"zero_grad(), forward, loss.backward(), then p.data -= lr * p.grad for every parameter."
        )
    scores = [_score(model, x, Value) for x in X]
    right = sum(1 for s, t in zip(scores, y) if (s > 0) == (t > 0))
    acc = right / len(y)
    if acc < TRAINED_ACCURACY:
        raise CheckFailure(
            f"{title}: the trained network puts {right} of {len(y)} points ({acc:.0%}) on the side of "
            f"their label (sign of model(x) = y); it should reach {TRAINED_ACCURACY:.0%}. Train for more "
            f"steps, or with a larger learning rate or more hidden units."
        )
    passed(title, f"loss {fmt(ls[0])} -> {fmt(ls[-1])} in {len(ls)} steps; {acc:.0%} of the points "
                  f"classified correctly")
