"""Notebook 03's reference numpy layers, taken from the source notebook's
solution cells (tagged ``nb03-defs``) -- never copied into the tests. Used as
fixtures by tests/test_layers_catalogue.py, whose wrong variants subclass them."""
from __future__ import annotations

from pathlib import Path

from course_lib.engine import load_cells

ROOT = Path(__file__).resolve().parents[1]
SOURCE_03 = ROOT / "source_notebooks" / "ps1" / "03_mlp.ipynb"
TAG = "nb03-defs"

_ns = load_cells(SOURCE_03, tags=(TAG,), given={"Value": None})

Linear = _ns["Linear"]
Sigmoid = _ns["Sigmoid"]
Tanh = _ns["Tanh"]
ReLU = _ns["ReLU"]
GELU = _ns["GELU"]
Swish = _ns["Swish"]
Softmax = _ns["Softmax"]
SGD = _ns["SGD"]
BatchNorm1d = _ns["BatchNorm1d"]
Model = _ns["Sequential"]
MLP0, MLP1, MLP4 = _ns["MLP0"], _ns["MLP1"], _ns["MLP4"]
_erf = _ns["erf"]


def mlp4():
    """The four-hidden-layer shape of MLP4, with a Sigmoid last so that a skipped last layer shows."""
    sizes = [2, 4, 8, 8, 4, 2]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [Linear(a, b), ReLU() if i < len(sizes) - 2 else Sigmoid()]
    return Model(layers)
