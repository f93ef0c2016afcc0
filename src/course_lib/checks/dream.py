"""Checks for notebook 07 (DeepDream): the student's ``gradient_descent`` on the image.

Two kinds of test:

- on a *spy* classifier whose scores are linear in the input, s_c(x) = ⟨W_c, x⟩,
  the gradient is the same at every step, so plain steps x ← x − lr·∇E with
  E = −s_target, jittered by the shifts s_t that ``random_shift`` hands out and
  undone afterwards, end exactly at x_0 + lr·Σ_t roll(W_target, −s_t). The
  usual mistakes end elsewhere, at places that can be written down too (the
  opposite sign, gradients summed over steps, the jitter left in), so the
  message can name them. The spy also notices training mode and changed weights;
- the refinements on the same spy, with ``max_shift=0`` (so the gradient is the
  same at every step and no jitter seam meets a blur): each option alone, then
  all together, against the notebook's recipe: blur the gradient (``grad_sigma``)
  before the step; after it shrink, blur and clamp x. Where the notebook leaves a
  choice it is accepted: the order of the three after-step operations, clamping
  at the end only, and any Gaussian blur (border mode, truncation at two sigma or
  more, scipy or torchvision): results with a blur are compared away from the
  border, within 5% of one step. Each option ignored, or with its usual slip,
  ends somewhere that is written down, so the message names the option;
- octaves on a spy whose linear scores exist at every size (smooth weight
  fields) and which records every input it sees: the sizes, their order and
  where each octave starts are read off exactly, starting from a constant image
  so that a restart from the original shows whatever resize the student used;
- on the real classifier, after a fixed budget, the target's logit must have
  risen and the target must have won (or its probability risen).
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Any, Callable

import torch
from torch import nn

from ..dream import images as I
from ..dream.hooks import LayerActivation
from ..dream.models import Classifier
from ._harness import CheckFailure, call, fmt, guarded, passed
from .partial import score

__all__ = ["check_gradient_descent", "check_layer_objective", "check_octaves"]


class _Spy(nn.Module):
    """Scores linear in the input; remembers whether it ran in training mode and
    every input it saw. At its own size the weights are ``W`` (random); at any
    other size (octaves) they are a smooth field sampled at that size."""

    def __init__(self, channels: int, size: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(10, channels, size, size, generator=g))
        self.coef = torch.randn(10, channels, 5, generator=g)
        self.modes: list[bool] = []
        self.inputs: list[torch.Tensor] = []

    def weights(self, h: int, w: int) -> torch.Tensor:
        if (h, w) == tuple(self.W.shape[-2:]):
            return self.W
        u = ((torch.arange(h) + 0.5) / h).view(-1, 1)
        v = ((torch.arange(w) + 0.5) / w).view(1, -1)
        basis = torch.stack([torch.ones(h, w).expand(h, w), torch.cos(math.pi * u).expand(h, w),
                             torch.cos(math.pi * v).expand(h, w), torch.cos(math.pi * u) * torch.cos(math.pi * v),
                             torch.sin(math.pi * u) * torch.sin(math.pi * v)])
        return torch.einsum("kcb,bhw->kchw", self.coef, basis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        self.inputs.append(x.detach().clone())
        return torch.einsum("nchw,kchw->nk", x, self.weights(*x.shape[-2:]))


def _spy_classifier(seed: int, size: int = 12) -> Classifier:
    spy = _Spy(1, size, seed)
    spy.train()
    return Classifier(spy, "spy", [str(d) for d in range(10)], (0.5,), (0.25,), 1, size, {}, "spy", lr=0.01)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))


def _spy_run(gradient_descent: Callable[..., Any], seed: int, steps: int, max_shift: int, target: int) -> None:
    clf = _spy_classifier(seed)
    spy: _Spy = clf.model  # type: ignore[assignment]
    W0 = spy.W.detach().clone()
    g = torch.Generator().manual_seed(seed + 1)
    image = torch.rand(1, 1, 12, 12, generator=g)
    lr = 0.01
    before = len(I.shift_log)
    where = f"on a test classifier whose scores are linear in the image (steps={steps}, lr={lr}, max_shift={max_shift})"
    out = call("gradient_descent", f"gradient_descent(image, clf, target={target}, ...) {where}", gradient_descent,
               image.clone(), clf, target, steps=steps, lr=lr, max_shift=max_shift)
    shifts = I.shift_log[before:]
    if not torch.equal(spy.W.detach(), W0):
        raise CheckFailure("gradient_descent: the model's weights changed. DeepDream changes only the IMAGE: step "
                           "with the gradient of the input (x.grad), never with the parameters' gradients, and do "
                           "not call an optimizer over model.parameters().")
    if any(spy.modes):
        raise CheckFailure("gradient_descent: the model ran in training mode (model.training was True), where dropout "
                           "and batch norm change the function at every step. Call clf.model.eval() first.")
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"gradient_descent: returned {type(out).__name__}; return the image as a tensor of the "
                           f"input's shape {tuple(image.shape)}, in pixel units (to_image(...)).")
    out = out.detach()
    if out.shape != image.shape:
        raise CheckFailure(f"gradient_descent: returned shape {tuple(out.shape)}, the input had {tuple(image.shape)}.")
    if len(shifts) != steps:
        raise CheckFailure(f"gradient_descent: random_shift was called {len(shifts)} times in {steps} steps; call it "
                           f"once per step (from course_lib.dream), jitter with that shift, and undo it.")
    x0 = I.to_model_input(image, clf.mean, clf.std)
    Wt = W0[target:target + 1]
    pixels = lambda x: I.to_image(x, clf.mean, clf.std)  # noqa: E731
    right = pixels(x0 + lr * sum(I.jitter(Wt, (-a, -b)) for a, b in shifts))
    if _close(out, right):
        return
    if _close(out, image):
        raise CheckFailure("gradient_descent: the image did not change. Is the gradient taken with respect to the "
                           "image (x.requires_grad_(True), then x.grad), and is the step applied to x.data?")
    wrong_sign = pixels(x0 - lr * sum(I.jitter(Wt, (-a, -b)) for a, b in shifts))
    if _close(out, wrong_sign):
        raise CheckFailure("gradient_descent: the image moved in the wrong direction: the target's score FELL. The "
                           "energy is E = −score[target]; a descent step is x ← x − lr·∂E/∂x (or, the same, "
                           "x ← x + lr·∂score/∂x). Check the sign of the energy and of the step.")
    summed = pixels(x0 + lr * sum((t + 1) * I.jitter(Wt, (-a, -b)) for t, (a, b) in enumerate(shifts)))
    if _close(out, summed):
        raise CheckFailure("gradient_descent: the gradients are summed over the steps: x.grad is never reset, so "
                           "each backward() adds to the last. Zero it after every step (x.grad.zero_()).")
    x = x0.clone()
    for a, b in shifts:
        x = I.jitter(x, (a, b)) + lr * Wt
    if max_shift and _close(out, pixels(x)):
        raise CheckFailure("gradient_descent: the jitter is never undone: the image ends up shifted by the sum of "
                           "all shifts. After each step roll it back with unjitter(x, shift).")
    diff = (out - right).abs().max().item()
    raise CheckFailure(f"gradient_descent: {where} the result differs from plain gradient descent on the image by up "
                       f"to {fmt(diff)} per pixel. Each step: shift = random_shift(max_shift); jitter x; "
                       f"E = −score[target]; backward; x ← x − lr·x.grad; zero x.grad; unjitter x. (Blur, clamping "
                       f"and weight decay must stay off unless asked for.)")


# ----------------------------------------------------------------- the refinements, exactly on the spy
#: The options each run sets; the rest stay off. ``hard`` runs other values on another seed.
_OPTION_RUNS = [dict(weight_decay=0.1), dict(grad_sigma=0.8), dict(blur_sigma=0.6), dict(clamp=True),
                dict(grad_sigma=0.8, weight_decay=0.1, blur_sigma=0.6, clamp=True)]
_OPTION_RUNS_HARD = [dict(weight_decay=0.3), dict(grad_sigma=1.0), dict(blur_sigma=0.8),
                     dict(grad_sigma=1.0, weight_decay=0.3, blur_sigma=0.8),
                     dict(grad_sigma=0.5, weight_decay=0.2, blur_sigma=1.0, clamp=True)]
_OPTION_SIZE, _OPTION_MARGIN, _OPTION_STEPS, _OPTION_LR = 28, 8, 4, 0.2
#: With a blur the result may differ (a border mode, a truncation, another library) by this share of one step.
_BLUR_TOLERANCE = 0.05

_RECIPE = ("Per step: g = x.grad, blurred first when grad_sigma > 0 (g = blur(g, grad_sigma)); x ← x − lr·g; then "
           "x ← (1 − weight_decay)·x, x ← blur(x, blur_sigma) and, with clamp=True, "
           "x ← to_model_input(to_image(x).clamp(0, 1)).")

#: Named slips: (option, variant, message). The variant is simulated; if the student's result matches it,
#: the message is the diagnosis.
_SLIPS: list[tuple[str, str, str]] = [
    ("weight_decay", "decay ignored",
     "weight_decay is ignored: with weight_decay={weight_decay} the image does not shrink towards the mean image. "
     "After each step multiply x (the normalised image) by (1 − weight_decay)."),
    ("weight_decay", "decay times wd",
     "weight_decay: the image should be multiplied by (1 - weight_decay), it looks multiplied by weight_decay "
     "(x ← {weight_decay}·x instead of x ← (1 − {weight_decay})·x)."),
    ("weight_decay", "decay in pixels",
     "weight_decay: the image shrinks towards black (the pixels, to_image(x), were multiplied by "
     "(1 − weight_decay)); it should shrink towards the mean image: multiply the normalised x, "
     "x ← (1 − weight_decay)·x."),
    ("weight_decay", "decay before step",
     "weight_decay: x is shrunk before the step; shrink it after the step (x ← x − lr·g, then "
     "x ← (1 − weight_decay)·x)."),
    ("weight_decay", "decay as L2",
     "weight_decay: it acts as an L2 penalty in the gradient (x ← x − lr·(g + weight_decay·x)); the notebook's "
     "decay is x ← (1 − weight_decay)·x after each step, without lr."),
    ("grad_sigma", "grad blur ignored",
     "grad_sigma is ignored: with grad_sigma={grad_sigma} the gradient is not blurred before the step. "
     "Blur it first, g = blur(x.grad, grad_sigma), then step x ← x − lr·g."),
    ("grad_sigma", "grad blur on image",
     "grad_sigma: the image was blurred after the step instead of the gradient before it. grad_sigma blurs the "
     "GRADIENT (g = blur(x.grad, grad_sigma), then x ← x − lr·g); blur_sigma is the image's (are the two "
     "swapped?)."),
    ("blur_sigma", "image blur ignored",
     "blur_sigma is ignored: the image is not blurred after the step (blur_sigma={blur_sigma}). After each step "
     "blur x: x ← blur(x, blur_sigma)."),
    ("blur_sigma", "image blur on gradient",
     "blur_sigma: the gradient was blurred instead of the image. blur_sigma blurs the IMAGE x after each step "
     "(x ← blur(x, blur_sigma)); grad_sigma is the one that blurs the gradient before the step (are the two "
     "swapped?)."),
    ("blur_sigma", "image blur before step",
     "blur_sigma: the image is blurred before the step; blur x after the step, so that the step's own pattern is "
     "smoothed too."),
    ("blur_sigma", "image blur at end",
     "blur_sigma: the image is blurred once, at the end; blur x after every step."),
    ("clamp", "clamp ignored",
     "clamp=True is ignored: the pixels are not kept in [0, 1]. After each step "
     "x ← to_model_input(to_image(x).clamp(0, 1))."),
    ("clamp", "clamp normalised",
     "clamp=True: the normalised x was clamped to [0, 1], not the pixels; clamp in pixel units: "
     "x ← to_model_input(to_image(x).clamp(0, 1))."),
    ("grad_sigma", "sigmas swapped",
     "blur_sigma and grad_sigma are swapped: the gradient was blurred with blur_sigma and the image with "
     "grad_sigma. grad_sigma blurs the gradient before the step, blur_sigma the image after it."),
]


def _simulate(x0: torch.Tensor, Wt: torch.Tensor, steps: int, lr: float, opts: dict, mean: tuple, std: tuple,
              order: tuple[str, ...] = ("decay", "blur", "clamp"), variant: str | None = None) -> torch.Tensor:
    """The notebook's recipe (or ``variant``, a named slip or another allowed order) on the spy, in model units:
    with ``max_shift=0`` the gradient of E = −⟨W_t, x⟩ is −W_t at every step."""
    wd, bs, gs = opts.get("weight_decay", 0.0), opts.get("blur_sigma", 0.0), opts.get("grad_sigma", 0.0)
    clamp = bool(opts.get("clamp", False))
    if variant == "sigmas swapped":
        bs, gs = gs, bs
    pixels = lambda x: I.to_image(x, mean, std)  # noqa: E731
    model = lambda p: I.to_model_input(p, mean, std)  # noqa: E731
    lo, hi = model(torch.zeros(1, 1, 1, 1)).item(), model(torch.ones(1, 1, 1, 1)).item()
    ops = {
        "decay": lambda x: (x * wd if variant == "decay times wd" else
                            model(pixels(x) * (1 - wd)) if variant == "decay in pixels" else
                            x if variant in ("decay ignored", "decay before step", "decay as L2") else
                            x * (1 - wd)) if wd > 0 else x,
        "blur": lambda x: (x if variant in ("image blur ignored", "image blur on gradient", "image blur before step",
                                            "image blur at end") else I.blur(x, bs)) if bs > 0 else x,
        "clamp": lambda x: (x if variant in ("clamp ignored", "clamp at end") else
                            x.clamp(0, 1) if variant == "clamp normalised" else x.clamp(lo, hi)) if clamp else x,
    }
    if gs > 0 and variant == "grad blur on image":
        ops["blur"] = (lambda f: lambda x: I.blur(f(x), gs))(ops["blur"])
    g = -Wt
    if gs > 0 and variant not in ("grad blur ignored", "grad blur on image"):
        g = I.blur(g, gs)
    if bs > 0 and variant == "image blur on gradient":
        g = I.blur(g, bs)
    x = x0.clone()
    for _ in range(steps):
        if wd > 0 and variant == "decay before step":
            x = x * (1 - wd)
        if bs > 0 and variant == "image blur before step":
            x = I.blur(x, bs)
        x = x - lr * (g + wd * x) if wd > 0 and variant == "decay as L2" else x - lr * g
        for name in order:
            x = ops[name](x)
    if bs > 0 and variant == "image blur at end":
        x = I.blur(x, bs)
    if clamp and variant == "clamp at end":
        x = x.clamp(lo, hi)
    return x


def _options_text(opts: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in opts.items())


def _option_run(gradient_descent: Callable[..., Any], seed: int, opts: dict, target: int) -> None:
    size, margin, steps, lr = _OPTION_SIZE, _OPTION_MARGIN, _OPTION_STEPS, _OPTION_LR
    clf = _spy_classifier(seed, size)
    spy: _Spy = clf.model  # type: ignore[assignment]
    W0 = spy.W.detach().clone()
    g = torch.Generator().manual_seed(seed + 1)
    image = 0.3 + 0.4 * torch.rand(1, 1, size, size, generator=g)
    where = (f"gradient_descent(image, clf, target={target}, steps={steps}, lr={lr}, max_shift=0, "
             f"{_options_text(opts)}) on a test classifier whose scores are linear in the image")
    before = len(I.shift_log)
    out = call("gradient_descent", where, gradient_descent, image.clone(), clf, target, steps=steps, lr=lr,
               max_shift=0, **opts)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(image.shape):
        raise CheckFailure(f"gradient_descent: {where} returned {getattr(out, 'shape', type(out).__name__)}; return "
                           f"the image, a tensor of the input's shape {tuple(image.shape)}, in pixel units.")
    if len(I.shift_log) - before != steps:
        raise CheckFailure(f"gradient_descent: {where} called random_shift {len(I.shift_log) - before} times in "
                           f"{steps} steps; call it once per step.")
    got = I.to_model_input(out.detach().cpu().to(image.dtype), clf.mean, clf.std)
    x0 = I.to_model_input(image, clf.mean, clf.std)
    Wt = W0[target:target + 1]
    blurred = opts.get("blur_sigma", 0) > 0 or opts.get("grad_sigma", 0) > 0
    unit = lr * Wt.abs().max().item()
    inner = (slice(None), slice(None), slice(margin, size - margin), slice(margin, size - margin))

    def matches(want: torch.Tensor) -> bool:
        if _close(got, want):
            return True
        return blurred and (got[inner] - want[inner]).abs().max().item() <= _BLUR_TOLERANCE * unit

    def simulate(**kw: Any) -> torch.Tensor:
        return _simulate(x0, Wt, steps, lr, opts, clf.mean, clf.std, **kw)

    after = [name for name, on in (("decay", opts.get("weight_decay", 0) > 0), ("blur", opts.get("blur_sigma", 0) > 0),
                                   ("clamp", bool(opts.get("clamp", False)))) if on]
    allowed = [dict(order=tuple(p)) for p in itertools.permutations(after)] or [dict()]
    if "clamp" in after:
        allowed.append(dict(variant="clamp at end"))
    if any(matches(simulate(**kw)) for kw in allowed):
        return
    for option, variant, message in _SLIPS:
        on = opts.get(option, 0)
        if not on or (variant == "sigmas swapped" and not opts.get("blur_sigma", 0)):
            continue
        if matches(simulate(variant=variant)):
            raise CheckFailure(f"gradient_descent: {message.format(**opts)} (Seen with {where}.)")
    want = simulate()
    diff = ((got[inner] - want[inner]) if blurred else (got - want)).abs().max().item()
    plain = x0 + steps * lr * Wt
    if _close(got, plain) or (blurred and (got[inner] - plain[inner]).abs().max().item() <= 1e-5):
        raise CheckFailure(f"gradient_descent: {_options_text(opts)} are all ignored: the result is the plain steps. "
                           f"{_RECIPE} (Seen with {where}.)")
    raise CheckFailure(f"gradient_descent: with {_options_text(opts)} the result differs from the notebook's recipe "
                       f"by up to {fmt(diff * clf.std[0])} per pixel{' (away from the border)' if blurred else ''}. "
                       f"{_RECIPE} (Seen with {where}.)")


#: Largest image side the checks dream at (GoogLeNet at 224 pixels is slow on a CPU).
CHECK_SIZE = 128


def _real_run(gradient_descent: Callable[..., Any], clf: Classifier, target: int, steps: int) -> str:
    """The target must win (or gain 30 points of probability) after ``steps`` steps.
    The learning rate that suits plain steps depends on the model; the check
    tries ``clf.lr`` and then 10 and 100 times it while the score rises too slowly."""
    image = I.load_photo("chelsea", min(clf.size, CHECK_SIZE), clf.channels)
    start = clf.logits(image)[0]
    name = clf.classes[target]
    p0 = torch.softmax(start, 0)[target].item()
    for lr in (clf.lr, 10 * clf.lr, 100 * clf.lr):
        out = call("gradient_descent", f"gradient_descent(photo, clf, target={target}, steps={steps}, lr={lr:g}, "
                   f"clamp=True)", gradient_descent, image.clone(), clf, target, steps=steps, lr=lr, clamp=True)
        if not isinstance(out, torch.Tensor) or out.shape != image.shape:
            raise CheckFailure(f"gradient_descent: on the photo it returned "
                               f"{getattr(out, 'shape', type(out).__name__)}, not an image of shape "
                               f"{tuple(image.shape)}.")
        out = out.detach()
        lo, hi = float(out.min()), float(out.max())
        if lo < -1e-4 or hi > 1 + 1e-4:
            raise CheckFailure(f"gradient_descent: with clamp=True the pixels range from {fmt(lo)} to {fmt(hi)}; "
                               f"clamp the image (in pixel units) to [0, 1] after each step.")
        end = clf.logits(out)[0]
        p1 = torch.softmax(end, 0)[target].item()
        rise = (end[target] - start[target]).item()
        won = end.argmax().item() == target or p1 >= p0 + 0.3
        if rise >= 1.0 and won:
            return (f"{name!r}: score {fmt(start[target].item())} → {fmt(end[target].item())}, probability "
                    f"{p0:.1%} → {p1:.1%} (lr {lr:g})")
        if rise <= 0:
            break
    if rise < 1.0:
        raise CheckFailure(f"gradient_descent: after {steps} steps the score of class {name!r} went from "
                           f"{fmt(start[target].item())} to {fmt(end[target].item())}; it should rise clearly.")
    raise CheckFailure(f"gradient_descent: after {steps} steps class {name!r} is not the top class and its "
                       f"probability only went from {p0:.1%} to {p1:.1%}.")


@guarded("gradient_descent")
def check_gradient_descent(gradient_descent: Any, clf: Classifier, target: int = 7, hard: bool = False,
                           points: float | None = None) -> float | None:
    """Exact trajectories on a linear test classifier (direction, zeroed gradients, jitter undone, eval mode,
    weights untouched), each refinement alone and all together on it, then the target class on the real
    classifier after a fixed budget, with clamping. With ``points``, each run earns its share (:mod:`.partial`)."""
    runs = [(0, 5, 0), (1, 4, 3)] + ([(2, 6, 5), (3, 3, 1)] if hard else [])
    options = [(10 + k, opts) for k, opts in enumerate(_OPTION_RUNS)]
    options += [(20 + k, opts) for k, opts in enumerate(_OPTION_RUNS_HARD)] if hard else []
    details: list[str] = []
    parts = [(f"a linear test case ({steps} steps, max_shift={max_shift})",
              functools.partial(_spy_run, gradient_descent, seed, steps, max_shift, target=seed % 10))
             for seed, steps, max_shift in runs]
    parts += [(f"a linear test case with {', '.join(f'{k}={v}' for k, v in opts.items()) or 'no options'}",
               functools.partial(_option_run, gradient_descent, seed, opts, target=seed % 10))
              for seed, opts in options]
    parts.append(("the real classifier", lambda: details.append(_real_run(gradient_descent, clf, target, steps=40))))
    return score("gradient_descent", parts, points,
                 lambda: f"exact on {len(runs)} linear test cases and on {len(options)} with the refinements "
                         f"(weight_decay, grad_sigma, blur_sigma, clamp; alone and together); {details[0]}")


_OCTAVE_SIZE, _OCTAVE_STEPS, _OCTAVE_LR, _OCTAVE_GREY = 28, 3, 0.2, 0.3


def _octave_spy_run(dream: Callable[..., Any], seed: int, target: int, octaves: int = 3, scale: float = 1.4) -> None:
    """Octaves read off exactly: the sizes the spy saw, in order, and where each octave started. The start
    image is a constant grey, so every resize of it is that grey: a restart from the original shows, and the
    check depends on no resize method."""
    size, steps, lr = _OCTAVE_SIZE, _OCTAVE_STEPS, _OCTAVE_LR
    clf = _spy_classifier(seed)
    spy: _Spy = clf.model  # type: ignore[assignment]
    image = torch.full((1, 1, size, size), _OCTAVE_GREY)
    sizes = [max(8, round(size / scale ** k)) for k in reversed(range(octaves))]
    where = (f"dream(grey {size}×{size} image, clf, target={target}, octaves={octaves}, scale={scale}, steps={steps}, "
             f"lr={lr}, max_shift=0) on a test classifier whose scores are linear in the image")
    before = len(I.shift_log)
    out = call("dream", where, dream, image.clone(), clf, target, octaves=octaves, scale=scale, steps=steps, lr=lr,
               max_shift=0)
    shifts = I.shift_log[before:]
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(image.shape):
        raise CheckFailure(f"dream: for an image of shape {tuple(image.shape)} it returned "
                           f"{tuple(getattr(out, 'shape', ())) or type(out).__name__}; resize the result back to "
                           f"the input's size at the end.")
    groups: list[tuple[tuple[int, int], list[torch.Tensor]]] = []
    for x in spy.inputs:
        hw = (int(x.shape[-2]), int(x.shape[-1]))
        if groups and groups[-1][0] == hw:
            groups[-1][1].append(x)
        else:
            groups.append((hw, [x]))
    seen = [hw for hw, _ in groups]
    want = [(s, s) for s in sizes]
    show = lambda hws: ", ".join(f"{h}×{w}" for h, w in hws)  # noqa: E731
    if not groups:
        raise CheckFailure(f"dream: {where} never ran the model: call gradient_descent at every octave.")
    if seen != want:
        if seen == want[::-1]:
            raise CheckFailure(f"dream: the octaves ran from the largest scale first ({show(seen)}). Start at the "
                               f"smallest size, round(H / scale^(octaves−1)), and enlarge by scale at each octave up "
                               f"to the input's size ({show(want)}). (Seen with {where}.)")
        raise CheckFailure(f"dream: with octaves={octaves} and scale={scale} on a {size}×{size} image, "
                           f"gradient_descent should run at {show(want)}, in that order (round(H / scale^k) for "
                           f"k = octaves−1, …, 0, at least 8 pixels); it ran at {show(seen)}.")
    if len(shifts) != octaves * steps or any(tuple(s) != (0, 0) for s in shifts):
        raise CheckFailure(f"dream: pass **kwargs on to gradient_descent: {where} drew {len(shifts)} random shifts "
                           f"({sum(tuple(s) != (0, 0) for s in shifts)} of them non-zero), not {octaves * steps} "
                           f"zero shifts ({steps} steps at each of the {octaves} octaves).")
    grey = I.to_model_input(image, clf.mean, clf.std)[0, 0, 0, 0].item()
    starts = [xs[0] for _, xs in groups]
    flat = lambda x: (x - grey).abs().max().item() <= 1e-4  # noqa: E731
    if not flat(starts[0]):
        raise CheckFailure(f"dream: the first octave did not start from the input image resized to "
                           f"{show(want[:1])}. (Seen with {where}.)")
    result = lambda k: starts[k] + steps * lr * spy.weights(*want[k])[target:target + 1].detach()  # noqa: E731
    for k in range(1, octaves):
        if flat(starts[k]):
            raise CheckFailure(f"dream: each octave restarted from the original image instead of the previous "
                               f"octave's result: octave {k + 1} ({show(want[k:k + 1])}) started from the input "
                               f"resized, and the dream of octave {k} was lost. Enlarge the previous octave's result "
                               f"instead: img = gradient_descent(resize(img, size), ...). (Seen with {where}.)")
        enlarged = I.resize(result(k - 1), want[k])
        if (starts[k] - enlarged).abs().max().item() > 0.3 * (enlarged - grey).abs().max().item():
            raise CheckFailure(f"dream: octave {k + 1} ({show(want[k:k + 1])}) did not start from the previous "
                               f"octave's result enlarged to that size (resize(img, size)). (Seen with {where}.)")
    got = I.to_model_input(out.detach().cpu().to(image.dtype), clf.mean, clf.std)
    final = result(octaves - 1)
    if not _close(got, final):
        diff = (got - final).abs().max().item() * clf.std[0]
        raise CheckFailure(f"dream: the returned image differs by up to {fmt(diff)} per pixel from gradient_descent's "
                           f"result at the last octave ({show(want[-1:])}); return that result, resized to the "
                           f"input's size. (If check_gradient_descent fails, fix that first. Seen with {where}.)")


@guarded("dream")
def check_octaves(dream: Any, clf: Classifier, target: int = 7, points: float | None = None) -> float | None:
    """On the linear test classifier: sizes smallest first, each octave starting from the previous octave's
    result, the last result returned. Then ``dream(image, clf, target, octaves=3, scale=1.4, ...)`` on the
    real classifier returns an image of the input's shape in which the target scores higher. With ``points``,
    the test classifier and each real image earn their share (:mod:`.partial`)."""

    def real(size: int) -> None:
        image = I.load_photo("coffee", size, clf.channels)
        out = call("dream", f"dream(image of {size}×{size}, clf, target={target}, octaves=3)", dream, image.clone(),
                   clf, target, octaves=3, scale=1.4, steps=15, lr=clf.lr, clamp=True)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(image.shape):
            raise CheckFailure(f"dream: for an image of shape {tuple(image.shape)} it returned "
                               f"{tuple(getattr(out, 'shape', ())) or type(out).__name__}; resize the result back to "
                               f"the input's size at the end.")
        rise = (clf.logits(out.detach())[0, target] - clf.logits(image)[0, target]).item()
        if rise < 1.0:
            raise CheckFailure(f"dream: for a {size}×{size} image the target's score rose by only {fmt(rise)}.")

    parts = [("the linear test classifier", functools.partial(_octave_spy_run, dream, 30, target=3))]
    parts += [(f"a {size}×{size} image on the real classifier", functools.partial(real, size))
              for size in (min(clf.size, CHECK_SIZE), min(clf.size, CHECK_SIZE) - 7)]
    return score("dream", parts, points, "exact octaves on a linear test classifier (smallest first, each from the "
                                         "last result); on the real classifier they return the input's shape and "
                                         "raise the target's score")


@guarded("layer objective")
def check_layer_objective(gradient_descent: Any, clf: Classifier, layer: str | None = None,
                          channels: tuple[int, int] = (3, 7)) -> None:
    """``gradient_descent(..., layer=name, channel=c)`` raises the mean activation of
    channel c of that layer: dreaming for channel a excites a clearly more than
    dreaming for channel b does, and the other way round."""
    layer = layer or list(clf.layers)[len(clf.layers) // 2]
    image = I.load_photo("astronaut", min(clf.size, CHECK_SIZE), clf.channels)

    def activation(img: torch.Tensor, channel: int) -> float:
        with torch.no_grad(), LayerActivation(clf.layers[layer]) as act:
            clf.model(I.to_model_input(img, clf.mean, clf.std))
        return act.value[0, channel].mean().item()

    outs = {}
    for c in channels:
        out = call("gradient_descent", f"gradient_descent(photo, clf, target=0, layer={layer!r}, channel={c})",
                   gradient_descent, image.clone(), clf, 0, steps=20, lr=clf.lr, clamp=True, layer=layer, channel=c)
        outs[c] = out.detach()
    a, b = channels
    start = {c: activation(image, c) for c in channels}
    own = {c: activation(outs[c], c) for c in channels}
    other = {a: activation(outs[b], a), b: activation(outs[a], b)}
    for c in channels:
        if not own[c] > other[c] + 0.25 * abs(own[c] - start[c]) or own[c] <= start[c]:
            raise CheckFailure(
                f"layer objective: dreaming for channel {c} of {layer} moved its mean activation from "
                f"{fmt(start[c])} to {fmt(own[c])}, while dreaming for the other channel reached {fmt(other[c])}. "
                f"With layer= set, the energy must be minus the mean activation of THAT channel "
                f"(act.value[0, channel].mean()), not the class score; it should rise.")
    passed("layer objective", f"channels {a} and {b} of {layer}: each rises most when it is the objective "
                              f"({fmt(start[a])} → {fmt(own[a])}, {fmt(start[b])} → {fmt(own[b])})")
