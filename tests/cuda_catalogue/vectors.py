"""Element-wise kernels on vectors."""
from __future__ import annotations

import numpy as np

from course_lib import gpu

from .registry import case

GRID_STRIDE = r"""
__global__ void vec_add(const float *__restrict__ a, const float *__restrict__ b, float *__restrict__ c, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)blockDim.x * gridDim.x)
        c[i] = a[i] + b[i];
}
"""


@case("vector add: a grid-stride loop over a size_t length", "size_t", "already_worked")
def grid_stride(rng):
    n = 10_007
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    c = np.empty_like(a)
    add = gpu.SourceModule(GRID_STRIDE).get_function("vec_add")
    add(gpu.In(a), gpu.In(b), gpu.Out(c), np.uint64(n), block=(256, 1, 1), grid=(8, 1))     # fewer threads than n
    return c, a + b


SAXPY = r"""
extern "C" __global__ void __launch_bounds__(128, 4)
saxpy(int n, float alpha, const float *x, float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = alpha * x[i] + y[i];
}
"""


@case("saxpy: extern \"C\" without braces, __launch_bounds__ with two arguments", "extern_c", "launch_bounds")
def saxpy(rng):
    n = 3000
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    want = np.float32(1.5) * x + y
    f = gpu.SourceModule(SAXPY).get_function("saxpy")
    f(np.int32(n), np.float32(1.5), gpu.In(x), gpu.InOut(y), block=(128, 1, 1), grid=((n + 127) // 128, 1))
    return y, want


FLOAT4_ADD = r"""
__global__ void add4(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int n4 = n / 4;
    if (i < n4) {
        float4 x = reinterpret_cast<const float4 *>(a)[i];
        float4 y = reinterpret_cast<const float4 *>(b)[i];
        reinterpret_cast<float4 *>(c)[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    }
    if (i < n % 4) {                    // the tail, one thread per leftover element
        int j = n4 * 4 + i;
        c[j] = a[j] + b[j];
    }
}
"""


@case("vector add with float4 loads and stores (reinterpret_cast) and a scalar tail", "float4")
def float4_add(rng):
    n = 4099
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    c = np.zeros_like(a)
    add4 = gpu.SourceModule(FLOAT4_ADD).get_function("add4")
    add4(gpu.In(a), gpu.In(b), gpu.Out(c), np.int32(n), block=(256, 1, 1), grid=((n // 4 + 255) // 256, 1))
    return c, a + b


POINTER_RESULT = r"""
__device__ float *element(float *base, int row, int width, int col) { return base + row * width + col; }
__device__ const float *celement(const float *base, int row, int width, int col) { return &base[row * width + col]; }

__global__ void scale_matrix(const float *in, float *out, int rows, int cols, float s)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y;
    if (c < cols) *element(out, r, cols, c) = s * *celement(in, r, cols, c);
}
"""


@case("scaling a matrix through __device__ functions that return pointers", "device_pointer_helper")
def pointer_result(rng):
    rows, cols = 9, 70
    a = rng.standard_normal((rows, cols)).astype(np.float32)
    out = np.empty_like(a)
    k = gpu.SourceModule(POINTER_RESULT).get_function("scale_matrix")
    k(gpu.In(a), gpu.Out(out), np.int32(rows), np.int32(cols), np.float32(-2.0), block=(32, 1, 1), grid=(3, rows))
    return out, -2 * a


ASSERT_AXPY = r"""
#include <cassert>
__global__ void axpy_asserted(float a, const float *x, float *y, int n)
{
    assert(n >= 0);
    int i = threadIdx.x + blockIdx.x * blockDim.x;
    if (i < n) {
        assert(i < n);
        y[i] += a * x[i];
    }
}
"""


@case("axpy with asserts on its arguments", "assert")
def assert_axpy(rng):
    n = 777
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    want = np.float32(0.25) * x + y
    k = gpu.SourceModule(ASSERT_AXPY).get_function("axpy_asserted")
    k(np.float32(0.25), gpu.In(x), gpu.InOut(y), np.int32(n), block=(64, 1, 1), grid=((n + 63) // 64, 1))
    return y, want


LENGTH = r"""
// Euclidean length of each 3-D point (the kernel is called length, like OpenCL's built-in)
__global__ void length(const float *xyz, float *out, int count)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        float x = xyz[3 * i], y = xyz[3 * i + 1], z = xyz[3 * i + 2];
        out[i] = sqrtf(x * x + y * y + z * z);
    }
}
"""


@case("lengths of 3-D points in a kernel named length", "builtin_name")
def length(rng):
    pts = rng.standard_normal((1000, 3)).astype(np.float32)
    out = np.empty(1000, np.float32)
    k = gpu.SourceModule(LENGTH).get_function("length")
    k(gpu.In(pts), gpu.Out(out), np.int32(1000), block=(100, 1, 1), grid=(10, 1))
    return out, np.sqrt((pts.astype(np.float64) ** 2).sum(axis=1)).astype(np.float32)
