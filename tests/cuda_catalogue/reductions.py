"""Sums, dot products, maxima and histograms."""
from __future__ import annotations

import numpy as np

from course_lib import gpu

from .registry import case

TREE_DYNAMIC = r"""
extern __shared__ float sdata[];

// NVIDIA's reduction #3: sequential addressing, one partial sum per block
__global__ void reduce_partial(const float *g_in, float *g_out, unsigned int n)
{
    unsigned int tid = threadIdx.x;
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    sdata[tid] = (i < n) ? g_in[i] : 0.0f;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) sdata[tid] += sdata[tid + s];
        __syncthreads();
    }
    if (tid == 0) g_out[blockIdx.x] = sdata[0];
}
"""


@case("sum: shared-memory tree in extern __shared__ memory, launched twice (blocks, then their partials)",
      "extern_shared")
def tree_dynamic(rng):
    n = 5000
    x = rng.integers(-8, 9, n).astype(np.float32)
    f = gpu.SourceModule(TREE_DYNAMIC).get_function("reduce_partial")
    threads = 128
    blocks = (n + threads - 1) // threads
    partial = gpu.mem_alloc(blocks * 4)
    f(gpu.In(x), partial, np.uint32(n), block=(threads, 1, 1), grid=(blocks, 1), shared=threads * 4)
    total = np.zeros(1, np.float32)
    f(partial, gpu.Out(total), np.uint32(blocks), block=(64, 1, 1), grid=(1, 1), shared=64 * 4)
    return total, np.array([x.sum()], np.float32)


ATOMIC_SUM = r"""
__global__ void sum_atomic(const float *x, float *total, int n)
{
    for (int base = blockIdx.x * blockDim.x; base < n; base += blockDim.x * gridDim.x) {
        __shared__ float part;                   // this block's share of this stretch
        if (threadIdx.x == 0) part = 0.0f;
        __syncthreads();
        int i = base + threadIdx.x;
        if (i < n) atomicAdd(&part, x[i]);       // float atomics in shared memory ...
        __syncthreads();
        if (threadIdx.x == 0) atomicAdd(total, part);   // ... and in global memory
        __syncthreads();
    }
}
"""


@case("sum: float atomicAdd in shared memory (declared in the loop), then in global memory", "float_atomic",
      "shared_in_block", rtol=1e-5, atol=1e-3)
def atomic_sum(rng):
    n = 4096 + 33
    x = rng.integers(-8, 9, n).astype(np.float32)
    total = np.zeros(1, np.float32)
    f = gpu.SourceModule(ATOMIC_SUM).get_function("sum_atomic")
    f(gpu.In(x), gpu.InOut(total), np.int32(n), block=(256, 1, 1), grid=((n + 255) // 256, 1))
    return total, np.array([x.sum()], np.float32)


DOT_ATOMIC = r"""
static const int THREADS = 128;

__global__ void dot_product(const float *a, const float *b, float *result, int n)
{
    __shared__ float cache[THREADS];
    float temp = 0.0f;
    for (int i = threadIdx.x + blockIdx.x * blockDim.x; i < n; i += blockDim.x * gridDim.x)
        temp += a[i] * b[i];
    cache[threadIdx.x] = temp;
    __syncthreads();
    for (int half_size = THREADS / 2; half_size > 0; half_size /= 2) {
        if (threadIdx.x < half_size) cache[threadIdx.x] += cache[threadIdx.x + half_size];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(result, cache[0]);
}
"""


@case("dot product (CUDA by Example): static const block size, shared cache, atomicAdd of block sums",
      "float_atomic", "file_const", rtol=1e-5, atol=1e-3)
def dot_atomic(rng):
    n = 9000
    a = rng.integers(-4, 5, n).astype(np.float32)
    b = rng.integers(-4, 5, n).astype(np.float32)
    result = np.zeros(1, np.float32)
    k = gpu.SourceModule(DOT_ATOMIC).get_function("dot_product")
    k(gpu.In(a), gpu.In(b), gpu.InOut(result), np.int32(n), block=(128, 1, 1), grid=(16, 1))
    return result, np.array([a @ b], np.float32)


BLOCK_SUM_HELPER = r"""
#define WIDTH 256
// sums the WIDTH values of s (shared memory); every thread of the block calls it
__device__ float block_sum(float *s)
{
    for (int stride = WIDTH / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
        __syncthreads();
    }
    return s[0];
}

__global__ void row_sums(const float *M, float *sums, int rows, int cols)
{
    __shared__ float buf[WIDTH];
    const float *row = M + blockIdx.x * cols;
    float mine = 0.0f;
    for (int c = threadIdx.x; c < cols; c += WIDTH) mine += row[c];
    buf[threadIdx.x] = mine;
    __syncthreads();
    float total = block_sum(buf);
    if (threadIdx.x == 0) sums[blockIdx.x] = total;
}
"""


@case("row sums: a __device__ helper reducing a __shared__ array, one block per row", "device_pointer_helper",
      "local_pointer")
def block_sum_helper(rng):
    rows, cols = 6, 1000
    M = rng.integers(-5, 6, (rows, cols)).astype(np.float32)
    sums = np.empty(rows, np.float32)
    k = gpu.SourceModule(BLOCK_SUM_HELPER).get_function("row_sums")
    k(gpu.In(M), gpu.Out(sums), np.int32(rows), np.int32(cols), block=(256, 1, 1), grid=(rows, 1))
    return sums, M.sum(axis=1)


HISTOGRAM = r"""
#define BINS 16
__global__ void histogram(const int *values, unsigned int *hist, int n)
{
    __shared__ unsigned int local_hist[BINS];
    if (threadIdx.x < BINS) local_hist[threadIdx.x] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        atomicAdd(&local_hist[values[i] % BINS], 1);
    __syncthreads();
    if (threadIdx.x < BINS) atomicAdd(hist + threadIdx.x, local_hist[threadIdx.x]);
}
"""


@case("histogram: integer atomics in shared memory, then in global memory", "already_worked")
def histogram(rng):
    n = 6000
    values = rng.integers(0, 1000, n).astype(np.int32)
    hist = np.zeros(16, np.uint32)
    k = gpu.SourceModule(HISTOGRAM).get_function("histogram")
    k(gpu.In(values), gpu.InOut(hist), np.int32(n), block=(128, 1, 1), grid=(4, 1))
    return hist, np.bincount(values % 16, minlength=16).astype(np.uint32)


MAX_ASSERT = r"""
#include <assert.h>
#include <float.h>
__global__ void block_max(const float *x, float *out, int n)
{
    assert((blockDim.x & (blockDim.x - 1)) == 0);      // a power of two
    __shared__ float best[512];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    best[threadIdx.x] = i < n ? x[i] : -FLT_MAX;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) best[threadIdx.x] = fmaxf(best[threadIdx.x], best[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = best[0];
}
"""


@case("maximum per block with an assert that the block size is a power of two", "assert")
def max_assert(rng):
    n = 2000
    x = rng.standard_normal(n).astype(np.float32)
    out = np.empty(4, np.float32)
    k = gpu.SourceModule(MAX_ASSERT).get_function("block_max")
    k(gpu.In(x), gpu.Out(out), np.int32(n), block=(512, 1, 1), grid=(4, 1))
    want = np.array([x[j * 512:(j + 1) * 512].max() for j in range(4)], np.float32)
    return out, want


DOUBLE_MEAN = r"""
__global__ void mean_and_square(const double *x, double *acc, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        atomicAdd(&acc[0], x[i] / n);
        atomicAdd(&acc[1], x[i] * x[i] / n);
    }
}
"""


@case("mean and mean square with double-precision atomicAdd", "float_atomic", rtol=1e-9, atol=1e-9)
def double_mean(rng):
    n = 3001
    x = rng.standard_normal(n)
    acc = np.zeros(2)
    k = gpu.SourceModule(DOUBLE_MEAN).get_function("mean_and_square")
    k(gpu.In(x), gpu.InOut(acc), np.int32(n), block=(128, 1, 1), grid=((n + 127) // 128, 1))
    return acc, np.array([x.mean(), (x * x).mean()])
