"""A trained PyTorch MLP saved beside the notebook, and rebuilt without the student's code.

Training on Fashion-MNIST happens in the student's own session; the grader
only evaluates the saved file. :func:`save_mlp` writes an ``nn.Sequential`` of
allowed layers as a description of the layers (JSON) plus their tensors;
:func:`load_mlp` rebuilds the network from that description alone and loads
the tensors with ``torch.load(weights_only=True)``, so a submitted file can
neither run code nor smuggle in a layer type (a convolution, say) that the
problem forbids. The file also records what the network was trained on.

The grader feeds images as ``N×784`` float32 rows in [0, 1]; a network that
was trained on normalised inputs ``(x - mean) / std`` records ``mean`` and
``std`` and gets the same normalisation at evaluation.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from ..notebook import grading

__all__ = ["MAX_FILE_MB", "SavedMLP", "SavedMLPError", "load_mlp", "save_mlp", "should_train"]

FORMAT = "course_lib.saved_mlp/1"
#: Files larger than this are refused (a sensible MLP for 28×28 images is a few MB).
MAX_FILE_MB = 200
N_INPUTS, N_CLASSES = 784, 10


class SavedMLPError(ValueError):
    """The model cannot be saved, or the file cannot be rebuilt; the message says why."""

    def _render_traceback_(self) -> list[str]:  # IPython: the message, no traceback
        return ["SAVED MLP PROBLEM", *str(self).splitlines()]


# --------------------------------------------------------------------------
# Allowed layers: name -> (how to describe one, how to rebuild it)
# --------------------------------------------------------------------------
def _float(x: Any) -> float:
    return float(x)


_LAYERS: dict[str, tuple[Callable[[nn.Module], dict], Callable[[Mapping], nn.Module]]] = {
    "Flatten": (lambda m: {}, lambda s: nn.Flatten()),
    "Linear": (lambda m: {"in_features": m.in_features, "out_features": m.out_features,
                          "bias": m.bias is not None},
               lambda s: nn.Linear(int(s["in_features"]), int(s["out_features"]), bias=bool(s["bias"]))),
    "BatchNorm1d": (lambda m: {"num_features": m.num_features, "eps": m.eps, "affine": m.affine},
                    lambda s: nn.BatchNorm1d(int(s["num_features"]), eps=_float(s["eps"]),
                                             affine=bool(s["affine"]))),
    "LayerNorm": (lambda m: {"normalized_shape": list(m.normalized_shape), "eps": m.eps,
                             "elementwise_affine": m.elementwise_affine},
                  lambda s: nn.LayerNorm([int(d) for d in s["normalized_shape"]], eps=_float(s["eps"]),
                                         elementwise_affine=bool(s["elementwise_affine"]))),
    "Dropout": (lambda m: {"p": m.p}, lambda s: nn.Dropout(_float(s["p"]))),
    "Identity": (lambda m: {}, lambda s: nn.Identity()),
    "ReLU": (lambda m: {}, lambda s: nn.ReLU()),
    "LeakyReLU": (lambda m: {"negative_slope": m.negative_slope},
                  lambda s: nn.LeakyReLU(_float(s["negative_slope"]))),
    "ELU": (lambda m: {"alpha": m.alpha}, lambda s: nn.ELU(_float(s["alpha"]))),
    "GELU": (lambda m: {"approximate": m.approximate},
             lambda s: nn.GELU(approximate=str(s["approximate"]))),
    "SiLU": (lambda m: {}, lambda s: nn.SiLU()),
    "Softplus": (lambda m: {"beta": m.beta, "threshold": m.threshold},
                 lambda s: nn.Softplus(_float(s["beta"]), _float(s["threshold"]))),
    "Tanh": (lambda m: {}, lambda s: nn.Tanh()),
    "Sigmoid": (lambda m: {}, lambda s: nn.Sigmoid()),
}
ALLOWED = tuple(_LAYERS)


def _flat_layers(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        return [leaf for child in model for leaf in _flat_layers(child)]
    return [model]


def _describe(model: Any) -> list[dict]:
    if not isinstance(model, nn.Sequential):
        raise SavedMLPError(
            f"save_mlp needs the network as an nn.Sequential, got {type(model).__name__}. The grader "
            f"rebuilds the network from a list of layers, without your code: write it as "
            f"nn.Sequential(nn.Linear(784, 256), nn.ReLU(), ..., nn.Linear(..., 10))."
        )
    spec = []
    for i, layer in enumerate(_flat_layers(model)):
        name = type(layer).__name__
        if name.startswith("Conv") or "Pool" in name:
            raise SavedMLPError(f"layer {i} is {name}: this problem allows no convolution or pooling, "
                                f"only Linear layers, nonlinearities and normalisation.")
        if name not in _LAYERS or type(layer) is not getattr(nn, name):
            raise SavedMLPError(f"layer {i} is {name}, which the grader cannot rebuild. Allowed layers "
                                f"(from torch.nn): {', '.join(ALLOWED)}.")
        spec.append({"type": name, **_LAYERS[name][0](layer)})
    if not any(s["type"] == "Linear" for s in spec):
        raise SavedMLPError("the network has no nn.Linear layer.")
    return spec


@dataclass
class SavedMLP:
    """A network rebuilt from a file, with what the file says about its training."""

    model: nn.Sequential
    layers: list[dict]
    trained_on: dict
    history: dict[str, list[float]] = field(default_factory=dict)
    mean: float = 0.0
    std: float = 1.0
    saved_at: str = ""

    def predict(self, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """Class indices for images ``x`` (``N×784`` or ``N×1×28×28``, floats in [0, 1])."""
        x = x.reshape(len(x), -1).float()
        self.model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                out.append(self.model((x[i:i + batch] - self.mean) / self.std).argmax(dim=1))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``x`` classified as ``y``."""
        return float((self.predict(x) == y).float().mean())

    def describe(self) -> str:
        """``Linear(784, 256) → ReLU → ...``"""
        parts = []
        for s in self.layers:
            if s["type"] == "Linear":
                parts.append(f"Linear({s['in_features']}, {s['out_features']})")
            else:
                parts.append(s["type"])
        return " → ".join(parts)


def save_mlp(
    model: nn.Module,
    path: str | os.PathLike = "fashion_mlp.pt",
    data: Any = None,
    *,
    history: Mapping[str, Sequence[float]] | None = None,
    mean: float = 0.0,
    std: float = 1.0,
) -> Path:
    """Save ``model`` (an ``nn.Sequential`` of allowed layers) to ``path``.

    ``data`` is the :class:`~course_lib.data.ImageData` it was trained on (its
    size and whether it is the full dataset are recorded); ``history`` the
    per-epoch numbers (e.g. ``train_loss``, ``test_acc``) for the figures;
    ``mean``/``std`` the input normalisation used in training, if any.
    """
    spec = _describe(model)
    rebuilt = _build(spec)
    state = {k: v.detach().to("cpu", torch.float32).clone() if v.is_floating_point() else v.detach().cpu().clone()
             for k, v in nn.Sequential(*_flat_layers(model)).state_dict().items()}
    try:
        rebuilt.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # pragma: no cover - _describe and _build agree by construction
        raise SavedMLPError(f"the network's parameters do not fit its layers: {exc}") from None
    if float(std) == 0.0:
        raise SavedMLPError("std must not be 0 (inputs are divided by it).")
    trained_on: dict[str, Any] = {"dataset": "Fashion-MNIST", "full": None, "n_train": None, "source": "unknown"}
    if data is not None:
        trained_on.update(full=bool(getattr(data, "full", False)), n_train=int(len(data.y_train)),
                          source=str(getattr(data, "source", "")))
    hist = {str(k): [float(v) for v in vs] for k, vs in (history or {}).items()}
    meta = {"format": FORMAT, "layers": spec, "trained_on": trained_on, "history": hist,
            "mean": float(mean), "std": float(std),
            "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    path = Path(path)
    torch.save({"meta_json": json.dumps(meta), "state_dict": state}, path)
    return path


def _build(spec: Any) -> nn.Sequential:
    if not isinstance(spec, list) or not spec:
        raise SavedMLPError("the file's list of layers is missing or empty.")
    layers = []
    for i, s in enumerate(spec):
        kind = s.get("type") if isinstance(s, dict) else None
        if kind not in _LAYERS:
            raise SavedMLPError(f"layer {i} of the file is {kind!r}, which is not allowed. Allowed: "
                                f"{', '.join(ALLOWED)}.")
        try:
            layers.append(_LAYERS[kind][1](s))
        except (KeyError, TypeError, ValueError) as exc:
            raise SavedMLPError(f"layer {i} ({kind}) of the file is malformed: {type(exc).__name__}: {exc}") from None
    return nn.Sequential(*layers)


def load_mlp(path: str | os.PathLike = "fashion_mlp.pt") -> SavedMLP:
    """Rebuild the network saved by :func:`save_mlp` at ``path`` (never runs code from the file)."""
    path = Path(path)
    if not path.is_file():
        raise SavedMLPError(f"there is no file {path.name} in {path.resolve().parent}.")
    size_mb = path.stat().st_size / 2 ** 20
    if size_mb > MAX_FILE_MB:
        raise SavedMLPError(f"{path.name} is {size_mb:.0f} MB, more than the {MAX_FILE_MB} MB allowed "
                            f"for an MLP on 28×28 images.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise SavedMLPError(f"{path.name} cannot be read as saved weights ({type(exc).__name__}: "
                            f"{str(exc)[:200]}). Save it with save_mlp(model, {str(path.name)!r}, data).") from None
    if not isinstance(blob, dict) or "meta_json" not in blob or "state_dict" not in blob:
        raise SavedMLPError(f"{path.name} was not written by save_mlp (it holds "
                            f"{type(blob).__name__}); save it with save_mlp(model, {str(path.name)!r}, data).")
    try:
        meta = json.loads(blob["meta_json"])
        assert isinstance(meta, dict) and meta.get("format") == FORMAT
    except Exception:  # noqa: BLE001
        raise SavedMLPError(f"{path.name}: its description is unreadable or of another format; "
                            f"save it again with save_mlp.") from None
    model = _build(meta.get("layers"))
    state = blob["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SavedMLPError(f"{path.name}: its parameters are not a dictionary of tensors.")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise SavedMLPError(f"{path.name}: the parameters do not fit the layers it lists: "
                            f"{str(exc).splitlines()[0][:300]}") from None
    if not all(torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point()):
        raise SavedMLPError(f"{path.name}: some weights are nan or inf: training diverged. Lower the "
                            f"learning rate and train again.")
    model.eval()
    try:
        mean, std = float(meta.get("mean", 0.0)), float(meta.get("std", 1.0))
        hist = {str(k): [float(v) for v in vs] for k, vs in dict(meta.get("history") or {}).items()}
    except (TypeError, ValueError):
        raise SavedMLPError(f"{path.name}: mean, std or history are malformed.") from None
    if std == 0.0:
        raise SavedMLPError(f"{path.name}: std is 0.")
    return SavedMLP(model, meta["layers"], dict(meta.get("trained_on") or {}), hist, mean, std,
                    str(meta.get("saved_at", "")))


def should_train(path: str | os.PathLike = "fashion_mlp.pt", retrain: bool = False) -> bool:
    """Whether the training cell should train now, with one line saying why.

    False while nbgrader grades the notebook (the grader evaluates the file you
    submitted; it never trains), and False when ``path`` already exists unless
    ``retrain=True`` (so that "Run all" does not train again every time).
    """
    path = Path(path)
    if grading():
        print(f"Grading: not training; the test below evaluates the submitted file {path.name}.")
        return False
    if path.is_file() and not retrain:
        print(f"Found {path.name}: not training again (pass retrain=True to should_train to train anew).")
        return False
    return True
