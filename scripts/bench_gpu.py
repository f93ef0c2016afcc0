"""Benchmark of notebook 05's kernels on the active course_lib.gpu backend.

    .venv/bin/python scripts/bench_gpu.py            # or: make bench
    .venv/bin/python scripts/bench_gpu.py --catalogue

Takes the kernels from the source notebook's cells (the reference doublify
and naive matmul solutions, and the given tiled kernel) and prints:

1. on the CPU backend (PoCL) and in checked mode (Oclgrind): compile time of
   each module, and run time of doublify (n = 2^12) and of both matmuls at
   n = 64 ... 512 (checked mode: up to 128, it simulates every access);
2. on a CUDA GPU, when there is one: GFLOP/s of naive, tiled and cuBLAS
   (torch.matmul) at n = 1024 ... 8192, and the tiled kernel as a fraction of
   cuBLAS (aim: at least 10%);
3. with ``--catalogue``: every kernel of the CUDA C catalogue
   (tests/cuda_catalogue) on both CPU backends, PoCL's kernel cache off: the
   first run (translation, build, first launch) and a second run, slowest
   first.
Prints numbers; asserts nothing.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from course_lib import gpu  # noqa: E402
from course_lib.engine import select_cells  # noqa: E402

NOTEBOOK = ROOT / "source_notebooks" / "ps1" / "05_gpu.ipynb"


def kernel_sources() -> dict[str, str]:
    """The CUDA C strings of the notebook: DOUBLIFY_SRC, MATMUL_SRC (solutions) and TILED_SRC (given)."""
    out: dict[str, str] = {}
    for cell in select_cells(NOTEBOOK, grade_ids=("doublify", "matmul", "tiled")):
        code = "\n".join(line for line in cell.source.splitlines() if "BEGIN SOLUTION" not in line
                         and "END SOLUTION" not in line)
        ns: dict = {}
        for line_no, line in enumerate(code.splitlines()):
            if line.endswith('_SRC = r"""'):
                name = line.split(" = ")[0]
                end = code.splitlines()[line_no + 1:].index('"""')
                ns[name] = "\n".join(code.splitlines()[line_no + 1: line_no + 1 + end])
        out.update(ns)
    return out


def timed_compile(src: str, name: str) -> tuple[gpu.Function, float]:
    t0 = time.perf_counter()
    fn = gpu.SourceModule(src).get_function(name)
    return fn, time.perf_counter() - t0


def run_matmul(fn: gpu.Function, n: int) -> float:
    A = np.random.default_rng(n).standard_normal((n, n)).astype(np.float32)
    B = np.random.default_rng(n + 1).standard_normal((n, n)).astype(np.float32)
    C = np.empty((n, n), np.float32)
    best = min(fn(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(n), np.int32(n), np.int32(n), block=(16, 16, 1),
                  grid=((n + 15) // 16, (n + 15) // 16), time_kernel=True) for _ in range(3))
    err = float(np.abs(C - A @ B).max())
    assert err < 1e-2 * n, err
    return best


def cpu_section(name: str, sizes: list[int], src: dict[str, str]) -> None:
    with gpu.using(name) as be:
        print(f"\n== {be.label}")
        doub, t_d = timed_compile(src["DOUBLIFY_SRC"], "doublify")
        naive, t_n = timed_compile(src["MATMUL_SRC"], "matmul")
        tiled, t_t = timed_compile(src["TILED_SRC"], "matmul_tiled")
        print(f"compile: doublify {t_d * 1e3:.0f} ms, naive matmul {t_n * 1e3:.0f} ms, tiled matmul {t_t * 1e3:.0f} ms")
        a = np.ones(2 ** 12, np.float32)
        t = min(doub(gpu.InOut(a), np.int32(a.size), block=(256, 1, 1), grid=(16, 1), time_kernel=True)
                for _ in range(3))
        print(f"doublify n = 4096: {t * 1e6:.1f} µs")
        print(f"{'n':>6} {'naive s':>10} {'GFLOP/s':>8} {'tiled s':>10} {'GFLOP/s':>8}")
        for n in sizes:
            tn, tt = run_matmul(naive, n), run_matmul(tiled, n)
            print(f"{n:>6} {tn:>10.4f} {2 * n ** 3 / tn / 1e9:>8.2f} {tt:>10.4f} {2 * n ** 3 / tt / 1e9:>8.2f}")


def gpu_section(src: dict[str, str]) -> None:
    import torch

    be = gpu.use("cuda")
    if be.name != "cuda":
        print("\n== no CUDA GPU here: GPU numbers skipped")
        return
    naive, _ = timed_compile(src["MATMUL_SRC"], "matmul")
    tiled, _ = timed_compile(src["TILED_SRC"], "matmul_tiled")
    print(f"\n== {be.label}")
    print(f"{'n':>6} {'naive GF/s':>11} {'tiled GF/s':>11} {'cuBLAS GF/s':>12} {'tiled/cuBLAS':>13}")
    for n in (1024, 2048, 4096, 8192):
        tn, tt = run_matmul(naive, n), run_matmul(tiled, n)
        A = torch.randn(n, n, device="cuda")
        B = torch.randn(n, n, device="cuda")
        torch.matmul(A, B)
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            torch.matmul(A, B)
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        flops = 2 * n ** 3
        print(f"{n:>6} {flops / tn / 1e9:>11.1f} {flops / tt / 1e9:>11.1f} {flops / best / 1e9:>12.1f} "
              f"{best / tt:>13.1%}")


def catalogue_section(top: int = 8) -> None:
    import os

    os.environ["POCL_KERNEL_CACHE"] = "0"          # the workers inherit it: real first builds
    sys.path.insert(0, str(ROOT / "tests"))
    from cuda_catalogue import CASES

    for name in ("cpu", "checked"):
        rows = []
        with gpu.using(name) as be:
            for case in CASES.values():
                times = []
                for _ in range(2):
                    t0 = time.perf_counter()
                    case.run(np.random.default_rng(0))
                    times.append(time.perf_counter() - t0)
                rows.append((times[0], times[1], case.name))
        rows.sort(reverse=True)
        print(f"\n== catalogue on the {be.short}: {len(rows)} kernels, {sum(r[0] for r in rows):.1f} s for the first "
              f"runs; slowest first (first run = translate + build + launch, then a second run)")
        for first, second, case_name in rows[:top]:
            print(f"{first:7.2f} s {second:7.2f} s  {case_name}")


def main() -> None:
    if "--catalogue" in sys.argv:
        catalogue_section()
        return
    src = kernel_sources()
    cpu_section("cpu", [64, 128, 256, 512], src)
    cpu_section("checked", [64, 128], src)
    gpu_section(src)


if __name__ == "__main__":
    main()
