"""Where a pointer points: OpenCL's address spaces, inferred from CUDA C.

CUDA has one generic address space: ``const float *row = A + r * m;`` may
point into global memory, ``__shared__`` memory or a thread's own array, and
a ``__device__`` helper taking ``float *`` accepts any of them. OpenCL 1.2
(PoCL and Oclgrind here have no generic space) needs each pointer's space in
its type. So each pointer variable gets the space of what it is made from:

* a kernel's pointer parameters point to ``__global`` memory (``g``);
* ``__shared__`` arrays live in ``__local`` memory (``l``), ``__constant__``
  and file-scope ``const`` arrays in ``__constant`` memory (``c``), a
  thread's own arrays in ``__private`` memory (``p``);
* ``p + i``, ``&a[i]``, ``a[i]`` of a 2-D array, casts, ``c ? p : q`` keep
  the space of the pointer or array they start from; a call returns the
  space its function returns for those arguments.

A pointer assigned from two different spaces cannot be written in OpenCL 1.2;
:class:`Conflict` names it. A ``__device__`` function is translated once per
combination of spaces its pointer parameters receive (see
:mod:`.translate`).
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["Conflict", "NAMES", "QUALIFIER", "is_pointer", "is_array", "storage_space", "space_of"]

QUALIFIER = {"g": "__global", "l": "__local", "c": "__constant", "p": "__private"}
NAMES = {"g": "global memory (an array passed to the kernel)", "l": "__shared__ memory",
         "c": "__constant__ memory", "p": "memory of the thread itself (a local variable or array)"}

_POINTERS = ("POINTER",)
_ARRAYS = ("CONSTANTARRAY", "INCOMPLETEARRAY", "VARIABLEARRAY", "DEPENDENTSIZEDARRAY")
_CASTS = ("CSTYLE_CAST_EXPR", "CXX_STATIC_CAST_EXPR", "CXX_REINTERPRET_CAST_EXPR", "CXX_CONST_CAST_EXPR",
          "CXX_FUNCTIONAL_CAST_EXPR", "CXX_DYNAMIC_CAST_EXPR")


class Conflict(Exception):
    """A pointer that would need two address spaces."""

    def __init__(self, name: str, spaces: tuple[str, str], line: int):
        super().__init__(name)
        self.name, self.spaces, self.line = name, spaces, line


def is_pointer(ctype: Any) -> bool:
    return ctype.get_canonical().kind.name in _POINTERS


def is_array(ctype: Any) -> bool:
    return ctype.get_canonical().kind.name in _ARRAYS


def _children(cursor: Any) -> list[Any]:
    return list(cursor.get_children())


def _has_attr(cursor: Any, kind: str) -> bool:
    return any(c.kind.name == kind for c in cursor.get_children())


def storage_space(decl: Any) -> str:
    """Where a variable itself lives: ``l`` (``__shared__``), ``c`` (``__constant__``,
    file-scope const), ``p`` (a thread's own)."""
    if _has_attr(decl, "CUDASHARED_ATTR"):
        return "l"
    if _has_attr(decl, "CUDACONSTANT_ATTR"):
        return "c"
    parent = decl.semantic_parent
    if parent is not None and parent.kind.name in ("TRANSLATION_UNIT", "LINKAGE_SPEC"):
        return "c"
    return "p"


def _binary_operator(cursor: Any, token_after: Callable[[int], str | None]) -> str | None:
    kids = _children(cursor)
    if len(kids) != 2:
        return None
    return token_after(kids[0].extent.end.offset)


def space_of(expr: Any, var_space: Callable[[Any], str | None], call_space: Callable[[Any], str | None],
             token_at: Callable[[int], str | None], token_after: Callable[[int], str | None]) -> str | None:
    """The address space an expression of pointer (or array) type points into,
    or None when it does not say (a null pointer, an unknown form).
    ``var_space(decl)``: the space of a pointer variable; ``call_space(call)``: of
    what a call returns; ``token_at/after(offset)``: the source's tokens."""
    def go(e: Any) -> str | None:
        kind = e.kind.name
        kids = _children(e)
        if kind in ("UNEXPOSED_EXPR", "PAREN_EXPR"):
            return go(kids[-1]) if kids else None
        if kind == "DECL_REF_EXPR":
            decl = e.referenced
            if decl is None or decl.kind.name not in ("VAR_DECL", "PARM_DECL"):
                return None
            if is_array(decl.type):
                return storage_space(decl)
            if is_pointer(decl.type):
                return var_space(decl)
            return None
        if kind in _CASTS:
            return go(kids[-1]) if kids else None
        if kind == "BINARY_OPERATOR":
            op = _binary_operator(e, token_after)
            if op in ("=", ","):
                return go(kids[1])
            for k in kids:
                if is_pointer(k.type) or is_array(k.type):
                    return go(k)
            return None
        if kind == "COMPOUND_ASSIGNMENT_OPERATOR":
            return go(kids[0]) if kids else None
        if kind == "UNARY_OPERATOR":
            if not kids:
                return None
            op = token_at(e.extent.start.offset)
            if op == "&":
                return lvalue(kids[0])
            if op in ("++", "--") or token_after(kids[0].extent.end.offset) in ("++", "--"):
                return go(kids[0])
            return None
        if kind == "ARRAY_SUBSCRIPT_EXPR":          # a row of a 2-D array
            return lvalue(e)
        if kind == "CONDITIONAL_OPERATOR":
            a, b = (go(kids[1]), go(kids[2])) if len(kids) == 3 else (None, None)
            return a or b
        if kind == "CALL_EXPR":
            return call_space(e)
        return None

    def lvalue(e: Any) -> str | None:
        """Where the object an lvalue names lives."""
        kind = e.kind.name
        kids = _children(e)
        if kind in ("UNEXPOSED_EXPR", "PAREN_EXPR"):
            return lvalue(kids[-1]) if kids else None
        if kind == "DECL_REF_EXPR":
            decl = e.referenced
            return storage_space(decl) if decl is not None and decl.kind.name in ("VAR_DECL", "PARM_DECL") else None
        if kind == "ARRAY_SUBSCRIPT_EXPR" and kids:
            base = kids[0]
            return go(base) if is_pointer(base.type) else lvalue(base)
        if kind == "UNARY_OPERATOR" and kids and token_at(e.extent.start.offset) == "*":
            return go(kids[0])
        if kind == "MEMBER_REF_EXPR" and kids:
            base = kids[0]
            return go(base) if is_pointer(base.type) else lvalue(base)
        return None

    return go(expr)
