"""Scans, stencils, activations, row-wise kernels."""
from __future__ import annotations

import numpy as np

from course_lib import gpu

from .registry import case

SCAN = r"""
#define N_MAX 512
// Hillis-Steele inclusive scan of one block, double-buffered: two pointers swap between two shared arrays
__global__ void scan_block(const float *in, float *out, int n)
{
    __shared__ float buf0[N_MAX], buf1[N_MAX];
    float *src = buf0, *dst = buf1;
    int t = threadIdx.x;
    src[t] = t < n ? in[t] : 0.0f;
    __syncthreads();
    for (int offset = 1; offset < blockDim.x; offset *= 2) {
        dst[t] = t >= offset ? src[t] + src[t - offset] : src[t];
        __syncthreads();
        float *tmp = src; src = dst; dst = tmp;
    }
    if (t < n) out[t] = src[t];
}
"""


@case("inclusive scan of a block, two pointers swapping between two __shared__ buffers", "local_pointer")
def scan(rng):
    n = 300
    x = rng.integers(-3, 4, n).astype(np.float32)
    out = np.empty(n, np.float32)
    k = gpu.SourceModule(SCAN).get_function("scan_block")
    k(gpu.In(x), gpu.Out(out), np.int32(n), block=(512, 1, 1), grid=(1, 1))
    return out, np.cumsum(x).astype(np.float32)


STENCIL = r"""
#define RADIUS 3
#define BLOCK_SIZE 128
__global__ void stencil_1d(const int *in, int *out, int n)
{
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    int local = threadIdx.x + RADIUS;          // a name that is a keyword in OpenCL
    {
        __shared__ int temp[BLOCK_SIZE + 2 * RADIUS];
        temp[local] = g < n ? in[g] : 0;
        if (threadIdx.x < RADIUS) {
            int left = g - RADIUS, right = g + BLOCK_SIZE;
            temp[local - RADIUS] = left >= 0 && left < n ? in[left] : 0;
            temp[local + BLOCK_SIZE] = right < n ? in[right] : 0;
        }
        __syncthreads();
        int result = 0;
        for (int offset = -RADIUS; offset <= RADIUS; offset++)
            result += temp[local + offset];
        if (g < n) out[g] = result;
    }
}
"""


@case("1-D stencil with a halo (the classic CUDA intro), __shared__ array in an inner block, a variable named local",
      "shared_in_block")
def stencil(rng):
    n = 1000
    x = rng.integers(-9, 10, n).astype(np.int32)
    out = np.empty(n, np.int32)
    k = gpu.SourceModule(STENCIL).get_function("stencil_1d")
    k(gpu.In(x), gpu.Out(out), np.int32(n), block=(128, 1, 1), grid=((n + 127) // 128, 1))
    padded = np.concatenate([np.zeros(3, np.int64), x, np.zeros(3, np.int64)])
    want = np.array([padded[i:i + 7].sum() for i in range(n)], np.int32)
    return out, want


RELU = r"""
__device__ __forceinline__ float relu(float v) { return v > 0.0f ? v : 0.0f; }

__global__ void relu_rows(float *M, int rows, int cols)
{
    int global = blockIdx.x;                      // another OpenCL keyword as a name
    float *row = M + global * cols;
#pragma unroll 4
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        row[c] = relu(row[c]);
}
"""


@case("ReLU in place, a row per block: __forceinline__ helper, #pragma unroll, pointer into the matrix",
      "already_worked", "local_pointer")
def relu(rng):
    M = rng.standard_normal((7, 300)).astype(np.float32)
    want = np.maximum(M, 0)
    k = gpu.SourceModule(RELU).get_function("relu_rows")
    k(gpu.InOut(M), np.int32(7), np.int32(300), block=(64, 1, 1), grid=(7, 1))
    return M, want


SOFTMAX = r"""
__device__ float row_max(const float *row, int n)
{
    float m = row[0];
    for (int j = 1; j < n; j++) m = fmaxf(m, row[j]);
    return m;
}

__device__ float row_exp_sum(const float *row, int n, float shift)
{
    float s = 0.0f;
    for (int j = 0; j < n; j++) s += expf(row[j] - shift);
    return s;
}

__global__ void softmax_rows(const float *X, float *Y, int rows, int cols)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float *x = X + r * cols;
    float *y = Y + r * cols;
    float mx = row_max(x, cols), total = row_exp_sum(x, cols, mx);
    for (int j = 0; j < cols; j++) y[j] = expf(x[j] - mx) / total;
}
"""


@case("softmax of each row, one thread per row, __device__ helpers reading the row", "device_pointer_helper",
      rtol=1e-5, atol=1e-6)
def softmax(rng):
    X = (3 * rng.standard_normal((50, 10))).astype(np.float32)
    Y = np.empty_like(X)
    k = gpu.SourceModule(SOFTMAX).get_function("softmax_rows")
    k(gpu.In(X), gpu.Out(Y), np.int32(50), np.int32(10), block=(32, 1, 1), grid=(2, 1))
    e = np.exp(X.astype(np.float64) - X.max(axis=1, keepdims=True))
    return Y, (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


NORMALIZE = r"""
// scales each row to unit length (the kernel is called normalize, like OpenCL's built-in)
__global__ void normalize(float *v, int rows, int cols)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) {
        float ss = 0.0f;
        for (int c = 0; c < cols; ++c) ss += v[r * cols + c] * v[r * cols + c];
        float inv = rsqrtf(ss);
        for (int c = 0; c < cols; ++c) v[r * cols + c] *= inv;
    }
}
"""


@case("rows scaled to unit length in a kernel named normalize", "builtin_name", rtol=1e-5, atol=1e-6)
def normalize(rng):
    v = rng.standard_normal((40, 5)).astype(np.float32)
    want = (v / np.linalg.norm(v.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)
    k = gpu.SourceModule(NORMALIZE).get_function("normalize")
    k(gpu.InOut(v), np.int32(40), np.int32(5), block=(32, 1, 1), grid=(2, 1))
    return v, want


CONV = r"""
__constant__ float weights[5] = {0.1f, 0.2f, 0.4f, 0.2f, 0.1f};
constexpr int HALF = 2;

__global__ void blur_rows(const float *img, float *out, int height, int width)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (x >= width) return;
    float acc = 0.0f;
    for (int k = -HALF; k <= HALF; ++k) {
        int xx = min(max(x + k, 0), width - 1);       // clamp at the edges
        acc += weights[k + HALF] * img[y * width + xx];
    }
    out[y * width + x] = acc;
}
"""


@case("horizontal blur with weights in __constant__ memory and a constexpr radius", "file_const",
      rtol=1e-5, atol=1e-5)
def conv(rng):
    img = rng.standard_normal((12, 90)).astype(np.float32)
    out = np.empty_like(img)
    k = gpu.SourceModule(CONV).get_function("blur_rows")
    k(gpu.In(img), gpu.Out(out), np.int32(12), np.int32(90), block=(64, 1, 1), grid=(2, 12))
    w = np.array([0.1, 0.2, 0.4, 0.2, 0.1], np.float32)
    padded = np.pad(img, ((0, 0), (2, 2)), mode="edge")
    want = sum(w[i] * padded[:, i:i + 90] for i in range(5)).astype(np.float32)
    return out, want
