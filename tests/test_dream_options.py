"""Notebook 07 (DeepDream), issue 21: every refinement of ``gradient_descent``
(weight_decay, grad_sigma, blur_sigma, clamp) and the octaves of ``dream`` must
change the result the way the notebook says, checked exactly on the linear test
classifier. Each option ignored or with its usual slip fails with a message
naming it; every correct choice the notebook leaves open passes (another
Gaussian blur, another order of the after-step operations, pixel or model
units where they agree, another resize, the classic "detail" octaves)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks import CheckFailure
from course_lib.checks.dream import check_gradient_descent, check_octaves
from course_lib.dream import blur, jitter, random_shift, resize, to_image, to_model_input, unjitter

from test_dream import clf, ref  # noqa: F401  (the module-scoped fixtures: the classifier, the reference)


# ------------------------------------------------------------------ other Gaussian blurs a student may use
def scipy_blur(mode="reflect", truncate=4.0):
    from scipy.ndimage import gaussian_filter

    def blur_(x, sigma):
        arr = gaussian_filter(x.detach().double().numpy(), sigma=(0, 0, sigma, sigma), mode=mode, truncate=truncate)
        return torch.from_numpy(arr).to(x.dtype)
    return blur_


def torchvision_blur(radius_in_sigmas=3.0):
    import torchvision.transforms.functional as TF

    def blur_(x, sigma):
        k = 2 * math.ceil(radius_in_sigmas * sigma) + 1
        return TF.gaussian_blur(x, [k, k], [sigma, sigma])
    return blur_


def make_gd(blur_fn=blur, order=("decay", "blur", "clamp"), pixel_units=False, jittered_frame=False,
            clamp_at_end=False, slip=None):
    """``gradient_descent`` with its refinements, written one of the ways the notebook allows, or with ``slip``."""
    def gradient_descent(image, clf, target, steps=40, lr=None, max_shift=2, blur_sigma=0.0, clamp=False,
                         weight_decay=0.0, grad_sigma=0.0, layer=None, channel=0):
        lr = clf.lr if lr is None else lr
        model = clf.model
        model.eval()
        mean, std = clf.mean, clf.std
        m = lambda p: to_model_input(p, mean, std)  # noqa: E731
        px = lambda x: to_image(x, mean, std)  # noqa: E731
        wd = weight_decay
        bs, gs = (grad_sigma, blur_sigma) if slip == "sigmas swapped" else (blur_sigma, grad_sigma)
        mu = torch.tensor(mean).view(1, -1, 1, 1)

        def decay(y):
            if not wd or slip in ("decay ignored", "decay before step", "decay as L2"):
                return y
            if slip == "decay times wd":
                return y * wd
            if slip == "decay in pixels":
                return m(px(y) * (1 - wd))
            return m(mu + (1 - wd) * (px(y) - mu)) if pixel_units else y * (1 - wd)

        def image_blur(y):
            if bs and slip not in ("image blur ignored", "image blur on gradient", "image blur before step",
                                   "image blur at end"):
                y = m(blur_fn(px(y), bs)) if pixel_units else blur_fn(y, bs)
            if gs and slip == "grad blur on image":
                y = blur_fn(y, gs)
            return y

        def clip(y):
            if not clamp or clamp_at_end or slip == "clamp ignored":
                return y
            return y.clamp(0, 1) if slip == "clamp normalised" else m(px(y).clamp(0, 1))

        ops = {"decay": decay, "blur": image_blur, "clamp": clip}
        x = m(image).clone().requires_grad_(True)
        for _ in range(steps):
            shift = random_shift(max_shift)
            x.data = jitter(x.data, shift)
            energy = -model(x)[0, target]
            energy.backward()
            g = x.grad.detach().clone()
            x.grad.zero_()
            if gs and slip not in ("grad blur ignored", "grad blur on image"):
                g = blur_fn(g, gs)
            if bs and slip == "image blur on gradient":
                g = blur_fn(g, bs)
            with torch.no_grad():
                y = x.data
                if wd and slip == "decay before step":
                    y = y * (1 - wd)
                if bs and slip == "image blur before step":
                    y = blur_fn(y, bs)
                y = y - lr * (g + wd * y) if wd and slip == "decay as L2" else y - lr * g
                if not jittered_frame:
                    y = unjitter(y, shift)
                for name in order:
                    y = ops[name](y)
                if jittered_frame:
                    y = unjitter(y, shift)
                x.data = y
        y = x.detach()
        if bs and slip == "image blur at end":
            y = blur_fn(y, bs)
        if clamp and clamp_at_end:
            y = m(px(y).clamp(0, 1))
        return px(y)
    return gradient_descent


# ------------------------------------------------------------------ gradient_descent: correct choices pass
def test_the_notebook_solution_passes_with_every_option(clf, ref, capsys):
    check_gradient_descent(ref["gradient_descent"], clf, hard=True)
    out = capsys.readouterr().out
    assert "PASSED: gradient_descent" in out and "refinements" in out


@pytest.mark.parametrize("name, choices", [
    ("the course's blur, same order as the solution", dict()),
    ("scipy gaussian_filter, reflect", dict(blur_fn=scipy_blur("reflect"))),
    ("scipy gaussian_filter, zero border", dict(blur_fn=scipy_blur("constant"))),
    ("scipy gaussian_filter, wrap, truncate=3", dict(blur_fn=scipy_blur("wrap", 3.0))),
    ("scipy gaussian_filter, nearest, truncate=2", dict(blur_fn=scipy_blur("nearest", 2.0))),
    ("torchvision gaussian_blur, radius 3 sigma", dict(blur_fn=torchvision_blur(3.0))),
    ("torchvision gaussian_blur, radius 2 sigma", dict(blur_fn=torchvision_blur(2.0))),
    ("decay and blur in pixel units", dict(pixel_units=True)),
    ("clamp, then decay, then blur", dict(order=("clamp", "decay", "blur"))),
    ("blur, clamp, decay", dict(order=("blur", "clamp", "decay"))),
    ("after-step operations before the jitter is undone", dict(jittered_frame=True)),
    ("clamp once at the end", dict(clamp_at_end=True)),
])
def test_every_allowed_choice_passes(clf, name, choices, capsys):
    check_gradient_descent(make_gd(**choices), clf, target=0, hard=True)
    assert "PASSED: gradient_descent" in capsys.readouterr().out, name


# ------------------------------------------------------------------ gradient_descent: each slip is named
@pytest.mark.parametrize("slip, phrase", [
    ("image blur ignored", r"blur_sigma is ignored: the image is not blurred after the step"),
    ("grad blur ignored", r"grad_sigma is ignored: .*the gradient is not blurred before the step"),
    ("decay times wd", r"weight_decay: the image should be multiplied by \(1 - weight_decay\), it looks multiplied "
                       r"by weight_decay"),
    ("decay ignored", r"weight_decay is ignored"),
    ("decay in pixels", r"weight_decay: the image shrinks towards black"),
    ("decay before step", r"weight_decay: x is shrunk before the step"),
    ("decay as L2", r"weight_decay: it acts as an L2 penalty"),
    ("image blur before step", r"blur_sigma: the image is blurred before the step"),
    ("image blur at end", r"blur_sigma: the image is blurred once, at the end"),
    ("image blur on gradient", r"blur_sigma: the gradient was blurred instead of the image"),
    ("grad blur on image", r"grad_sigma: the image was blurred after the step instead of the gradient"),
    ("sigmas swapped", r"grad_sigma: the image was blurred .* \(are the two swapped\?\)"),
    ("clamp ignored", r"clamp=True is ignored"),
    ("clamp normalised", r"clamp=True: the normalised x was clamped"),
])
def test_option_slips_are_named(clf, slip, phrase):
    with pytest.raises(CheckFailure, match=phrase):
        check_gradient_descent(make_gd(slip=slip), clf)


@pytest.mark.parametrize("slip, phrase", [("image blur ignored", "blur_sigma is ignored"),
                                          ("grad blur ignored", "grad_sigma is ignored"),
                                          ("image blur before step", "blur_sigma: the image is blurred before"),
                                          ("sigmas swapped", "are the two swapped")])
def test_option_slips_are_named_with_another_blur(clf, slip, phrase):
    """The diagnosis does not depend on the blur the student chose either."""
    with pytest.raises(CheckFailure, match=phrase):
        check_gradient_descent(make_gd(blur_fn=scipy_blur("constant"), slip=slip), clf)


def test_options_together(ref):
    """All options at once: the solution matches; swapped sigmas and options all ignored are named."""
    from course_lib.checks.dream_options import option_run

    together = dict(grad_sigma=0.8, weight_decay=0.1, blur_sigma=0.6)
    option_run(ref["gradient_descent"], 40, together, target=2)
    with pytest.raises(CheckFailure, match="blur_sigma and grad_sigma are swapped"):
        option_run(make_gd(slip="sigmas swapped"), 40, together, target=2)

    def ignores_everything(image, clf, target, **kw):
        kw = {k: v for k, v in kw.items() if k not in ("blur_sigma", "grad_sigma", "weight_decay")}
        return make_gd()(image, clf, target, **kw)

    with pytest.raises(CheckFailure, match="are all ignored"):
        option_run(ignores_everything, 40, together, target=2)
    with pytest.raises(CheckFailure, match="differs from the notebook's recipe"):
        option_run(make_gd(blur_fn=lambda x, sigma: blur(x, 1.5 * sigma)), 40, together, target=2)


def test_a_blur_too_coarse_is_not_a_gaussian_of_that_sigma(clf):
    """A 3-tap box instead of a Gaussian: not within the tolerance every true Gaussian blur meets."""
    def box(x, sigma):
        c = x.shape[1]
        k = torch.full((c, 1, 3, 3), 1 / 9, dtype=x.dtype)
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=c)

    with pytest.raises(CheckFailure, match="grad_sigma|blur_sigma"):
        check_gradient_descent(make_gd(blur_fn=box), clf)


# ------------------------------------------------------------------ octaves
def make_dream(gd, resize_fn=resize, slip=None):
    def dream(image, clf, target, octaves=3, scale=1.4, **kwargs):
        height, width = image.shape[-2:]
        ks = list(reversed(range(octaves)))
        if slip == "largest first":
            ks = ks[::-1]
        if slip == "one scale too small":
            ks = [k + 1 for k in ks]
        sizes = [(max(8, round(height / scale ** k)), max(8, round(width / scale ** k))) for k in ks]
        img = resize_fn(image, sizes[0])
        results = []
        for size in sizes:
            start = image if slip == "restart" else img
            img = gd(resize_fn(start, size), clf, target, **({} if slip == "kwargs dropped" else kwargs))
            results.append(img)
        return resize_fn(results[0] if slip == "first result kept" else img, (height, width))
    return dream


def detail_dream(gd):
    """The classic DeepDream octaves: the detail the dream added is enlarged and added to the resized original."""
    def dream(image, clf, target, octaves=3, scale=1.4, **kwargs):
        h, w = image.shape[-2:]
        bases = [resize(image, (max(8, round(h / scale ** k)), max(8, round(w / scale ** k))))
                 for k in reversed(range(octaves))]
        detail = torch.zeros_like(bases[0])
        for base in bases:
            detail = resize(detail, tuple(base.shape[-2:]))
            out = gd(base + detail, clf, target, **kwargs)
            detail = out - base
        return resize(out, (h, w))
    return dream


def interpolate(mode, **kw):
    def resize_(x, size):
        size = (size, size) if isinstance(size, int) else tuple(size)
        return F.interpolate(x, size=size, mode=mode, **kw)
    return resize_


@pytest.mark.parametrize("name, resize_fn", [
    ("bicubic", interpolate("bicubic", align_corners=False)),
    ("nearest", interpolate("nearest")),
    ("bilinear, align_corners=True", interpolate("bilinear", align_corners=True)),
    ("bilinear, antialias", interpolate("bilinear", align_corners=False, antialias=True)),
    ("area", interpolate("area")),
])
def test_octaves_with_another_resize_pass(clf, ref, name, resize_fn, capsys):
    check_octaves(make_dream(ref["gradient_descent"], resize_fn), clf)
    assert "PASSED: dream" in capsys.readouterr().out, name


def test_classic_detail_octaves_pass(clf, ref, capsys):
    check_octaves(detail_dream(ref["gradient_descent"]), clf)
    assert "PASSED: dream" in capsys.readouterr().out


@pytest.mark.parametrize("slip, phrase", [
    ("largest first", r"octaves ran from the largest scale first"),
    ("restart", r"each octave restarted from the original image instead of the previous octave's result"),
    ("kwargs dropped", r"pass \*\*kwargs on to gradient_descent"),
    ("one scale too small", r"should run at 14×14, 20×20, 28×28"),
    ("first result kept", r"the returned image differs .* at the last octave"),
])
def test_octave_slips_are_named(clf, ref, slip, phrase):
    with pytest.raises(CheckFailure, match=phrase):
        check_octaves(make_dream(ref["gradient_descent"], slip=slip), clf)


def test_octave_slips_named_with_another_resize(clf, ref):
    for slip, phrase in (("largest first", "largest scale first"), ("restart", "restarted from the original")):
        with pytest.raises(CheckFailure, match=phrase):
            check_octaves(make_dream(ref["gradient_descent"], interpolate("bicubic", align_corners=False), slip), clf)
