"""Look for tampering with the grading in students' notebooks: a static scan.

    python -m course_lib.instructor.tamper SUBMISSION_FOLDER [--source source_notebooks/ps1]

Each finding names the notebook cell (its nbgrader ``grade_id``, or ``cell N``
counting code and markdown cells from 1), the line in the cell (from 1), a
``kind`` and one sentence for the instructor. The tool only reports: the exit
status is always 0 and a person decides what a finding means.

Kinds (:data:`KINDS`)
---------------------
``shadows-check``
    a top-level ``def``/``class``/assignment/import/``del`` (or one in a
    function that declares the name ``global``, or a write to ``globals()``)
    of a name that starts with ``check_`` or that the notebook's test cells
    import from ``course_lib``.
``patches-course_lib``
    attribute or item writes, ``setattr``/``delattr``, ``__dict__``/``vars()``
    updates or ``mock.patch`` on anything reached from a name bound to
    ``course_lib`` (``import course_lib...``, ``from course_lib... import X``,
    ``... as L``, ``L2 = L``); file APIs writing ``course_lib``/``course_lib.py``.
``patches-nbgrader``
    ``import nbgrader``/``from nbgrader ...``, ``mock.patch("nbgrader...")``,
    files named ``nbgrader*``.
``patches-library``
    attribute writes or ``setattr`` on ``numpy``, ``torch`` (except
    ``torch.backends.*``), ``math``, ``os``, ``random``, ... modules, which the
    checks themselves use (``np.allclose = lambda *a, **k: True``).
``sys-modules``
    ``sys.modules`` used other than as ``name in sys.modules``;
    ``sys.meta_path``/``sys.path_hooks``; changes to ``sys.path`` or to any
    attribute of ``sys``; ``sitecustomize.py``/``*.pth`` files.
``builtins``
    writes to ``builtins``/``__builtins__``; top-level rebinding of a built-in
    name (``float = lambda x: 1.5`` fools ``assert abs(float(v) - 1.5) < 1e-9``).
``grading-env``
    ``os.environ[...]`` writes/deletes, ``os.environ.update/setdefault/pop/
    clear``, ``os.putenv``/``os.unsetenv``, ``%env``, ``mock.patch.dict(os.environ)``
    with a key starting ``COURSE_`` or ``NBGRADER_``, or a key that is not a
    literal (it cannot be told); replacing ``os.environ``.
``file-outside``
    ``open``, ``Path``, ``os.*``, ``shutil.*``, ``glob.*``, ``io.*`` and
    ``.load/.save/.read_text/...`` calls, ``%cd``, ``%%writefile`` and
    ``something / "..."`` with a string literal that is absolute (``/``,
    ``C:\\``), starts with ``~``, or has a ``..`` part; ``Path.home()``.
``network``
    imports or uses of ``socket``, ``urllib``, ``urllib3``, ``requests``,
    ``http``, ``httpx``, ``aiohttp``, ``ftplib``, ``smtplib``, ``telnetlib``,
    ``ssl``, ``xmlrpc``, ``websocket(s)``, ``paramiko``; ``torch.hub`` calls.
``subprocess``
    imports or uses of ``subprocess``/``pty``/``pexpect``; ``os.system``,
    ``os.popen``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn*``,
    ``os.fork*``, ``os.kill*``; ``!cmd`` shell lines, ``%system``/``%sx``,
    ``%%bash``/``%%sh``/``%%script``/... cells.
``dynamic-code``
    ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, ``ctypes``,
    ``runpy``, ``marshal``, ``get_ipython``, ``%run``/``%load``,
    ``getattr`` on ``course_lib``/``sys``/``builtins``/``nbgrader`` objects,
    ``globals()``/``locals()``/``vars()`` writes, ``gc.get_referrers``-like
    calls, and frame/function internals (``__globals__``, ``__code__``,
    ``__closure__``, ``__subclasses__``, ``f_globals``, ``f_back``, ...):
    code whose effect a static scan cannot see, so a person looks.
``tracing``
    ``sys.settrace``/``setprofile``/``_getframe``/``addaudithook``,
    ``sys.monitoring``, ``threading.settrace/setprofile``,
    ``inspect.currentframe/stack``.
``unparsable``
    a cell that is not Python even with its IPython magics removed and that
    contains a suspicious token (a cell that does not parse and has none is
    skipped: it only fails when run).
``corrupt-notebook``
    (:func:`scan_submission`) a file that nbformat cannot read.
``test-cell-missing`` / ``test-cell-edited`` / ``test-cell-retyped``
    (:func:`compare_test_cells`) an autograded test cell of the source notebook
    is not in the submission, its source differs from the released one (the
    source's with its ``BEGIN/END HIDDEN TESTS`` regions removed; trailing
    whitespace ignored), or it is no longer a locked, graded code cell with
    the same points.

Which cells are scanned
-----------------------
Every code cell except locked ones. Locked cells (the test cells and the
given, read-only cells such as the setup cell, which itself runs
``subprocess`` to install ``course_lib`` on Colab) are the course's code. But
``locked`` is metadata a student can write on a cell of their own: pass a
``reference`` notebook (the source or release notebook; :func:`scan_submission`
and the CLI do with ``--source``) and a locked cell is skipped only when the
reference has a locked cell of the same ``grade_id`` with the same released
source; any other cell is scanned. Names bound by imports anywhere in the
notebook, locked cells included, are tracked, so ``subprocess.run(...)`` in a
student cell is seen although ``import subprocess`` is in the setup cell.

What is not detected
--------------------
This is a static, syntactic scan: names are resolved without following the
program's flow (``x = os.environ`` then ``x[...] = ...`` is followed; values
passed through functions, containers or computed strings are not). Strings
built at run time (``"COURSE" + "_X"``, ``"/e" + "tc"``) hide keys and paths;
``exec``/``eval``/``getattr``/``importlib``/``globals()`` tricks hide
anything, which is why they are reported as ``dynamic-code`` without proof of
harm. Objects reached through return values (``load_value().__init__ = ...``)
are not tracked to ``course_lib``; nor are writes to other third-party
modules (``plt``, ``pandas``), reads of files inside the submission folder,
C extensions, or notebooks whose JSON a student edited to hide cells from
nbgrader. A clean report is evidence, not proof; a finding is a reason to
look, not proof of cheating (``def check_shapes`` may be an innocent helper).
"""
from __future__ import annotations

import argparse
import ast
import builtins as _builtins
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from course_lib.instructor import nbmeta

KINDS: dict[str, str] = {
    "shadows-check": "redefines or shadows a check the test cells call",
    "patches-course_lib": "changes course_lib (the checks) at run time",
    "patches-nbgrader": "reaches into nbgrader",
    "patches-library": "changes a library module the checks use",
    "sys-modules": "changes the import system or the sys module",
    "builtins": "changes or shadows Python's built-ins",
    "grading-env": "sets a grading-related environment variable",
    "file-outside": "touches a file outside the submission folder",
    "network": "reaches the network",
    "subprocess": "runs another program",
    "dynamic-code": "runs code a static scan cannot see",
    "tracing": "traces or inspects the interpreter's frames",
    "unparsable": "a suspicious cell that is not Python",
    "corrupt-notebook": "a notebook file that cannot be read",
    "test-cell-missing": "an autograded test cell is missing",
    "test-cell-edited": "an autograded test cell was edited",
    "test-cell-retyped": "an autograded test cell lost its type or grading metadata",
}


@dataclass(frozen=True)
class Finding:
    """One suspicious line: ``cell`` (grade_id or ``cell N``), ``line`` (from 1
    within the cell), ``kind`` (a key of :data:`KINDS`), ``code`` (the line,
    stripped) and ``why`` (one sentence for the instructor)."""

    cell: str
    line: int
    kind: str
    code: str
    why: str

    def __str__(self) -> str:
        return f"{self.cell}:{self.line}: [{self.kind}] {self.code}  -- {self.why}"


# --------------------------------------------------------------------------- tables

ENV_PREFIXES = ("COURSE_", "NBGRADER_")
NETWORK_MODULES = {"socket", "urllib", "urllib3", "requests", "http", "httpx", "aiohttp", "ftplib",
                   "smtplib", "telnetlib", "ssl", "xmlrpc", "websocket", "websockets", "paramiko",
                   "poplib", "imaplib", "socketserver"}
SUBPROCESS_MODULES = {"subprocess", "pty", "pexpect", "sh"}
DYNAMIC_MODULES = {"importlib", "ctypes", "runpy", "marshal", "imp", "code", "codeop"}
LIBRARY_MODULES = {"numpy", "torch", "math", "cmath", "os", "pathlib", "random", "shutil", "io", "json",
                   "time", "inspect", "types", "functools", "unittest", "gc", "operator", "copy",
                   "itertools", "collections", "warnings", "traceback", "logging", "contextlib"}
LIBRARY_ALLOWED = ("torch.backends.",)
OS_SUBPROCESS = re.compile(r"^(system|popen|fork|forkpty|kill|killpg|exec\w*|spawn\w*|posix_spawn\w*)$")
TRACING_CALLS = {"sys.settrace", "sys.setprofile", "sys._getframe", "sys.addaudithook", "sys.call_tracing",
                 "threading.settrace", "threading.setprofile", "threading.settrace_all_threads",
                 "threading.setprofile_all_threads", "inspect.currentframe", "inspect.stack",
                 "inspect.trace", "_thread.settrace"}
GC_CALLS = {"gc.get_referrers", "gc.get_referents", "gc.get_objects"}
DYNAMIC_BUILTINS = {"exec", "eval", "compile", "__import__", "breakpoint"}
INTERNAL_ATTRS = {"__globals__", "__code__", "__closure__", "__subclasses__", "__builtins__",
                  "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "gi_frame",
                  "cr_frame", "ag_frame"}
SYS_IMPORT_ATTRS = {"meta_path", "path_hooks", "path_importer_cache"}
FILE_PREFIXES = ("builtins.open", "io.", "codecs.open", "os.", "shutil.", "pathlib.", "glob.", "tempfile.",
                 "zipfile.", "tarfile.", "sqlite3.connect")
FILE_METHODS = {"load", "save", "savez", "savez_compressed", "loadtxt", "savetxt", "genfromtxt", "fromfile",
                "tofile", "read_csv", "to_csv", "read_text", "write_text", "read_bytes", "write_bytes",
                "open", "savefig", "imread", "imsave", "write_image", "write_html", "touch", "symlink_to",
                "hardlink_to", "unlink", "mkdir", "rmdir", "joinpath", "expanduser", "chdir", "listdir"}
DICT_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
LIST_MUTATORS = {"insert", "append", "extend", "remove", "pop", "clear", "__setitem__", "__delitem__",
                 "__iadd__"}
# Built-in names whose top-level rebinding is reported (not the REPL helpers).
BUILTIN_NAMES = {n for n in dir(_builtins) if not n.startswith("_")} - {
    "copyright", "credits", "license", "exit", "quit", "help"} | {"__import__", "__build_class__"}
SHELL_CELL_MAGICS = {"bash", "sh", "script", "system", "sx", "python", "python2", "python3", "pypy",
                     "perl", "ruby"}
SKIP_CELL_MAGICS = {"html", "javascript", "js", "latex", "markdown", "svg"}
SUSPICIOUS = re.compile(r"check_|course_lib|nbgrader|sys\s*\.\s*modules|builtins|COURSE_|NBGRADER_|environ|"
                        r"putenv|settrace|setprofile|_getframe|\bopen\s*\(|Path\s*\(|\bos\s*\.|shutil|subprocess|"
                        r"socket|urllib|requests|http|\bexec\b|\beval\b|\bcompile\b|__import__|importlib|"
                        r"getattr|setattr|delattr|globals|^\s*!|%\s*(system|sx|env|run|load)")


def _outside_path(s: str) -> bool:
    """A path literal that leaves the submission folder."""
    s = s.strip()
    if not s:
        return False
    if s.startswith(("/", "~", "\\\\")) or re.match(r"^[A-Za-z]:[\\/]", s) or s.startswith("file:"):
        return True
    return ".." in re.split(r"[\\/]", s)


def _shadow_file(s: str) -> str | None:
    """The kind of a file literal that would shadow a module on import."""
    parts = [p for p in re.split(r"[\\/]", s.strip()) if p not in ("", ".")]
    if not parts:
        return None
    first, last = parts[0], parts[-1]
    if first in ("course_lib", "course_lib.py"):
        return "patches-course_lib"
    if first.startswith("nbgrader"):
        return "patches-nbgrader"
    if last in ("sitecustomize.py", "usercustomize.py") or last.endswith(".pth"):
        return "sys-modules"
    return None


def _literal_text(node: ast.AST) -> tuple[str | None, bool]:
    """(text, exact) of a string expression: a constant is exact; an f-string
    gives its literal parts joined with ``{}``; anything else gives None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, True
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                       for v in node.values), False
    return None, False


def _env_key(node: ast.AST | None) -> str | None:
    """Why an environment key is suspicious, or None when it is harmless."""
    if node is None:
        return "a key the scan cannot read"
    text, _ = _literal_text(node)
    if text is None or text.startswith("{}"):
        return "a key that is not a literal (it cannot be told)"
    if text.upper().startswith(ENV_PREFIXES):
        return f"the grading-related key {text!r}"
    return None


def _top(module: str | None) -> str:
    return (module or "").split(".")[0]


# --------------------------------------------------------------------------- magics

def _python_source(source: str) -> tuple[str | None, list[tuple[int, str, str]]]:
    """The cell's source with IPython magics blanked (None when the cell is not
    Python: a shell or HTML cell magic) and the findings of the magic lines."""
    try:
        ast.parse(source)
        return source, []
    except SyntaxError:
        pass
    lines = source.split("\n")
    found: list[tuple[int, str, str]] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        head = lines[first].strip()
        name = head[2:].split()[0] if len(head) > 2 else ""
        arg = head[2 + len(name):].strip()
        if name in SHELL_CELL_MAGICS:
            found.append((first + 1, "subprocess", f"the cell magic %%{name} runs the cell as another program"))
            return None, found
        if name in ("writefile", "file"):
            target = arg.split()[-1] if arg else ""
            if _outside_path(target):
                found.append((first + 1, "file-outside", f"%%{name} writes {target!r}, outside the submission folder"))
            kind = _shadow_file(target)
            if kind:
                found.append((first + 1, kind, f"%%{name} writes {target!r}, which an import could pick up"))
            return None, found
        if name in SKIP_CELL_MAGICS:
            return None, found
        lines[first] = ""
    out = []
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        assign = re.match(r"^[\w\s,.\[\]]+=\s*([!%].*)$", stripped)
        magic = assign.group(1) if assign else stripped
        if magic.startswith("!"):
            found.append((n, "subprocess", "a ! line runs a shell command"))
        elif magic.startswith("%"):
            name = magic.lstrip("%").split()[0] if magic.lstrip("%") else ""
            arg = magic.lstrip("%")[len(name):].strip()
            if name in ("system", "sx", "sc") or (magic.startswith("%%") and name in SHELL_CELL_MAGICS):
                found.append((n, "subprocess", f"%{name} runs a shell command"))
            elif name == "env" and _env_key(ast.Constant(arg.replace("=", " ").split()[0] if arg else "")):
                found.append((n, "grading-env", "%env sets a grading-related environment variable"))
            elif name in ("run", "load", "macro", "rerun", "recall"):
                found.append((n, "dynamic-code", f"%{name} runs code that is not in this cell"))
            elif name in ("cd", "pushd", "bookmark") and _outside_path(arg):
                found.append((n, "file-outside", f"%{name} moves outside the submission folder"))
        elif not re.match(r"^[\w.\[\]()]+\?\??$", stripped):
            out.append(line)
            continue
        out.append(indent + "pass")
    return "\n".join(out), found


def _parse(source: str) -> ast.Module | None:
    text, _ = _python_source(source)
    if text is None:
        return None
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


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


# --------------------------------------------------------------------------- notebooks

def released_source(cell: NotebookNode) -> str:
    """The cell's source as the release holds it: hidden-test regions (their
    delimiter lines included) removed, trailing whitespace stripped."""
    lines, out, hidden = nbmeta.source_lines(cell), [], False
    for line in lines:
        if nbmeta.BEGIN_HIDDEN_TESTS in line:
            hidden = True
        elif nbmeta.END_HIDDEN_TESTS in line and hidden:
            hidden = False
        elif not hidden:
            out.append(line.rstrip())
    return "\n".join(out).rstrip()


def _label(cell: NotebookNode, index: int) -> str:
    return nbmeta.grade_id(cell) or f"cell {index + 1}"


def _code(lines: list[str], line: int) -> str:
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _cell_text(cell: NotebookNode) -> str:
    return "\n".join(nbmeta.source_lines(cell))


def _test_imports(cells: Iterable[NotebookNode]) -> set[str]:
    names: set[str] = set()
    for cell in cells:
        if cell.cell_type != "code" or not nbmeta.is_autograded_test(cell):
            continue
        tree = _parse(_cell_text(cell))
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.ImportFrom) and _top(node.module) == "course_lib":
                names.update(a.asname or a.name for a in node.names if a.name != "*")
    return names


def _trusted(cell: NotebookNode, reference: NotebookNode | None) -> bool:
    """A locked cell that is (as far as can be told) the course's own."""
    if not nbmeta.is_locked(cell):
        return False
    if reference is None:
        return True
    gid = nbmeta.grade_id(cell)
    ref = next((c for c in reference.cells if gid and nbmeta.grade_id(c) == gid), None)
    return (ref is not None and nbmeta.is_locked(ref) and ref.cell_type == cell.cell_type
            and released_source(ref) == released_source(cell))


def scan_notebook(path_or_node: NotebookNode | str | Path,
                  reference: NotebookNode | str | Path | None = None) -> list[Finding]:
    """The findings of one notebook (a path or a notebook node), in cell order.

    ``reference`` (the source or release notebook it was made from): when
    given, a locked cell is trusted only if it matches the reference's cell.
    A file that is not a notebook raises (:func:`scan_submission` reports it).
    """
    nb = nbmeta.read(path_or_node)
    ref = nbmeta.read(reference) if reference is not None else None
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    trees = [t for t in (_parse(_cell_text(c)) for _, c in code_cells) if t is not None]
    names = _Names(trees)
    check_names = _test_imports(nb.cells) | (_test_imports(ref.cells) if ref else set())

    findings: list[Finding] = []
    for index, cell in code_cells:
        if _trusted(cell, ref):
            continue
        source = _cell_text(cell)
        lines = source.split("\n")
        text, raw = _python_source(source)
        tree = None
        if text is not None:
            try:
                tree = ast.parse(text)
            except SyntaxError as err:
                hit = next((n for n, line in enumerate(lines, 1) if SUSPICIOUS.search(line)), None)
                if hit is not None:
                    raw.append((hit, "unparsable", "the cell is not valid Python and contains "
                                f"{SUSPICIOUS.search(lines[hit - 1]).group(0).strip()!r}; read it "
                                f"(syntax error at line {err.lineno})"))
        if tree is not None:
            scanner = _Scanner(names, check_names, lines)
            scanner.visit(tree)
            raw += scanner.found
        seen: set[tuple[int, str]] = set()
        for line, kind, why in sorted(raw, key=lambda f: f[0]):
            if (line, kind) not in seen:
                seen.add((line, kind))
                findings.append(Finding(_label(cell, index), line, kind, _code(lines, line), why))
    return findings


def _retyped(cell: NotebookNode, ref: NotebookNode) -> str | None:
    if cell.cell_type != "code":
        return f"it is now a {cell.cell_type} cell, so it is not run"
    if not nbmeta.is_grade(cell) or nbmeta.is_solution(cell):
        return "its nbgrader metadata no longer marks it as an autograded test"
    if not nbmeta.is_locked(cell):
        return "its nbgrader metadata no longer locks it"
    if nbmeta.points(cell) != nbmeta.points(ref):
        return f"its points changed from {nbmeta.points(ref):g} to {nbmeta.points(cell):g}"
    return None


def compare_test_cells(submitted_nb: NotebookNode | str | Path,
                       source_nb: NotebookNode | str | Path) -> list[Finding]:
    """Each autograded test cell of ``source_nb`` must be in ``submitted_nb``
    (same grade_id), still a locked graded code cell, with the released source."""
    nb, source = nbmeta.read(submitted_nb), nbmeta.read(source_nb)
    findings: list[Finding] = []
    for ref in source.cells:
        if not nbmeta.is_autograded_test(ref):
            continue
        gid = nbmeta.grade_id(ref)
        matches = [c for c in nb.cells if nbmeta.grade_id(c) == gid]
        if not matches:
            findings.append(Finding(gid, 1, "test-cell-missing", "",
                                    f"the test cell {gid!r} is not in the submission"))
            continue
        if len(matches) > 1:
            findings.append(Finding(gid, 1, "test-cell-edited", "",
                                    f"the test cell {gid!r} appears {len(matches)} times"))
        cell = matches[0]
        why = _retyped(cell, ref)
        if why:
            findings.append(Finding(gid, 1, "test-cell-retyped", "", f"the test cell {gid!r}: {why}"))
        want, got = released_source(ref).split("\n"), released_source(cell).split("\n")
        if want != got:
            n = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            findings.append(Finding(gid, n + 1, "test-cell-edited", got[n].strip() if n < len(got) else "",
                                    f"the test cell {gid!r} differs from the release from line {n + 1}"))
    return findings


def _notebooks(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in Path(folder).glob("*.ipynb") if p.is_file())


def scan_submission(folder: str | Path, source: str | Path | None = None) -> dict[str, list[Finding]]:
    """Findings of every ``*.ipynb`` in ``folder`` by file name. With ``source``
    (the assignment's source folder), each notebook is scanned against the
    source notebook of the same name and its test cells are compared to it."""
    out: dict[str, list[Finding]] = {}
    for path in _notebooks(Path(folder)):
        try:
            nb = nbmeta.read(path)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("no list of cells")
        except Exception as err:  # noqa: BLE001 - any unreadable file is a finding
            first = str(err).strip().split("\n")[0][:200]
            out[path.name] = [Finding(path.name, 1, "corrupt-notebook", "",
                                      f"nbformat cannot read it ({type(err).__name__}: {first})")]
            continue
        ref_path = Path(source) / path.name if source else None
        ref = nbmeta.read(ref_path) if ref_path and ref_path.is_file() else None
        findings = scan_notebook(nb, ref)
        if ref is not None:
            findings += compare_test_cells(nb, ref)
        out[path.name] = findings
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a student's submission folder (*.ipynb)")
    parser.add_argument("--source", type=Path, default=None,
                        help="the assignment's source notebooks, to compare test cells and trust locked cells")
    args = parser.parse_args(argv)
    results = scan_submission(args.folder, args.source)
    kinds: Counter[str] = Counter()
    for name, findings in results.items():
        for f in findings:
            print(f"{name}: {f}")
            kinds[f.kind] += 1
    n = sum(kinds.values())
    flagged = sum(1 for f in results.values() if f)
    summary = ", ".join(f"{k} {c}" for k, c in sorted(kinds.items()))
    print(f"{n} finding(s) in {flagged} of {len(results)} notebook(s)" + (f": {summary}" if summary else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
