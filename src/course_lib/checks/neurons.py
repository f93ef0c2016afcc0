"""Checks of notebook 03, part 1: a neuron, a layer of neurons and an MLP built on the
student's own scalar ``Value`` (micrograd's convention):

- ``Perceptron(nin, nonlin=True)``: ``p(x) = relu(Σᵢ wᵢ xᵢ + b)`` (no ReLU with
  ``nonlin=False``); ``w`` is a list of ``nin`` Values, ``b`` a Value,
  ``parameters() = w + [b]``; ``x`` holds numbers or Values;
- ``Layer(nin, nout, **kwargs)``: ``neurons``, ``nout`` Perceptrons built with
  ``kwargs``; ``layer(x)`` is the list of their outputs (a bare Value is accepted
  when ``nout == 1``);
- ``MLP(nin, nouts)``: ``layers``; ReLU in the hidden layers, the last one linear.

Each check overwrites the ``.data`` of the Values from ``parameters()`` (which must
be the network's own, in order, and not all equal at the start), runs a forward
pass and ``backward()`` on the sum of the outputs, and compares the outputs and
every gradient with the same network in torch.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._harness import CheckFailure, as_number, call, close, fmt, guarded
from ._scalar_net import (ACTS, ATOL, RTOL, Net, build_net, draw_numbers, flatten, fmt_list, layer_net, mlp_net,
                          outputs_of, perceptron_net, require_engine, set_data, torch_forward, unflatten)
from .partial import score

__all__ = ["check_perceptron", "check_layer", "check_mlp", "prepare"]

_ORDER = ("for each neuron its weights w[0], ..., w[nin-1] and then its bias b; neurons in "
          "order; layers in order")


# --------------------------------------------------------------------------
# parameters(): objects, count, order
# --------------------------------------------------------------------------
def _neurons_of(net: Net, model: Any) -> list[list[Any]]:
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


def _expected_objects(net: Net, model: Any, Value: type) -> list[Any]:
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


def _get_params(net: Net, model: Any, Value: type) -> list[Any]:
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


def _check_distinct_init(net: Net, ps: list[Any]) -> None:
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
# Forward and backward against the oracle
# --------------------------------------------------------------------------
def _forward_hint(net: Net, got: list[float], Ws: list[torch.Tensor], bs: list[torch.Tensor],
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
        pred = torch_forward(W_, b_, x, a, bias=kw.get("bias", True), skip=kw.get("skip"))[-1]
        if pred.shape[0] == len(got) and all(close(g, float(p), RTOL, ATOL) for g, p in zip(got, pred)):
            return " " + hint
    return ""


def _reset_grads(ps: list[Any]) -> None:
    for p in ps:
        p.grad = 0.0


def _run(net: Net, model: Any, Value: type, ps: list[Any], Ws: list[np.ndarray], bs: list[np.ndarray],
         x: Sequence[float], as_values: bool, orig_flat: list[float], backward: bool = True) -> None:
    """One forward pass (and backward on the sum of outputs) checked against torch."""
    flat = flatten(Ws, bs)
    set_data(ps, flat)
    _reset_grads(ps)
    acts = ["relu" if r else "id" for r in net.relu]
    tW, tb = unflatten(net, flat)
    for t in (*tW, *tb):
        t.requires_grad_(True)
    want = torch_forward(tW, tb, x, acts)[-1]
    xin: list[Any] = [call(f"{net.cls}.__call__", f"Value({fmt(v)})", Value, v) for v in x] if as_values else list(x)
    kind = "Values" if as_values else "floats"
    if net.kind == "perceptron":
        where = (f"{net.title}(x) with w = {fmt_list(flat[:-1])}, b = {fmt(flat[-1])} (set by the check) "
                 f"and x = {fmt_list(x)} (as {kind})")
    else:
        where = f"{net.title}(x) with x = {fmt_list(x)} (as {kind}), parameters set by the check"
    out = call(f"{net.cls}.__call__", f"computing {net.title}(x) with x = {fmt_list(x)} (as {kind})", model, xin)
    outs = outputs_of(net, out, Value, f"{net.title}(x) with x = {fmt_list(x)} (as {kind})")
    got = [as_number(f"{net.cls}.__call__", f"for {where}, output {k}'s .data", o.data)
           for k, o in enumerate(outs)]
    wd = want.detach()
    for k, g in enumerate(got):
        if not close(g, float(wd[k]), RTOL, ATOL):
            hint = _forward_hint(net, got, [t.detach() for t in tW], [t.detach() for t in tb], x,
                                 unflatten(net, orig_flat))
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
    tgrad = flatten([t.grad.numpy() for t in tW], [t.grad.numpy() for t in tb])
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
            h = ACTS[acts[l]](F.linear(h, W.detach(), b.detach()))
        h.sum().backward()
        for k, (xv, wg) in enumerate(zip(xin, tx.grad.tolist())):
            g = float(xv.grad)
            if not close(g, wg, RTOL, ATOL):
                raise CheckFailure(
                    f"{net.cls}.__call__: for {where}, after backward() x[{k}].grad is {fmt(g)} but "
                    f"should be {fmt(wg)}. When x holds Values, use them as they are in the "
                    f"expression (not x[i].data), so gradients reach the inputs too."
                )


def prepare(net: Net, cls: Any, Value: type) -> tuple[Any, list[Any], list[float]]:
    model = build_net(net, cls)
    if not hasattr(model, "parameters"):
        raise CheckFailure(f"{net.cls}: {net.title} has no parameters() method. Does {net.cls} "
                           f"inherit from Module and define parameters()?")
    ps = _get_params(net, model, Value)
    orig = [as_number(f"{net.cls}.__init__", f"in {net.title}, {net.names()[k]}.data", p.data)
            for k, p in enumerate(ps)]
    _check_distinct_init(net, ps)
    return model, ps, orig


def _check_nets(title: str, cls: Any, Value: Any, cases: Sequence[tuple[Net, list[dict]]], seed: int,
                points: float | None, detail: Callable[[int], str]) -> float | None:
    """Every forward and backward pass of ``cases``; with ``points``, each pass earns its share
    (:mod:`.partial`). The random numbers are drawn first, so they do not depend on what fails."""
    require_engine(Value, title)
    rng = np.random.default_rng(seed)
    drawn = [(k, net, run, draw_numbers(net, rng, run.get("targets"))) for k, (net, runs) in enumerate(cases) for run in runs]
    prepared: dict[int, Any] = {}

    def one(k: int, net: Net, run: dict, numbers: tuple) -> None:
        if k not in prepared:
            try:
                prepared[k] = prepare(net, cls, Value)
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
        (perceptron_net(nin, True), [{"targets": [0.7], "as_values": True}, {"targets": [-0.6]}]),
        (perceptron_net(nin, False), [{"targets": [-0.8]}, {"targets": [1.3], "as_values": True}]),
    ]
    if hard:
        cases.append((perceptron_net(1, True), [{"targets": [0.4]}, {"targets": [-1.1], "as_values": True}]))
    return _check_nets("Perceptron", Perceptron, Value, cases, seed, points,
                       lambda n: f"{n} forward and backward passes, with and without ReLU, match PyTorch")


@guarded("Layer")
def check_layer(Layer: Any, Value: Any, seed: int = 0, hard: bool = False,
                points: float | None = None) -> float | None:
    """``Layer(nin, nout)`` (ReLU), ``Layer(nin, nout, nonlin=False)`` and ``nout == 1``
    (a one-item list or a bare Value): outputs and gradients against torch."""
    if hard:
        nets = [layer_net(5, 6, True), layer_net(4, 3, False), layer_net(3, 1, False)]
    else:
        nets = [layer_net(3, 4, True), layer_net(3, 2, False), layer_net(2, 1, True)]
    cases = [(net, [{}, {"as_values": True}]) for net in nets]
    return _check_nets("Layer", Layer, Value, cases, seed, points,
                       lambda n: f"{n} forward and backward passes on {len(nets)} layers match PyTorch")


@guarded("MLP")
def check_mlp(MLP: Any, Value: Any, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``MLP(nin, nouts)``: ReLU hidden layers, a linear last layer, ``parameters()``
    in order; outputs and every gradient against torch."""
    nets = [mlp_net(4, [6, 5, 3]), mlp_net(3, [5, 1])] if hard else [mlp_net(3, [4, 4, 1]), mlp_net(2, [3, 2])]
    cases = [(net, [{}, {"as_values": True}]) for net in nets]
    return _check_nets("MLP", MLP, Value, cases, seed, points,
                       lambda n: f"{n} forward and backward passes on {', '.join(net.title for net in nets)} "
                                 "match PyTorch")
