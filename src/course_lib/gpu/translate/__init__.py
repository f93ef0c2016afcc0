"""CUDA C → OpenCL C, from clang's typed syntax tree (see :mod:`course_lib.gpu.cuda_parse`).

What a student writes stays where it is; the translation edits it
(:mod:`course_lib.gpu.rewrite`) where OpenCL C needs something else:

* every pointer gets its address space, inferred from where it points
  (:mod:`course_lib.gpu.address_space`); a ``__device__`` function whose pointer parameters
  receive different spaces is emitted once per combination;
* ``__shared__`` declarations inside loops or blocks move to the top of their
  kernel (OpenCL allows ``__local`` only there), renamed when names clash;
* ``const int TILE = 32;`` (file scope or local) becomes ``enum { TILE = 32 };``,
  a compile-time constant as in C++; other file-scope constants live in
  ``__constant`` memory;
* kernels and functions get internal names (a kernel called ``dot`` must not
  meet OpenCL's built-in ``dot``); variables named like OpenCL keywords
  (``local``, ``global``, ...) get a trailing underscore;
* ``extern __shared__`` arrays become a hidden ``__local`` argument sized by
  the launch's ``shared=``; ``assert`` records its first failure in a hidden
  flags argument; both are threaded through the functions that need them;
* C++ forms OpenCL C lacks are rewritten: ``static_cast<T>(x)`` and
  ``float(x)`` as C casts, ``reinterpret_cast<float4 *>``, ``auto``,
  ``nullptr``, ``long long``, ``extern "C"`` (with or without braces);
* calls to CUDA's math and atomics get explicit argument conversions, so
  that OpenCL picks the overload CUDA picked.

Each function is emitted after a ``#line`` directive, so compiler and
simulator messages carry the student's line numbers. What cannot run on the
CPU raises :class:`~course_lib.gpu.errors.NotOnCpu` naming the construct and
its line.

The parts: :mod:`.source` (the source and shared state), :mod:`.file_scope`,
:mod:`.functions` (bodies, address spaces, variants, hidden arguments),
:mod:`.edits` (the edits of one variant), and :class:`Translator` here, which
assembles the program.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..address_space import NAMES, Conflict
from ..cuda_parse import parse
from ..errors import GpuError, NotOnCpu
from ..opencl_prelude import PRELUDE, SOURCE_NAME
from ..rewrite import render
from ..signature import Kernel, kernel_of
from .edits import Edits
from .file_scope import FileScope
from .functions import Functions, Variant
from .source import decl_key

__all__ = ["Translation", "Translator", "translate"]


@dataclass(frozen=True)
class Translation:
    """The OpenCL program for a CUDA C source, and what the launcher needs to know."""

    opencl: str
    kernels: dict[str, Kernel]
    asserts: tuple[tuple[int, str], ...]      # (line, condition) per assert id - 1
    lines: tuple[str, ...]                    # the student's lines


class Translator(FileScope, Functions, Edits):
    """CUDA C → OpenCL C for one parsed source."""

    def run(self) -> Translation:
        """The OpenCL program: the prelude, then the file with each function emitted once per variant."""
        self.collect()
        kernels = [f for f in self.functions.values() if f.kernel and f.definition is not None]
        if not kernels:
            raise NotOnCpu("the source has no kernel: a kernel is a function declared `__global__ void "
                           "name(...)` with a body.")
        try:
            for f in kernels:
                self.analyse(self.variant(f, ()))
            pending = [v for v in self.variants.values() if not v.done]
            while pending:
                for v in pending:
                    self.analyse(v)
                pending = [v for v in self.variants.values() if not v.done]
        except Conflict as c:
            a, b = c.spaces
            raise NotOnCpu(f"{self.p.quote(c.line)}\nthe pointer `{c.name}` points into {NAMES[a]} and, here, "
                           f"into {NAMES[b]}. On a GPU one pointer may do both; the CPU backends (OpenCL 1.2) "
                           f"need each pointer to stay in one kind of memory: use a second pointer.") from None
        self.check_recursion()
        self.solve_needs()
        by_decl: dict[tuple, list[Variant]] = {}
        for v in self.reachable(kernels):
            by_decl.setdefault(decl_key(v.function.definition.canonical), []).append(v)
        bodies = {id(v): self.body_edits(v) for vs in by_decl.values() for v in vs}
        out = [PRELUDE, f"\n#line 1 \"{SOURCE_NAME}\"\n"]
        pos = 0
        for start, end, decl in sorted(self.items, key=lambda item: item[0]):
            if start < pos:
                continue
            out.append(render(self.text, pos, start, self.top))
            variants = by_decl.get(decl_key(decl.canonical), [])
            line, col = decl.extent.start.line, decl.extent.start.column
            pieces = []
            for v in variants:
                edits = [e for e in self.top if start <= e.start and e.end <= end] + self.signature_edits(v, decl)
                if decl.is_definition():
                    edits += bodies[id(v)]
                text = render(self.text, start, end, edits)
                pieces.append(f"\n#line {line} \"{SOURCE_NAME}\"\n{' ' * (col - 1)}{text}")
            if not decl.is_definition() and pieces:
                pieces = [p + ";" for p in pieces[:-1]] + pieces[-1:]
            out.append("".join(pieces))
            end_line, end_col = decl.extent.end.line, decl.extent.end.column
            out.append(f"\n#line {end_line} \"{SOURCE_NAME}\"\n{' ' * (end_col - 1)}")
            pos = end
        out.append(render(self.text, pos, len(self.text), self.top))
        infos = {}
        for f in kernels:
            v = self.variants[(decl_key(f.definition.canonical), ())]
            line = self.line(f.definition)
            infos[f.name] = kernel_of(f.definition, line, self.p.quote(line), self.text, v.cl_name,
                                      "dyn" in v.needs, "flags" in v.needs)
        return Translation("".join(out), infos, tuple(self.asserts), tuple(self.p.lines))


@functools.lru_cache(maxsize=64)
def translate(source: str) -> Translation:
    """The OpenCL program for ``source`` (raises CompileError / NotOnCpu with the student's lines)."""
    parsed = parse(source)
    try:
        return Translator(parsed).run()
    except GpuError:
        raise
    except Exception as exc:  # noqa: BLE001 - a gap in the translator must not show as a traceback
        raise NotOnCpu(f"course_lib could not translate this kernel for the CPU backends (an internal error: "
                       f"{type(exc).__name__}: {exc}). Please report it with the kernel; on a CUDA GPU (Colab) it "
                       f"runs as written.") from None
