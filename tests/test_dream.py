"""Notebook 07 (DeepDream): the checks catch the usual mistakes by name and pass
correct loops written differently; course_lib.dream's helpers."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from course_lib.checks import CheckFailure
from course_lib.checks.dream import check_gradient_descent, check_layer_objective, check_octaves
from course_lib.dream import (LayerActivation, blur, jitter, load_classifier, load_photo, random_shift, resize,
                              to_image, to_model_input, unjitter)
from course_lib.engine import load_cells

SOURCE_07 = Path(__file__).resolve().parents[1] / "source_notebooks" / "ps1" / "07_deepdream.ipynb"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist_20k"


@pytest.fixture(scope="module")
def clf():
    if not SHARED.is_dir():
        pytest.skip(f"the offline MNIST digits ({SHARED}) are absent")
    return load_classifier(prefer="mnist", verbose=False)


@pytest.fixture(scope="module")
def ref():
    given = {"torch": torch, "LayerActivation": LayerActivation, "blur": blur, "jitter": jitter,
             "random_shift": random_shift, "resize": resize, "to_image": to_image, "to_model_input": to_model_input,
             "unjitter": unjitter}
    return load_cells(SOURCE_07, tags=("nb07-defs",), given=given)


def loop(mistake=None, how="data"):
    """A DeepDream loop with its refinements, with one mistake or written another way."""
    def gradient_descent(image, clf, target, steps=40, lr=None, max_shift=2, clamp=False, blur_sigma=0.0,
                         weight_decay=0.0, grad_sigma=0.0, **unused):
        lr = clf.lr if lr is None else lr
        model = clf.model
        if mistake != "training mode":
            model.eval()
        x = to_model_input(image, clf.mean, clf.std).clone().requires_grad_(True)
        opt = torch.optim.SGD([x], lr=lr) if how == "optimizer" else None
        wopt = torch.optim.SGD(model.parameters(), lr=lr) if mistake == "weights" else None
        for _ in range(steps):
            shift = random_shift(max_shift)
            x.data = jitter(x.data, shift)
            energy = -model(x)[0, target]
            if mistake == "uphill":
                energy = -energy
            if mistake == "weights":
                for p in model.parameters():
                    p.requires_grad_(True)
                wopt.zero_grad()
                energy.backward()
                wopt.step()
            elif how == "autograd.grad":
                (g,) = torch.autograd.grad(energy, x)
                with torch.no_grad():
                    x -= lr * (blur(g, grad_sigma) if grad_sigma else g)
            elif how == "optimizer":
                opt.zero_grad()
                energy.backward()
                if grad_sigma:
                    x.grad = blur(x.grad, grad_sigma)
                opt.step()
            else:
                energy.backward()
                x.data -= lr * (blur(x.grad, grad_sigma) if grad_sigma else x.grad)
                if mistake != "not zeroed":
                    x.grad = None if how == "grad None" else x.grad.zero_()
            if mistake != "jitter kept":
                x.data = unjitter(x.data, shift)
            if weight_decay:
                x.data = x.data - weight_decay * x.data
            if blur_sigma:
                x.data = blur(x.data, blur_sigma)
            if clamp:
                x.data = to_model_input(to_image(x.data, clf.mean, clf.std).clamp(0, 1), clf.mean, clf.std)
        return to_image(x.detach(), clf.mean, clf.std)
    return gradient_descent


@pytest.mark.parametrize("how", ["data", "autograd.grad", "optimizer", "grad None"])
def test_correct_loops_pass(clf, how, capsys):
    check_gradient_descent(loop(how=how), clf, hard=True)
    assert "PASSED: gradient_descent" in capsys.readouterr().out


def test_the_notebook_solution_passes_everything(clf, ref, capsys):
    check_gradient_descent(ref["gradient_descent"], clf, target=0, hard=True)
    check_octaves(ref["dream"], clf)
    check_layer_objective(ref["gradient_descent"], clf)
    assert capsys.readouterr().out.count("PASSED") == 3


@pytest.mark.parametrize("mistake, phrase", [
    ("uphill", "moved in the wrong direction"),
    ("not zeroed", "gradients are summed over the steps"),
    ("jitter kept", "jitter is never undone"),
    ("training mode", "ran in training mode"),
    ("weights", "the model's weights changed"),
])
def test_mistakes_are_named(clf, mistake, phrase):
    with pytest.raises(CheckFailure, match=phrase):
        check_gradient_descent(loop(mistake), clf)


def test_more_faults(clf):
    def no_grad_on_image(image, clf, target, steps=40, lr=None, max_shift=2, **kw):
        for _ in range(steps):
            random_shift(max_shift)
        return image.clone()

    with pytest.raises(CheckFailure, match="the image did not change"):
        check_gradient_descent(no_grad_on_image, clf)
    with pytest.raises(CheckFailure, match="random_shift was called 0 times"):
        check_gradient_descent(lambda image, clf, target, **kw: image, clf)
    with pytest.raises(CheckFailure, match="not implemented yet"):
        check_gradient_descent(lambda *a, **k: (_ for _ in ()).throw(NotImplementedError()), clf)
    unclamped = loop()
    with pytest.raises(CheckFailure, match="clamp=True is ignored"):
        check_gradient_descent(lambda *a, clamp=False, **k: unclamped(*a, clamp=False, **k), clf)
    # clamping only on the real classifier: the photo's check still says what is wrong
    with pytest.raises(CheckFailure, match="with clamp=True the pixels range"):
        check_gradient_descent(lambda i, c, *a, clamp=False, **k: unclamped(i, c, *a, clamp=clamp and c.kind == "spy",
                                                                           **k), clf)


def test_octave_faults(clf, ref):
    gd = ref["gradient_descent"]
    with pytest.raises(CheckFailure, match="resize the result back"):
        check_octaves(lambda image, clf, target, octaves=3, scale=1.4, **kw: gd(resize(image, 20), clf, target, **kw),
                      clf)
    with pytest.raises(CheckFailure, match="never ran the model"):
        check_octaves(lambda image, clf, target, **kw: image.clone(), clf)
    # right on the linear test classifier, idle on the real one: the score check still speaks
    with pytest.raises(CheckFailure, match="rose by only"):
        check_octaves(lambda image, clf, target, **kw: ref["dream"](image, clf, target, **kw) if clf.kind == "spy"
                      else image.clone(), clf)


def test_layer_objective_fault(clf, ref):
    gd = ref["gradient_descent"]
    with pytest.raises(CheckFailure, match="should rise"):
        check_layer_objective(lambda *a, layer=None, channel=0, **k: gd(*a, **k), clf)


# ---------------------------------------------------------------- helpers
def test_images_and_transforms():
    img = load_photo("chelsea", 32, channels=3)
    grey = load_photo("grace_hopper", 40, channels=1)
    assert img.shape == (1, 3, 32, 32) and grey.shape == (1, 1, 40, 40)
    assert 0 <= float(img.min()) and float(img.max()) <= 1
    x = to_model_input(img, (0.5, 0.4, 0.3), (0.2, 0.2, 0.2))
    assert torch.allclose(to_image(x, (0.5, 0.4, 0.3), (0.2, 0.2, 0.2)), img, atol=1e-6)
    assert torch.equal(unjitter(jitter(img, (3, -5)), (3, -5)), img)
    assert torch.equal(jitter(img, (1, 0))[..., 1, :], img[..., 0, :])
    flat = torch.full((1, 1, 9, 9), 0.5)
    assert torch.allclose(blur(flat, 1.5), flat) and blur(img, 1.0).shape == img.shape
    spike = torch.zeros(1, 1, 9, 9)
    spike[..., 4, 4] = 1
    b = blur(spike, 1.0)
    assert abs(float(b.sum()) - 1) < 1e-5 and float(b[..., 4, 4]) < 0.2
    assert resize(img, 20).shape == (1, 3, 20, 20)
    with pytest.raises(ValueError, match="unknown photo"):
        load_photo("nope")


def test_layer_hook_and_classifier(clf):
    assert clf.kind == "mnist" and clf.channels == 1 and "FALLBACK MODEL" in clf.note
    x = to_model_input(load_photo("coffee", clf.size, 1), clf.mean, clf.std)
    with LayerActivation(clf.layers["block2"]) as act:
        clf.model(x)
    assert act.value.shape[:2] == (1, 32)
    assert not any(p.requires_grad for p in clf.model.parameters()) and not clf.model.training
