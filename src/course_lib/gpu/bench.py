"""Timing matrix multiplications: kernels by their own launch time, library
calls by the wall clock (after synchronising a GPU)."""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import module
from .backends import backend

__all__ = ["time_matmuls"]


def _kernel_seconds(fn: Callable[..., Any], A: np.ndarray, B: np.ndarray) -> tuple[float, str]:
    before = module.launch_count()
    fn(A, B)
    new = module.launches_since(before)
    if not new:
        raise RuntimeError("no kernel was launched")
    return sum(launch.seconds for launch in new), backend().short


def _wall_seconds(fn: Callable[..., Any], A: Any, B: Any, sync: Callable[[], None]) -> float:
    sync()
    t0 = time.perf_counter()
    fn(A, B)
    sync()
    return time.perf_counter() - t0


def time_matmuls(kernels: Mapping[str, Callable[[np.ndarray, np.ndarray], Any]], sizes: Sequence[int],
                 repeats: int = 3, torch_gpu: bool = True, progress: bool = True) -> list[dict]:
    """For each n in ``sizes``: the best of ``repeats`` times of every function in
    ``kernels`` (``matmul(A, B)`` launching a kernel: its kernel time), of numpy
    on the CPU, and of ``torch.matmul`` on a CUDA GPU when there is one. Returns
    rows ``{"name", "backend", "n", "seconds"}`` for :func:`matmul_benchmark_figure`."""
    from tqdm.auto import tqdm

    rows: list[dict] = []
    cuda = None
    if torch_gpu:
        try:
            import torch

            cuda = torch if torch.cuda.is_available() else None
        except ImportError:
            cuda = None
    rng = np.random.default_rng(0)
    for n in tqdm(list(sizes), desc="timing", disable=not progress):
        A = rng.standard_normal((n, n)).astype(np.float32)
        B = rng.standard_normal((n, n)).astype(np.float32)
        for name, fn in kernels.items():
            best, where = min(_kernel_seconds(fn, A, B) for _ in range(repeats))
            rows.append({"name": name, "backend": where, "n": n, "seconds": best})
        best = min(_wall_seconds(np.matmul, A, B, lambda: None) for _ in range(repeats))
        rows.append({"name": "numpy A @ B", "backend": "CPU (BLAS)", "n": n, "seconds": best})
        if cuda is not None:
            At, Bt = cuda.from_numpy(A).cuda(), cuda.from_numpy(B).cuda()
            best = min(_wall_seconds(cuda.matmul, At, Bt, cuda.cuda.synchronize) for _ in range(repeats))
            rows.append({"name": "torch.matmul (cuBLAS)", "backend": f"GPU ({cuda.cuda.get_device_name()})",
                         "n": n, "seconds": best})
    return rows
