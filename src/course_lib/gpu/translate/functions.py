"""Kernels and ``__device__`` functions: what their bodies hold, and the
address spaces of their pointers (:mod:`..address_space`).

A ``__device__`` function becomes one :class:`Variant` per combination of
address spaces its pointer parameters receive from its callers, starting
from the kernels (whose pointer parameters are ``__global``). A variant also
knows which hidden arguments it needs (dynamic shared memory, the flags of
``assert``), its own or its callees'.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..address_space import Conflict, is_pointer, space_of
from ..cuda_parse import FILE
from .source import CASTS, CPP_ONLY, OPENCL_RESERVED, SourceText, attr_kinds, decl_key

__all__ = ["Function", "Functions", "Variant"]


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
        """Indices of the pointer parameters."""
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
        """The variant's OpenCL name: never a built-in's, one per variant."""
        f = self.function
        if f.kernel:
            return f"course_kernel_{f.name}"
        suffix = f"_{f.index}" if f.index else ""
        return f"course_fn_{f.name}{suffix}" + (f"_{''.join(self.spaces)}" if self.spaces else "")


class Functions(SourceText):
    """Analysis of the kernels and ``__device__`` functions."""

    def scan(self, f: Function) -> None:
        """Collect once what the body of ``f`` holds, by kind."""
        nodes: dict[str, list[Any]] = {}
        body = None
        for child in f.definition.get_children():
            if child.kind.name == "COMPOUND_STMT":
                body = child
        nodes["body"] = [body]
        top_decls = {decl_key(d) for s in body.get_children() if s.kind.name == "DECL_STMT" for d in s.get_children()}
        nodes["top_decls"] = []

        def walk(c: Any, parent: Any) -> None:
            kind = c.kind.name
            if kind in CPP_ONLY:
                raise self.refuse(CPP_ONLY[kind], c, "kernels on the CPU backends are C, not C++")
            if kind == "VAR_DECL":
                nodes.setdefault("vars", []).append((c, parent))
                if decl_key(c) in top_decls:
                    nodes["top_decls"].append(c)
                if c.type.get_canonical().kind.name in ("LVALUEREFERENCE", "RVALUEREFERENCE"):
                    raise self.refuse(f"the reference `{c.spelling}`", c, "use a pointer instead")
            elif kind in ("DECL_REF_EXPR", "CALL_EXPR", "RETURN_STMT", "DECL_STMT", "MEMBER_REF_EXPR") or \
                    kind in CASTS:
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
                self.renamed[decl_key(p)] = p.spelling + "_"
        for decl, _ in f.nodes.get("vars", []):
            key = decl_key(decl)
            if decl.spelling in OPENCL_RESERVED:
                self.renamed[key] = decl.spelling + "_"
            if self.hoisted(f, decl) and count[decl.spelling] > 1:
                self.renamed[key] = f"{self.renamed.get(key, decl.spelling)}_{self.line(decl)}"

    def hoisted(self, f: Function, decl: Any) -> bool:
        """A ``__shared__`` array of a kernel declared inside a nested block (it moves up)."""
        return (f.kernel and "CUDASHARED_ATTR" in attr_kinds(decl) and decl.storage_class.name != "EXTERN"
                and decl not in f.nodes["top_decls"])

    def analyse(self, v: Variant) -> None:
        """Address spaces of the pointer variables of a variant, its calls and what it returns."""
        f = v.function
        v.busy = True
        if not f.nodes:
            self.scan(f)
        params = list(f.definition.get_arguments())
        for i, s in zip(f.pointer_params, v.spaces):
            v.env[decl_key(params[i])] = s
        if f.kernel:
            for i in f.pointer_params:
                v.env[decl_key(params[i])] = "g"
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
            return v.env.get(decl_key(decl))

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
                k = decl_key(decl)
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
                v.calls.append((call, decl_key(callee.definition.canonical), w.spaces))
        v.done = True

    def callee(self, call: Any) -> Function | None:
        """The student's function a call calls (None for CUDA's built-ins)."""
        ref = call.referenced
        if ref is None or ref.kind.name != "FUNCTION_DECL":
            return None
        f = self.functions.get(decl_key(ref.canonical))
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
        """The variant of ``f`` for these spaces (made once)."""
        key = (decl_key(f.definition.canonical), spaces)
        if key not in self.variants:
            self.variants[key] = Variant(f, spaces)
        return self.variants[key]

    # ------------------------------------------------------------------ needs (hidden arguments)

    def direct_needs(self, v: Variant) -> set[str]:
        """Hidden arguments the body itself needs: ``flags`` for assert, ``dyn`` for extern shared."""
        f = v.function
        needs = set()
        for call in f.nodes.get("CALL_EXPR", []):
            if call.spelling == "assert" and self.is_stub(call):
                needs.add("flags")
        for ref in f.nodes.get("DECL_REF_EXPR", []):
            decl = ref.referenced
            if decl is not None and decl_key(decl) in self.dynamic:
                needs.add("dyn")
        for decl, _ in f.nodes.get("vars", []):
            if "CUDASHARED_ATTR" in attr_kinds(decl) and decl.storage_class.name == "EXTERN":
                needs.add("dyn")
        return needs

    def is_stub(self, call: Any) -> bool:
        """A call to a CUDA built-in (declared by course_lib, not the student)."""
        ref = call.referenced
        return ref is not None and ref.location.file is not None and ref.location.file.name != FILE

    def solve_needs(self) -> None:
        """Each variant's hidden arguments: its own and its callees'."""
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

    def reachable(self, kernels: list[Function]) -> list[Variant]:
        """The variants the kernels call, directly or not (the others were guesses)."""
        seen: dict[tuple, Variant] = {}
        todo = [(decl_key(f.definition.canonical), ()) for f in kernels]
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            v = seen[key] = self.variants[key]
            todo.extend((callee, spaces) for _, callee, spaces in v.calls)
        return list(seen.values())

    def check_recursion(self) -> None:
        """Refuse recursion (OpenCL C has none)."""
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
