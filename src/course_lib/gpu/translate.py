"""CUDA C → OpenCL C, from clang's typed syntax tree (see :mod:`.cuda_parse`).

What a student writes stays where it is; the translation edits it
(:mod:`.rewrite`) where OpenCL C needs something else:

* every pointer gets its address space, inferred from where it points
  (:mod:`.address_space`); a ``__device__`` function whose pointer parameters
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
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from .address_space import QUALIFIER, NAMES, Conflict, is_array, is_pointer, space_of, storage_space
from .cuda_headers import NOT_ON_CPU
from .cuda_parse import FILE, Parsed, evaluate_int, parse, spelling_offset
from .errors import NotOnCpu
from .opencl_prelude import DYNAMIC_SHARED, FLAGS, PRELUDE, SOURCE_NAME
from .rewrite import Edit, blank, render
from .signature import CL_SCALAR, Kernel, kernel_of, scalar_kind

__all__ = ["Translation", "translate"]

#: Identifiers that are keywords or type names in OpenCL C but free in CUDA C++.
OPENCL_RESERVED = frozenset(
    "global local constant private generic kernel read_only write_only read_write uniform pipe half quad "
    "complex imaginary uchar ushort uint ulong sampler_t event_t image1d_t image2d_t image3d_t "
    "image1d_array_t image2d_array_t image1d_buffer_t queue_t ndrange_t clk_event_t reserve_id_t".split()
    + [f"{t}{n}" for t in ("char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "float", "double",
                           "half", "bool") for n in (8, 16)])
_CPP_ONLY = {
    "CLASS_DECL": "a class", "CLASS_TEMPLATE": "a class template", "FUNCTION_TEMPLATE": "a template",
    "NAMESPACE": "a namespace", "USING_DIRECTIVE": "`using namespace`", "USING_DECLARATION": "`using`",
    "CXX_METHOD": "a method", "CONSTRUCTOR": "a constructor", "LAMBDA_EXPR": "a lambda",
    "CXX_NEW_EXPR": "`new`", "CXX_DELETE_EXPR": "`delete`", "CXX_TRY_STMT": "`try`", "CXX_THROW_EXPR": "`throw`",
    "CXX_FOR_RANGE_STMT": "a range-based for loop", "TYPE_ALIAS_DECL": "a `using` type alias",
    "CUDA_KERNEL_CALL_EXPR": "a kernel launch from a kernel (dynamic parallelism)",
}
_CASTS = ("CSTYLE_CAST_EXPR", "CXX_STATIC_CAST_EXPR", "CXX_REINTERPRET_CAST_EXPR", "CXX_CONST_CAST_EXPR",
          "CXX_FUNCTIONAL_CAST_EXPR")
_ABS = ("abs", "labs", "llabs")


@dataclass(frozen=True)
class Translation:
    """The OpenCL program for a CUDA C source, and what the launcher needs to know."""

    opencl: str
    kernels: dict[str, Kernel]
    asserts: tuple[tuple[int, str], ...]      # (line, condition) per assert id - 1
    lines: tuple[str, ...]                    # the student's lines


def _key(cursor: Any) -> tuple[str, int, str]:
    loc = cursor.location
    return (loc.file.name if loc.file else "", loc.offset, cursor.spelling)


def _attrs(cursor: Any) -> set[str]:
    return {c.kind.name for c in cursor.get_children() if c.kind.name.endswith("_ATTR")}


@dataclass
class Function:
    """A kernel or ``__device__`` function: its declarations and what its body holds."""

    name: str
    kernel: bool
    decls: list[Any]
    definition: Any = None
    index: int = 0            # which overload of the name, for the internal name
    nodes: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def pointer_params(self) -> list[int]:
        return [i for i, p in enumerate(self.definition.get_arguments()) if is_pointer(p.type)]


@dataclass
class Variant:
    """A function with one choice of address spaces for its pointer parameters."""

    function: Function
    spaces: tuple[str, ...]
    env: dict[tuple, str] = field(default_factory=dict)          # pointer variable -> space
    calls: list[tuple[Any, tuple, tuple]] = field(default_factory=list)   # (call, callee key, spaces)
    returns: str | None = None
    needs: set[str] = field(default_factory=set)                 # 'dyn', 'flags'
    done: bool = False
    busy: bool = False
    space: Any = None                                            # expression -> address space

    @property
    def cl_name(self) -> str:
        f = self.function
        if f.kernel:
            return f"course_kernel_{f.name}"
        suffix = f"_{f.index}" if f.index else ""
        return f"course_fn_{f.name}{suffix}" + (f"_{''.join(self.spaces)}" if self.spaces else "")


class Translator:
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

    # ------------------------------------------------------------------ helpers
    def line(self, cursor_or_offset: Any) -> int:
        off = cursor_or_offset if isinstance(cursor_or_offset, int) else cursor_or_offset.extent.start.offset
        return self.p.line_of(off)

    def refuse(self, what: str, where: Any, why: str = "") -> NotOnCpu:
        """The error naming ``what`` (at ``where``) that the CPU backends cannot run."""
        return NotOnCpu(f"{self.p.quote(self.line(where))}\n{what} cannot run on the CPU backends"
                        + (f": {why}" if why else ".") + " On a CUDA GPU (Colab) it runs as written.")

    def tok(self, offset: int) -> str | None:
        t = self.p.token_at(offset)
        return t.text if t else None

    def tok_after(self, offset: int) -> str | None:
        for t in self.p.tokens_in(offset, len(self.text)):
            return t.text
        return None

    def src(self, start: int, end: int) -> str:
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
    def collect(self) -> None:
        for c in self.p.tu.cursor.walk_preorder():      # `&N` keeps a const N a variable
            if c.kind.name == "UNARY_OPERATOR" and self.p.in_file(c) and self.tok(c.extent.start.offset) == "&":
                inner = c
                while list(inner.get_children()) and inner.kind.name in ("UNARY_OPERATOR", "UNEXPOSED_EXPR",
                                                                         "PAREN_EXPR"):
                    inner = list(inner.get_children())[0]
                if inner.kind.name == "DECL_REF_EXPR" and inner.referenced is not None:
                    self.address_taken.add(_key(inner.referenced))
        self.top_children(self.p.tu.cursor)
        # token fixes anywhere in the file
        toks = self.p.tokens
        for i, t in enumerate(toks):
            if t.kind == "KEYWORD" and t.text == "long" and i + 1 < len(toks) and toks[i + 1].text == "long":
                self.top.append(Edit(t.start, toks[i + 1].end, "long"))
            elif t.kind == "LITERAL" and re.fullmatch(r"[0-9][0-9a-fA-FxX]*([uU]?(ll|LL)|(ll|LL)[uU]?)", t.text):
                digits = re.sub(r"[uUlL]+$", "", t.text)
                self.top.append(Edit(t.start, t.end, digits + ("ul" if "u" in t.text.lower() else "l")))
            elif t.kind == "KEYWORD" and t.text == "nullptr":
                self.top.append(Edit(t.start, t.end, "0"))
            elif t.kind == "KEYWORD" and t.text == "constexpr":
                self.top.append(Edit(t.start, t.end, "const"))

    def top_children(self, parent: Any) -> None:
        """The declarations of the file (or of an extern "C" block), declarators of one
        declaration (`const int A = 1, B = 2;`) together."""
        group: list[Any] = []
        children = [c for c in parent.get_children() if self.p.in_file(c)
                    and c.kind.name not in ("MACRO_DEFINITION", "MACRO_INSTANTIATION")]
        for cursor in sorted(children, key=lambda c: (c.extent.start.offset, c.extent.end.offset)):
            if cursor.kind.name == "VAR_DECL" and group and self.same_declaration(group[-1], cursor):
                group.append(cursor)
                continue
            if group:
                self.file_vars(group)
                group = []
            if cursor.kind.name == "VAR_DECL":
                group = [cursor]
            else:
                self.top_level(cursor)
        if group:
            self.file_vars(group)

    def same_declaration(self, a: Any, b: Any) -> bool:
        """Two declarators of one declaration (clang gives both the declaration's start)."""
        return b.extent.start.offset == a.extent.start.offset

    def top_level(self, cursor: Any) -> None:
        kind = cursor.kind.name
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        if kind == "LINKAGE_SPEC":
            toks = list(self.p.tokens_in(start, end))
            if len(toks) >= 3 and toks[2].text == "{":
                self.top.append(Edit(toks[0].start, toks[2].end, ""))
                self.top.append(Edit(toks[-1].start, toks[-1].end, ""))
            elif len(toks) >= 2:
                self.top.append(Edit(toks[0].start, toks[1].end, ""))
            self.top_children(cursor)
        elif kind == "INCLUSION_DIRECTIVE":
            self.top.append(Edit(start, end, ""))
        elif kind == "STATIC_ASSERT":
            self.top.append(Edit(start, end, ""))
        elif kind == "STRUCT_DECL":
            if any(c.kind.name == "CXX_METHOD" or c.kind.name == "CONSTRUCTOR" for c in cursor.get_children()):
                raise self.refuse("a struct with methods", cursor, "OpenCL C structs hold data only")
            if cursor.spelling and cursor.is_definition() and not cursor.is_anonymous():
                semi = self.tok_after(end)
                if semi == ";":
                    pos = next(self.p.tokens_in(end, len(self.text))).end
                    self.top.append(Edit(pos, pos, f" typedef struct {cursor.spelling} {cursor.spelling};"))
        elif kind == "FUNCTION_DECL":
            self.function_decl(cursor)
        elif kind in _CPP_ONLY:
            raise self.refuse(_CPP_ONLY[kind], cursor, "kernels on the CPU backends are C, not C++")

    def function_decl(self, cursor: Any) -> None:
        attrs = _attrs(cursor)
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        if "CUDAGLOBAL_ATTR" not in attrs and "CUDADEVICE_ATTR" not in attrs:
            self.top.append(Edit(start, end, blank(self.text, start, end)))   # host code: not for the device
            return
        key = _key(cursor.canonical)
        f = self.functions.get(key)
        if f is None:
            f = self.functions[key] = Function(cursor.spelling, "CUDAGLOBAL_ATTR" in attrs, [])
            f.index = sum(1 for g in self.functions.values() if g.name == f.name) - 1
        f.decls.append(cursor)
        if cursor.is_definition():
            f.definition = cursor
        self.items.append((start, end, cursor))

    def file_vars(self, group: list[Any]) -> None:
        """A file-scope declaration (one or more declarators)."""
        if len(group) == 1:
            self.file_var(group[0])
            return
        first = group[0]
        if all(c.type.is_const_qualified() and self.initializer(c) is not None and not _attrs(c) for c in group):
            if all(self.enum_value(c) is not None for c in group):
                start, end = first.extent.start.offset, group[-1].extent.end.offset
                parts = []
                for c in group:
                    self.enums[_key(c)] = self.enum_cast(c)
                    init = self.initializer(c)
                    parts.append(f"{c.spelling} = ({render(self.text, init.extent.start.offset, init.extent.end.offset, self.top)})")
                self.top.append(Edit(start, end, "enum { " + ", ".join(parts) + " }" + blank(self.text, start, end)))
                return
            self.top.append(Edit(first.extent.start.offset, first.extent.start.offset, "__constant "))
            return
        for c in group:
            if _attrs(c) or not c.type.is_const_qualified():
                raise self.refuse(f"the declaration of `{c.spelling}` together with other variables", c,
                                  "declare each file-scope variable on its own")
        self.top.append(Edit(first.extent.start.offset, first.extent.start.offset, "__constant "))

    def file_var(self, cursor: Any) -> None:
        attrs = _attrs(cursor)
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        key = _key(cursor)
        if "CUDASHARED_ATTR" in attrs:
            if cursor.storage_class.name == "EXTERN":
                self.dynamic[key] = cursor
            else:
                self.file_shared[key] = cursor
            self.top.append(Edit(start, end, blank(self.text, start, end)))
            self.eat_semicolon(end)
            return
        if "CUDADEVICE_ATTR" in attrs and "CUDACONSTANT_ATTR" not in attrs:
            raise self.refuse(f"the __device__ variable `{cursor.spelling}` (global memory declared in the "
                              f"source)", cursor, "pass an array to the kernel instead")
        if "CUDACONSTANT_ATTR" in attrs:
            if self.initializer(cursor) is None:
                raise self.refuse(f"the __constant__ array `{cursor.spelling}` without an initializer (filled "
                                  f"from Python)", cursor, "pass the values to the kernel as an array (In(...)) "
                                  "instead, or write them into the source: `__constant__ float w[3] = {...};`")
            return
        if cursor.type.is_const_qualified() and self.initializer(cursor) is not None:
            if self.as_enum(cursor, start, end):
                return
            self.top.append(Edit(start, start, "__constant "))
            return
        # a host variable: not visible to kernels (clang refused any use in device code)
        self.top.append(Edit(start, end, blank(self.text, start, end)))
        self.eat_semicolon(end)

    def eat_semicolon(self, end: int) -> None:
        for t in self.p.tokens_in(end, len(self.text)):
            if t.text == ";":
                self.top.append(Edit(t.start, t.end, ""))
            return

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

    def enum_value(self, cursor: Any) -> int | None:
        """The value of a const integer variable that can be an enum constant, else None."""
        kind = scalar_kind(cursor.type)
        if kind is None or kind in ("FLOAT", "DOUBLE", "BOOL") or _key(cursor) in self.address_taken:
            return None
        value = evaluate_int(cursor)
        return value if value is not None and -2 ** 31 <= value < 2 ** 31 else None

    def enum_cast(self, cursor: Any) -> str | None:
        """The type uses of an enum constant are cast to (None: int, the enum's own)."""
        kind = scalar_kind(cursor.type)
        return None if kind == "INT" else CL_SCALAR[kind][0]

    def as_enum(self, cursor: Any, start: int, end: int, edits: list[Edit] | None = None) -> bool:
        """``const int N = 4;`` → ``enum { N = (4) };`` (a constant expression in C)."""
        if self.enum_value(cursor) is None:
            return False
        init = self.initializer(cursor)
        key = _key(cursor)
        self.enums[key] = self.enum_cast(cursor)
        target = self.top if edits is None else edits
        name_at = self.name_offset(cursor)
        # keep the initializer's own edits: replace around it
        target.append(Edit(start, name_at, "enum { "))
        target.append(Edit(name_at + len(cursor.spelling), init.extent.start.offset, " = ("))
        target.append(Edit(init.extent.end.offset, end, ") }"))
        return True

    # ------------------------------------------------------------------ function bodies
    def scan(self, f: Function) -> None:
        """Collect once what the body of ``f`` holds, by kind."""
        nodes: dict[str, list[Any]] = {}
        body = None
        for child in f.definition.get_children():
            if child.kind.name == "COMPOUND_STMT":
                body = child
        nodes["body"] = [body]
        top_decls = {_key(d) for s in body.get_children() if s.kind.name == "DECL_STMT" for d in s.get_children()}
        nodes["top_decls"] = []

        def walk(c: Any, parent: Any) -> None:
            kind = c.kind.name
            if kind in _CPP_ONLY:
                raise self.refuse(_CPP_ONLY[kind], c, "kernels on the CPU backends are C, not C++")
            if kind == "VAR_DECL":
                nodes.setdefault("vars", []).append((c, parent))
                if _key(c) in top_decls:
                    nodes["top_decls"].append(c)
                if c.type.get_canonical().kind.name in ("LVALUEREFERENCE", "RVALUEREFERENCE"):
                    raise self.refuse(f"the reference `{c.spelling}`", c, "use a pointer instead")
            elif kind in ("DECL_REF_EXPR", "CALL_EXPR", "RETURN_STMT", "DECL_STMT", "MEMBER_REF_EXPR") or \
                    kind in _CASTS:
                nodes.setdefault(kind, []).append(c)
            elif kind in ("BINARY_OPERATOR", "UNARY_OPERATOR"):
                nodes.setdefault(kind, []).append(c)
            for k in c.get_children():
                walk(k, c)

        for param in f.definition.get_arguments():
            if param.type.get_canonical().kind.name in ("LVALUEREFERENCE", "RVALUEREFERENCE"):
                raise self.refuse(f"the reference parameter `{param.spelling}`", param, "use a pointer instead")
        walk(body, f.definition)
        f.nodes = nodes
        self.plan_names(f)

    def analyse(self, v: Variant) -> None:
        """Address spaces of the pointer variables of a variant, its calls and what it returns."""
        f = v.function
        v.busy = True
        if not f.nodes:
            self.scan(f)
        params = list(f.definition.get_arguments())
        for i, s in zip(f.pointer_params, v.spaces):
            v.env[_key(params[i])] = s
        if f.kernel:
            for i in f.pointer_params:
                v.env[_key(params[i])] = "g"
        sources: list[tuple[Any, Any, Any]] = []          # (pointer var decl, expression, where)
        for decl, _ in f.nodes.get("vars", []):
            if is_pointer(decl.type):
                init = self.initializer(decl)
                if init is not None:
                    sources.append((decl, init, decl))
        for op in f.nodes.get("BINARY_OPERATOR", []):
            kids = list(op.get_children())
            if len(kids) == 2 and is_pointer(kids[0].type) and self.tok_after(kids[0].extent.end.offset) == "=":
                target = kids[0]
                while target.kind.name in ("UNEXPOSED_EXPR", "PAREN_EXPR") and list(target.get_children()):
                    target = list(target.get_children())[0]
                if target.kind.name == "DECL_REF_EXPR" and target.referenced is not None:
                    sources.append((target.referenced, kids[1], op))

        def var_space(decl: Any) -> str | None:
            return v.env.get(_key(decl))

        def call_space(call: Any) -> str | None:
            callee = self.callee(call)
            if callee is None:
                return None
            w = self.variant_for(callee, call, space, settled=False)
            if w is None:
                return None
            if not w.done and not w.busy:
                self.analyse(w)
            return w.returns

        def space(e: Any) -> str | None:
            return space_of(e, var_space, call_space, self.tok, self.tok_after)

        for _ in range(20):
            changed = False
            for decl, expr, where in sources:
                s = space(expr)
                if s is None:
                    continue
                k = _key(decl)
                have = v.env.get(k)
                if have is None:
                    v.env[k] = s
                    changed = True
                elif have != s:
                    raise Conflict(decl.spelling, (have, s), self.line(where))
            if not changed:
                break
        for ret in f.nodes.get("RETURN_STMT", []):
            kids = list(ret.get_children())
            if kids and is_pointer(kids[0].type):
                v.returns = v.returns or space(kids[0])
        v.space = space
        for call in f.nodes.get("CALL_EXPR", []):
            callee = self.callee(call)
            if callee is not None:
                w = self.variant_for(callee, call, space)
                v.calls.append((call, _key(callee.definition.canonical), w.spaces))
        v.done = True

    def callee(self, call: Any) -> Function | None:
        ref = call.referenced
        if ref is None or ref.kind.name != "FUNCTION_DECL":
            return None
        f = self.functions.get(_key(ref.canonical))
        if f is None:
            return None
        if f.kernel:
            raise self.refuse(f"calling the kernel `{f.name}` from device code", call)
        if f.definition is None:
            raise self.refuse(f"the function `{f.name}`, declared but never defined,", call)
        return f

    def variant_for(self, f: Function, call: Any, space: Any, settled: bool = True) -> Variant | None:
        """The variant of ``f`` a call needs. While the caller's pointers are still being
        inferred (``settled=False``), None when an argument's space is not known yet."""
        args = list(call.get_arguments())
        spaces = []
        for i in f.pointer_params:
            s = space(args[i]) if i < len(args) else None
            if s is None and not settled:
                return None
            spaces.append(s or "g")       # a null pointer: any space will do
        return self.variant(f, tuple(spaces))

    def variant(self, f: Function, spaces: tuple[str, ...]) -> Variant:
        key = (_key(f.definition.canonical), spaces)
        if key not in self.variants:
            self.variants[key] = Variant(f, spaces)
        return self.variants[key]

    # ------------------------------------------------------------------ needs (hidden arguments)
    def direct_needs(self, v: Variant) -> set[str]:
        f = v.function
        needs = set()
        for call in f.nodes.get("CALL_EXPR", []):
            if call.spelling == "assert" and self.is_stub(call):
                needs.add("flags")
        for ref in f.nodes.get("DECL_REF_EXPR", []):
            decl = ref.referenced
            if decl is not None and _key(decl) in self.dynamic:
                needs.add("dyn")
        for decl, _ in f.nodes.get("vars", []):
            if "CUDASHARED_ATTR" in _attrs(decl) and decl.storage_class.name == "EXTERN":
                needs.add("dyn")
        return needs

    def is_stub(self, call: Any) -> bool:
        ref = call.referenced
        return ref is not None and ref.location.file is not None and ref.location.file.name != FILE

    def solve_needs(self) -> None:
        for v in self.variants.values():
            v.needs = self.direct_needs(v)
        changed = True
        while changed:
            changed = False
            for v in self.variants.values():
                for _, callee, spaces in v.calls:
                    w = self.variants[(callee, spaces)]
                    if not w.done:
                        continue
                    if not w.needs <= v.needs:
                        v.needs |= w.needs
                        changed = True

    # ------------------------------------------------------------------ edits of one variant
    def signature_edits(self, v: Variant, decl: Any) -> list[Edit]:
        f = v.function
        edits = [Edit(self.name_offset(decl), self.name_offset(decl) + len(decl.spelling), v.cl_name)]
        params = list(decl.get_arguments())
        spaces = dict(zip(f.pointer_params, v.spaces))
        for i, p in enumerate(params):
            ps, pe = p.extent.start.offset, p.extent.end.offset
            if is_pointer(p.type):
                s = "g" if f.kernel else spaces.get(i, "g")
                star = self.first_star(ps, pe)
                if star is None:
                    raise self.refuse(f"the parameter `{p.spelling}` (a pointer through a typedef or macro)", p)
                if f.kernel:
                    pointee = p.type.get_canonical().get_pointee()
                    kind = scalar_kind(pointee)
                    if kind in ("BOOL", "LONGLONG", "ULONGLONG", "LONG", "ULONG") or (
                            kind and p.type.get_pointee().get_canonical() != p.type.get_pointee()):
                        const = "const " if pointee.is_const_qualified() else ""
                        edits.append(Edit(ps, star, f"{const}{CL_SCALAR[kind][0] if kind != 'BOOL' else 'uchar'} "))
                edits.append(Edit(star, star, f"{QUALIFIER[s]} "))
                if _key(p) in self.renamed:
                    at = self.name_offset(p)
                    edits.append(Edit(at, at + len(p.spelling), self.renamed[_key(p)]))
            elif f.kernel and scalar_kind(p.type):
                kind = scalar_kind(p.type)
                cl = "uchar" if kind == "BOOL" else CL_SCALAR[kind][0]
                const = "const " if p.type.is_const_qualified() else ""
                name = self.renamed.get(_key(p), p.spelling)
                edits.append(Edit(ps, pe, f"{const}{cl} {name}"))
            elif is_array(p.type):
                raise self.refuse(f"the array parameter `{p.spelling}`", p, "write it as a pointer, `float *a`")
            elif _key(p) in self.renamed:
                at = self.name_offset(p)
                edits.append(Edit(at, at + len(p.spelling), self.renamed[_key(p)]))
        hidden = []
        if "dyn" in v.needs:
            hidden.append(f"__local uchar *{DYNAMIC_SHARED}")
        if "flags" in v.needs:
            hidden.append(f"__global volatile int *{FLAGS}")
        if hidden:
            close = self.param_close(decl)
            if params:
                edits.append(Edit(close, close, ", " + ", ".join(hidden)))
            else:
                toks = list(self.p.tokens_in(self.name_offset(decl), close))
                inner = [t for t in toks if t.text not in ("(",) and t.start > self.name_offset(decl)]
                if inner and inner[0].text == "void":
                    edits.append(Edit(inner[0].start, inner[0].end, ", ".join(hidden)))
                else:
                    edits.append(Edit(close, close, ", ".join(hidden)))
        # a pointer result
        if is_pointer(decl.result_type):
            star = self.first_star(decl.extent.start.offset, self.name_offset(decl))
            if star is not None:
                edits.append(Edit(star, star, f"{QUALIFIER[v.returns or 'g']} "))
        return edits

    def param_close(self, decl: Any) -> int:
        depth = 0
        for t in self.p.tokens_in(self.name_offset(decl), decl.extent.end.offset):
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
                if depth == 0:
                    return t.start
        raise self.refuse(f"the declaration of `{decl.spelling}`", decl)

    def plan_names(self, f: Function) -> None:
        """Renames inside ``f``: variables named like OpenCL keywords, and hoisted
        ``__shared__`` arrays whose name is used twice in the kernel."""
        count: dict[str, int] = {}
        for decl, _ in f.nodes.get("vars", []):
            count[decl.spelling] = count.get(decl.spelling, 0) + 1
        params = list(f.definition.get_arguments())
        for p in params:
            count[p.spelling] = count.get(p.spelling, 0) + 1
            if p.spelling in OPENCL_RESERVED:
                self.renamed[_key(p)] = p.spelling + "_"
        for decl, _ in f.nodes.get("vars", []):
            key = _key(decl)
            if decl.spelling in OPENCL_RESERVED:
                self.renamed[key] = decl.spelling + "_"
            if self.hoisted(f, decl) and count[decl.spelling] > 1:
                self.renamed[key] = f"{self.renamed.get(key, decl.spelling)}_{self.line(decl)}"

    def hoisted(self, f: Function, decl: Any) -> bool:
        """A ``__shared__`` array of a kernel declared inside a nested block (it moves up)."""
        return (f.kernel and "CUDASHARED_ATTR" in _attrs(decl) and decl.storage_class.name != "EXTERN"
                and decl not in f.nodes["top_decls"])

    def body_edits(self, v: Variant) -> list[Edit]:
        f = v.function
        edits: list[Edit] = []
        space = v.space
        body = f.nodes["body"][0]
        body_open = body.extent.start.offset + 1
        moved: list[Any] = []             # DECL_STMTs moved to the top of the kernel
        at_top: list[str] = []            # declarations added at the top of the body

        self.pointer_decl_edits(v, edits)
        for cast in [c for k in _CASTS for c in f.nodes.get(k, [])]:
            self.cast_edits(cast, space, edits)

        for decl, parent in f.nodes.get("vars", []):
            key = _key(decl)
            attrs = _attrs(decl)
            stmt = parent if parent.kind.name == "DECL_STMT" else None
            if key in self.renamed:
                at = self.name_offset(decl)
                edits.append(Edit(at, at + len(decl.spelling), self.renamed[key]))
            if "CUDASHARED_ATTR" in attrs:
                if decl.storage_class.name == "EXTERN":
                    if stmt is not None:
                        t = self.cl_type(decl.type.get_canonical().element_type, decl)
                        name = self.renamed.get(key, decl.spelling)
                        edits.append(Edit(stmt.extent.start.offset, stmt.extent.end.offset,
                                          f"__local {t} *{name} = (__local {t} *){DYNAMIC_SHARED};"))
                    continue
                if not f.kernel:
                    raise self.refuse(f"the __shared__ array `{decl.spelling}` inside a __device__ function", decl,
                                      "declare it in the kernel and pass it to the function as a pointer")
                if stmt is not None and self.hoisted(f, decl) and stmt not in moved:
                    moved.append(stmt)
                continue
            if decl.type.is_const_qualified() and stmt is not None and not is_pointer(decl.type) \
                    and len([d for d in stmt.get_children() if d.kind.name == "VAR_DECL"]) == 1 \
                    and self.initializer(decl) is not None:
                self.as_enum(decl, stmt.extent.start.offset, stmt.extent.end.offset - 1, edits)

        for ref in f.nodes.get("DECL_REF_EXPR", []):
            decl = ref.referenced
            if decl is None:
                continue
            key = _key(decl)
            if key in self.dynamic:
                t = self.cl_type(decl.type.get_canonical().element_type, decl)
                line = f"__local {t} *{decl.spelling} = (__local {t} *){DYNAMIC_SHARED};"
                if line not in at_top:
                    at_top.append(line)
            elif key in self.file_shared:
                if not f.kernel:
                    raise self.refuse(f"the file-scope __shared__ array `{decl.spelling}` used in a __device__ "
                                      f"function", ref, "declare it in the kernel and pass it as a pointer")
                d = self.file_shared[key]
                text = self.one_line(render(self.text, d.extent.start.offset, d.extent.end.offset,
                                            self.top_inner(d))) + ";"
                if text not in at_top:
                    at_top.append(text)
            if key in self.renamed or self.enums.get(key):
                at = self.name_offset(ref)
                new = self.renamed.get(key, decl.spelling)
                if self.enums.get(key):
                    new = f"(({self.enums[key]}){new})"
                edits.append(Edit(at, at + len(decl.spelling), new))

        for call in f.nodes.get("CALL_EXPR", []):
            self.call_edits(v, call, space, edits)

        # moved __shared__ declarations, each rendered with its own edits; a local constant
        # that gives their size moves up with them
        moved_consts: list[Any] = []
        for stmt in moved:
            for ref_decl in self.refs_in(stmt):
                if ref_decl is None or _key(ref_decl) not in self.enums:
                    continue
                parent = ref_decl.semantic_parent
                if parent is None or parent.kind.name != "FUNCTION_DECL":
                    continue
                dstmt = self.decl_stmt_of(f, ref_decl)
                if dstmt is not None and dstmt not in moved_consts:
                    moved_consts.append(dstmt)
        for stmt in moved_consts + moved:
            s0, s1 = stmt.extent.start.offset, stmt.extent.end.offset
            at_top.append(self.one_line(render(self.text, s0, s1, edits)))
        for stmt in moved_consts + moved:
            s0, s1 = stmt.extent.start.offset, stmt.extent.end.offset
            edits.append(Edit(s0, s1, blank(self.text, s0, s1)))
        if at_top:
            edits.append(Edit(body_open, body_open, " " + " ".join(at_top)))
        return edits

    def pointer_decl_edits(self, v: Variant, edits: list[Edit]) -> None:
        """Address spaces of the pointer variables declared in the body (and ``auto``)."""
        for stmt in v.function.nodes.get("DECL_STMT", []):
            decls = [d for d in stmt.get_children() if d.kind.name == "VAR_DECL"]
            if not decls:
                continue
            spaces: list[str | None] = []
            for d in decls:
                if is_pointer(d.type):
                    if is_pointer(d.type.get_canonical().get_pointee()):
                        raise self.refuse(f"the pointer to a pointer `{d.spelling}`", d)
                    spaces.append(v.env.get(_key(d), "p"))
                else:
                    spaces.append(None)
            if self.auto_edits(stmt, decls, spaces, edits):
                continue
            if all(s in (None, "p") for s in spaces):
                continue
            d0 = decls[0]
            name0 = self.name_offset(d0)
            star0 = self.first_star(d0.extent.start.offset, name0)
            if len(set(spaces)) == 1:
                if star0 is None:
                    raise self.refuse(f"the pointer `{d0.spelling}` (declared through a typedef or macro)", d0)
                edits.append(Edit(star0, star0, f"{QUALIFIER[spaces[0]]} "))
                continue
            # declarators that need different spaces: one declaration each
            if stmt.semantic_parent is not None and self.tok(stmt.extent.start.offset) is None:
                raise self.refuse(f"the declaration of `{d0.spelling}`", d0)
            base = self.src(d0.extent.start.offset, star0 if star0 is not None else name0).rstrip()
            for prev, d, s in zip(decls, decls[1:], spaces[1:]):
                comma = next((t for t in self.p.tokens_in(prev.extent.end.offset, self.name_offset(d))
                              if t.text == ","), None)
                if comma is None:
                    raise self.refuse(f"the declaration of `{d.spelling}`", d)
                q = f"{QUALIFIER[s]} " if s and s != "p" else ""
                edits.append(Edit(comma.start, comma.end, f"; {base} {q}"))
            if spaces[0] and spaces[0] != "p" and star0 is not None:
                edits.append(Edit(star0, star0, f"{QUALIFIER[spaces[0]]} "))

    def kernel_param_names(self, f: Function) -> list[str]:
        return [p.spelling for p in f.definition.get_arguments()]

    def refs_in(self, cursor: Any) -> Iterator[Any]:
        for c in cursor.walk_preorder():
            if c.kind.name == "DECL_REF_EXPR":
                yield c.referenced

    def decl_stmt_of(self, f: Function, decl: Any) -> Any:
        for stmt in f.nodes.get("DECL_STMT", []):
            if any(d == decl for d in stmt.get_children()):
                return stmt
        return None

    def top_inner(self, cursor: Any) -> list[Edit]:
        s, e = cursor.extent.start.offset, cursor.extent.end.offset
        return [x for x in self.top if s <= x.start and x.end <= e and not (x.start == s and x.end == e)]

    @staticmethod
    def one_line(text: str) -> str:
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        return " ".join(text.split())

    def auto_edits(self, stmt: Any, decls: list[Any], spaces: list[str | None], edits: list[Edit]) -> bool:
        """``auto x = ...;`` gets its deduced type (True if the statement used auto)."""
        toks = list(self.p.tokens_in(stmt.extent.start.offset, self.name_offset(decls[0])))
        auto = [t for t in toks if t.text == "auto"]
        if not auto:
            return False
        if len(decls) > 1:
            raise self.refuse("`auto` with several variables", stmt, "declare one variable per `auto`")
        d = decls[0]
        if is_pointer(d.type):
            pointee = d.type.get_canonical().get_pointee()
            const = "const " if pointee.is_const_qualified() else ""
            new = f"{QUALIFIER[spaces[0] or 'p']} {const}{self.cl_type(pointee, d)} *"
        else:
            new = self.cl_type(d.type, d)
        edits.append(Edit(auto[0].start, auto[0].end, new))
        return True

    def cast_edits(self, cast: Any, space: Any, edits: list[Edit]) -> None:
        kind = cast.kind.name
        kids = list(cast.get_children())
        operand = kids[-1] if kids else None
        if operand is None:
            return
        start, end = cast.extent.start.offset, cast.extent.end.offset
        o_start, o_end = operand.extent.start.offset, operand.extent.end.offset
        if self.tok(start) is None:
            return      # inside a macro: left to the macro
        q = ""
        if is_pointer(cast.type):
            if is_pointer(cast.type.get_canonical().get_pointee()):
                raise self.refuse("a cast to a pointer to a pointer", cast)
            s = space(operand) or "g"
            q = f"{QUALIFIER[s]} "
        if kind == "CSTYLE_CAST_EXPR":
            if q:
                star = self.first_star(start, o_start)
                if star is not None:
                    edits.append(Edit(star, star, q))
            return
        if kind == "CXX_FUNCTIONAL_CAST_EXPR":      # float(x)
            paren = None
            for t in self.p.tokens_in(start, o_start + 1):
                if t.text == "(":
                    paren = t
                    break
            if paren is None:
                return
            type_text = self.src(start, paren.start).strip()
            edits.append(Edit(start, paren.end, f"(({type_text})("))
            edits.append(Edit(end, end, ")"))
            return
        # static_cast<T>(x), reinterpret_cast<T>(x), const_cast<T>(x)
        toks = list(self.p.tokens_in(start, o_start))
        lt = next((t for t in toks if t.text == "<"), None)
        gt = [t for t in toks if t.text == ">"]
        opens = [t for t in toks if t.text == "("]
        if lt is None or not gt or not opens:
            return
        star = self.first_star(lt.end, gt[-1].start)
        if q and star is not None:
            edits.append(Edit(star, star, q))
        edits.append(Edit(start, lt.end, "(("))
        edits.append(Edit(gt[-1].start, opens[-1].end, ")("))
        edits.append(Edit(end - 1, end, "))"))
        del o_end

    def call_edits(self, v: Variant, call: Any, space: Any, edits: list[Edit]) -> None:
        ref = call.referenced
        name = call.spelling
        if ref is None:
            return
        if self.is_stub(call):
            if name in NOT_ON_CPU:
                raise self.refuse(f"`{name}`", call, NOT_ON_CPU[name])
            if name == "assert":
                args = list(call.get_arguments())
                start, end = call.extent.start.offset, call.extent.end.offset
                if not args or self.tok(start) != "assert":
                    return
                a0, a1 = args[0].extent.start.offset, args[0].extent.end.offset
                self.asserts.append((self.line(call), self.one_line(self.src(a0, a1))))
                ident = len(self.asserts)
                leave = " return;" if v.function.kernel else ""
                edits.append(Edit(start, a0, "do { if (!("))
                edits.append(Edit(a1, end, f")) {{ course_assert_failed({FLAGS}, {ident});{leave} }} }} while (0)"))
                return
            self.builtin_args(call, ref, edits)
            if name in _ABS and self.tok(call.extent.start.offset) == name:
                at = call.extent.start.offset
                edits.append(Edit(at, at + len(name), "course_abs"))
            return
        callee = self.callee(call)
        if callee is None:
            return
        w = self.variant_for(callee, call, space)
        callee_ref = list(call.get_children())[0]
        while callee_ref.kind.name != "DECL_REF_EXPR" and list(callee_ref.get_children()):
            callee_ref = list(callee_ref.get_children())[0]
        at = self.name_offset(callee_ref)
        edits.append(Edit(at, at + len(callee.name), w.cl_name))
        hidden = []
        if "dyn" in w.needs:
            hidden.append(DYNAMIC_SHARED)
        if "flags" in w.needs:
            hidden.append(FLAGS)
        if hidden:
            close = call.extent.end.offset - 1
            sep = ", " if list(call.get_arguments()) else ""
            edits.append(Edit(close, close, sep + ", ".join(hidden)))

    def builtin_args(self, call: Any, ref: Any, edits: list[Edit]) -> None:
        """Explicit conversions of the numeric arguments of a CUDA built-in, so that
        OpenCL's overloads resolve as CUDA's did (``min(i, blockDim.x)``, ``sqrtf(n)``)."""
        params = list(ref.get_arguments())
        target_result = call.spelling in ("min", "max")
        for i, arg in enumerate(call.get_arguments()):
            if is_pointer(arg.type) or i >= len(params):
                continue
            want = call.type if target_result else params[i].type
            kind = scalar_kind(want)
            if kind is None:
                continue
            inner = arg
            while inner.kind.name == "UNEXPOSED_EXPR" and list(inner.get_children()):
                inner = list(inner.get_children())[0]
            if scalar_kind(inner.type) == kind:
                continue
            s, e = arg.extent.start.offset, arg.extent.end.offset
            if self.tok(s) is None:
                continue
            edits.append(Edit(s, s, f"(({CL_SCALAR[kind][0]})("))
            edits.append(Edit(e, e, "))"))

    # ------------------------------------------------------------------ assembly
    def run(self) -> Translation:
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
            by_decl.setdefault(_key(v.function.definition.canonical), []).append(v)
        bodies = {id(v): self.body_edits(v) for vs in by_decl.values() for v in vs}
        out = [PRELUDE, f"\n#line 1 \"{SOURCE_NAME}\"\n"]
        pos = 0
        for start, end, decl in sorted(self.items, key=lambda item: item[0]):
            if start < pos:
                continue
            out.append(render(self.text, pos, start, self.top))
            variants = by_decl.get(_key(decl.canonical), [])
            line, col = decl.extent.start.line, decl.extent.start.column
            pieces = []
            for v in variants:
                edits = [e for e in self.top if start <= e.start and e.end <= end] + self.signature_edits(v, decl)
                if decl.is_definition():
                    edits += bodies[id(v)]
                pieces.append(f"\n#line {line} \"{SOURCE_NAME}\"\n{' ' * (col - 1)}" + render(self.text, start, end, edits))
            if not decl.is_definition() and pieces:
                pieces = [p + ";" for p in pieces[:-1]] + pieces[-1:]
            out.append("".join(pieces))
            end_line, end_col = decl.extent.end.line, decl.extent.end.column
            out.append(f"\n#line {end_line} \"{SOURCE_NAME}\"\n{' ' * (end_col - 1)}")
            pos = end
        out.append(render(self.text, pos, len(self.text), self.top))
        infos = {}
        for f in kernels:
            v = self.variants[(_key(f.definition.canonical), ())]
            line = self.line(f.definition)
            infos[f.name] = kernel_of(f.definition, line, self.p.quote(line), self.text, v.cl_name,
                                      "dyn" in v.needs, "flags" in v.needs)
        return Translation("".join(out), infos, tuple(self.asserts), tuple(self.p.lines))

    def reachable(self, kernels: list[Function]) -> list[Variant]:
        """The variants the kernels call, directly or not (the others were guesses)."""
        seen: dict[tuple, Variant] = {}
        todo = [(_key(f.definition.canonical), ()) for f in kernels]
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            v = seen[key] = self.variants[key]
            todo.extend((callee, spaces) for _, callee, spaces in v.calls)
        return list(seen.values())

    def check_recursion(self) -> None:
        graph = {k: {(callee, spaces) for _, callee, spaces in v.calls} for k, v in self.variants.items()}
        state: dict[tuple, int] = {}

        def visit(k: tuple) -> None:
            state[k] = 1
            for n in graph.get(k, ()):
                if state.get(n) == 1:
                    v = self.variants[n]
                    raise self.refuse(f"the recursive function `{v.function.name}`", v.function.definition,
                                      "OpenCL C has no recursion; write it as a loop")
                if n not in state:
                    visit(n)
            state[k] = 2

        for k in list(graph):
            if k not in state:
                visit(k)


@functools.lru_cache(maxsize=64)
def translate(source: str) -> Translation:
    """The OpenCL program for ``source`` (raises CompileError / NotOnCpu with the student's lines)."""
    return Translator(parse(source)).run()
