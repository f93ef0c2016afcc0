"""Fashion-MNIST and MNIST as torch tensors, real when online, announced fallback offline.

The student path is torchvision's own loader with ``download=True``: the full
60,000 training and 10,000 test images. Without internet (graders, CI), or
with ``COURSE_OFFLINE=1``, the loaders use real images that ship beside the
project in ``../shared/data`` (see its README):

- Fashion-MNIST: 1,115 real training images and the first 2,000 official test
  images (accuracy measured on 2,000 images has a standard error of about
  0.7 percentage points at 88%);
- MNIST: 20,000 real training digits and 2,000 test digits.

The fallback is always announced with a printed line, never silent. The
folder is found from ``data_dir=``, the environment variable
``COURSE_DATA_DIR``, or by looking for ``shared/data`` in every folder above
the working directory and above this package.
"""
from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from .locations import ENV_DATA_DIR, ENV_DATA_ROOT, ENV_OFFLINE, _offline_forced, default_root, find_shared_data

__all__ = [
    "CLASSES",
    "FASHION_CLASSES",
    "MNIST_CLASSES",
    "DataUnavailable",
    "ImageData",
    "ENV_DATA_DIR",
    "ENV_DATA_ROOT",
    "ENV_OFFLINE",
    "default_root",
    "find_shared_data",
    "load_fashion_mnist",
    "load_mnist",
]

#: Fashion-MNIST class names, in label order 0..9.
FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CLASSES = FASHION_CLASSES
#: MNIST class names: the digits.
MNIST_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

#: Seconds a download may wait on one network read before it counts as offline.
DOWNLOAD_TIMEOUT_S = 20.0


class DataUnavailable(RuntimeError):
    """Neither the download nor an offline copy worked. The message says what to do."""

    def _render_traceback_(self) -> list[str]:  # IPython: the message, no traceback
        return ["DATA NOT AVAILABLE", *str(self).splitlines()]


@dataclass
class ImageData:
    """Images and labels, for training and test.

    ``x_*`` are float32 in [0, 1], shape ``N×1×28×28`` (or ``N×784`` with
    ``flatten=True``); ``y_*`` are int64 labels 0..9. Unpacks as
    ``x_train, y_train, x_test, y_test = data``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str            # where the images came from, in words
    full: bool             # True: the complete official dataset
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))

    def __len__(self) -> int:
        return 4

    def test_standard_error(self, accuracy: float = 0.88) -> float:
        """Standard error, in percentage points, of an accuracy measured on ``x_test``."""
        return 100 * math.sqrt(accuracy * (1 - accuracy) / len(self.y_test))


# --------------------------------------------------------------------------
# The offline folder
# --------------------------------------------------------------------------
def _npz(path: Path) -> np.ndarray:
    try:
        with np.load(path) as f:
            return f["arr_0"]
    except Exception as exc:  # missing, truncated, not an npz
        raise DataUnavailable(
            f"The offline data file {path} could not be read ({type(exc).__name__}: {exc}). "
            f"Restore the folder {path.parent} (see shared/data/README.md)."
        ) from None


def _tensors(x: np.ndarray, y: np.ndarray, flatten: bool) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32).div_(255.0)
    images = images.reshape(len(images), 784) if flatten else images.reshape(len(images), 1, 28, 28)
    return images, torch.as_tensor(np.asarray(y), dtype=torch.int64)


# --------------------------------------------------------------------------
# The real path
# --------------------------------------------------------------------------
def _torchvision(name: str, root: Path, download: bool, flatten: bool):
    """Load the full dataset through torchvision; raise on any failure."""
    import torchvision

    cls = getattr(torchvision.datasets, name)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    finally:
        socket.setdefaulttimeout(previous)
    return (*_tensors(train.data.numpy(), train.targets.numpy(), flatten),
            *_tensors(test.data.numpy(), test.targets.numpy(), flatten))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _load(
    *,
    name: str,
    title: str,
    subdir: str,
    files: dict[str, Sequence[str]],
    classes: tuple[str, ...],
    fallback_note: str,
    root: str | os.PathLike | None,
    download: bool,
    data_dir: str | os.PathLike | None,
    flatten: bool,
    offline: bool | None,
    verbose: bool,
) -> ImageData:
    root_path = Path(root).expanduser() if root is not None else default_root()
    offline = _offline_forced() if offline is None else offline
    reasons: list[str] = []

    # 1. the real dataset: downloaded, or already on disk in root
    dl = download and not offline
    try:
        x_tr, y_tr, x_te, y_te = _torchvision(name, root_path, dl, flatten)
    except Exception as exc:  # no network, no files, a broken mirror ...
        if offline:
            reasons.append(f"offline mode ({ENV_OFFLINE}=1 or offline=True) and no copy in {root_path}")
        elif dl:
            reasons.append(f"the download failed ({_short(exc)})")
        else:
            reasons.append(f"download=False and no copy in {root_path}")
    else:
        source = f"torchvision {name} in {root_path}"
        if verbose:
            print(f"{title}: {len(y_tr):,} training and {len(y_te):,} test images ({source}).")
        return ImageData(x_tr, y_tr, x_te, y_te, classes, source, full=True)

    # 2. the real images that ship offline
    folder, looked = find_shared_data(subdir, data_dir)
    if folder is None:
        places = "\n  ".join(str(p) for p in looked) or "(nowhere)"
        raise DataUnavailable(
            f"{title} is not available: {'; '.join(reasons)}, and no offline copy was found.\n"
            f"Looked for the folder {subdir} in:\n  {places}\n"
            f"What to do: connect to the internet and run this cell again (torchvision downloads "
            f"{title}), or point {ENV_DATA_DIR} (or data_dir=) at the folder that holds "
            f"{subdir}/ (the project's ../shared/data)."
        )
    parts = {key: [_npz(folder / f) for f in fs] for key, fs in files.items()}
    x_tr = np.concatenate(parts["x_train"])
    y_tr = np.concatenate(parts["y_train"])
    x_te, y_te = parts["x_test"][0], parts["y_test"][0]
    if x_tr.shape[1:] != (28, 28) or x_te.shape[1:] != (28, 28) or len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise DataUnavailable(f"The offline copy in {folder} has unexpected shapes: restore it.")
    xt, yt = _tensors(x_tr, y_tr, flatten)
    xs, ys = _tensors(x_te, y_te, flatten)
    data = ImageData(xt, yt, xs, ys, classes, f"offline copy in {folder}", full=False)
    se = data.test_standard_error(0.88 if name == "FashionMNIST" else 0.98)
    note = (
        f"OFFLINE FALLBACK for {title} ({'; '.join(reasons)}): using the real images in {folder}: "
        f"{len(yt):,} training images and {len(ys):,} test images, not the full "
        f"60,000 / 10,000. Accuracy on {len(ys):,} test images has a standard error of about "
        f"{se:.1f} percentage points. {fallback_note}"
    )
    data.notes.append(note)
    print(note)  # always: the fallback is never silent
    return data


def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    download: bool = True,
    *,
    data_dir: str | os.PathLike | None = None,
    flatten: bool = False,
    offline: bool | None = None,
    verbose: bool = True,
) -> ImageData:
    """Fashion-MNIST as ``ImageData`` (``x_train, y_train, x_test, y_test = ...``).

    Online: ``torchvision.datasets.FashionMNIST(root, download=True)``, the full
    60,000 + 10,000 images (``root`` defaults to :func:`default_root`). Offline (the
    download fails, or ``COURSE_OFFLINE=1``, or ``offline=True``): the real
    images in ``shared/data/fashion_mnist_2k`` -- 1,115 training and 2,000
    test images -- with a printed announcement. Images are float32 in [0, 1],
    ``N×1×28×28``, or ``N×784`` with ``flatten=True``; labels are int64.
    """
    return _load(
        name="FashionMNIST",
        title="Fashion-MNIST",
        subdir="fashion_mnist_2k",
        files={
            "x_train": ("x_train_preview.npz", "x_train_extra.npz"),
            "y_train": ("y_train_preview.npz", "y_train_extra.npz"),
            "x_test": ("x_test.npz",),
            "y_test": ("y_test.npz",),
        },
        classes=FASHION_CLASSES,
        fallback_note=("Expect roughly 80% test accuracy from an MLP trained on these, "
                       "not the 85%+ the full training set gives."),
        root=root, download=download, data_dir=data_dir, flatten=flatten,
        offline=offline, verbose=verbose,
    )


def load_mnist(
    root: str | os.PathLike | None = None,
    download: bool = True,
    *,
    data_dir: str | os.PathLike | None = None,
    flatten: bool = False,
    offline: bool | None = None,
    verbose: bool = True,
) -> ImageData:
    """MNIST digits, as :func:`load_fashion_mnist` does Fashion-MNIST.

    Offline: the real digits in ``shared/data/mnist_20k`` -- 20,000 training
    and 2,000 test images -- with a printed announcement.
    """
    return _load(
        name="MNIST",
        title="MNIST",
        subdir="mnist_20k",
        files={
            "x_train": ("x_train.npz",),
            "y_train": ("y_train.npz",),
            "x_test": ("x_test.npz",),
            "y_test": ("y_test.npz",),
        },
        classes=MNIST_CLASSES,
        fallback_note="Enough to train a small classifier in seconds on a CPU.",
        root=root, download=download, data_dir=data_dir, flatten=flatten,
        offline=offline, verbose=verbose,
    )
