"""The classifier to dream with: a pretrained ImageNet network when its
weights can be had, else a small CNN trained on the spot on real MNIST digits.

:func:`load_classifier` tries torchvision's pretrained GoogLeNet (weights from
torch's cache, or downloaded); without internet it trains :class:`DigitCNN` on
the 20,000 MNIST digits of ``../shared/data`` (about half a minute on a laptop
CPU, once: the weights are cached). Which model is in use is always printed.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import load_mnist
from ..data.locations import model_cache

__all__ = ["Classifier", "DigitCNN", "load_classifier", "train_digit_cnn"]

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)


@dataclass
class Classifier:
    """A frozen classifier with what DeepDream needs to know about its input."""

    model: nn.Module
    kind: str                       # "imagenet" or "mnist"
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int
    size: int                       # a good image size to dream at
    layers: dict[str, nn.Module] = field(default_factory=dict)   # middle layers for the layer objective
    note: str = ""
    lr: float = 10.0                # a learning rate that works for plain steps x -= lr * grad

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """Class scores for images in [0, 1] (normalised here)."""
        from .images import to_model_input

        with torch.no_grad():
            return self.model(to_model_input(image, self.mean, self.std))


class DigitCNN(nn.Module):
    """Three 3×3 conv blocks and global average pooling: works on any image size ≥ 8."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(x))))


def train_digit_cnn(epochs: int = 2, seed: int = 0, data_dir: str | os.PathLike | None = None,
                    verbose: bool = True) -> tuple[DigitCNN, float]:
    """Train :class:`DigitCNN` on MNIST (offline: the 20,000 real digits that ship); (model, test accuracy)."""
    from tqdm.auto import tqdm

    data = load_mnist(data_dir=data_dir, verbose=verbose)
    torch.manual_seed(seed)
    model = DigitCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    m, s = MNIST_MEAN[0], MNIST_STD[0]
    x, y = (data.x_train - m) / s, data.y_train
    for _ in tqdm(range(epochs), desc="training the digit CNN", disable=not verbose):
        order = torch.randperm(len(y))
        for i in range(0, len(y), 128):
            idx = order[i:i + 128]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model((data.x_test - m) / s).argmax(1) == data.y_test).float().mean())
    return model, acc


def _digit_classifier(verbose: bool) -> Classifier:
    path = model_cache() / "digit_cnn.pt"
    model = DigitCNN()
    acc = None
    if path.is_file():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(blob["state_dict"])
            acc = float(blob["accuracy"])
        except Exception:  # noqa: BLE001 - a broken cache is retrained
            acc = None
    if acc is None:
        model, acc = train_digit_cnn(verbose=verbose)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": model.state_dict(), "accuracy": acc}, path)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    note = (f"FALLBACK MODEL: no pretrained ImageNet weights here, so DeepDream uses a small CNN trained on real "
            f"MNIST digits ({acc:.1%} test accuracy; cached in {path}). Its classes are the digits 0-9 and it "
            f"sees grey images: dreams turn photographs into strokes and loops.")
    return Classifier(model, "mnist", [str(d) for d in range(10)], MNIST_MEAN, MNIST_STD, 1, 64,
                      {"block1": model.block1, "block2": model.block2, "block3": model.block3}, note)


def _imagenet_classifier() -> Classifier:
    import torchvision

    weights = torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20.0)
    try:
        model = torchvision.models.googlenet(weights=weights)
    finally:
        socket.setdefaulttimeout(previous)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    layers = {name: getattr(model, name) for name in ("inception3b", "inception4a", "inception4c", "inception4e")}
    note = "Model: torchvision GoogLeNet pretrained on ImageNet (1,000 classes)."
    return Classifier(model, "imagenet", list(weights.meta["categories"]), IMAGENET_MEAN, IMAGENET_STD, 3, 224,
                      layers, note, lr=1.0)


def load_classifier(prefer: str = "imagenet", verbose: bool = True) -> Classifier:
    """The classifier to dream with (``prefer="mnist"`` skips the ImageNet attempt);
    prints which one is in use."""
    clf = None
    reason = ""
    offline = os.environ.get("COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    if prefer == "imagenet" and not offline:
        try:
            clf = _imagenet_classifier()
        except Exception as exc:  # noqa: BLE001 - no network, no cache
            reason = f" ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
    if clf is None:
        clf = _digit_classifier(verbose)
        clf.note += reason
    if verbose:
        print(clf.note)
    return clf
