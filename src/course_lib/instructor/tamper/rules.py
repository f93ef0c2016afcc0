"""The scan's tables (module names, call patterns) and the small helpers on literals, paths and IPython magics."""
from __future__ import annotations

import ast
import builtins as _builtins
import re

from .. import safe_ast

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
        safe_ast.parse(source)
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
        return safe_ast.parse(text)
    except SyntaxError:
        return None
