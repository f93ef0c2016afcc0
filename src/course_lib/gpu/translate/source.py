"""The student's source as the translation sees it: tokens, lines, names, types.

:class:`SourceText` holds the parsed source and the state the translation
builds (renames, enum constants, moved declarations); the other parts of the
translator (file scope, functions, edits) are mixins over it.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from ..cuda_parse import Parsed, spelling_offset
from ..errors import NotOnCpu
from ..rewrite import Edit
from ..signature import CL_SCALAR, scalar_kind

if TYPE_CHECKING:
    from .functions import Function, Variant

__all__ = ["CASTS", "CPP_ONLY", "OPENCL_RESERVED", "SourceText", "attr_kinds", "decl_key"]

#: Identifiers that are keywords or type names in OpenCL C but free in CUDA C++.
OPENCL_RESERVED = frozenset(
    "global local constant private generic kernel read_only write_only read_write uniform pipe half quad "
    "complex imaginary uchar ushort uint ulong sampler_t event_t image1d_t image2d_t image3d_t "
    "image1d_array_t image2d_array_t image1d_buffer_t queue_t ndrange_t clk_event_t reserve_id_t".split()
    + [f"{t}{n}" for t in ("char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "float", "double",
                           "half", "bool") for n in (8, 16)])
CPP_ONLY = {
    "CLASS_DECL": "a class", "CLASS_TEMPLATE": "a class template", "FUNCTION_TEMPLATE": "a template",
    "NAMESPACE": "a namespace", "USING_DIRECTIVE": "`using namespace`", "USING_DECLARATION": "`using`",
    "CXX_METHOD": "a method", "CONSTRUCTOR": "a constructor", "LAMBDA_EXPR": "a lambda",
    "CXX_NEW_EXPR": "`new`", "CXX_DELETE_EXPR": "`delete`", "CXX_TRY_STMT": "`try`", "CXX_THROW_EXPR": "`throw`",
    "CXX_FOR_RANGE_STMT": "a range-based for loop", "TYPE_ALIAS_DECL": "a `using` type alias",
    "CUDA_KERNEL_CALL_EXPR": "a kernel launch from a kernel (dynamic parallelism)",
}
CASTS = ("CSTYLE_CAST_EXPR", "CXX_STATIC_CAST_EXPR", "CXX_REINTERPRET_CAST_EXPR", "CXX_CONST_CAST_EXPR",
          "CXX_FUNCTIONAL_CAST_EXPR")
_ABS = ("abs", "labs", "llabs")


def decl_key(cursor: Any) -> tuple[str, int, str]:
    """A declaration's identity: file, offset and name (the same from every reference)."""
    loc = cursor.location
    return (loc.file.name if loc.file else "", loc.offset, cursor.spelling)


def attr_kinds(cursor: Any) -> set[str]:
    """The kinds of a declaration's attributes (``CUDAGLOBAL_ATTR``, ``CUDASHARED_ATTR``, ...)."""
    return {c.kind.name for c in cursor.get_children() if c.kind.name.endswith("_ATTR")}


class SourceText:
    """The parsed source, its tokens and lines, and the translation's shared state.
    :class:`~.file_scope.FileScope`, :class:`~.functions.Functions` and
    :class:`~.edits.Edits` extend it; :class:`~course_lib.gpu.translate.Translator`
    combines them."""

    def __init__(self, parsed: Parsed):
        self.p = parsed
        self.text = parsed.text
        self.functions: dict[tuple, Function] = {}
        self.variants: dict[tuple, Variant] = {}
        self.top: list[Edit] = []
        self.renamed: dict[tuple, str] = {}          # variables named like OpenCL keywords
        self.enums: dict[tuple, str | None] = {}     # const ints made enum constants -> cast type (None: int)
        self.dynamic: dict[tuple, Any] = {}          # extern __shared__ declarations
        self.file_shared: dict[tuple, Any] = {}      # file-scope (static) __shared__ declarations
        self.asserts: list[tuple[int, str]] = []
        self.items: list[tuple[int, int, Any]] = []   # top-level function declarations, in order
        self.address_taken: set[tuple] = set()

    def line(self, cursor_or_offset: Any) -> int:
        """The student's line of a cursor or byte offset."""
        off = cursor_or_offset if isinstance(cursor_or_offset, int) else cursor_or_offset.extent.start.offset
        return self.p.line_of(off)

    def refuse(self, what: str, where: Any, why: str = "") -> NotOnCpu:
        """The error naming ``what`` (at ``where``) that the CPU backends cannot run."""
        reason = f": {why.rstrip('.')}." if why else "."
        return NotOnCpu(f"{self.p.quote(self.line(where))}\n{what} cannot run on the CPU backends{reason} "
                        f"On a CUDA GPU (Colab) it runs as written.")

    def tok(self, offset: int) -> str | None:
        """The token that starts at ``offset`` (None inside a macro expansion)."""
        t = self.p.token_at(offset)
        return t.text if t else None

    def tok_after(self, offset: int) -> str | None:
        """The first token at or after ``offset``."""
        for t in self.p.tokens_in(offset, len(self.text)):
            return t.text
        return None

    def src(self, start: int, end: int) -> str:
        """The student's text between two byte offsets."""
        return self.text[start:end].decode("utf-8", "replace")

    def name_offset(self, cursor: Any) -> int:
        """Offset of the name token a cursor refers by (its spelling location in a macro)."""
        off = cursor.location.offset
        name = cursor.spelling
        if self.src(off, off + len(name)) == name:
            return off
        spelled = spelling_offset(cursor.location)
        if spelled is not None and self.src(spelled, spelled + len(name)) == name:
            return spelled
        raise self.refuse(f"`{name}` here, written through a macro,", cursor,
                          "course_lib cannot translate it inside the macro; write it out without the macro")

    def first_star(self, start: int, end: int) -> int | None:
        """Offset of the first ``*`` token in a range: where a pointer's address space goes."""
        for t in self.p.tokens_in(start, end):
            if t.text == "*":
                return t.start
        return None

    def cl_type(self, ctype: Any, where: Any) -> str:
        """OpenCL spelling of a scalar (or vector) type."""
        kind = scalar_kind(ctype)
        if kind:
            return CL_SCALAR[kind][0]
        name = ctype.get_canonical().spelling.replace("const ", "").replace("volatile ", "").strip()
        name = re.sub(r"^(struct|union|enum)\s+", "", name)
        if re.fullmatch(r"(u?(char|short|int|long)|float|double|(u)?longlong)[234]", name):
            return name.replace("longlong", "long")
        return name

    # ------------------------------------------------------------------ top level

    def initializer(self, cursor: Any) -> Any:
        """The initializer expression of a variable declaration, or None."""
        try:
            name_end = self.name_offset(cursor) + len(cursor.spelling)
        except NotOnCpu:
            return None
        depth = 0
        has_init = False
        for t in self.p.tokens_in(name_end, cursor.extent.end.offset):
            if t.text in ("[", "("):
                depth += 1
            elif t.text in ("]", ")"):
                depth -= 1
            elif t.text == "=" and depth == 0:
                has_init = True
                break
            elif t.text == "{" and depth == 0:
                has_init = True
                break
        if not has_init:
            return None
        kids = [c for c in cursor.get_children() if c.kind.is_expression()]
        return kids[-1] if kids else None

    @staticmethod
    def one_line(text: str) -> str:
        """C text on one line: comments dropped, whitespace collapsed."""
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        return " ".join(text.split())

    def refs_in(self, cursor: Any) -> Iterator[Any]:
        """The declarations referenced inside ``cursor``."""
        for c in cursor.walk_preorder():
            if c.kind.name == "DECL_REF_EXPR":
                yield c.referenced
