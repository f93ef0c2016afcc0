"""Checks for notebook 05: the student's CUDA C kernels, run against numpy.

On a machine without a CUDA GPU the kernels run on the CPU in checked mode
(the Oclgrind simulator), so an out-of-bounds access, a data race on shared
memory or a barrier that not every thread reaches is reported with the
array, index, thread, block and line instead of crashing or corrupting
memory. Large sizes run on the fast CPU backend (PoCL), or on the GPU where
there is one.

A check tests the kernel the cell above defines now: when the student's
function launches a kernel whose newer version (a later ``SourceModule``
with a kernel of that name) does not compile, the check says so instead of
passing the old, compiled one. When the cell binds the kernel with
``gpu.compile_kernel`` (notebook 05 does), a kernel that does not compile is
an ``UncompiledKernel`` whose launch the check reports as "your kernel `matmul`
does not compile: line 7: ...".

The hidden matmul call repeats the visible call's small sizes with other
numbers (simulating them again was over half of the test cell's time). A size
whose launches (the same function, the same compiled kernel, block and grid)
already passed in checked mode runs on the fast backend instead: what the
simulator checked there (every access in bounds, no race, every barrier
reached by every thread) depends on the indices the threads compute from the
sizes and the launch, which are the same, not on the numbers in the matrices;
the numbers are compared as before, and a write outside an array still shows
on the fast backend. Anything short of a pass there runs the case in checked
mode as before, so every failure reads as it did. Only a kernel whose
addresses depended on the matrices' numbers could be judged differently; a
matmul's come from the indices and the sizes.
"""
from __future__ import annotations

import contextlib
import functools
import io
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterator, Sequence

import numpy as np

from .. import gpu
from ._harness import CheckFailure, call, guarded
from .partial import score, whole

__all__ = ["check_doublify", "check_matmul"]

BLOCK = (16, 16, 1)
RTOL, ATOL = 1e-4, 1e-4


@contextlib.contextmanager
def _backend(checked: bool) -> Iterator[str]:
    """Checked mode without a GPU; the GPU itself where there is one (PyCUDA has no checked mode)."""
    active = gpu.backend()
    if active.name == "cuda":
        yield active.short
        return
    with gpu.using("checked" if checked else "cpu") as be:
        yield be.short


def _stale(method: str, launched: Sequence[gpu.Launch]) -> None:
    """Refuse to test a kernel that was replaced by a version that does not compile."""
    for launch in launched:
        error = gpu.module.newer_failure(launch)
        if error is not None:
            raise CheckFailure(
                f"{method}: the kernel `{launch.kernel}` in the cell above does not compile, so this check cannot "
                f"test it ({method} still launches the earlier version, which compiled). {error.heading}: "
                f"{error.message}\nFix the kernel, run its cell again, then this check.")


def _does_not_compile(method: str, summary: str) -> CheckFailure:
    return whole(CheckFailure(f"{method}: {summary}\nFix the kernel, run its cell again, then this check."))


def _student(method: str, where: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call student code; a GPU error inside becomes a CheckFailure that keeps its message."""
    if isinstance(fn, gpu.UncompiledKernel):            # handed the kernel itself
        raise _does_not_compile(method, fn.summary)

    def guarded_call() -> Any:
        try:
            return fn(*args)
        except gpu.KernelDoesNotCompile as exc:        # the kernel the cell above defines now
            raise _does_not_compile(method, exc.message.splitlines()[0]) from None
        except gpu.GpuError as exc:
            raise CheckFailure(f"{method}: {where}: {exc.heading.lower()}: {exc.message}") from None
    before = gpu.module.launch_count()
    try:
        return call(method, f"{method}(...) {where}", guarded_call)
    finally:
        _stale(method, gpu.module.launches_since(before))


# --------------------------------------------------------------------------
# doublify
# --------------------------------------------------------------------------
@guarded("doublify")
def check_doublify(doublify: Any, hard: bool = False, points: float | None = None) -> float | None:
    """``doublify(a)`` doubles a float32 array on the device, in place, for
    lengths that are not multiples of the block size. With ``points``, each
    length earns its share (:mod:`.partial`)."""
    sizes = [1, 100, 1000, 4096] + ([257, 5000] if hard else [])
    with _backend(checked=True) as where:
        pass

    def case(n: int) -> None:
        with _backend(checked=True) as label:
            a = (np.arange(n, dtype=np.float32) - n / 3).astype(np.float32)
            want = 2 * a
            got = _student("doublify", f"for a of length {n} on the {label}", doublify, a)
            result = a if got is None else np.asarray(got)
            if result.shape != want.shape:
                raise CheckFailure(f"doublify: for a of length {n} the result has shape {result.shape}.")
            bad = np.flatnonzero(result != want)
            if bad.size:
                i = int(bad[0])
                hint = (" Nothing changed at all: is a passed as InOut(a), so that the result is copied back?"
                        if np.array_equal(result, (np.arange(n, dtype=np.float32) - n / 3).astype(np.float32))
                        else " The first entries are right and the rest not: does the grid cover all n "
                             "elements (grid = (n + block - 1) // block)?" if i > 0 else "")
                raise CheckFailure(f"doublify: for a of length {n}, a[{i}] is {result[i]} but should be {want[i]} "
                                   f"({bad.size} wrong entries).{hint}")

    parts = [(f"length {n}", functools.partial(case, n)) for n in sizes]
    return score("doublify", parts, points, f"lengths {', '.join(map(str, sizes))} on the {where}")


# --------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------
def _matrices(rng: np.random.Generator, n: int, m: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    A = rng.integers(-4, 5, size=(n, m)).astype(np.float32)
    B = rng.integers(-4, 5, size=(m, p)).astype(np.float32)
    return A, B


def _hint(got: np.ndarray, A: np.ndarray, B: np.ndarray) -> str:
    n, p = A.shape[0], B.shape[1]
    want = A.astype(np.float64) @ B.astype(np.float64)
    if not np.any(got):
        return (" C is all zeros: is C passed as Out(C) (or copied back with memcpy_dtoh), and does every thread "
                "write its entry?")
    if np.allclose(got.reshape(-1), want.T.reshape(-1), rtol=RTOL, atol=ATOL):
        return (" C holds the right numbers in the wrong places: it is written column by column. Row-major "
                "storage puts C[row][col] at C[row * p + col].")
    if n == p and np.allclose(got, want.T, rtol=RTOL, atol=ATOL):
        return " C is transposed: are row and col swapped in the kernel (row from the y index, col from x)?"
    right = np.isclose(got, want, rtol=RTOL, atol=ATOL)
    unwritten = (got == 0) & (want != 0)
    if unwritten.any() and (right | unwritten).all():
        i, j = (int(v) for v in np.argwhere(unwritten)[0])
        return (f" {int(unwritten.sum())} entries of C were never written (still 0), e.g. C[{i}, {j}]: the threads "
                f"do not cover C. Does row come from the y indices and col from the x indices, matching "
                f"grid = ((p + 15) // 16, (n + 15) // 16)?")
    rows, cols = np.nonzero(right)
    if right.any() and not right.all():
        r, c = rows.max() + 1, cols.max() + 1
        if right[:r, :c].all() and (r < n or c < p):
            return (f" Only the top-left {r}×{c} part of C is right: the grid does not cover the whole {n}×{p} "
                    f"matrix. With 16×16 blocks it needs ceil(p / 16) blocks along x and ceil(n / 16) along y.")
    if A.shape[1] != n or A.shape[1] != p:
        return (" Check the strides: A is n×m (A[row][k] = A[row * m + k]) and B is m×p "
                "(B[k][col] = B[k * p + col]); a stride of n or p where m belongs is the usual slip.")
    return ""


def _compare(A: np.ndarray, B: np.ndarray, got: Any, where: str) -> None:
    n, p = A.shape[0], B.shape[1]
    if got is None:
        raise CheckFailure(f"matmul: {where}: returned None; it should return C, a numpy array of shape ({n}, {p}).")
    got = np.asarray(got)
    if got.shape != (n, p):
        raise CheckFailure(f"matmul: {where}: returned an array of shape {got.shape}; C = AB has shape ({n}, {p}).")
    want = A.astype(np.float64) @ B.astype(np.float64)
    ok = np.isclose(got, want, rtol=RTOL, atol=ATOL)
    if not ok.all():
        i, j = (int(v) for v in np.argwhere(~ok)[0])
        raise CheckFailure(f"matmul: {where}: C[{i}, {j}] is {got[i, j]:g} but should be {want[i, j]:g} "
                           f"({int((~ok).sum())} of {n * p} entries wrong).{_hint(got, A, B)}")


def _check_config(launch: gpu.Launch | None, n: int, p: int, where: str) -> None:
    if launch is None:
        raise CheckFailure(f"matmul: {where}: no kernel was launched. matmul must launch your kernel with the "
                           f"course_lib.gpu API and return C.")
    if launch.block != BLOCK:
        raise CheckFailure(f"matmul: {where}: the kernel was launched with block={launch.block}; this problem asks "
                           f"for 16×16×1 blocks: block=(16, 16, 1).")
    gx, gy, _ = launch.grid
    need = ((p + 15) // 16, (n + 15) // 16)
    flipped = ((n + 15) // 16, (p + 15) // 16)
    blocks = need[0] * need[1]
    if (gx, gy) not in (need, flipped, (blocks, 1), (1, blocks)):   # 2-D grids, or the same blocks in a row
        raise CheckFailure(f"matmul: {where}: the grid is {launch.grid[:2]} blocks, but C ({n}×{p}) needs "
                           f"{need} blocks of 16×16: ((p + 15) // 16, (n + 15) // 16) with x along the columns. "
                           f"Compute the grid from the sizes, rounding up.")


#: Cases that passed in checked mode: (function, sizes, launches) -> None, the most recent last.
_PASSED_CHECKED: "OrderedDict[Hashable, None]" = OrderedDict()
_PASSED_CHECKED_KEEP = 256


def _checked_key(matmul: Any, n: int, m: int, p: int, launched: Sequence[gpu.Launch]) -> Hashable:
    """What a checked run of ``matmul`` at these sizes depended on: the function, the sizes, and each
    launch's compiled kernel (its module's serial: a cell run again is a new module), block and grid."""
    return (matmul, n, m, p, tuple((launch.module, launch.kernel, launch.block, launch.grid) for launch in launched))


def _remember_checked(key: Hashable) -> None:
    try:
        _PASSED_CHECKED[key] = None
    except TypeError:           # an unhashable callable: nothing is remembered
        return
    _PASSED_CHECKED.move_to_end(key)
    while len(_PASSED_CHECKED) > _PASSED_CHECKED_KEEP:
        _PASSED_CHECKED.popitem(last=False)


def _passed_checked_before(matmul: Any, n: int, m: int, p: int, A: np.ndarray, B: np.ndarray) -> bool:
    """True when the case passes on the fast backend with launches that already passed at these sizes in
    checked mode (the hidden call repeats the visible call's sizes with other numbers): the checks the
    simulator makes depend on the sizes and launches, which are the same; the numbers are compared here.
    False (the case then runs in checked mode, as it always did) when there is no such earlier pass, on a
    GPU, or when anything at all goes differently on the fast backend: its message is never shown."""
    if gpu.backend().name == "cuda" or not any(key[0] is matmul and key[1:4] == (n, m, p)
                                                for key in _PASSED_CHECKED):
        return False
    printed = io.StringIO()
    try:
        with gpu.using("cpu"), contextlib.redirect_stdout(printed):
            before = gpu.module.launch_count()
            got = _student("matmul", "", matmul, A.copy(), B.copy())
            new = gpu.module.launches_since(before)
            _check_config(new[-1] if new else None, n, p, "")
            _compare(A, B, got, "")
    except (CheckFailure, gpu.GpuError):
        return False
    key = _checked_key(matmul, n, m, p, new)
    if key not in _PASSED_CHECKED:
        return False
    _PASSED_CHECKED.move_to_end(key)
    print(printed.getvalue(), end="")       # what the kernel printed, as the checked run would have shown it
    return True


@guarded("matmul")
def check_matmul(matmul: Any, seed: int = 0, hard: bool = False, points: float | None = None) -> float | None:
    """``matmul(A, B)`` returns C = AB (float32, A n×m, B m×p) computed by the
    student's kernel, launched with 16×16×1 blocks and a grid from the sizes.
    Small awkward sizes run in checked mode; larger ones on the fast backend.
    With ``points``, each size earns its share (:mod:`.partial`)."""
    rng = np.random.default_rng(seed)
    small: Sequence[tuple[int, int, int]] = [(37, 53, 29), (16, 16, 16), (1, 7, 1), (20, 3, 45)]
    large: Sequence[tuple[int, int, int]] = [(256, 128, 200)]
    if hard:  # many blocks, no size a multiple of 16; small enough for the CPU within the call budget
        small = [*small, (17, 33, 15), (48, 1, 33)]
        # n and p make the grid (17×33 and 63×44 blocks); the inner size m only lengthens every thread's
        # loop, so it is kept short (it was 300 and 129: six times the time on the CPU, nothing more found):
        # more than one 16-wide tile along k, the last one partial, as 300 = 18·16 + 12 and 129 = 8·16 + 1 were.
        large = [*large, (513, 44, 257), (700, 17, 1000)]

    def case(checked: bool, n: int, m: int, p: int, A: np.ndarray, B: np.ndarray) -> None:
        if checked and _passed_checked_before(matmul, n, m, p, A, B):
            return
        with _backend(checked) as label:
            where = f"for A {n}×{m} and B {m}×{p} on the {label}"
            before = gpu.module.launch_count()
            got = _student("matmul", where, matmul, A.copy(), B.copy())
            new = gpu.module.launches_since(before)
            _check_config(new[-1] if new else None, n, p, where)
            _compare(A, B, got, where)
            if checked and gpu.backend().checked:
                _remember_checked(_checked_key(matmul, n, m, p, new))

    parts = [(f"A {n}×{m}, B {m}×{p}", functools.partial(case, checked, n, m, p, *_matrices(rng, n, m, p)))
             for checked, sizes in ((True, small), (False, large)) for n, m, p in sizes]
    sizes_text = ", ".join(f"{n}×{m}·{m}×{p}" for n, m, p in [*small, *large])
    return score("matmul", parts, points, f"{sizes_text}; block 16×16×1 and a grid from the sizes; "
                                          "no out-of-bounds access")
