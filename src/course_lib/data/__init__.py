"""Data a notebook loads: the image sets (:mod:`.images`: Fashion-MNIST and MNIST, real
offline fallbacks from ``../shared/data``, found by :mod:`.locations`) and notebook 03's
trained MLP saved beside the notebook (:mod:`.saved_mlp`). The two moons and XOR points are
in :mod:`course_lib.toy_data`.

The names of :mod:`.images` are imported on first use: finding the data does not import torch.
"""
from __future__ import annotations

import importlib

from .locations import ENV_DATA_DIR, ENV_DATA_ROOT, ENV_OFFLINE, default_root, find_shared_data

_FROM_IMAGES = ("CLASSES", "FASHION_CLASSES", "DataUnavailable", "ImageData", "load_fashion_mnist", "load_mnist")

__all__ = ["CLASSES", "ENV_DATA_DIR", "ENV_DATA_ROOT", "ENV_OFFLINE", "FASHION_CLASSES", "DataUnavailable",
           "ImageData", "default_root", "find_shared_data", "load_fashion_mnist", "load_mnist"]


def __getattr__(name: str):
    if name not in _FROM_IMAGES:
        raise AttributeError(f"module 'course_lib.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(".images", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
