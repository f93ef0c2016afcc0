"""DeepDream's refinements (notebook 07), checked exactly on the linear test
classifier with ``max_shift=0``, so the gradient of E = −⟨W_t, x⟩ is −W_t at every
step and no jitter seam meets a blur. Each option alone, then all together, against
the notebook's recipe: blur the gradient (``grad_sigma``) before the step
x ← x − lr·g; after it shrink x ← (1 − weight_decay)·x, blur x (``blur_sigma``) and
clamp the pixels to [0, 1]. Where the notebook leaves a choice it is accepted: the
order of the three after-step operations, clamping at the end only, and any Gaussian
blur (border mode, truncation at two sigma or more, scipy or torchvision): results
with a blur are compared away from the border, within 5% of one step. Each option
ignored, or with its usual slip, ends somewhere that is written down, so the message
names the option.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

import torch

from ..dream import images as I
from ._dream_spy import Spy, close_enough, few_threads, spy_classifier
from ._harness import CheckFailure, call, fmt

__all__ = ["OPTION_RUNS", "OPTION_RUNS_HARD", "option_run"]


#: The options each run sets; the rest stay off. ``hard`` runs other values on another seed.
OPTION_RUNS = [dict(weight_decay=0.1), dict(grad_sigma=0.8), dict(blur_sigma=0.6), dict(clamp=True),
               dict(grad_sigma=0.8, weight_decay=0.1, blur_sigma=0.6, clamp=True)]
OPTION_RUNS_HARD = [dict(weight_decay=0.3), dict(grad_sigma=1.0), dict(blur_sigma=0.8),
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


@few_threads()
def option_run(gradient_descent: Callable[..., Any], seed: int, opts: dict, target: int) -> None:
    size, margin, steps, lr = _OPTION_SIZE, _OPTION_MARGIN, _OPTION_STEPS, _OPTION_LR
    clf = spy_classifier(seed, size)
    spy: Spy = clf.model  # type: ignore[assignment]
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
        if close_enough(got, want):
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
    if close_enough(got, plain) or (blurred and (got[inner] - plain[inner]).abs().max().item() <= 1e-5):
        raise CheckFailure(f"gradient_descent: {_options_text(opts)} are all ignored: the result is the plain steps. "
                           f"{_RECIPE} (Seen with {where}.)")
    raise CheckFailure(f"gradient_descent: with {_options_text(opts)} the result differs from the notebook's recipe "
                       f"by up to {fmt(diff * clf.std[0])} per pixel{' (away from the border)' if blurred else ''}. "
                       f"{_RECIPE} (Seen with {where}.)")
