"""CUDA C matmul kernels for the notebook-05 catalogue: correct ones written
differently, and the usual mistakes. ``wrapper(src, ...)`` turns a kernel into
the ``matmul(A, B)`` function a student writes."""
from __future__ import annotations

import numpy as np

from course_lib import gpu

NAIVE = r"""
__global__ void matmul(const float *A, const float *B, float *C, int n, int m, int p)
{
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < n && col < p) {
        float sum = 0.0f;
        for (int k = 0; k < m; k++)
            sum += A[row * m + k] * B[k * p + col];
        C[row * p + col] = sum;
    }
}
"""

# x runs along the rows (the grid is launched transposed)
ROWS_ON_X = r"""
__global__ void matmul(const float *A, const float *B, float *C, int n, int m, int p)
{
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    int col = blockIdx.y * blockDim.y + threadIdx.y;
    if (row >= n || col >= p) return;
    float sum = 0.0f;
    for (int k = m - 1; k >= 0; --k) sum += B[k * p + col] * A[row * m + k];
    C[row * p + col] = sum;
}
"""

# one-dimensional indexing inside 16x16 blocks: each thread finds its entry from a flat index
FLAT = r"""
__global__ void matmul(const float *A, const float *B, float *C, int n, int m, int p)
{
    int bx = blockIdx.x, by = blockIdx.y;
    int t = threadIdx.y * blockDim.x + threadIdx.x;
    int row = by * 16 + t / 16, col = bx * 16 + t % 16;
    if (row < n && col < p) {
        double sum = 0.0;
        for (int k = 0; k < m; k++) sum += (double)A[row * m + k] * (double)B[k * p + col];
        C[row * p + col] = (float)sum;
    }
}
"""

# a one-dimensional grid of 16x16 blocks: block b covers tile (b % tiles_x, b / tiles_x)
ONE_D_GRID = r"""
__global__ void matmul(const float *A, const float *B, float *C, int n, int m, int p)
{
    int tiles_x = (p + 15) / 16;
    int row = (blockIdx.x / tiles_x) * 16 + threadIdx.y;
    int col = (blockIdx.x % tiles_x) * 16 + threadIdx.x;
    if (row < n && col < p) {
        float sum = 0.0f;
        for (int k = 0; k < m; k++) sum += A[row * m + k] * B[k * p + col];
        C[row * p + col] = sum;
    }
}
"""

TILED = r"""
#define TILE 16
__global__ void matmul(const float *A, const float *B, float *C, int n, int m, int p)
{
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
    float sum = 0.0f;
    for (int t = 0; t < (m + TILE - 1) / TILE; t++) {
        int ka = t * TILE + tx, kb = t * TILE + ty;
        As[ty][tx] = (row < n && ka < m) ? A[row * m + ka] : 0.0f;
        Bs[ty][tx] = (kb < m && col < p) ? B[kb * p + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TILE; k++) sum += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (row < n && col < p) C[row * p + col] = sum;
}
"""

# ---------------------------------------------------------------- mistakes
NO_GUARD = NAIVE.replace("if (row < n && col < p) {", "{")
ROW_GUARD_ONLY = NAIVE.replace("if (row < n && col < p) {", "if (row < n) {")
SWAPPED = NAIVE.replace("int row = blockIdx.y * blockDim.y + threadIdx.y;\n    int col = blockIdx.x * blockDim.x + threadIdx.x;",
                        "int col = blockIdx.y * blockDim.y + threadIdx.y;\n    int row = blockIdx.x * blockDim.x + threadIdx.x;")
WRONG_STRIDE = NAIVE.replace("A[row * m + k]", "A[row * n + k]")
TRANSPOSED_STORE = NAIVE.replace("C[row * p + col] = sum;", "C[col * n + row] = sum;")
TILED_NO_SYNC = TILED.replace("        __syncthreads();\n        for", "        for")
TILED_BARRIER_IN_GUARD = TILED.replace(
    "        __syncthreads();\n        for (int k = 0; k < TILE; k++) sum += As[ty][k] * Bs[k][tx];",
    "        if (row < n && col < p) __syncthreads();\n        for (int k = 0; k < TILE; k++) sum += As[ty][k] * Bs[k][tx];")

assert NO_GUARD != NAIVE and ROW_GUARD_ONLY != NAIVE and SWAPPED != NAIVE and WRONG_STRIDE != NAIVE
assert TRANSPOSED_STORE != NAIVE and TILED_NO_SYNC != TILED and TILED_BARRIER_IN_GUARD != TILED


def wrapper(src: str, grid=None, block=(16, 16, 1), out: str = "Out"):
    """``matmul(A, B)`` launching ``src``: grid from the sizes by default
    (``grid(n, p)`` to override), C received with ``Out`` (or another handler)."""
    mod = gpu.SourceModule(src)
    kernel = mod.get_function("matmul")

    def matmul(A, B):
        n, m = A.shape
        p = B.shape[1]
        C = np.zeros((n, p), dtype=np.float32)
        g = grid(n, p) if grid else ((p + 15) // 16, (n + 15) // 16)
        handler = getattr(gpu, out)
        kernel(gpu.In(A), gpu.In(B), handler(C), np.int32(n), np.int32(m), np.int32(p), block=block, grid=g)
        return C

    return matmul
