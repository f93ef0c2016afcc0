"""Classmates for the grading tests: a solved submission disguised as someone else's.

:func:`disguised` renames every identifier a student's solution cells define
(and the release does not give) consistently over the notebook, replaces or
drops its comments, and re-spaces it with ``tokenize``: what a student who
copies a classmate's work does to hide it. Every cell still parses. With
``attributes=False`` the names after a ``.`` are kept, so the copy still meets
the interface the checks use (``self.w``, ``tensor.data``) and scores what the
original scores.
"""
from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import tokenize

import nbformat

from course_lib import nbmeta


def _release_names(release_nb: nbformat.NotebookNode) -> set[str]:
    """Every name token of the release notebook's code: names the starter code gives."""
    names: set[str] = set()
    for cell in release_nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            toks = list(tokenize.generate_tokens(io.StringIO(cell.source).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        names.update(t.string for t in toks if t.type == tokenize.NAME)
    return names


def _defined_names(sources: list[str]) -> set[str]:
    """Names bound by the code (assignment targets, loop/with/except targets, functions,
    classes, parameters, import aliases) and the attributes it sets on ``self``."""
    names: set[str] = set()
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id == "self"):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
    return names


def _rename_in_fstring(literal: str, renames: dict[str, str]) -> str:
    prefix = re.match(r"[A-Za-z]*", literal).group(0)
    if "f" not in prefix.lower():
        return literal
    return re.sub(r"\{([^{}]*)\}",
                  lambda m: "{" + re.sub(r"\b[A-Za-z_]\w*\b", lambda n: renames.get(n.group(0), n.group(0)),
                                         m.group(1)) + "}", literal)


def _disguise_cell(source: str, renames: dict[str, str], attributes: set[str],
                   extra_comment: str | None = None) -> str:
    """The cell with names renamed (after a '.' only the student's own ``attributes``),
    comments replaced or dropped, re-spaced by ``tokenize.untokenize``'s compatibility
    mode, a blank line after every line ending in ':'."""
    out = []
    previous = None
    for n, tok in enumerate(tokenize.generate_tokens(io.StringIO(source).readline)):
        kind, text = tok.type, tok.string
        after_dot = previous is not None and previous.string == "."
        if kind == tokenize.NAME and text in renames and (not after_dot or text in attributes):
            text = renames[text]
        elif kind == tokenize.STRING:
            text = _rename_in_fstring(text, renames)
        elif kind == tokenize.COMMENT:
            text = "# (my own working)" if n % 2 else ""
        out.append((kind, text))
        previous = tok
    code = tokenize.untokenize(out)
    code = re.sub(r":[ \t]*\n", ":\n\n", code)
    code = "\n".join(line.rstrip() for line in code.split("\n"))
    if extra_comment:
        code = f"# {extra_comment}\n" + code
    return code


def disguised(solved: nbformat.NotebookNode, release_nb: nbformat.NotebookNode,
              extra_comment: str | None = None, attributes: bool = True) -> nbformat.NotebookNode:
    """``solved`` with every identifier its solution cells define, and the release does not
    give, renamed consistently over the whole notebook (attributes set on ``self`` too,
    unless ``attributes`` is False); ``extra_comment`` goes on top of the first solution
    code cell."""
    nb = nbmeta.read(solved)
    cells = [c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code"]
    given = _release_names(release_nb)
    defined = _defined_names([c.source for c in cells])
    mine = sorted(n for n in defined - given
                  if not keyword.iskeyword(n) and not hasattr(builtins, n) and not n.startswith("__"))
    renames = {name: f"q{i}_{name[::-1].strip('_') or 'x'}" for i, name in enumerate(mine)}
    own = {node.attr for c in cells for node in ast.walk(ast.parse(c.source))  # set on self
           if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
           and isinstance(node.value, ast.Name) and node.value.id == "self"} - given if attributes else set()
    for i, cell in enumerate(cells):
        cell.source = _disguise_cell(cell.source, renames, own, extra_comment if i == 0 else None)
        ast.parse(cell.source)  # still Python
    return nb
