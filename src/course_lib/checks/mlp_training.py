"""Checks of training notebook 03's scalar MLP by gradient descent: each step is
``zero_grad()``, forward, ``loss.backward()``, then ``p.data ← p.data − lr · p.grad``.

- ``zero_grad()`` sets every parameter's ``.grad`` to 0 and leaves ``.data`` alone,
  so two backward passes separated by it give the gradients of one (no accumulation);
- after training on a 2-D toy problem the losses fell and ``sign(model(x))`` equals
  the label ``y = ±1`` for at least :data:`TRAINED_ACCURACY` of the points.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from ._harness import CheckFailure, as_number, call, close, fmt, guarded, passed
from ._scalar_net import (ATOL, RTOL, draw_numbers, flatten, fmt_list, mlp_net, outputs_of, require_engine,
                          rounded_uniform, set_data, torch_forward, unflatten)
from .neurons import prepare

__all__ = ["check_zero_grad", "check_trained_classifier", "TRAINED_ACCURACY"]


@guarded("MLP.zero_grad")
def check_zero_grad(MLP: Any, Value: Any, seed: int = 0, hard: bool = False) -> None:
    """``zero_grad()`` sets every parameter's ``.grad`` to 0 and leaves ``.data``
    alone; two backward passes separated by ``zero_grad()`` give the gradients
    of one."""
    title = "MLP.zero_grad"
    require_engine(Value, title)
    net = mlp_net(4, [6, 5, 3]) if hard else mlp_net(3, [4, 4, 1])
    model, ps, orig = prepare(net, MLP, Value)
    if not callable(getattr(model, "zero_grad", None)):
        raise CheckFailure(f"{title}: {net.title} has no zero_grad() method. Define zero_grad in Module "
                           f"and let Perceptron, Layer and MLP inherit from Module.")
    rng = np.random.default_rng(seed)
    names = net.names()
    Ws, bs, x = draw_numbers(net, rng)
    flat = flatten(Ws, bs)
    set_data(ps, flat)
    stale = [float(v) for v in rounded_uniform(rng, len(ps), 0.5, 2.0)]
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
    tW, tb = unflatten(net, flat)
    for t in (*tW, *tb):
        t.requires_grad_(True)
    torch_forward(tW, tb, x, acts)[-1].sum().backward()
    want = flatten([t.grad.numpy() for t in tW], [t.grad.numpy() for t in tb])
    for step in (1, 2):
        call(title, f"{net.title}.zero_grad() (before pass {step})", model.zero_grad)
        out = call("MLP.__call__", f"computing {net.title}(x) with x = {fmt_list(x)}", model, list(x))
        outs = outputs_of(net, out, Value, f"{net.title}(x) with x = {fmt_list(x)}")
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
            f"again with x = {fmt_list(x)}, {names[k]}.grad is {fmt(g)} but should be {fmt(wg)} (the "
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
    out = call("MLP.__call__", f"computing model(x) with x = {fmt_list(x)}", model, list(x))
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
    require_engine(Value, title)
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
