"""Checks of the optimisers, in numpy: SGD with momentum (notebook 03) and Adam with
bias correction (notebook 04, part 3). Each is compared step by step with its
``torch.optim`` counterpart in float64.

- ``SGD(model, lr, momentum)`` updates every layer in ``model.layers`` (each with
  ``W``, ``b``, ``dLdW``, ``dLdb``) in ``step()``: ``v ← μv + dLdW``,
  ``W ← W − lr·v`` (PyTorch's convention, no dampening), one velocity per
  parameter. The check's model holds only layers with parameters (as in
  MyTorch), so an SGD that skips parameter-free layers passes too.
- ``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bias_correction=True)``
  keeps a list of numpy arrays and ``step(grads)`` updates each IN PLACE:
  ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``,
  ``p ← p − lr·m̂ / (√v̂ + eps)`` with ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``.
  Both get the same gradient at every step (the gradient of a fixed smooth
  function at torch's current parameters). With ``bias_correction=False`` the
  first step is compared with its closed form
  ``lr * (1 - b1) g / (sqrt(1 - b2) |g| + eps)``.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from ._arrays import as_array
from ._harness import CheckFailure, call, fmt, guarded
from ._layer_harness import call_quiet, compare_layer, to_numpy
from .partial import score

__all__ = ["check_sgd", "check_adam"]


# --------------------------------------------------------------------------
# Adam with bias correction
# --------------------------------------------------------------------------
RTOL, ATOL = 1e-6, 1e-10  # Adam's; SGD compares at the layers' tolerance (_layer_harness)


def _objective(ps: list[torch.Tensor], coef: list[torch.Tensor]) -> torch.Tensor:
    """A smooth, non-quadratic function of the parameters."""
    return sum(((c * p ** 2).sum() + torch.sin(3 * p).sum() + 0.1 * (p ** 4).sum())
               for p, c in zip(ps, coef))


def _variant(p0: list[np.ndarray], grads: list[list[np.ndarray]], lr: float, b1: float, b2: float,
             eps: float, kind: str) -> list[np.ndarray]:
    """Parameters after ``grads`` under a usual WRONG update rule (for hints only)."""
    ps = [p.copy() for p in p0]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            c1, c2 = {"none": (1.0, 1.0), "no_power": (1 - b1, 1 - b2),
                      "eps_inside": (1 - b1 ** t, 1 - b2 ** t),
                      "no_sqrt": (1 - b1 ** t, 1 - b2 ** t), "uphill": (1 - b1 ** t, 1 - b2 ** t)}[kind]
            mh, vh = m[i] / c1, v[i] / c2
            if kind == "uphill":
                ps[i] += lr * mh / (np.sqrt(vh) + eps)
            elif kind == "eps_inside":
                ps[i] -= lr * mh / np.sqrt(vh + eps)
            elif kind == "no_sqrt":
                ps[i] -= lr * mh / (vh + eps)
            else:
                ps[i] -= lr * mh / (np.sqrt(vh) + eps)
    return ps


HINTS = {
    "none": "This is Adam WITHOUT bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t).",
    "no_power": "The bias correction uses 1 - beta instead of 1 - beta**t: t is the step count, "
                "starting at 1 and increased by every call to step().",
    "eps_inside": "eps is inside the square root: torch computes m_hat / (sqrt(v_hat) + eps).",
    "no_sqrt": "The square root of v_hat is missing in the denominator.",
    "uphill": "The step goes uphill: SUBTRACT lr * m_hat / (sqrt(v_hat) + eps) from the parameter.",
}


def _run(Adam: type, p0: list[np.ndarray], coef: list[np.ndarray], steps: int, lr: float,
         betas: tuple[float, float], eps: float) -> None:
    desc = f"Adam(params, lr={fmt(lr)}, betas=({fmt(betas[0])}, {fmt(betas[1])}), eps={fmt(eps)})"
    mine = [p.copy() for p in p0]
    opt = call("Adam.__init__", f"creating {desc}", Adam, mine, lr=lr, betas=betas, eps=eps)
    tp = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in p0]
    tc = [torch.tensor(c, dtype=torch.float64) for c in coef]
    ref = torch.optim.Adam(tp, lr=lr, betas=betas, eps=eps)
    fed: list[list[np.ndarray]] = []
    for t in range(1, steps + 1):
        ref.zero_grad()
        _objective(tp, tc).backward()
        grads = [p.grad.detach().numpy().copy() for p in tp]
        fed.append([g.copy() for g in grads])
        before = [p.copy() for p in mine]
        call("Adam.step", f"step {t} of {desc}", opt.step, [g.copy() for g in grads])
        ref.step()
        for i, (p, q) in enumerate(zip(mine, tp)):
            want = q.detach().numpy()
            got = as_array("Adam.step", f"parameter {i} after step {t}", p)
            if np.allclose(got, want, rtol=RTOL, atol=ATOL):
                continue
            if t == 1 and np.array_equal(got, before[i]) and np.array_equal(got, p0[i]):
                raise CheckFailure(
                    f"Adam.step: after step 1 of {desc} parameter {i} did not change. Update the arrays "
                    f"in place (p -= ..., or p[...] = ...): rebinding a name does not change the list "
                    f"you were given.")
            hint = ""
            for kind, text in HINTS.items():
                if np.allclose(got, _variant(p0, fed, lr, *betas, eps, kind)[i], rtol=RTOL, atol=ATOL):
                    hint = text
                    break
            k = int(np.argmax(np.abs(got - want)))
            g, w = float(got.flat[k]), float(want.flat[k])
            raise CheckFailure(
                f"Adam.step: with {desc}, after step {t} entry {k} of parameter {i} is "
                f"{fmt(g, w)} but torch.optim.Adam gives {fmt(w, g)}."
                + (f" {hint}" if hint else "")
                + ("" if t > 1 or hint else " The very first step is already off: check m, v and the update.")
            )


def _check_no_correction(Adam: type) -> None:
    g = np.array([0.5, -2.0, 1e-3])
    p = np.zeros(3)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    opt = call("Adam.__init__", "creating Adam([p], lr=0.1, bias_correction=False)", Adam, [p],
               lr=lr, betas=(b1, b2), eps=eps, bias_correction=False)
    call("Adam.step", "step 1 with bias_correction=False", opt.step, [g.copy()])
    want = -lr * (1 - b1) * g / (np.sqrt(1 - b2) * np.abs(g) + eps)
    if not np.allclose(p, want, rtol=RTOL, atol=ATOL):
        raise CheckFailure(
            f"Adam(bias_correction=False): from p = 0 with gradient {g.tolist()}, lr=0.1, one step should "
            f"give {np.array2string(want, precision=6)} (m and v NOT divided by 1 - beta**t) but gives "
            f"{np.array2string(np.asarray(p), precision=6)}. Does the flag switch the correction off?")


@guarded("Adam")
def check_adam(Adam: Any, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """Adam matches torch.optim.Adam step by step; bias_correction=False switches it off. With
    ``points``, each setting earns its share (:mod:`.partial`)."""
    if not isinstance(Adam, type):
        raise CheckFailure(f"Adam: expected the class Adam itself, got a {type(Adam).__name__}.")
    rng = np.random.default_rng(seed)
    # a large eps in the last one makes its place (outside the square root) visible
    configs = [(0.01, (0.9, 0.999), 1e-8, 6), (0.05, (0.5, 0.9), 1e-8, 6), (0.02, (0.9, 0.99), 0.1, 4)]
    if hard:
        configs += [(0.1, (0.8, 0.99), 1e-6, 25), (0.003, (0.95, 0.9999), 1e-8, 12)]
    parts = []
    for lr, betas, eps, steps in configs:
        p0 = [rng.normal(size=(3, 2)), rng.normal(size=4)]
        coef = [rng.uniform(0.2, 2.0, size=(3, 2)), rng.uniform(0.2, 2.0, size=4)]
        parts.append((f"lr={lr}, betas={betas}, eps={eps:g}, {steps} steps",
                      functools.partial(_run, Adam, p0, coef, steps, lr, betas, eps)))
    parts.append(("bias_correction=False", functools.partial(_check_no_correction, Adam)))
    return score("Adam", parts, points, "every step matches torch.optim.Adam; bias_correction=False works")


# --------------------------------------------------------------------------
# SGD with momentum
# --------------------------------------------------------------------------
class _ParamLayer:
    """What SGD sees of a layer: W, b and their gradients."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W, self.b = W, b
        self.dLdW, self.dLdb = np.zeros_like(W), np.zeros_like(b)

    def __repr__(self) -> str:
        return f"Layer(W of shape {self.W.shape}, b of shape {self.b.shape})"


class _Model:
    """A model as SGD sees it: a list of layers."""

    def __init__(self, layers: list[_ParamLayer]):
        self.layers = layers


def _simulate(variant: str, params: list[np.ndarray], grads: list[list[np.ndarray]], lr: float, mu: float
              ) -> list[list[np.ndarray]]:
    """Parameters after each step under a (possibly wrong) update rule."""
    p = [x.copy() for x in params]
    v = [np.zeros_like(x) for x in params]
    out = []
    for k, gs in enumerate(grads):
        for i, g in enumerate(gs):
            if variant == "no_momentum":
                p[i] = p[i] - lr * g
            elif variant == "ascent":
                v[i] = mu * v[i] + g
                p[i] = p[i] + lr * v[i]
            elif variant == "velocity_minus":
                v[i] = -mu * v[i] + g
                p[i] = p[i] - lr * v[i]
            elif variant == "lr_twice":
                v[i] = mu * v[i] + lr * g
                p[i] = p[i] - lr * v[i]
            elif variant == "dampened":
                v[i] = mu * v[i] + (1 - mu) * g
                p[i] = p[i] - lr * v[i]
            elif variant == "nothing":
                pass
            elif variant == "bias_frozen":
                if i % 2 == 0:
                    v[i] = mu * v[i] + g
                    p[i] = p[i] - lr * v[i]
            elif variant == "no_decay":
                v[i] = v[i] + g
                p[i] = p[i] - lr * v[i]
        out.append([x.copy() for x in p])
    return out


_SGD_HINTS = {
    "ascent": "The update goes uphill: W := W − lr · v (minus), moving AGAINST the gradient.",
    "no_momentum": "The momentum is ignored or the velocity is not kept between steps: keep v_W[i], "
                   "v_b[i] in self (made in __init__), v := μ v + dLdW, then W := W − lr · v.",
    "velocity_minus": "The velocity's sign: v := μ v + dLdW (plus μ v), then W := W − lr · v.",
    "lr_twice": "The learning rate is applied twice: v := μ v + dLdW (no lr here), then W := W − lr · v.",
    "dampened": "No dampening: v := μ v + dLdW, not μ v + (1 − μ) dLdW.",
    "bias_frozen": "b is not updated: step() updates W AND b of every layer.",
    "nothing": "Nothing changed: step() must update each layer's own arrays (self.l[i].W = ... "
               "where self.l = model.layers), not copies.",
    "no_decay": "The velocity is not scaled by the momentum: v := μ v + dLdW.",
}


class _TorchSGD:
    """PyTorch's SGD update (``torch.optim.SGD``'s own functional form, which
    avoids the ~1 s import of torch._dynamo that the class pays on first use)."""

    def __init__(self, params: list[torch.Tensor], lr: float, momentum: float):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buffers: list[torch.Tensor | None] = [None] * len(params)
        self._opt = None

    def step(self, grads: list[torch.Tensor]) -> None:
        try:
            from torch.optim.sgd import sgd

            with torch.no_grad():
                sgd(self.params, grads, self.buffers, weight_decay=0.0, momentum=self.momentum,
                    lr=self.lr, dampening=0.0, nesterov=False, maximize=False, foreach=False)
            return
        except (ImportError, TypeError):  # another torch version: use the class
            pass
        if self._opt is None:
            for p in self.params:
                p.requires_grad_(True)
            self._opt = torch.optim.SGD(self.params, lr=self.lr, momentum=self.momentum)
        for p, g in zip(self.params, grads):
            p.grad = g
        self._opt.step()


@guarded("SGD")
def check_sgd(SGD: type, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``SGD(model, lr=..., momentum=...)``, several ``step()`` calls on a model
    with ``.layers`` (each with ``W``, ``b``, ``dLdW``, ``dLdb``), against
    ``torch.optim.SGD`` (momentum μ, no dampening). With ``points``, each setting earns its share
    (:mod:`.partial`)."""
    if not isinstance(SGD, type):
        raise CheckFailure(f"SGD: expected the class SGD itself, got a {type(SGD).__name__}. "
                           f"Pass the class, e.g. check(SGD), not an instance.")
    rng = np.random.default_rng(seed + 800)
    settings = [(0.1, 0.0), (round(float(rng.uniform(0.05, 0.3)), 3), 0.9)]
    if hard:
        settings.append((round(float(rng.uniform(0.01, 0.1)), 3), round(float(rng.uniform(0.5, 0.8)), 2)))
    steps = 5 if hard else 3
    def case(lr: float, mu: float) -> None:
        sizes = [(3, 4), (2, 3)] if not hard else [(5, 3), (4, 5), (2, 4)]
        layers = [_ParamLayer(np.round(rng.normal(size=s), 3), np.round(rng.normal(size=(s[0], 1)), 3))
                  for s in sizes]
        params0 = [x for layer in layers for x in (layer.W.copy(), layer.b.copy())]
        grads = [[np.round(rng.normal(size=x.shape), 3) for x in params0] for _ in range(steps)]
        tparams = [torch.tensor(x, dtype=torch.float64) for x in params0]
        oracle = _TorchSGD(tparams, lr, mu)
        model = _Model(layers)
        desc = f"SGD(model, lr={lr}, momentum={mu}) on a model of {len(layers)} layers"
        optimizer = call("SGD.__init__", f"creating {desc}", SGD, model, lr=lr, momentum=mu)
        variants = {name: _simulate(name, params0, grads, lr, mu) for name in _SGD_HINTS}
        for k, gs in enumerate(grads):
            for i, layer in enumerate(layers):
                layer.dLdW, layer.dLdb = gs[2 * i].copy(), gs[2 * i + 1].copy()
            oracle.step([torch.tensor(g, dtype=torch.float64) for g in gs])
            call_quiet("SGD.step", f"{desc}, step {k + 1}", optimizer.step)
            for i, layer in enumerate(layers):
                for j, name in enumerate(("W", "b")):
                    idx = 2 * i + j
                    got = getattr(layer, name)
                    mistakes = [(v[k][idx], hint) for key, v in variants.items()
                                for hint in [_SGD_HINTS[key]]]
                    if mu == 0.0:
                        mistakes = [m for m in mistakes if "momentum" not in m[1] and "velocity" not in m[1]]
                    compare_layer("SGD.step", f"for {desc}, after step {k + 1}", f"model.layers[{i}].{name}",
                                  got, to_numpy(tparams[idx]), mistakes)
    parts = [(f"lr={lr}, momentum={mu}", functools.partial(case, lr, mu)) for lr, mu in settings]
    return score("SGD", parts, points,
                 f"{len(settings)} settings (with and without momentum), {steps} steps each; parameters match "
                 "torch.optim.SGD")
