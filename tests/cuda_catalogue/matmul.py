"""Matrix products C = A B in the styles of public CUDA code."""
from __future__ import annotations

import numpy as np

from course_lib import gpu

from .registry import case, matrices

N, M, P = 37, 45, 29          # sizes that are not multiples of any tile


def _want(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return (A.astype(np.float64) @ B.astype(np.float64)).astype(np.float32)


# NVIDIA's matrixMul sample style: tiles declared inside the loop over tiles, a file-scope constant
CONST_TILE_IN_LOOP = r"""
const int TILE = 16;

__global__ void matrixMulShared(float * __restrict__ C, const float * __restrict__ A,
                                const float * __restrict__ B, int hA, int wA, int wB)
{
    int bx = blockIdx.x, by = blockIdx.y;
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = by * TILE + ty;
    int col = bx * TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < wA; k0 += TILE) {
        __shared__ float As[TILE][TILE];
        __shared__ float Bs[TILE][TILE];
        As[ty][tx] = (row < hA && k0 + tx < wA) ? A[row * wA + k0 + tx] : 0.0f;
        Bs[ty][tx] = (k0 + ty < wA && col < wB) ? B[(k0 + ty) * wB + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TILE; ++k)
            acc += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (row < hA && col < wB)
        C[row * wB + col] = acc;
}
"""


@case("matmul: NVIDIA-sample tiles declared in the loop, file-scope const TILE", "file_const", "shared_in_block",
      "already_worked")
def const_tile_in_loop(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    k = gpu.SourceModule(CONST_TILE_IN_LOOP).get_function("matrixMulShared")
    k(gpu.Out(C), gpu.In(A), gpu.In(B), np.int32(N), np.int32(M), np.int32(P), block=(16, 16, 1),
      grid=((P + 15) // 16, (N + 15) // 16))
    return C, _want(A, B)


ROW_POINTERS = r"""
__global__ void mm_rows(const float *A, const float *B, float *C, int n, int m, int p)
{
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n || j >= p) return;
    const float *a = A + i * m;      // row i of A
    const float *b = B + j;          // column j of B, stepping by p
    float s = 0.0f;
    for (const float *end = a + m; a != end; ++a, b += p)
        s += *a * *b;
    float *c = &C[i * p + j];
    *c = s;
}
"""


@case("matmul: walking pointers along a row of A and a column of B", "local_pointer")
def row_pointers(rng):
    A, B = matrices(rng, N, M, P)
    C = np.zeros((N, P), np.float32)
    mod = gpu.SourceModule(ROW_POINTERS)
    mm = mod.get_function("mm_rows")
    block = (8, 32, 1)
    mm(gpu.In(A), gpu.In(B), gpu.InOut(C), np.int32(N), np.int32(M), np.int32(P), block=block,
       grid=((P + block[0] - 1) // block[0], (N + block[1] - 1) // block[1]))
    return C, _want(A, B)


DEVICE_DOT = r"""
__device__ float strided_dot(const float *x, const float *y, int len, int stride)
{
    float total = 0.0f;
    for (int k = 0; k < len; k++)
        total += x[k] * y[k * stride];
    return total;
}

__global__ void gemm_naive(int n, int m, int p, const float *A, const float *B, float *C)
{
    unsigned int r = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < n && c < p) {
        const float *arow = A + r * m;
        C[r * p + c] = strided_dot(arow, B + c, m, p);
    }
}
"""


@case("matmul: a __device__ dot product on pointers into A and B", "device_pointer_helper", "local_pointer")
def device_dot(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    gemm = gpu.SourceModule(DEVICE_DOT).get_function("gemm_naive")
    dA, dB = gpu.to_device(A), gpu.to_device(B)
    dC = gpu.mem_alloc(C.nbytes)
    gemm(np.int32(N), np.int32(M), np.int32(P), dA, dB, dC, block=(16, 16, 1),
         grid=((P + 15) // 16, (N + 15) // 16))
    gpu.memcpy_dtoh(C, dC)
    return C, _want(A, B)


REGISTER_BLOCKED = r"""
constexpr int TS = 16;      // tile edge
constexpr int WPT = 2;      // outputs per thread along y
#define RTS (TS / WPT)

__global__ void gemm_regblock(const float *A, const float *B, float *C, int n, int m, int p)
{
    __shared__ float Asub[TS][TS];
    __shared__ float Bsub[TS][TS];
    const int tx = threadIdx.x, ty = threadIdx.y;        // ty < RTS
    const int col = blockIdx.x * TS + tx;
    const int row0 = blockIdx.y * TS + ty;
    float acc[WPT];
#pragma unroll
    for (int w = 0; w < WPT; w++) acc[w] = 0.0f;
    const int tiles = (m + TS - 1) / TS;
    for (int t = 0; t < tiles; t++) {
#pragma unroll
        for (int w = 0; w < WPT; w++) {
            int r = row0 + w * RTS, ka = t * TS + tx, kb = t * TS + ty + w * RTS;
            Asub[ty + w * RTS][tx] = (r < n && ka < m) ? A[r * m + ka] : 0.0f;
            Bsub[ty + w * RTS][tx] = (kb < m && col < p) ? B[kb * p + col] : 0.0f;
        }
        __syncthreads();
        for (int k = 0; k < TS; k++) {
            float b = Bsub[k][tx];
#pragma unroll
            for (int w = 0; w < WPT; w++)
                acc[w] += Asub[ty + w * RTS][k] * b;
        }
        __syncthreads();
    }
#pragma unroll
    for (int w = 0; w < WPT; w++) {
        int r = row0 + w * RTS;
        if (r < n && col < p) C[r * p + col] = acc[w];
    }
}
"""


@case("matmul: register blocking, two outputs per thread, constexpr tile sizes", "file_const", "already_worked")
def register_blocked(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    k = gpu.SourceModule(REGISTER_BLOCKED).get_function("gemm_regblock")
    k(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(N), np.int32(M), np.int32(P), block=(16, 8, 1),
      grid=((P + 15) // 16, (N + 15) // 16))
    return C, _want(A, B)


LAUNCH_BOUNDS_EXTERN_C = r"""
#define BLOCK 16
extern "C" __global__ void __launch_bounds__(BLOCK * BLOCK) sgemm_tiled(int n, int m, int p,
        const float *A, const float *B, float *C)
{
    __shared__ float ta[BLOCK][BLOCK + 1];
    __shared__ float tb[BLOCK][BLOCK + 1];
    int r = blockIdx.y * BLOCK + threadIdx.y, c = blockIdx.x * BLOCK + threadIdx.x;
    float v = 0;
    for (int t = 0; t * BLOCK < m; ++t) {
        int k = t * BLOCK;
        ta[threadIdx.y][threadIdx.x] = (r < n && k + threadIdx.x < m) ? A[r * m + k + threadIdx.x] : 0;
        tb[threadIdx.y][threadIdx.x] = (k + threadIdx.y < m && c < p) ? B[(k + threadIdx.y) * p + c] : 0;
        __syncthreads();
        for (int e = 0; e < BLOCK; ++e) v += ta[threadIdx.y][e] * tb[e][threadIdx.x];
        __syncthreads();
    }
    if (r < n && c < p) C[r * p + c] = v;
}
"""


@case("matmul: extern \"C\" without braces, __launch_bounds__, padded tiles", "extern_c", "launch_bounds")
def launch_bounds_extern_c(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    f = gpu.SourceModule(LAUNCH_BOUNDS_EXTERN_C).get_function("sgemm_tiled")
    f(np.int32(N), np.int32(M), np.int32(P), gpu.In(A), gpu.In(B), gpu.Out(C), block=(16, 16, 1),
      grid=((P + 15) // 16, (N + 15) // 16, 1))
    return C, _want(A, B)


DYNAMIC_TILES = r"""
extern __shared__ float smem[];

__global__ void mm_dynamic(const float *A, const float *B, float *C, int n, int m, int p, int tile)
{
    float *As = smem;                 // tile * tile floats
    float *Bs = smem + tile * tile;   // and tile * tile more
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * tile + ty, col = blockIdx.x * tile + tx;
    float sum = 0.0f;
    for (int k0 = 0; k0 < m; k0 += tile) {
        As[ty * tile + tx] = (row < n && k0 + tx < m) ? A[row * m + k0 + tx] : 0.0f;
        Bs[ty * tile + tx] = (k0 + ty < m && col < p) ? B[(k0 + ty) * p + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < tile; k++)
            sum += As[ty * tile + k] * Bs[k * tile + tx];
        __syncthreads();
    }
    if (row < n && col < p) C[row * p + col] = sum;
}
"""


@case("matmul: tiles in dynamic shared memory (extern __shared__, shared=) split by pointers", "extern_shared",
      "local_pointer")
def dynamic_tiles(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    tile = 8
    k = gpu.SourceModule(DYNAMIC_TILES).get_function("mm_dynamic")
    k(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(N), np.int32(M), np.int32(P), np.int32(tile),
      block=(tile, tile, 1), grid=((P + tile - 1) // tile, (N + tile - 1) // tile), shared=2 * tile * tile * 4)
    return C, _want(A, B)


COALESCED = r"""
// two kernels: transpose B, then every thread reads a row of A and a row of B^T (both contiguous)
__global__ void transpose_b(const float *B, float *Bt, int m, int p)
{
    int k = blockIdx.y * blockDim.y + threadIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < m && j < p) Bt[j * m + k] = B[k * p + j];
}

__global__ void mm_rows_rows(const float *A, const float *Bt, float *C, int n, int m, int p)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < n && j < p) {
        const float *x = &A[i * m], *y = &Bt[j * m];
        float s = 0.0f;
        for (int k = 0; k < m; ++k) s = fmaf(x[k], y[k], s);
        C[i * p + j] = s;
    }
}
"""


@case("matmul: two kernels in one module, B transposed first so reads are contiguous", "local_pointer")
def coalesced(rng):
    A, B = matrices(rng, N, M, P)
    mod = gpu.SourceModule(COALESCED)
    tr, mm = mod.get_function("transpose_b"), mod.get_function("mm_rows_rows")
    dBt = gpu.mem_alloc(B.nbytes)
    dB = gpu.to_device(B)
    tr(dB, dBt, np.int32(M), np.int32(P), block=(16, 16, 1), grid=((P + 15) // 16, (M + 15) // 16))
    C = np.empty((N, P), np.float32)
    mm(gpu.In(A), dBt, gpu.Out(C), np.int32(N), np.int32(M), np.int32(P), block=(32, 4, 1),
       grid=((P + 31) // 32, (N + 3) // 4))
    return C, _want(A, B)


TILE_HELPERS = r"""
#define T 16
__device__ void load_tile(float *tile, const float *src, int rows, int cols, int r0, int c0)
{
    int r = r0 + threadIdx.y, c = c0 + threadIdx.x;
    tile[threadIdx.y * T + threadIdx.x] = (r < rows && c < cols) ? src[r * cols + c] : 0.0f;
}

__device__ float row_times_col(const float *a, const float *b)
{
    float s = 0.0f;
    for (int k = 0; k < T; ++k) s += a[k] * b[k * T];
    return s;
}

__global__ void tiled_with_helpers(const float *A, const float *B, float *C, int n, int m, int p)
{
    __shared__ float sa[T * T], sb[T * T];
    float acc = 0.0f;
    for (int k0 = 0; k0 < m; k0 += T) {
        load_tile(sa, A, n, m, blockIdx.y * T, k0);
        load_tile(sb, B, m, p, k0, blockIdx.x * T);
        __syncthreads();
        acc += row_times_col(&sa[threadIdx.y * T], &sb[threadIdx.x]);
        __syncthreads();
    }
    int r = blockIdx.y * T + threadIdx.y, c = blockIdx.x * T + threadIdx.x;
    if (r < n && c < p) C[r * p + c] = acc;
}
"""


@case("matmul: __device__ helpers that load a tile (global to shared) and multiply shared rows",
      "device_pointer_helper")
def tile_helpers(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    k = gpu.SourceModule(TILE_HELPERS).get_function("tiled_with_helpers")
    k(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(N), np.int32(M), np.int32(P), block=(16, 16, 1),
      grid=((P + 15) // 16, (N + 15) // 16))
    return C, _want(A, B)


SIZE_T = r"""
__global__ void mm_size_t(const float *A, const float *B, float *C, size_t n, size_t m, size_t p)
{
    size_t row = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    size_t col = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (row < n && col < p) {
        double acc = 0.0;
        for (size_t k = 0; k < m; ++k)
            acc += (double)A[row * m + k] * B[k * p + col];
        C[row * p + col] = (float)acc;
    }
}
"""


@case("matmul: size_t sizes and indices, a double accumulator", "size_t")
def size_t_matmul(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    k = gpu.SourceModule(SIZE_T).get_function("mm_size_t")
    k(gpu.In(A), gpu.In(B), gpu.Out(C), np.uint64(N), np.uint64(M), np.uint64(P), block=(16, 16, 1),
      grid=((P + 15) // 16, (N + 15) // 16))
    return C, _want(A, B)


FLOAT4 = r"""
__global__ void mm_float4(const float *A, const float *B, float *C, int n, int m, int p)
{
    int i = blockIdx.y * blockDim.y + threadIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n || j >= p) return;
    const float4 *a4 = reinterpret_cast<const float4 *>(A + i * m);   // m is a multiple of 4
    float s = 0.0f;
    for (int q = 0; q < m / 4; ++q) {
        float4 v = a4[q];
        s += v.x * B[(4 * q) * p + j] + v.y * B[(4 * q + 1) * p + j]
           + v.z * B[(4 * q + 2) * p + j] + v.w * B[(4 * q + 3) * p + j];
    }
    C[i * p + j] = s;
}
"""


@case("matmul: rows of A read as float4 through reinterpret_cast", "float4")
def float4_matmul(rng):
    n, m, p = 30, 48, 36
    A, B = matrices(rng, n, m, p)
    C = np.empty((n, p), np.float32)
    k = gpu.SourceModule(FLOAT4).get_function("mm_float4")
    k(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(n), np.int32(m), np.int32(p), block=(16, 16, 1),
      grid=((p + 15) // 16, (n + 15) // 16))
    return C, _want(A, B)


ASSERTED = r"""
#include <assert.h>
#define TW 16
__global__ void mm_checked_dims(const float *A, const float *B, float *C, int n, int m, int p)
{
    assert(blockDim.x == TW && blockDim.y == TW);
    __shared__ float a[TW][TW], b[TW][TW];
    int row = blockIdx.y * TW + threadIdx.y, col = blockIdx.x * TW + threadIdx.x;
    float s = 0.0f;
    for (int t = 0; t < (m + TW - 1) / TW; ++t) {
        int ka = t * TW + threadIdx.x, kb = t * TW + threadIdx.y;
        a[threadIdx.y][threadIdx.x] = row < n && ka < m ? A[row * m + ka] : 0.0f;
        b[threadIdx.y][threadIdx.x] = kb < m && col < p ? B[kb * p + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TW; ++k) s += a[threadIdx.y][k] * b[k][threadIdx.x];
        __syncthreads();
    }
    if (row < n && col < p) {
        assert(row * p + col < n * p);
        C[row * p + col] = s;
    }
}
"""


@case("matmul: asserts on the block shape and the index", "assert")
def asserted(rng):
    A, B = matrices(rng, N, M, P)
    C = np.empty((N, P), np.float32)
    k = gpu.SourceModule(ASSERTED).get_function("mm_checked_dims")
    k(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(N), np.int32(M), np.int32(P), block=(16, 16, 1),
      grid=((P + 15) // 16, (N + 15) // 16))
    return C, _want(A, B)


MATVEC_DOT = r"""
// y = A x: one thread per row, the kernel is called dot
__global__ void dot(const float *A, const float *x, float *y, int rows, int cols)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) {
        float acc = 0.0f;
        for (int c = 0; c < cols; c++) acc += A[r * cols + c] * x[c];
        y[r] = acc;
    }
}
"""


@case("matrix-vector product in a kernel named dot", "builtin_name")
def matvec_dot(rng):
    A, x = matrices(rng, 300, 57, 1)
    y = np.empty(300, np.float32)
    dot = gpu.SourceModule(MATVEC_DOT).get_function("dot")
    dot(gpu.In(A), gpu.In(x.ravel()), gpu.Out(y), np.int32(300), np.int32(57), block=(128, 1, 1), grid=(3, 1))
    return y, _want(A, x).ravel()
