"""The catalogue's registry: a :class:`Case` per kernel, and the constructs it exercises."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: What trips a CUDA-to-OpenCL translation, as measured on public kernels (issue 21);
#: each must appear in at least two catalogue kernels.
CONSTRUCTS = {
    "file_const": "a file-scope (or local) `const int TILE = 32;`, `constexpr`, `static const`",
    "local_pointer": "a pointer declared inside a kernel (`const float *row = A + r * m;`)",
    "shared_in_block": "`__shared__` arrays declared inside a loop or block",
    "device_pointer_helper": "a `__device__` function taking (or returning) pointers",
    "builtin_name": "a kernel named like an OpenCL built-in (`dot`, `normalize`, `length`)",
    "assert": "`assert` in a kernel",
    "extern_shared": "`extern __shared__` with the launch's `shared=` size",
    "float_atomic": "`atomicAdd` on floats (or doubles)",
    "launch_bounds": "`__launch_bounds__`",
    "float4": "`reinterpret_cast<float4 *>` (vector loads)",
    "size_t": "`size_t` parameters",
    "extern_c": "`extern \"C\"` without braces",
    "already_worked": "`#pragma unroll`, `__restrict__`, `#define` tile sizes, pointer arithmetic on parameters",
}


@dataclass(frozen=True)
class Case:
    """A correct kernel: ``run(rng)`` launches it as its host code would and returns
    (what the kernel computed, what numpy says)."""

    name: str
    constructs: frozenset[str]
    run: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]
    rtol: float = 1e-4
    atol: float = 1e-4


CASES: dict[str, Case] = {}


def case(name: str, *constructs: str, rtol: float = 1e-4, atol: float = 1e-4):
    """Register the decorated ``run(rng)`` as the catalogue kernel ``name``."""
    unknown = set(constructs) - set(CONSTRUCTS)
    assert not unknown, unknown

    def register(run):
        assert name not in CASES, name
        CASES[name] = Case(name, frozenset(constructs), run, rtol, atol)
        return run
    return register


def matrices(rng: np.random.Generator, n: int, m: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """A (n×m) and B (m×p), float32 with small integer-ish values (exact sums)."""
    A = rng.integers(-4, 5, size=(n, m)).astype(np.float32)
    B = rng.integers(-4, 5, size=(m, p)).astype(np.float32)
    return A, B
