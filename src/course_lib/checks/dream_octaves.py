"""Check of DeepDream's octaves (notebook 07): ``dream`` runs ``gradient_descent`` at
sizes round(H / scale^k) for k = octaves−1, …, 0 (at least 8 pixels), smallest
first, each octave starting from the previous octave's result enlarged to its size,
and returns the last result at the input's size. On a linear test classifier whose
scores exist at every size and which records every input it sees, the sizes, their
order and where each octave starts are read off exactly, starting from a constant
image so that a restart from the original shows whatever resize the student used.
On the real classifier the target's score must rise.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import torch

from ..dream import images as I
from ..dream.models import Classifier
from ._dream_spy import Spy, close_enough, few_threads, spy_classifier
from ._harness import CheckFailure, call, fmt, guarded
from .dream_descent import CHECK_SIZE
from .partial import score

__all__ = ["check_octaves"]


_OCTAVE_SIZE, _OCTAVE_STEPS, _OCTAVE_LR, _OCTAVE_GREY = 28, 3, 0.2, 0.3


@few_threads()
def _octave_spy_run(dream: Callable[..., Any], seed: int, target: int, octaves: int = 3, scale: float = 1.4) -> None:
    """Octaves read off exactly: the sizes the spy saw, in order, and where each octave started. The start
    image is a constant grey, so every resize of it is that grey: a restart from the original shows, and the
    check depends on no resize method."""
    size, steps, lr = _OCTAVE_SIZE, _OCTAVE_STEPS, _OCTAVE_LR
    clf = spy_classifier(seed)
    spy: Spy = clf.model  # type: ignore[assignment]
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
    if not close_enough(got, final):
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
        with few_threads(clf):
            image = I.load_photo("coffee", size, clf.channels)
            out = call("dream", f"dream(image of {size}×{size}, clf, target={target}, octaves=3)", dream,
                       image.clone(), clf, target, octaves=3, scale=1.4, steps=15, lr=clf.lr, clamp=True)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(image.shape):
                raise CheckFailure(f"dream: for an image of shape {tuple(image.shape)} it returned "
                                   f"{tuple(getattr(out, 'shape', ())) or type(out).__name__}; resize the result "
                                   f"back to the input's size at the end.")
            rise = (clf.logits(out.detach())[0, target] - clf.logits(image)[0, target]).item()
            if rise < 1.0:
                raise CheckFailure(f"dream: for a {size}×{size} image the target's score rose by only {fmt(rise)}.")

    parts = [("the linear test classifier", functools.partial(_octave_spy_run, dream, 30, target=3))]
    parts += [(f"a {size}×{size} image on the real classifier", functools.partial(real, size))
              for size in (min(clf.size, CHECK_SIZE), min(clf.size, CHECK_SIZE) - 7)]
    return score("dream", parts, points, "exact octaves on a linear test classifier (smallest first, each from the "
                                         "last result); on the real classifier they return the input's shape and "
                                         "raise the target's score")
