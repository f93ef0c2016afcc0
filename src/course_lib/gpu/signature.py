"""Kernel signatures: a ``__global__`` function's parameters with their C and
numpy types, read from clang's syntax tree (see :mod:`.cuda_parse`).

The launcher (:mod:`.module`) checks every argument of a launch against them
before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import CompileError

__all__ = ["CL_SCALAR", "Kernel", "Param", "kernel_of", "scalar_kind"]

#: clang's canonical scalar kinds: their OpenCL C spelling and numpy dtype.
CL_SCALAR: dict[str, tuple[str, str]] = {
    "BOOL": ("bool", "bool"), "CHAR_S": ("char", "int8"), "SCHAR": ("char", "int8"), "CHAR_U": ("uchar", "uint8"),
    "UCHAR": ("uchar", "uint8"), "SHORT": ("short", "int16"), "USHORT": ("ushort", "uint16"), "INT": ("int", "int32"),
    "UINT": ("uint", "uint32"), "LONG": ("long", "int64"), "ULONG": ("ulong", "uint64"), "LONGLONG": ("long", "int64"),
    "ULONGLONG": ("ulong", "uint64"), "FLOAT": ("float", "float32"), "DOUBLE": ("double", "float64"),
}
_QUALIFIERS = ("const ", "volatile ", "__restrict ", "restrict ")


def scalar_kind(ctype: Any) -> str | None:
    """``'FLOAT'``, ``'UINT'``, ... for a clang type that is a C scalar (typedefs resolved), else None."""
    kind = ctype.get_canonical().kind.name
    return kind if kind in CL_SCALAR else None


@dataclass(frozen=True)
class Param:
    """One kernel parameter: ``float *A`` is ``Param("A", "float", True)``
    (``ctype`` as written, without qualifiers)."""

    name: str
    ctype: str
    pointer: bool
    numpy: str | None = field(default=None, compare=False, repr=False)

    @property
    def dtype(self) -> np.dtype | None:
        return np.dtype(self.numpy) if self.numpy else None

    def __str__(self) -> str:
        return f"{self.ctype} {'*' if self.pointer else ''}{self.name}"


@dataclass(frozen=True)
class Kernel:
    """A ``__global__`` function: its CUDA name, parameters and first line (as the
    student counts lines), and for the CPU backends its OpenCL name and the
    hidden arguments the translation added (dynamic ``__shared__`` memory, the
    flags of ``assert``)."""

    name: str
    params: tuple[Param, ...]
    line: int
    cl_name: str = ""
    dynamic_shared: bool = False
    flags: bool = False


def _strip(spelling: str) -> str:
    changed = True
    while changed:
        changed = False
        for q in _QUALIFIERS:
            if spelling.startswith(q):
                spelling, changed = spelling[len(q):], True
    return spelling.replace(" __restrict", "").replace(" const", "").strip()


def param_of(cursor: Any, kernel: str, quote: str, source: bytes = b"") -> Param:
    """The :class:`Param` of a PARM_DECL cursor of kernel ``kernel`` (``source``: the
    text the cursor's offsets refer to, for messages)."""
    t = cursor.type
    canonical = t.get_canonical()
    written = source[cursor.extent.start.offset:cursor.extent.end.offset].decode("utf-8", "replace")
    text = f"`{' '.join(written.split()) or cursor.spelling}`"
    if canonical.kind.name in ("POINTER", "INCOMPLETEARRAY", "CONSTANTARRAY"):
        pointee = t.get_pointee() if canonical.kind.name == "POINTER" else t.element_type
        if pointee.kind.name == "INVALID":
            pointee = canonical.get_pointee() if canonical.kind.name == "POINTER" else canonical.element_type
        if pointee.get_canonical().kind.name in ("POINTER", "INCOMPLETEARRAY", "CONSTANTARRAY"):
            raise CompileError(f"kernel {kernel}: the parameter {text} is a pointer to a pointer; pass one flat "
                               f"array instead and index it as A[row * width + col] ({quote}).")
        kind = scalar_kind(pointee)
        return Param(cursor.spelling, _strip(pointee.spelling), True, CL_SCALAR[kind][1] if kind else None)
    if canonical.kind.name == "LVALUEREFERENCE":
        raise CompileError(f"kernel {kernel}: the parameter {text} is a reference; a kernel takes numbers and "
                           f"arrays (pointers) only ({quote}).")
    kind = scalar_kind(t)
    return Param(cursor.spelling, _strip(t.spelling), False, CL_SCALAR[kind][1] if kind else None)


def kernel_of(cursor: Any, line: int, quote: str, source: bytes = b"", cl_name: str = "",
              dynamic_shared: bool = False, flags: bool = False) -> Kernel:
    """The :class:`Kernel` of a ``__global__`` FUNCTION_DECL cursor."""
    params = tuple(param_of(c, cursor.spelling, quote, source) for c in cursor.get_arguments())
    return Kernel(cursor.spelling, params, line, cl_name, dynamic_shared, flags)
