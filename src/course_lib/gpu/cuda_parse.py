"""A student's CUDA C, parsed by clang (libclang) into a typed syntax tree.

The parser runs in CUDA mode (``-x cuda --cuda-device-only``) with the
declarations of :mod:`.cuda_headers` instead of the CUDA toolkit, so it knows
what nvcc knows about a kernel: every name's declaration, every expression's
type, which function is a ``__global__`` kernel. Its errors become
:class:`~course_lib.gpu.errors.CompileError` messages with the student's line
numbers.

Line numbers are the ones a student counts in the string: a kernel written
as ``r\"\"\"`` + newline + code has its first line *after* the quotes, so a
first line that is blank is dropped before parsing (:func:`student_text`).
"""
from __future__ import annotations

import atexit
import ctypes
import functools
from dataclasses import dataclass
from typing import Any, Iterator

from .cuda_headers import HEADERS, STUB, STUB_NAME
from .errors import CompileError

__all__ = ["Parsed", "Token", "evaluate_int", "parse", "spelling_offset", "student_text"]

FILE = "/course_lib/kernel.cu"
_INCLUDE = "/course_lib/include"
ARGS = ["-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib", "--cuda-gpu-arch=sm_70",
        "-std=c++17", "-nostdinc", "-nostdinc++", "-Wno-unknown-cuda-version", "-ferror-limit=20",
        "-include", STUB_NAME, f"-I{_INCLUDE}"]
INSTALL_HINT = ("reading CUDA C on the CPU needs libclang (pip install libclang); it is a dependency of "
                "course_lib, so reinstalling course_lib brings it.")


def student_text(source: str) -> str:
    """``source`` as the student counts its lines: without a blank first line
    (the rest of the ``r\"\"\"`` line)."""
    first, newline, rest = source.partition("\n")
    return rest if newline and not first.strip() else source


@dataclass(frozen=True)
class Token:
    """A token of the student's text: byte offsets and spelling."""

    start: int
    end: int
    text: str
    kind: str       # 'PUNCTUATION', 'KEYWORD', 'IDENTIFIER', 'LITERAL', 'COMMENT'


@dataclass
class Parsed:
    """The parsed source: ``text`` (UTF-8 bytes the offsets refer to), clang's
    translation unit, the tokens, and the student's lines."""

    text: bytes
    tu: Any
    tokens: list[Token]
    lines: list[str]

    def line_of(self, offset: int) -> int:
        return self.text.count(b"\n", 0, offset) + 1

    def quote(self, line: int) -> str:
        """``line 4: `a[i] = 1;``` for messages."""
        text = self.lines[line - 1].strip() if 1 <= line <= len(self.lines) else ""
        return f"line {line}" + (f": `{text}`" if text else "")

    def in_file(self, cursor: Any) -> bool:
        loc = cursor.location
        return loc.file is not None and loc.file.name == FILE

    def tokens_in(self, start: int, end: int) -> Iterator[Token]:
        import bisect

        i = bisect.bisect_left(self._starts, start)
        while i < len(self.tokens) and self.tokens[i].start < end:
            yield self.tokens[i]
            i += 1

    def token_at(self, offset: int) -> Token | None:
        import bisect

        i = bisect.bisect_left(self._starts, offset)
        if i < len(self.tokens) and self.tokens[i].start == offset:
            return self.tokens[i]
        return None

    def __post_init__(self) -> None:
        self._starts = [t.start for t in self.tokens]


@functools.lru_cache(maxsize=1)
def _index() -> Any:
    try:
        import clang.cindex as ci
    except ImportError:
        raise CompileError(INSTALL_HINT) from None
    try:
        return ci.Index.create()
    except Exception as exc:  # libclang.so missing or broken
        raise CompileError(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})") from None


@functools.lru_cache(maxsize=1)
def _extra() -> Any:
    """libclang functions the Python bindings do not declare, with their C types."""
    import clang.cindex as ci

    lib = ci.conf.lib
    lib.clang_getSpellingLocation.argtypes = [ci.SourceLocation, ctypes.POINTER(ctypes.c_void_p),
                                              ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint),
                                              ctypes.POINTER(ctypes.c_uint)]
    lib.clang_getSpellingLocation.restype = None
    lib.clang_Cursor_Evaluate.argtypes = [ci.Cursor]
    lib.clang_Cursor_Evaluate.restype = ctypes.c_void_p
    lib.clang_EvalResult_getKind.argtypes = [ctypes.c_void_p]
    lib.clang_EvalResult_getKind.restype = ctypes.c_int
    lib.clang_EvalResult_getAsLongLong.argtypes = [ctypes.c_void_p]
    lib.clang_EvalResult_getAsLongLong.restype = ctypes.c_longlong
    lib.clang_EvalResult_dispose.argtypes = [ctypes.c_void_p]
    lib.clang_EvalResult_dispose.restype = None
    return lib


def spelling_offset(location: Any) -> int | None:
    """The byte offset where the token at ``location`` is spelled (inside a macro's
    definition for code that a macro expanded), or None. The caller checks that
    the text there is what it expects (it may be in course_lib's declarations)."""
    f, line, col, off = ctypes.c_void_p(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    _extra().clang_getSpellingLocation(location, ctypes.byref(f), ctypes.byref(line), ctypes.byref(col),
                                       ctypes.byref(off))
    return int(off.value) if f.value else None


def evaluate_int(cursor: Any) -> int | None:
    """The value of a variable whose initializer is an integer constant expression, else None."""
    lib = _extra()
    result = lib.clang_Cursor_Evaluate(cursor)
    if not result:
        return None
    try:
        if lib.clang_EvalResult_getKind(result) != 1:      # CXEval_Int
            return None
        return int(lib.clang_EvalResult_getAsLongLong(result))
    finally:
        lib.clang_EvalResult_dispose(result)


_INCLUDE_HINT = ("the CPU backends provide what kernels need without headers; these may be included: "
                 + ", ".join(sorted(HEADERS)))


def _diagnostic_message(diag: Any, parsed: Parsed) -> str | None:
    loc = diag.location
    text = diag.spelling
    if loc.file is None or loc.file.name != FILE:
        return f"{text} (in course_lib's CUDA declarations)"
    n = loc.line
    line = parsed.lines[n - 1].strip() if 1 <= n <= len(parsed.lines) else ""
    hint = f"; {_INCLUDE_HINT}" if "file not found" in text else ""
    return f"line {n}: {text}" + (f" `{line}`" if line else "") + hint


def errors(parsed: Parsed) -> list[str]:
    """clang's errors, ``line N: message `the line```, in order, without repeats."""
    found: list[str] = []
    for diag in parsed.tu.diagnostics:
        if diag.severity < 3:       # notes and warnings
            continue
        message = _diagnostic_message(diag, parsed)
        if message and message not in found:
            found.append(message)
    return found


@functools.lru_cache(maxsize=64)
def parse(source: str) -> Parsed:
    """Parse ``source`` (the student's string); raise :class:`CompileError` with
    the student's lines when clang finds errors."""
    import clang.cindex as ci

    text = student_text(source)
    index = _index()
    unsaved = [(FILE, text), (STUB_NAME, STUB)] + [(f"{_INCLUDE}/{name}", body) for name, body in HEADERS.items()]
    tu = index.parse(FILE, args=ARGS, unsaved_files=unsaved,
                     options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
    data = text.encode("utf-8")
    tokens = [Token(t.extent.start.offset, t.extent.end.offset, t.spelling, t.kind.name)
              for t in tu.get_tokens(extent=tu.cursor.extent)
              if t.location.file is not None and t.location.file.name == FILE]
    parsed = Parsed(data, tu, tokens, text.splitlines())
    found = errors(parsed)
    if found:
        shown = "\n".join(found[:5]) + (f"\n(and {len(found) - 5} more errors)" if len(found) > 5 else "")
        error = CompileError(f"your CUDA C does not compile:\n{shown}")
        error.kernel_names = tuple(_kernel_names(parsed))
        raise error
    return parsed


@atexit.register
def _release() -> None:
    """Free clang's translation units while the bindings still exist (at exit)."""
    parse.cache_clear()
    _index.cache_clear()


def _kernel_names(parsed: Parsed) -> Iterator[str]:
    """Names of the ``__global__`` functions clang saw (also in a source with errors)."""
    import clang.cindex as ci

    def walk(cursor: Any) -> Iterator[str]:
        for child in cursor.get_children():
            if child.kind == ci.CursorKind.LINKAGE_SPEC:
                yield from walk(child)
            elif child.kind == ci.CursorKind.FUNCTION_DECL and parsed.in_file(child) and any(
                    a.kind == ci.CursorKind.CUDAGLOBAL_ATTR for a in child.get_children()):
                yield child.spelling
    yield from walk(parsed.tu.cursor)
