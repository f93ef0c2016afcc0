"""CUDA C kernels: their signatures, and their translation to OpenCL C.

The source is read by clang (:mod:`.cuda_parse`), so a kernel's parameters
come with their real types and a mistake is reported by clang with the
student's line. The CPU backends run the OpenCL C that :mod:`.translate`
makes of it. Line numbers everywhere are the ones a student counts in the
string (:func:`student_text`).
"""
from __future__ import annotations

from .cuda_parse import parse, student_text
from .errors import CompileError
from .signature import Kernel, Param, kernel_of
from .translate import Translation, translate

__all__ = ["Kernel", "Param", "Translation", "kernels", "student_text", "to_opencl", "translate"]


def kernels(src: str) -> dict[str, Kernel]:
    """The ``__global__`` functions of ``src`` by name, with their parameters
    (raises :class:`CompileError` when clang finds a mistake)."""
    parsed = parse(src)
    out: dict[str, Kernel] = {}

    def walk(cursor) -> None:
        for child in cursor.get_children():
            if not parsed.in_file(child):
                continue
            if child.kind.name == "LINKAGE_SPEC":
                walk(child)
            elif child.kind.name in ("FUNCTION_DECL", "FUNCTION_TEMPLATE") and child.is_definition() and any(
                    a.kind.name == "CUDAGLOBAL_ATTR" for a in child.get_children()):
                line = parsed.line_of(child.extent.start.offset)
                if child.kind.name == "FUNCTION_TEMPLATE":
                    raise CompileError(f"line {line}: the kernel `{child.spelling}` is a template; SourceModule "
                                       f"kernels are called by their name, so write it without `template` (a "
                                       f"#define or a const int gives a compile-time size).")
                out[child.spelling] = kernel_of(child, line, parsed.quote(line), parsed.text)

    walk(parsed.tu.cursor)
    if not out:
        error = CompileError("the source has no kernel: a kernel starts with `__global__ void name(...)` and has a "
                             "body `{ ... }`.")
        raise error
    return out


def to_opencl(src: str) -> str:
    """The OpenCL C program the CPU backends build for ``src``."""
    return translate(src).opencl
