"""The file scope: what is declared outside functions.

``extern "C"`` (with or without braces) and ``#include`` lines go; file-scope
``const`` integers become enum constants, other constants ``__constant``
memory; ``extern __shared__`` and file-scope ``__shared__`` declarations are
noted (they reappear inside the functions that use them); host code is left
out; kernels and ``__device__`` functions are collected for
:mod:`.functions`.
"""
from __future__ import annotations

import re
from typing import Any

from ..cuda_parse import evaluate_int
from ..rewrite import Edit, blank, render
from ..signature import CL_SCALAR, scalar_kind
from .functions import Function
from .source import CPP_ONLY, SourceText, attr_kinds, decl_key

__all__ = ["FileScope"]


class FileScope(SourceText):
    """Edits of the file scope (``self.top``) and the functions it declares."""

    def collect(self) -> None:
        """Walk the file: address-taken variables, declarations, token fixes (``long long``, ``nullptr``, ...)."""
        for c in self.p.tu.cursor.walk_preorder():      # `&N` keeps a const N a variable
            if c.kind.name == "UNARY_OPERATOR" and self.p.in_file(c) and self.tok(c.extent.start.offset) == "&":
                inner = c
                while list(inner.get_children()) and inner.kind.name in ("UNARY_OPERATOR", "UNEXPOSED_EXPR",
                                                                         "PAREN_EXPR"):
                    inner = list(inner.get_children())[0]
                if inner.kind.name == "DECL_REF_EXPR" and inner.referenced is not None:
                    self.address_taken.add(decl_key(inner.referenced))
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
        """One file-scope declaration other than a variable."""
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
        elif kind in CPP_ONLY:
            raise self.refuse(CPP_ONLY[kind], cursor, "kernels on the CPU backends are C, not C++")

    def function_decl(self, cursor: Any) -> None:
        """A function declaration: host code is left out, kernels and device functions are collected."""
        attrs = attr_kinds(cursor)
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        if "CUDAGLOBAL_ATTR" not in attrs and "CUDADEVICE_ATTR" not in attrs:
            self.top.append(Edit(start, end, blank(self.text, start, end)))   # host code: not for the device
            return
        key = decl_key(cursor.canonical)
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
        if all(c.type.is_const_qualified() and self.initializer(c) is not None and not attr_kinds(c) for c in group):
            if all(self.enum_value(c) is not None for c in group):
                start, end = first.extent.start.offset, group[-1].extent.end.offset
                parts = []
                for c in group:
                    self.enums[decl_key(c)] = self.enum_cast(c)
                    init = self.initializer(c)
                    value = render(self.text, init.extent.start.offset, init.extent.end.offset, self.top)
                    parts.append(f"{c.spelling} = ({value})")
                self.top.append(Edit(start, end, "enum { " + ", ".join(parts) + " }" + blank(self.text, start, end)))
                return
            self.top.append(Edit(first.extent.start.offset, first.extent.start.offset, "__constant "))
            return
        for c in group:
            if attr_kinds(c) or not c.type.is_const_qualified():
                raise self.refuse(f"the declaration of `{c.spelling}` together with other variables", c,
                                  "declare each file-scope variable on its own")
        self.top.append(Edit(first.extent.start.offset, first.extent.start.offset, "__constant "))

    def file_var(self, cursor: Any) -> None:
        """A file-scope variable with one declarator."""
        attrs = attr_kinds(cursor)
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        key = decl_key(cursor)
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
        """Remove the ``;`` after a removed declaration."""
        for t in self.p.tokens_in(end, len(self.text)):
            if t.text == ";":
                self.top.append(Edit(t.start, t.end, ""))
            return

    def enum_value(self, cursor: Any) -> int | None:
        """The value of a const integer variable that can be an enum constant, else None."""
        kind = scalar_kind(cursor.type)
        if kind is None or kind in ("FLOAT", "DOUBLE", "BOOL") or decl_key(cursor) in self.address_taken:
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
        key = decl_key(cursor)
        self.enums[key] = self.enum_cast(cursor)
        target = self.top if edits is None else edits
        name_at = self.name_offset(cursor)
        # keep the initializer's own edits: replace around it
        target.append(Edit(start, name_at, "enum { "))
        target.append(Edit(name_at + len(cursor.spelling), init.extent.start.offset, " = ("))
        target.append(Edit(init.extent.end.offset, end, ") }"))
        return True

    # ------------------------------------------------------------------ function bodies

    def top_inner(self, cursor: Any) -> list[Edit]:
        """The file-scope edits strictly inside a declaration."""
        s, e = cursor.extent.start.offset, cursor.extent.end.offset
        return [x for x in self.top if s <= x.start and x.end <= e and not (x.start == s and x.end == e)]
