"""Data a notebook loads: the image sets (:mod:`.images`: Fashion-MNIST and MNIST, real
offline fallbacks from ``../shared/data``) and notebook 03's trained MLP saved beside the
notebook (:mod:`.saved_mlp`). The two moons and XOR points are in :mod:`course_lib.toy_data`."""
from .images import (
    CLASSES, ENV_DATA_DIR, ENV_DATA_ROOT, ENV_OFFLINE, FASHION_CLASSES, DataUnavailable, ImageData,
    default_root, find_shared_data, load_fashion_mnist, load_mnist,
)

__all__ = [
    "CLASSES", "ENV_DATA_DIR", "ENV_DATA_ROOT", "ENV_OFFLINE", "FASHION_CLASSES", "DataUnavailable",
    "ImageData", "default_root", "find_shared_data", "load_fashion_mnist", "load_mnist",
]
