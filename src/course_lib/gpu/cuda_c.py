"""CUDA C kernels: their signatures, and their translation to OpenCL C.

The CPU backends run a student's CUDA C through OpenCL: a short prelude of
macros maps CUDA's names onto OpenCL's (``threadIdx`` → ``get_local_id``,
``__shared__`` → ``__local``, ``__syncthreads()`` → ``barrier(...)``) and the
pointer parameters of every ``__global__`` function get OpenCL's ``__global``
address space. Lines are never added or removed in the student's code, so a
line number in a compiler or simulator message is the student's line number
plus :data:`PRELUDE_LINES`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Kernel", "Param", "PRELUDE_LINES", "kernels", "to_opencl"]

PRELUDE = r"""#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define __global__ __kernel
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ __local
#define __restrict__ restrict
#define __syncthreads() barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)
#define threadIdx ((uint3)(get_local_id(0), get_local_id(1), get_local_id(2)))
#define blockIdx ((uint3)(get_group_id(0), get_group_id(1), get_group_id(2)))
#define blockDim ((uint3)(get_local_size(0), get_local_size(1), get_local_size(2)))
#define gridDim ((uint3)(get_num_groups(0), get_num_groups(1), get_num_groups(2)))
#define sqrtf sqrt
#define expf exp
#define logf log
#define fabsf fabs
#define fmaxf fmax
#define fminf fmin
#define powf pow
"""
PRELUDE_LINES = PRELUDE.count("\n")

#: C scalar types a kernel parameter may have, and the numpy dtype that matches.
C_TYPES: dict[str, np.dtype] = {
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "int": np.dtype(np.int32),
    "unsigned int": np.dtype(np.uint32),
    "unsigned": np.dtype(np.uint32),
    "long": np.dtype(np.int64),
    "long long": np.dtype(np.int64),
    "unsigned long": np.dtype(np.uint64),
    "short": np.dtype(np.int16),
    "unsigned short": np.dtype(np.uint16),
    "char": np.dtype(np.int8),
    "unsigned char": np.dtype(np.uint8),
}
_QUALIFIERS = {"const", "volatile", "__restrict__", "restrict", "signed"}
_KERNEL = re.compile(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)", re.S)


@dataclass(frozen=True)
class Param:
    """One kernel parameter: ``float *A`` is ``Param("A", "float", True)``."""

    name: str
    ctype: str
    pointer: bool

    @property
    def dtype(self) -> np.dtype | None:
        return C_TYPES.get(self.ctype)

    def __str__(self) -> str:
        return f"{self.ctype} {'*' if self.pointer else ''}{self.name}"


@dataclass(frozen=True)
class Kernel:
    name: str
    params: tuple[Param, ...]
    line: int   # 1-based line of the signature in the student's source


def _strip_comments(src: str) -> str:
    """Comments replaced by spaces (newlines kept, so line numbers stay)."""
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, src, flags=re.S)


def _param(text: str, kernel: str) -> Param:
    words = text.replace("*", " * ").split()
    pointer = words.count("*")
    words = [w for w in words if w != "*" and w not in _QUALIFIERS]
    if not words:
        raise ValueError(f"kernel {kernel}: cannot read the parameter '{text.strip()}'")
    name = words[-1] if len(words) > 1 else ""
    ctype = " ".join(words[:-1]) if len(words) > 1 else words[0]
    if pointer > 1:
        raise ValueError(f"kernel {kernel}: the parameter '{text.strip()}' is a pointer to a pointer; pass "
                         f"one flat array instead and index it as A[row * width + col].")
    return Param(name, ctype, bool(pointer))


def kernels(src: str) -> dict[str, Kernel]:
    """The ``__global__`` functions of ``src`` by name, with their parameters."""
    clean = _strip_comments(src)
    out = {}
    for m in _KERNEL.finditer(clean):
        params = tuple(_param(p, m.group(1)) for p in m.group(2).split(",") if p.strip() and p.strip() != "void")
        out[m.group(1)] = Kernel(m.group(1), params, clean.count("\n", 0, m.start()) + 1)
    return out


def to_opencl(src: str) -> str:
    """OpenCL C for the CUDA C ``src``: the prelude, then ``src`` with
    ``extern "C"`` dropped and ``__global`` added to every pointer parameter of
    a kernel. Line structure is kept."""
    clean = _strip_comments(src)
    clean = re.sub(r'extern\s+"C"\s*\{', lambda m: " " * len(m.group(0)), clean)
    if 'extern "C"' in src:
        # the closing brace of an extern "C" { ... } block: the last brace of the file
        idx = clean.rfind("}")
        clean = clean[:idx] + " " + clean[idx + 1:]

    def fix(m: re.Match) -> str:
        params = []
        for p in m.group(2).split(","):
            if "*" in p and "__global" not in p.replace("__global__", ""):
                lead = len(p) - len(p.lstrip())
                p = p[:lead] + "__global " + p[lead:]
            params.append(p)
        return f"__global__ void {m.group(1)}({','.join(params)})"

    return PRELUDE + _KERNEL.sub(fix, clean)
