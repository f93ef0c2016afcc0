"""What the checks of numpy layers share (notebooks 03 and 04): make the student's
layer from its class, call its methods with warnings silenced, read an attribute it
must store, move arrays to and from float64 torch tensors, and compare with the
oracle at ``RTOL``, ``ATOL``. A gradient of another shape that gives the very same
update ``P − lr·dP`` (``(C,)`` for a ``1×C`` parameter) passes with a printed NOTE."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from ._arrays import NONFINITE, Mistakes, compare, quiet, same_update, shape_text as _shape
from ._harness import CheckFailure, call

__all__ = ["RTOL", "ATOL", "STORED", "call_quiet", "make_layer", "as_numpy", "compare_layer", "compare_grad",
           "layer_attr", "tensor", "to_numpy", "batch_note"]

RTOL, ATOL = 1e-5, 1e-7
STORED = "Did you forget to return it (or to store it in self)?"


def call_quiet(method: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with quiet():
        return call(method, what, fn, *args, **kwargs)


def make_layer(title: str, Cls: Any, *args: Any, **kwargs: Any) -> Any:
    if not isinstance(Cls, type):
        raise CheckFailure(f"{title}: expected the class {title} itself, got a {type(Cls).__name__}. "
                           f"Pass the class, e.g. check({title}), not an instance.")
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return call(f"{title}.__init__", f"creating {title}({shown})", Cls, *args, **kwargs)


def as_numpy(x: Any) -> Any:
    """A torch tensor (a layer may return one) as a numpy array; anything else as it is."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def compare_layer(method: str, where: str, quantity: str, got: Any, want: np.ndarray,
                  mistakes: Mistakes = (), accept: Sequence[np.ndarray] = (),
                  entry: Callable[[tuple[int, ...]], str] | None = None,
                  nonfinite_hint: str = NONFINITE) -> None:
    """:func:`compare` with this module's tolerance (``RTOL``, ``ATOL``), for
    a value returned by the layer or stored in it; torch tensors are accepted."""
    compare(method, quantity, as_numpy(got), want, mistakes, where=where, accept=accept, entry=entry,
            none_hint=STORED, nonfinite_hint=nonfinite_hint, rtol=RTOL, atol=ATOL)


def compare_grad(method: str, where: str, quantity: str, got: Any, want: np.ndarray, param: str,
                 noted: set[str], mistakes: Mistakes = (),
                 entry: Callable[[tuple[int, ...]], str] | None = None) -> None:
    """:func:`compare_layer` for the gradient of the parameter ``param``: a shape that gives
    the very same update ``param − lr · gradient`` (``(C,)`` for a ``1 × C`` parameter)
    is accepted, with a printed note (once per check, in ``noted``) naming the
    expected shape; its values are then compared as usual."""
    arr = as_numpy(got)
    shape = np.shape(arr) if isinstance(arr, np.ndarray) or np.isscalar(arr) else None
    if shape is not None and same_update(shape, want.shape):
        compare_layer(method, where, quantity, np.asarray(arr, dtype=np.float64).reshape(want.shape), want,
                      mistakes, entry=entry)
        if quantity not in noted:
            noted.add(quantity)
            print(f"NOTE: {method}: {quantity} has shape {_shape(shape)}; the expected shape is "
                  f"{_shape(want.shape)}, the shape of {param}. Accepted, because {param} − lr · {quantity} "
                  f"is the same update, but keep {param}'s shape (keepdims=True, or reshape).")
        return
    compare_layer(method, where, quantity, got, want, mistakes, entry=entry)


def layer_attr(method: str, obj: Any, name: str, when: str) -> Any:
    if not hasattr(obj, name):
        raise CheckFailure(f"{method}: {when} the layer has no attribute {name}. "
                           f"Store it as self.{name}.")
    return getattr(obj, name)


def tensor(x: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy().copy()


def batch_note(n: int) -> str:
    return " (batch size 1)" if n == 1 else ""
