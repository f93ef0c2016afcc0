"""Checks for notebook 04, part 3: Adam with bias correction, in numpy.

The student's ``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
bias_correction=True)`` keeps a list of numpy arrays and ``step(grads)``
updates each of them IN PLACE. The oracle is ``torch.optim.Adam`` in float64:
both get the same gradient at every step (the gradient of a fixed smooth
function at torch's current parameters) and the parameters are compared
after every step. With ``bias_correction=False`` the first step is compared
with its closed form ``lr * (1 - b1) g / (sqrt(1 - b2) |g| + eps)``.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from ._arrays import as_array
from ._harness import CheckFailure, call, fmt, guarded
from .partial import score

__all__ = ["check_adam"]

RTOL, ATOL = 1e-6, 1e-10


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
