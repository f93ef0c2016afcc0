"""Catalogue for notebook 05's matmul check: kernels written differently pass;
the usual mistakes are caught (in checked mode, without a GPU) with a message
that names the fault."""
from __future__ import annotations

import re

import pytest

import gpu_kernels as K
from course_lib.checks import CheckFailure
from course_lib.checks.gpu import check_doublify, check_matmul

RIGHT = {
    "naive, x along columns": lambda: K.wrapper(K.NAIVE),
    "x along rows, grid transposed, k backwards": lambda: K.wrapper(
        K.ROWS_ON_X, grid=lambda n, p: ((n + 15) // 16, (p + 15) // 16)),
    "flat thread index, double accumulator": lambda: K.wrapper(K.FLAT),
    "shared-memory tiles": lambda: K.wrapper(K.TILED),
    "one-dimensional grid": lambda: K.wrapper(K.ONE_D_GRID, grid=lambda n, p: (((p + 15) // 16) * ((n + 15) // 16), 1)),
}

WRONG = {
    "no bounds guard": (lambda: K.wrapper(K.NO_GUARD),
                        [r"out-of-bounds read of B\[1537\] \(B has 1537 elements", r"by thread \(\d+, 0, 0\) of block",
                         r"line 8 of your kernel: `sum \+= A\[row \* m \+ k\] \* B\[k \* p \+ col\];`",
                         "bounds check"]),
    "bounds guard on rows only (non-multiple sizes)": (lambda: K.wrapper(K.ROW_GUARD_ONLY),
                                                       ["out-of-bounds read of B", "guard"]),
    "row and col swapped": (lambda: K.wrapper(K.SWAPPED), [r"never written \(still 0\)", "row come from the y"]),
    "stride n instead of m": (lambda: K.wrapper(K.WRONG_STRIDE), ["Check the strides"]),
    "C stored column by column": (lambda: K.wrapper(K.TRANSPOSED_STORE), ["written column by column"]),
    "tiled, __syncthreads missing": (lambda: K.wrapper(K.TILED_NO_SYNC),
                                     ["data race", "__shared__ array", r"__syncthreads\(\) missing"]),
    "tiled, __syncthreads inside the guard": (lambda: K.wrapper(K.TILED_BARRIER_IN_GUARD),
                                              ["split between two barriers", "inside an `if`"]),
    "grid rounded down": (lambda: K.wrapper(K.NAIVE, grid=lambda n, p: (p // 16 or 1, n // 16 or 1)),
                          [r"the grid is \(1, 2\) blocks, but C \(37×29\) needs \(2, 3\)"]),
    "8x8 blocks": (lambda: K.wrapper(K.NAIVE, block=(8, 8, 1), grid=lambda n, p: ((p + 7) // 8, (n + 7) // 8)),
                   [r"block=\(8, 8, 1\); this problem asks for 16×16×1"]),
    "C passed with In": (lambda: K.wrapper(K.NAIVE, out="In"), ["C is all zeros", "Out\\(C\\)"]),
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_kernels_pass(name, capsys):
    check_matmul(RIGHT[name]())
    assert "PASSED: matmul" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_kernels_are_caught_and_named(name):
    make, phrases = WRONG[name]
    with pytest.raises(CheckFailure) as info:
        check_matmul(make())
    message = str(info.value)
    assert message.startswith("matmul: for A 37×53 and B 53×29 on the "), message
    for phrase in phrases:
        assert re.search(phrase, message), f"{phrase!r} not in: {message}"


def test_hard_check_covers_many_blocks_and_no_multiple_of_16(capsys):
    """Grids of 44×63 blocks, no size a multiple of 16 (1024³ took 12 s of the 15 s call budget on a busy
    2-core machine: a correct kernel could fail the hidden test)."""
    check_matmul(K.wrapper(K.TILED), seed=3, hard=True)
    out = capsys.readouterr().out
    assert "513×44·44×257" in out and "700×17·17×1000" in out, out


def test_matmul_that_is_not_implemented_or_returns_nothing():
    def stub(A, B):
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="matmul: not implemented yet"):
        check_matmul(stub)
    with pytest.raises(CheckFailure, match="no kernel was launched"):
        check_matmul(lambda A, B: A @ B)
    launch_only = K.wrapper(K.NAIVE)
    with pytest.raises(CheckFailure, match="returned None"):
        check_matmul(lambda A, B: (launch_only(A, B), None)[1])


def test_doublify_check():
    import numpy as np

    from course_lib import gpu

    good = gpu.SourceModule("""
    __global__ void d(float *a, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) a[i] *= 2.0f; }
    """).get_function("d")

    def doublify(a, grid=None, handler=gpu.InOut):
        n = a.size
        good(handler(a), np.int32(n), block=(256, 1, 1), grid=grid or ((n + 255) // 256, 1))
        return a

    check_doublify(doublify, hard=True)
    with pytest.raises(CheckFailure, match=r"Nothing changed at all: is a passed as InOut"):
        check_doublify(lambda a: doublify(a, handler=gpu.In))
    with pytest.raises(CheckFailure, match=r"does the grid cover all n"):
        check_doublify(lambda a: doublify(a, grid=(max(a.size // 256, 1), 1)))


def test_each_size_earns_its_share_of_the_points(capsys):
    """Partial credit: a kernel right on all but the single-row size earns 8 × 4/5 and says which failed."""
    tiled = K.wrapper(K.TILED)

    def wrong_for_one_row(A, B):
        C = tiled(A, B)
        return C + 1.0 if A.shape[0] == 1 else C

    assert check_matmul(tiled, points=8) == 8.0
    earned = check_matmul(wrong_for_one_row, points=8)
    out = capsys.readouterr().out
    assert earned == 6.4 and "FAILED: matmul: A 1×7, B 7×1: matmul: for A 1×7 and B 7×1" in out, out
    with pytest.raises(CheckFailure):  # nothing right: an error, 0 points
        check_matmul(lambda A, B: tiled(A, B) + 1.0, points=8)
