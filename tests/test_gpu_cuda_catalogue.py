"""The CUDA C catalogue (tests/cuda_catalogue): correct kernels in the styles of
public code, each launched as its own host code launches it, run on both CPU
backends (PoCL and the Oclgrind simulator) and compared with numpy.

Before the translation read CUDA C with clang, about half of such kernels
were refused ("your CUDA C does not compile") or died at launch."""
from __future__ import annotations

import time

import numpy as np
import pytest

from course_lib import gpu
from cuda_catalogue import CASES, CONSTRUCTS

#: Seconds the slowest catalogue kernel may take on one backend (build, first launch, numpy), generously.
SLOW_S = 30.0


def test_catalogue_covers_every_construct_twice():
    assert len(CASES) >= 30
    for construct in CONSTRUCTS:
        users = [name for name, case in CASES.items() if construct in case.constructs]
        assert len(users) >= 2, f"{construct} ({CONSTRUCTS[construct]}) is exercised by {users} only"


@pytest.mark.parametrize("backend", ["cpu", "checked"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_catalogue_kernel_runs_as_on_a_gpu(name, backend, capsys):
    case = CASES[name]
    start = time.perf_counter()
    with gpu.using(backend):
        got, want = case.run(np.random.default_rng(7))
    seconds = time.perf_counter() - start
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    bad = ~np.isclose(got, want, rtol=case.rtol, atol=case.atol)
    assert not bad.any(), (f"{name} on {backend}: {int(bad.sum())} of {bad.size} values wrong, first at "
                           f"{np.argwhere(bad)[0].tolist()}: {got[bad][0]} instead of {want[bad][0]}")
    assert seconds < SLOW_S, f"{name} took {seconds:.1f} s on {backend}"
    assert "is still running" not in capsys.readouterr().out
