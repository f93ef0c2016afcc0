"""Name resolution over a notebook's cells and the AST visitor that reports findings for one cell."""
from __future__ import annotations

import ast
from collections.abc import Iterable

from .rules import (
    BUILTIN_NAMES,
    DICT_MUTATORS,
    DYNAMIC_BUILTINS,
    DYNAMIC_MODULES,
    FILE_METHODS,
    FILE_PREFIXES,
    GC_CALLS,
    INTERNAL_ATTRS,
    LIBRARY_ALLOWED,
    LIBRARY_MODULES,
    LIST_MUTATORS,
    NETWORK_MODULES,
    OS_SUBPROCESS,
    SUBPROCESS_MODULES,
    SYS_IMPORT_ATTRS,
    TRACING_CALLS,
    _env_key,
    _literal_text,
    _outside_path,
    _shadow_file,
    _top,
)

# --------------------------------------------------------------------------- names

class _Names:
    """Notebook-wide, flow-insensitive bindings: alias name -> dotted module path."""

    def __init__(self, trees: Iterable[ast.Module]):
        self.aliases: dict[str, str] = {}
        trees = list(trees)
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        if a.asname:
                            self.aliases[a.asname] = a.name
                        else:
                            self.aliases[a.name.split(".")[0]] = a.name.split(".")[0]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for a in node.names:
                        if a.name != "*":
                            self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for _ in range(3):  # `env = os.environ`, `L2 = L`: simple re-bindings, a few deep
            for tree in trees:
                for node in ast.walk(tree):
                    if (isinstance(node, ast.Assign) and len(node.targets) == 1
                            and isinstance(node.targets[0], ast.Name)):
                        q = self.qual(node.value)
                        if q and node.targets[0].id not in self.aliases:
                            self.aliases[node.targets[0].id] = q

    def qual(self, node: ast.AST) -> str | None:
        """The dotted name of a Name/Attribute chain rooted at an import or a built-in."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id == "__builtins__":
                return "builtins"
            if node.id in BUILTIN_NAMES or node.id in DYNAMIC_BUILTINS or node.id in ("globals", "locals", "vars"):
                return f"builtins.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.qual(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def root(self, node: ast.AST) -> tuple[str | None, bool]:
        """(dotted name, through_dict) of the object an expression starts from,
        looking through attributes, subscripts, calls, ``vars(x)`` and
        ``getattr(x, ...)``; ``through_dict`` when ``__dict__``/``vars`` was passed."""
        through = False
        while True:
            q = self.qual(node)
            if q and isinstance(node, ast.Name) and node.id not in self.aliases and node.id != "__builtins__":
                return None, through  # a bare built-in name (`input`, `list`): a local, not the module
            if q:
                return q, through or "__dict__" in q.split(".")
            if isinstance(node, ast.Attribute):
                through |= node.attr == "__dict__"
                node = node.value
            elif isinstance(node, ast.Subscript):
                node = node.value
            elif isinstance(node, ast.Call):
                fq = self.qual(node.func)
                if fq in ("builtins.vars", "builtins.getattr") and node.args:
                    through |= fq == "builtins.vars"
                    node = node.args[0]
                else:
                    node = node.func
            else:
                return None, through


def _owner_kind(q: str | None) -> str | None:
    """The kind of a write to an object rooted at the dotted name ``q``."""
    if not q:
        return None
    top = _top(q)
    if top == "course_lib":
        return "patches-course_lib"
    if top == "nbgrader":
        return "patches-nbgrader"
    if top == "builtins":
        return "builtins"
    if q in ("os.environ", "os.environb") or q.startswith(("os.environ.", "os.environb.")):
        return "grading-env"
    if top == "sys":
        return "sys-modules"
    if top in LIBRARY_MODULES and not q.startswith(LIBRARY_ALLOWED):
        return "patches-library"
    return None


# --------------------------------------------------------------------------- scanner

class _Scanner(ast.NodeVisitor):
    def __init__(self, names: _Names, check_names: set[str], lines: list[str]):
        self.names = names
        self.check_names = check_names
        self.lines = lines
        self.found: list[tuple[int, str, str]] = []
        self.scopes: list[set[str] | None] = [None]  # None: module level; a set: a function's globals
        self.in_compare: set[int] = set()

    # -- helpers
    def add(self, node: ast.AST, kind: str, why: str) -> None:
        self.found.append((getattr(node, "lineno", 1), kind, why))

    def module_level(self, name: str) -> bool:
        scope = self.scopes[-1]
        return scope is None or name in scope

    def is_check_name(self, name: str) -> bool:
        return name.startswith("check_") or name in self.check_names

    def bind(self, node: ast.AST, name: str, how: str, builtin_too: bool = True) -> None:
        if not self.module_level(name):
            return
        if self.is_check_name(name):
            self.add(node, "shadows-check", f"{how} {name!r} at top level, a name the test cells use for a check")
        elif builtin_too and name in BUILTIN_NAMES:
            self.add(node, "builtins", f"{how} the built-in {name!r} at top level, which the test cells then use")

    def write(self, target: ast.AST, node: ast.AST, how: str) -> None:
        """An assignment/deletion target."""
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self.write(t, node, how)
            return
        if isinstance(target, ast.Starred):
            self.write(target.value, node, how)
            return
        if isinstance(target, ast.Name):
            self.bind(node, target.id, how, builtin_too=how != "loops over")
            return
        if isinstance(target, ast.Subscript):
            base = self.names.qual(target.value)
            if base in ("os.environ", "os.environb"):
                why = _env_key(target.slice)
                if why:
                    self.add(node, "grading-env", f"{how} os.environ[...] with {why}")
                return
            if isinstance(target.value, ast.Call) and self.names.qual(target.value.func) in (
                    "builtins.globals", "builtins.locals", "builtins.vars") and not target.value.args:
                text, _ = _literal_text(target.slice)
                if text and self.is_check_name(text):
                    self.add(node, "shadows-check", f"{how} globals()[{text!r}], a check the test cells use")
                else:
                    self.add(node, "dynamic-code", f"{how} an entry of globals()/locals(), hiding the name")
                return
            if base in ("sys.path",):
                self.add(node, "sys-modules", f"{how} sys.path, where imports are looked for")
                return
        q, _ = self.names.root(target)
        kind = _owner_kind(q)
        if kind == "grading-env":
            self.add(node, kind, f"{how} {q}, the environment the grading reads")
        elif kind == "patches-library" and not isinstance(target, ast.Attribute):
            return  # item writes into library objects (rcParams-like) are not reported
        elif kind:
            self.add(node, kind, f"{how} {q}, part of {_top(q)} that grading relies on")

    # -- scopes and bindings
    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if not isinstance(node, ast.Lambda):
            self.bind(node, node.name, "defines")
            for d in node.decorator_list:
                self.visit(d)
        declared = {n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names}
        self.scopes.append(declared)
        for child in ([node.body] if isinstance(node, ast.Lambda) else node.body):
            self.visit(child)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bind(node, node.name, "defines")
        for child in node.bases + node.keywords + node.decorator_list:
            self.visit(child)
        self.scopes.append(set())  # class bodies are not module level
        for child in node.body:
            self.visit(child)
        self.scopes.pop()

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self.write(t, node, "assigns")
        self.generic_visit(node)

    def _visit_one_target(self, node: ast.AugAssign | ast.AnnAssign | ast.NamedExpr) -> None:
        self.write(node.target, node, "assigns")
        self.generic_visit(node)

    visit_AugAssign = visit_AnnAssign = visit_NamedExpr = _visit_one_target

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self.write(t, node, "deletes")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self.write(node.target, node, "loops over")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self.write(node.optional_vars, node.context_expr, "assigns")
        self.generic_visit(node)

    # -- imports
    def _module(self, node: ast.AST, module: str) -> None:
        top = _top(module)
        if top == "nbgrader":
            self.add(node, "patches-nbgrader", f"imports {module}: student code has no business with the grader")
        elif top in NETWORK_MODULES:
            self.add(node, "network", f"imports {module}, which reaches the network")
        elif top in SUBPROCESS_MODULES:
            self.add(node, "subprocess", f"imports {module}, which runs other programs")
        elif top in DYNAMIC_MODULES:
            self.add(node, "dynamic-code", f"imports {module}, which loads or runs code a static scan cannot see")

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._module(node, a.name)
            if a.asname:
                self.bind(node, a.asname, "imports", builtin_too=False)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._module(node, module)
        for a in node.names:
            full = f"{module}.{a.name}"
            if module == "sys" and a.name in {"modules", "path"} | SYS_IMPORT_ATTRS:
                self.add(node, "sys-modules", f"imports sys.{a.name}, the import system's state")
            elif f"sys.{a.name}" in TRACING_CALLS or full in TRACING_CALLS:
                self.add(node, "tracing", f"imports {full}, which traces the interpreter")
            elif module == "os" and OS_SUBPROCESS.match(a.name):
                self.add(node, "subprocess", f"imports os.{a.name}, which runs other programs")
            bound = a.asname or a.name
            if _top(module) != "course_lib" and bound != "*":
                self.bind(node, bound, "imports", builtin_too=False)

    # -- reads
    def visit_Compare(self, node: ast.Compare) -> None:
        if all(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for c in node.comparators:
                self.in_compare.add(id(c))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        q = self.names.qual(node)
        if q == "sys.modules" and id(node) not in self.in_compare:
            self.add(node, "sys-modules", "uses sys.modules, through which imported modules can be replaced")
        elif q in {f"sys.{a}" for a in SYS_IMPORT_ATTRS}:
            self.add(node, "sys-modules", f"uses {q}, which changes how modules are imported")
        elif node.attr in INTERNAL_ATTRS:
            self.add(node, "dynamic-code", f"reaches the interpreter internals .{node.attr}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        q = self.names.qual(node)
        if q == "sys.modules" and id(node) not in self.in_compare:  # from sys import modules
            self.add(node, "sys-modules", "uses sys.modules, through which imported modules can be replaced")
        elif node.id == "get_ipython":
            self.add(node, "dynamic-code", "uses get_ipython(), which can run code and shell commands")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Div):
            text, _ = _literal_text(node.right)
            if text is not None and _outside_path(text):
                self.add(node, "file-outside", f"joins the path {text!r}, outside the submission folder")
        self.generic_visit(node)

    # -- calls
    def _path_args(self, node: ast.Call, what: str) -> None:
        for arg in list(node.args) + [k.value for k in node.keywords]:
            text, _ = _literal_text(arg)
            if text is None:
                continue
            if _outside_path(text):
                self.add(node, "file-outside", f"{what} gets the path {text!r}, outside the submission folder")
            kind = _shadow_file(text)
            if kind:
                self.add(node, kind, f"{what} gets the path {text!r}, a file an import could pick up")

    def _setattr_like(self, node: ast.Call, target: ast.AST, how: str) -> None:
        q, _ = self.names.root(target)
        kind = _owner_kind(q)
        if kind and (kind != "patches-library" or how in ("setattr", "delattr", "__setattr__", "__delattr__")):
            self.add(node, kind, f"uses {how} on {q}, part of {_top(q)} that grading relies on")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        fq = self.names.qual(func)
        name = fq.rsplit(".", 1)[-1] if fq else (func.attr if isinstance(func, ast.Attribute) else None)
        first = node.args[0] if node.args else None

        if fq in ("builtins.setattr", "builtins.delattr") and first is not None:
            self._setattr_like(node, first, fq.split(".")[1])
        elif isinstance(func, ast.Attribute) and func.attr in ("__setattr__", "__delattr__", "__setitem__",
                                                              "__delitem__"):
            owner = self.names.qual(func.value)
            target = first if owner in ("builtins.object", "builtins.type", "builtins.dict") and first else func.value
            if owner not in ("os.environ", "os.environb"):  # keys are judged below
                self._setattr_like(node, target, func.attr)

        if fq and fq.split(".")[0] == "builtins" and name in DYNAMIC_BUILTINS:
            self.add(node, "dynamic-code", f"calls {name}(), which runs code a static scan cannot see")
        elif fq == "builtins.getattr" and first is not None:
            q, _ = self.names.root(first)
            if q and _top(q) in ("course_lib", "sys", "builtins", "nbgrader"):
                self.add(node, "dynamic-code", f"getattr on {q}: a name the scan cannot read")
        elif fq in TRACING_CALLS or (fq or "").startswith("sys.monitoring."):
            self.add(node, "tracing", f"calls {fq}, which watches or reaches into running code")
        elif fq in GC_CALLS:
            self.add(node, "dynamic-code", f"calls {fq}, which reaches objects it was not given")

        # environment
        if fq in ("os.putenv", "os.unsetenv"):
            why = _env_key(first)
            if why:
                self.add(node, "grading-env", f"calls {fq} with {why}")
        if isinstance(func, ast.Attribute) and self.names.qual(func.value) in ("os.environ", "os.environb") \
                and func.attr in DICT_MUTATORS:
            if func.attr in ("clear", "popitem"):
                self.add(node, "grading-env", f"os.environ.{func.attr}() removes grading-related variables")
            elif func.attr == "update":
                keys: list[ast.AST | None] = []
                for arg in node.args:
                    keys += list(arg.keys) if isinstance(arg, ast.Dict) else [None]
                keys += [ast.Constant(k.arg) if k.arg else None for k in node.keywords]
                why = next((w for w in map(_env_key, keys) if w), None)
                if why:
                    self.add(node, "grading-env", f"os.environ.update with {why}")
            else:
                why = _env_key(first)
                if why:
                    self.add(node, "grading-env", f"os.environ.{func.attr} with {why}")

        # globals() updates, sys.path changes, __dict__ updates on course_lib
        if isinstance(func, ast.Attribute) and func.attr in DICT_MUTATORS:
            inner = func.value
            if isinstance(inner, ast.Call) and self.names.qual(inner.func) in (
                    "builtins.globals", "builtins.locals", "builtins.vars") and not inner.args:
                self.add(node, "dynamic-code", f"changes globals()/locals() with .{func.attr}, hiding names")
            else:
                q, through = self.names.root(inner)
                kind = _owner_kind(q)
                if through and kind in ("patches-course_lib", "patches-nbgrader", "builtins", "patches-library",
                                        "sys-modules"):
                    self.add(node, kind, f"changes the namespace of {q} with .{func.attr}")
        if isinstance(func, ast.Attribute) and func.attr in LIST_MUTATORS \
                and self.names.qual(func.value) in ("sys.path",):
            self.add(node, "sys-modules", f"sys.path.{func.attr} changes where imports are looked for")

        # mock.patch / monkeypatch
        if name in ("patch", "object", "dict", "setattr", "delattr", "setenv", "delenv", "setitem") \
                and isinstance(func, ast.Attribute) and fq not in ("builtins.setattr", "builtins.delattr"):
            chain = ast.unparse(func)
            if "patch" in chain or "monkeypatch" in chain or name in ("setenv", "delenv"):
                self._patch(node, name, first)

        # processes, network, dynamic modules used through names bound elsewhere
        top = _top(fq)
        if fq and top == "os" and fq.count(".") == 1 and OS_SUBPROCESS.match(name or ""):
            self.add(node, "subprocess", f"calls {fq}, which runs or signals other programs")
        elif top in SUBPROCESS_MODULES:
            self.add(node, "subprocess", f"calls {fq}, which runs other programs")
        elif top in NETWORK_MODULES or (fq or "").startswith("torch.hub."):
            self.add(node, "network", f"calls {fq}, which reaches the network")
        elif top in DYNAMIC_MODULES:
            self.add(node, "dynamic-code", f"calls {fq}, which loads or runs code a static scan cannot see")
        elif top == "nbgrader":
            self.add(node, "patches-nbgrader", f"calls {fq}, part of the grader")

        # files
        if fq and fq.startswith(FILE_PREFIXES):
            self._path_args(node, fq)
            if fq.endswith("Path.home"):
                self.add(node, "file-outside", "Path.home() is the home folder, outside the submission folder")
        elif isinstance(func, ast.Attribute) and func.attr in FILE_METHODS:
            self._path_args(node, f".{func.attr}()")
        self.generic_visit(node)

    def _patch(self, node: ast.Call, name: str | None, first: ast.AST | None) -> None:
        text, _ = _literal_text(first) if first is not None else (None, False)
        if name in ("setenv", "delenv"):
            why = _env_key(first)
            if why:
                self.add(node, "grading-env", f"monkeypatch.{name} with {why}")
            return
        if text is not None:
            q = text
        else:
            q, _ = self.names.root(first) if first is not None else (None, False)
        kind = _owner_kind(q) if q else None
        if kind == "grading-env":
            self.add(node, kind, "patches os.environ")
        elif kind:
            self.add(node, kind, f"patches {q}, part of {_top(q)} that grading relies on")
