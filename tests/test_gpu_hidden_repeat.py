"""Notebook 05's hidden matmul call repeats the visible call's small sizes with other
numbers. A size whose launches already passed in checked mode (the same function,
compiled kernel, block and grid) runs on the fast backend; anything short of a pass
there runs in checked mode as before. So the verdicts, the messages and the points
are those of a hidden call that simulates every small size again."""
from __future__ import annotations

import numpy as np
import pytest

import gpu_kernels as K
from course_lib import gpu
from course_lib.checks import CheckFailure
from course_lib.checks import gpu as G
from course_lib.checks.gpu import check_matmul

SMALL = {(37, 53, 29), (16, 16, 16), (1, 7, 1), (20, 3, 45)}


def _backends_by_size(since: int) -> dict[tuple[int, int], set[str]]:
    """{(gx, gy) grid: backends} of the launches after ``since`` (the grid stands for the size)."""
    out: dict[tuple[int, int], set[str]] = {}
    for launch in gpu.module.launches_since(since):
        out.setdefault(launch.grid[:2], set()).add(launch.backend)
    return out


def _grid(n: int, p: int) -> tuple[int, int]:
    return ((p + 15) // 16, (n + 15) // 16)


def _hidden_without_memory(matmul, capsys, **kw):
    saved = dict(G._PASSED_CHECKED)
    G._PASSED_CHECKED.clear()
    try:
        earned = check_matmul(matmul, seed=2026, hard=True, **kw)
        return earned, capsys.readouterr().out
    finally:
        G._PASSED_CHECKED.clear()
        G._PASSED_CHECKED.update(saved)


def test_repeated_sizes_that_passed_in_checked_mode_run_on_the_fast_backend(capsys):
    matmul = K.wrapper(K.NAIVE)
    assert check_matmul(matmul, points=8) == 8.0
    before = gpu.module.launch_count()
    assert check_matmul(matmul, seed=2026, hard=True, points=8) == 8.0
    seen = _backends_by_size(before)
    for n, _, p in SMALL:
        assert seen[_grid(n, p)] == {"cpu"}, (n, p, seen)
    for n, p in ((17, 15), (48, 33)):          # sizes only the hidden call has: simulated
        assert seen[_grid(n, p)] == {"checked"}, (n, p, seen)
    capsys.readouterr()


def test_another_function_or_a_recompiled_kernel_is_simulated_again(capsys):
    check_matmul(K.wrapper(K.NAIVE))
    before = gpu.module.launch_count()
    check_matmul(K.wrapper(K.NAIVE), seed=5, hard=True)      # same source, new module and function
    seen = _backends_by_size(before)
    assert all(seen[_grid(n, p)] == {"checked"} for n, _, p in SMALL), seen
    assert "PASSED: matmul" in capsys.readouterr().out


def _answers_only_the_visible_numbers():
    """Right on the visible call's numbers (seed 0), C of zeros on any others: a hard-coded answer."""
    naive = K.wrapper(K.NAIVE)
    rng = np.random.default_rng(0)
    visible = {}
    for n, m, p in [(37, 53, 29), (16, 16, 16), (1, 7, 1), (20, 3, 45), (256, 128, 200)]:
        A, B = G._matrices(rng, n, m, p)
        visible[(A.tobytes(), B.tobytes())] = True

    def matmul(A, B):
        C = naive(A, B)
        return C if (A.tobytes(), B.tobytes()) in visible else np.zeros_like(C)
    return matmul


def _wrong_for_hidden_row_of_one():
    tiled = K.wrapper(K.TILED)
    calls = {"n": 0}

    def matmul(A, B):
        calls["n"] += 1
        C = tiled(A, B)
        return C + 1.0 if A.shape[0] == 1 and calls["n"] > 5 else C   # right in the visible call only
    return matmul


@pytest.mark.parametrize("make", [_answers_only_the_visible_numbers, _wrong_for_hidden_row_of_one])
def test_a_hidden_failure_reads_as_it_did_and_earns_the_same_points(make, capsys):
    """What the fast backend finds wrong is run again in checked mode: the same messages, the same points."""
    matmul = make()
    assert check_matmul(matmul, points=8) == 8.0
    capsys.readouterr()
    try:
        earned = check_matmul(matmul, seed=2026, hard=True, points=8)
    except CheckFailure as failure:
        earned, out = str(failure), ""
    else:
        out = capsys.readouterr().out
    matmul = make()                                   # the same again, with nothing remembered
    check_matmul(matmul, points=8)
    capsys.readouterr()
    try:
        again, out_again = _hidden_without_memory(matmul, capsys, points=8)
    except CheckFailure as failure:
        again, out_again = str(failure), ""
    assert (earned, out) == (again, out_again)
    assert "on the Oclgrind simulator (checked mode)" in (out or earned)


def test_a_kernel_fault_in_checked_mode_is_never_remembered_as_a_pass():
    wrong = K.wrapper(K.NO_GUARD)
    with pytest.raises(CheckFailure, match=r"out-of-bounds read of B\[1537\]"):
        check_matmul(wrong)
    assert not any(key[0] is wrong for key in G._PASSED_CHECKED)
    with pytest.raises(CheckFailure, match=r"out-of-bounds read of B\[\d+\]"):
        check_matmul(wrong, seed=2026, hard=True)
