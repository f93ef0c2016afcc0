"""Notebook 05's figures and the matmul timing helper."""
from __future__ import annotations

import numpy as np

import gpu_kernels as K
from course_lib import gpu
from course_lib.figures import block_tiling_figure, matmul_benchmark_figure
from course_lib.gpu.bench import time_matmuls


def test_block_tiling_marks_threads_outside_the_matrix():
    fig = block_tiling_figure(n=37, p=29, block=16)
    outside, blocks = np.array(fig.data[0].z, dtype=float), np.array(fig.data[1].z, dtype=float)
    assert blocks.shape == (48, 32)                                  # 3 x 2 blocks of 16 x 16
    assert np.isnan(blocks[37:, :]).all() and np.isnan(blocks[:, 29:]).all()
    assert not np.isnan(blocks[:37, :29]).any() and (outside[37:, :] == 0).all()
    assert "blockIdx = (1, 2), threadIdx = (0, 5)" in fig.data[1].text[37][16]
    assert "outside C" in fig.data[1].text[37][16] and "computes C[0][0]" in fig.data[1].text[0][0]
    assert "grid = (2, 3) blocks" in fig.layout.title.text
    assert sum(1 for a in fig.layout.annotations if a.text.startswith("block (")) == 6


def test_benchmark_figure_is_log_log_with_a_curve_per_method_and_backend():
    rows = [{"name": "naive", "backend": "CPU", "n": n, "seconds": 1e-9 * n ** 3} for n in (64, 128)]
    rows += [{"name": "naive", "backend": "GPU", "n": 64, "seconds": 1e-6}]
    fig = matmul_benchmark_figure(rows)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["naive — CPU", "naive — GPU"]
    gflops = fig.data[1].y
    assert np.allclose(gflops, 2.0)                                  # 2 n^3 / (1e-9 n^3) / 1e9
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis2.type == "log"


def test_time_matmuls_times_kernels_and_numpy():
    with gpu.using("cpu"):
        rows = time_matmuls({"naive": K.wrapper(K.NAIVE)}, [32, 48], repeats=1, progress=False)
    by = {(r["name"], r["n"]): r for r in rows}
    assert set(by) >= {("naive", 32), ("naive", 48), ("numpy A @ B", 32), ("numpy A @ B", 48)}
    assert by[("naive", 32)]["backend"] == "CPU (PoCL)" and all(r["seconds"] > 0 for r in rows)
