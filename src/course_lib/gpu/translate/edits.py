"""The edits that make a function variant OpenCL C: its signature (internal
name, address spaces, hidden arguments, OpenCL's kernel argument types) and
its body (pointer declarations, casts, moved ``__shared__`` declarations,
renames, enum constants, ``assert``, calls).
"""
from __future__ import annotations

import re
from typing import Any

from ..address_space import QUALIFIER, is_array, is_pointer
from ..cuda_headers import NOT_ON_CPU
from ..opencl_prelude import DYNAMIC_SHARED, FLAGS
from ..rewrite import Edit, blank, render
from ..signature import CL_SCALAR, scalar_kind
from .functions import Function, Variant
from .source import CASTS, SourceText, attr_kinds, decl_key

__all__ = ["Edits"]

_ABS = ("abs", "labs", "llabs")


class Edits(SourceText):
    """Edits of one function variant."""

    def qualify(self, star: int, space: str) -> Edit:
        """``float *p`` → ``float __global *p``: the address space before a pointer's ``*``."""
        lead = "" if self.text[star - 1:star] in (b" ", b"\t", b"\n", b"(", b"<") else " "
        return Edit(star, star, f"{lead}{QUALIFIER[space]} ")

    def signature_edits(self, v: Variant, decl: Any) -> list[Edit]:
        """The variant's name, its pointer parameters' spaces, OpenCL's types for a
        kernel's arguments (no ``bool``, ``size_t``), hidden arguments, the result's space."""
        f = v.function
        edits = [Edit(self.name_offset(decl), self.name_offset(decl) + len(decl.spelling), v.cl_name)]
        params = list(decl.get_arguments())
        spaces = dict(zip(f.pointer_params, v.spaces))
        for i, p in enumerate(params):
            ps, pe = p.extent.start.offset, p.extent.end.offset
            self.no_three_vectors(p)
            if is_pointer(p.type):
                s = "g" if f.kernel else spaces.get(i, "g")
                star = self.first_star(ps, pe)
                if star is None:
                    raise self.refuse(f"the parameter `{p.spelling}` (a pointer through a typedef or macro)", p)
                if f.kernel:
                    pointee = p.type.get_canonical().get_pointee()
                    kind = scalar_kind(pointee)
                    if kind == "BOOL" or (kind and p.type.get_pointee().get_canonical() != p.type.get_pointee()):
                        const = "const " if pointee.is_const_qualified() else ""
                        edits.append(Edit(ps, star, f"{const}{CL_SCALAR[kind][0] if kind != 'BOOL' else 'uchar'} "))
                edits.append(self.qualify(star, s))
                if decl_key(p) in self.renamed:
                    at = self.name_offset(p)
                    edits.append(Edit(at, at + len(p.spelling), self.renamed[decl_key(p)]))
            elif f.kernel and scalar_kind(p.type):
                kind = scalar_kind(p.type)
                cl = "uchar" if kind == "BOOL" else CL_SCALAR[kind][0]
                const = "const " if p.type.is_const_qualified() else ""
                name = self.renamed.get(decl_key(p), p.spelling)
                edits.append(Edit(ps, pe, f"{const}{cl} {name}"))
            elif is_array(p.type):
                raise self.refuse(f"the array parameter `{p.spelling}`", p, "write it as a pointer, `float *a`")
            elif decl_key(p) in self.renamed:
                at = self.name_offset(p)
                edits.append(Edit(at, at + len(p.spelling), self.renamed[decl_key(p)]))
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
                edits.append(self.qualify(star, v.returns or "g"))
        return edits

    def no_three_vectors(self, decl: Any) -> None:
        """Arrays of float3 (int3, ...) have another layout in OpenCL: refuse them."""
        t = decl.type.get_canonical()
        element = t.get_pointee() if is_pointer(t) else t.element_type if is_array(t) else None
        if element is not None and re.fullmatch(r"(const |volatile )*(struct )?\w+3", element.spelling.strip()):
            raise self.refuse(f"`{decl.spelling}`, an array of {element.spelling.split()[-1]},", decl,
                              "OpenCL stores a 3-vector in 16 bytes where CUDA uses 12, so the elements would be "
                              "misplaced; use an array of float and index it as v[3 * i + k]")

    def param_close(self, decl: Any) -> int:
        """Offset of the ``)`` that closes a function's parameter list."""
        depth = 0
        for t in self.p.tokens_in(self.name_offset(decl), decl.extent.end.offset):
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
                if depth == 0:
                    return t.start
        raise self.refuse(f"the declaration of `{decl.spelling}`", decl)

    def body_edits(self, v: Variant) -> list[Edit]:
        """Everything the body of a variant needs: pointer spaces, casts, renames, enum
        constants, dynamic shared memory, calls, and ``__shared__`` declarations moved up."""
        f = v.function
        edits: list[Edit] = []
        space = v.space
        body = f.nodes["body"][0]
        body_open = body.extent.start.offset + 1
        moved: list[Any] = []             # DECL_STMTs moved to the top of the kernel
        at_top: list[str] = []            # declarations added at the top of the body

        self.pointer_decl_edits(v, edits)
        for cast in [c for k in CASTS for c in f.nodes.get(k, [])]:
            self.cast_edits(cast, space, edits)

        for decl, parent in f.nodes.get("vars", []):
            key = decl_key(decl)
            attrs = attr_kinds(decl)
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
            key = decl_key(decl)
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
                if ref_decl is None or decl_key(ref_decl) not in self.enums:
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
                self.no_three_vectors(d)
                if is_pointer(d.type):
                    if is_pointer(d.type.get_canonical().get_pointee()):
                        raise self.refuse(f"the pointer to a pointer `{d.spelling}`", d)
                    spaces.append(v.env.get(decl_key(d), "p"))
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
                edits.append(self.qualify(star0, spaces[0]))
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
                edits.append(self.qualify(star0, spaces[0]))

    def decl_stmt_of(self, f: Function, decl: Any) -> Any:
        """The declaration statement of a local variable of ``f``."""
        for stmt in f.nodes.get("DECL_STMT", []):
            if any(d == decl for d in stmt.get_children()):
                return stmt
        return None

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
        """C casts to pointers get the operand's space; C++ casts become C casts."""
        kind = cast.kind.name
        kids = list(cast.get_children())
        operand = kids[-1] if kids else None
        if operand is None:
            return
        start, end = cast.extent.start.offset, cast.extent.end.offset
        o_start, o_end = operand.extent.start.offset, operand.extent.end.offset
        first = {"CSTYLE_CAST_EXPR": "(", "CXX_STATIC_CAST_EXPR": "static_cast",
                 "CXX_REINTERPRET_CAST_EXPR": "reinterpret_cast", "CXX_CONST_CAST_EXPR": "const_cast"}.get(kind)
        if kind == "CXX_FUNCTIONAL_CAST_EXPR":
            first = cast.type.spelling.replace("const ", "").split()[0] if cast.type.spelling else None
        if first is None or self.tok(start) != first:
            # written inside a macro: a C cast to a number is fine as it is; the others are not
            if kind == "CSTYLE_CAST_EXPR" and not is_pointer(cast.type):
                return
            raise self.refuse("a cast written inside a macro", cast,
                              "course_lib translates casts where they are written; write this one out where the "
                              "macro is used")
        s = None
        if is_pointer(cast.type):
            if is_pointer(cast.type.get_canonical().get_pointee()):
                raise self.refuse("a cast to a pointer to a pointer", cast)
            s = space(operand) or "g"
        if kind == "CSTYLE_CAST_EXPR":
            star = self.first_star(start, o_start) if s else None
            if star is not None:
                edits.append(self.qualify(star, s))
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
        star = self.first_star(lt.end, gt[-1].start) if s else None
        if star is not None:
            edits.append(self.qualify(star, s))
        edits.append(Edit(start, lt.end, "(("))
        edits.append(Edit(gt[-1].start, opens[-1].end, ")("))
        edits.append(Edit(end - 1, end, "))"))
        del o_end

    def call_edits(self, v: Variant, call: Any, space: Any, edits: list[Edit]) -> None:
        """A call: CUDA built-ins (refused, ``assert``, conversions) or a function variant with its hidden arguments."""
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
