"""Checks of notebook 07 (DeepDream): the student's ``gradient_descent`` on the image.

- On the linear test classifier (:mod:`._dream_spy`) plain steps x ← x − lr·∇E with
  E = −s_target, jittered by the shifts s_t that ``random_shift`` hands out and
  undone afterwards, end exactly at x_0 + lr·Σ_t roll(W_target, −s_t). The usual
  mistakes end elsewhere, at places that can be written down too (the opposite
  sign, gradients summed over steps, the jitter left in), so the message can name
  them. The spy also notices training mode and changed weights.
- The refinements on the same classifier: :mod:`.dream_options`.
- On the real classifier, after a fixed budget, the target's logit must have risen
  and the target must have won (or its probability risen).
- With ``layer=`` and ``channel=`` the energy is minus that channel's mean
  activation: dreaming for one channel must excite it more than dreaming for another.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import torch

from ..dream import images as I
from ..dream.hooks import LayerActivation
from ..dream.models import Classifier
from ._dream_spy import Spy, close_enough, few_threads, spy_classifier
from ._harness import CheckFailure, call, fmt, guarded, passed
from .dream_options import OPTION_RUNS, OPTION_RUNS_HARD, option_run
from .partial import score

__all__ = ["check_gradient_descent", "check_layer_objective", "CHECK_SIZE"]


@few_threads()
def _spy_run(gradient_descent: Callable[..., Any], seed: int, steps: int, max_shift: int, target: int) -> None:
    clf = spy_classifier(seed)
    spy: Spy = clf.model  # type: ignore[assignment]
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
    if close_enough(out, right):
        return
    if close_enough(out, image):
        raise CheckFailure("gradient_descent: the image did not change. Is the gradient taken with respect to the "
                           "image (x.requires_grad_(True), then x.grad), and is the step applied to x.data?")
    wrong_sign = pixels(x0 - lr * sum(I.jitter(Wt, (-a, -b)) for a, b in shifts))
    if close_enough(out, wrong_sign):
        raise CheckFailure("gradient_descent: the image moved in the wrong direction: the target's score FELL. The "
                           "energy is E = −score[target]; a descent step is x ← x − lr·∂E/∂x (or, the same, "
                           "x ← x + lr·∂score/∂x). Check the sign of the energy and of the step.")
    summed = pixels(x0 + lr * sum((t + 1) * I.jitter(Wt, (-a, -b)) for t, (a, b) in enumerate(shifts)))
    if close_enough(out, summed):
        raise CheckFailure("gradient_descent: the gradients are summed over the steps: x.grad is never reset, so "
                           "each backward() adds to the last. Zero it after every step (x.grad.zero_()).")
    x = x0.clone()
    for a, b in shifts:
        x = I.jitter(x, (a, b)) + lr * Wt
    if max_shift and close_enough(out, pixels(x)):
        raise CheckFailure("gradient_descent: the jitter is never undone: the image ends up shifted by the sum of "
                           "all shifts. After each step roll it back with unjitter(x, shift).")
    diff = (out - right).abs().max().item()
    raise CheckFailure(f"gradient_descent: {where} the result differs from plain gradient descent on the image by up "
                       f"to {fmt(diff)} per pixel. Each step: shift = random_shift(max_shift); jitter x; "
                       f"E = −score[target]; backward; x ← x − lr·x.grad; zero x.grad; unjitter x. (Blur, clamping "
                       f"and weight decay must stay off unless asked for.)")


#: Largest image side the checks dream at (GoogLeNet at 224 pixels is slow on a CPU).
CHECK_SIZE = 128


def _real_run(gradient_descent: Callable[..., Any], clf: Classifier, target: int, steps: int) -> str:
    """The target must win (or gain 30 points of probability) after ``steps`` steps.
    The learning rate that suits plain steps depends on the model; the check
    tries ``clf.lr`` and then 10 and 100 times it while the score rises too slowly."""
    with few_threads(clf):
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
    options = [(10 + k, opts) for k, opts in enumerate(OPTION_RUNS)]
    options += [(20 + k, opts) for k, opts in enumerate(OPTION_RUNS_HARD)] if hard else []
    details: list[str] = []
    parts = [(f"a linear test case ({steps} steps, max_shift={max_shift})",
              functools.partial(_spy_run, gradient_descent, seed, steps, max_shift, target=seed % 10))
             for seed, steps, max_shift in runs]
    parts += [(f"a linear test case with {', '.join(f'{k}={v}' for k, v in opts.items()) or 'no options'}",
               functools.partial(option_run, gradient_descent, seed, opts, target=seed % 10))
              for seed, opts in options]
    parts.append(("the real classifier", lambda: details.append(_real_run(gradient_descent, clf, target, steps=40))))
    return score("gradient_descent", parts, points,
                 lambda: f"exact on {len(runs)} linear test cases and on {len(options)} with the refinements "
                         f"(weight_decay, grad_sigma, blur_sigma, clamp; alone and together); {details[0]}")


@guarded("layer objective")
def check_layer_objective(gradient_descent: Any, clf: Classifier, layer: str | None = None,
                          channels: tuple[int, int] = (3, 7)) -> None:
    """``gradient_descent(..., layer=name, channel=c)`` raises the mean activation of
    channel c of that layer: dreaming for channel a excites a clearly more than
    dreaming for channel b does, and the other way round."""
    layer = layer or list(clf.layers)[len(clf.layers) // 2]
    with few_threads(clf):
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
