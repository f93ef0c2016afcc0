"""Drawing computation graphs with graphviz.

``draw_graph(root)`` draws every node reachable from ``root`` through
``_prev`` (micrograd's convention): a box per value with its data and grad,
and a small circle per operation between a node and its inputs. It reads
only ``data``, ``grad``, ``_prev``, ``_op`` (and ``label`` if set), so it
draws any engine that follows the convention.

The drawing carries a text alternative (:func:`describe`: every value's name,
data and grad) wherever it is shown: in Jupyter as the ``alt`` of an HTML
image and as ``aria-label`` of the SVG, and as its plain-text output.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from html import escape
from typing import Any, Iterable, Mapping

import graphviz

MAX_NODES = 300
#: At most this many edges are listed in a graph's text alternative.
MAX_EDGES_SAID = 40


def _number(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "?"
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.4f}"


def _children(node: Any) -> tuple[Any, ...]:
    prev = getattr(node, "_prev", ()) or ()
    try:
        return tuple(prev)
    except TypeError:
        return ()


def trace(root: Any, limit: int = MAX_NODES) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """Nodes reachable from ``root`` (at most ``limit``) and the edges child -> parent."""
    nodes: list[Any] = []
    seen: set[int] = set()
    edges: list[tuple[Any, Any]] = []
    stack = [root]
    while stack and len(nodes) < limit:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        for child in _children(node):
            edges.append((child, node))
            stack.append(child)
    return nodes, edges


def describe(root: Any, names: Mapping[str, Any] | None = None) -> str:
    """A one-paragraph text alternative of the graph: every node's name, data and
    grad, then which value feeds which (the edges)."""
    nodes, edges = trace(root)
    label = _labeller(names)
    parts = []
    for node in reversed(nodes):
        name = label(node)
        op = getattr(node, "_op", "") or ""
        how = f" = {op} of its inputs" if op else ""
        grad = getattr(node, "grad", None)
        parts.append(f"{name or 'a value'}{how}: data {_number(getattr(node, 'data', None))}"
                     + (f", grad {_number(grad)}" if grad is not None else ""))
    order = {id(node): k for k, node in enumerate(reversed(nodes))}
    named = [f"{label(c) or f'value {order[id(c)] + 1}'} feeds {label(p) or f'value {order[id(p)] + 1}'}"
             for c, p in edges if id(c) in order and id(p) in order]
    more = ", …" if len(named) > MAX_EDGES_SAID else ""
    links = f" Edges: {', '.join(named[:MAX_EDGES_SAID])}{more}." if named else ""
    return f"Computation graph with {len(nodes)} values. " + "; ".join(parts) + "." + links


def _labeller(names: Mapping[str, Any] | None):
    by_id = {id(v): k for k, v in (names or {}).items()}

    def label(node: Any) -> str:
        return by_id.get(id(node)) or str(getattr(node, "label", "") or "")

    return label


class GraphDrawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` that shows itself in Jupyter with its text
    alternative ``alt_text``: an HTML ``<img alt=...>`` (the output JupyterLab
    and the book prefer), the SVG with ``role="img"`` and ``aria-label``, and
    the text itself as the plain-text output."""

    alt_text: str = ""

    def svg_with_label(self) -> str:
        svg = self.pipe(format="svg", encoding="utf-8")
        return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(self.alt_text)}" ', 1)

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                          **_: Any) -> dict[str, Any]:
        wanted = set(include) if include is not None else {"image/svg+xml", "text/html", "text/plain"}
        wanted -= set(exclude or ())
        bundle: dict[str, Any] = {}
        if wanted & {"image/svg+xml", "text/html"}:
            svg = self.svg_with_label()
            if "image/svg+xml" in wanted:
                bundle["image/svg+xml"] = svg
            if "text/html" in wanted:
                uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
                bundle["text/html"] = f'<img src="{uri}" alt="{escape(self.alt_text)}">'
        if "text/plain" in wanted:
            bundle["text/plain"] = self.alt_text
        return bundle


def draw_graph(root: Any, names: Mapping[str, Any] | None = None, rankdir: str = "LR",
               show_grad: bool = True) -> GraphDrawing:
    """Draw the computation graph that ends in ``root``.

    names: optional ``{"w1": w1, ...}`` to label nodes (a node's ``label``
    attribute is used otherwise). show_grad: print each node's grad too.
    The returned :class:`GraphDrawing` (a ``graphviz.Digraph``) displays itself
    in Jupyter with its ``.alt_text``, which describes it in words.
    """
    if not hasattr(root, "data"):
        raise TypeError(f"draw_graph expects a Value (something with .data), got {type(root).__name__}")
    nodes, edges = trace(root)
    label = _labeller(names)
    dot = GraphDrawing(format="svg", graph_attr={"rankdir": rankdir, "bgcolor": "white"},
                           node_attr={"fontname": "Helvetica", "fontsize": "12"})
    for node in nodes:
        uid = str(id(node))
        fields = [label(node)] if label(node) else []
        fields.append(f"data {_number(getattr(node, 'data', None))}")
        if show_grad:
            fields.append(f"grad {_number(getattr(node, 'grad', None))}")
        dot.node(uid, "{ " + " | ".join(_escape(f) for f in fields) + " }", shape="record")
        op = getattr(node, "_op", "") or ""
        if op:
            dot.node(uid + "op", _escape(str(op)), shape="circle", width="0.3")
            dot.edge(uid + "op", uid)
    for child, parent in edges:
        dot.edge(str(id(child)), str(id(parent)) + ("op" if getattr(parent, "_op", "") else ""))
    if len(nodes) >= MAX_NODES:
        dot.attr(label=f"(only the first {MAX_NODES} values are drawn)")
    dot.alt_text = describe(root, names)
    return dot


def _escape(text: str) -> str:
    for ch in "{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


@dataclass(eq=False)
class _Node:
    """A plain node for drawing an expression that no engine built (problem 1)."""

    data: float
    grad: float | None = None
    _prev: Iterable[Any] = field(default_factory=tuple)
    _op: str = ""
    label: str = ""


def draw_hand_graph(w1: float, w2: float, w3: float, grads: Mapping[str, Any] | None = None) -> GraphDrawing:
    """Problem 1's graph: s = w1 + w2, L = s * w3, with values and, once known,
    the gradients ``grads = {"w1": ..., "w2": ..., "w3": ..., "s": ..., "L": ...}``."""
    g = dict(grads or {})
    n1 = _Node(w1, g.get("w1"), label="w1")
    n2 = _Node(w2, g.get("w2"), label="w2")
    n3 = _Node(w3, g.get("w3"), label="w3")
    s = _Node(w1 + w2, g.get("s"), (n1, n2), "+", "s")
    L = _Node((w1 + w2) * w3, g.get("L"), (s, n3), "*", "L")
    return draw_graph(L, show_grad=grads is not None)


def plain_node(data: float, *children: Any, op: str = "", label: str = "",
               grad: float | None = None) -> _Node:
    """A node for drawing an expression by hand, without an autograd engine.

    ``children`` are the nodes it is computed from, ``op`` the operation's
    symbol (``"+"``, ``"*"``...). ``draw_graph`` draws a graph of such nodes
    like one built from ``Value`` objects; pass ``show_grad=False`` when no
    gradient is filled in. A node used twice (as an input of two operations)
    is drawn once, with two outgoing edges::

        x, y = plain_node(1.0, label="x"), plain_node(2.0, label="y")
        s = plain_node(3.0, x, y, op="+", label="s")
        draw_graph(s, show_grad=False)
    """
    return _Node(data, grad, tuple(children), op, label)
