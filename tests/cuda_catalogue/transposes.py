"""Matrix transposes, from naive to NVIDIA's coalesced shared-memory version."""
from __future__ import annotations

import numpy as np

from course_lib import gpu

from .registry import case

ROWS, COLS = 70, 100      # a matrix that is not a whole number of 32x32 tiles

NAIVE = r"""
__global__ void transpose_naive(float *out, const float *in, int rows, int cols)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;    // column of in
    int y = blockIdx.y * blockDim.y + threadIdx.y;    // row of in
    if (x < cols && y < rows)
        out[x * rows + y] = in[y * cols + x];
}
"""


@case("transpose: naive, one element per thread", "already_worked")
def naive(rng):
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    out = np.empty((COLS, ROWS), np.float32)
    k = gpu.SourceModule(NAIVE).get_function("transpose_naive")
    k(gpu.Out(out), gpu.In(a), np.int32(ROWS), np.int32(COLS), block=(16, 16, 1),
      grid=((COLS + 15) // 16, (ROWS + 15) // 16))
    return out, a.T.copy()


COALESCED = r"""
const int TILE_DIM = 32;
const int BLOCK_ROWS = 8;

// NVIDIA's transposeCoalesced: 32x8 threads move a 32x32 tile through shared memory (padded: no bank conflicts)
__global__ void transposeCoalesced(float *odata, const float *idata, int width, int height)
{
    __shared__ float tile[TILE_DIM][TILE_DIM + 1];
    int x = blockIdx.x * TILE_DIM + threadIdx.x;
    int y = blockIdx.y * TILE_DIM + threadIdx.y;
    for (int j = 0; j < TILE_DIM; j += BLOCK_ROWS)
        if (x < width && y + j < height)
            tile[threadIdx.y + j][threadIdx.x] = idata[(y + j) * width + x];
    __syncthreads();
    x = blockIdx.y * TILE_DIM + threadIdx.x;
    y = blockIdx.x * TILE_DIM + threadIdx.y;
    for (int j = 0; j < TILE_DIM; j += BLOCK_ROWS)
        if (x < height && y + j < width)
            odata[(y + j) * height + x] = tile[threadIdx.x][threadIdx.y + j];
}
"""


@case("transpose: NVIDIA's coalesced shared-memory tiles, 32x8 threads, file-scope const sizes", "file_const")
def coalesced(rng):
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    out = np.empty((COLS, ROWS), np.float32)
    k = gpu.SourceModule(COALESCED).get_function("transposeCoalesced")
    k(gpu.Out(out), gpu.In(a), np.int32(COLS), np.int32(ROWS), block=(32, 8, 1),
      grid=((COLS + 31) // 32, (ROWS + 31) // 32))
    return out, a.T.copy()


TILES_IN_LOOP = r"""
#define TD 16
// each block walks down a column of tiles; the tile is declared inside the loop
__global__ void transpose_column_of_tiles(const float *in, float *out, int rows, int cols)
{
    int tx = threadIdx.x, ty = threadIdx.y;
    for (int by = 0; by * TD < rows; ++by) {
        __shared__ float t[TD][TD + 1];
        int c = blockIdx.x * TD + tx, r = by * TD + ty;
        if (r < rows && c < cols) t[ty][tx] = in[r * cols + c];
        __syncthreads();
        int oc = by * TD + tx, orow = blockIdx.x * TD + ty;
        if (orow < cols && oc < rows) out[orow * rows + oc] = t[tx][ty];
        __syncthreads();
    }
}
"""


@case("transpose: one block per column of tiles, the __shared__ tile declared in the loop", "shared_in_block")
def tiles_in_loop(rng):
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    out = np.empty((COLS, ROWS), np.float32)
    k = gpu.SourceModule(TILES_IN_LOOP).get_function("transpose_column_of_tiles")
    k(gpu.In(a), gpu.Out(out), np.int32(ROWS), np.int32(COLS), block=(16, 16, 1), grid=((COLS + 15) // 16, 1))
    return out, a.T.copy()


DYNAMIC_TILE = r"""
__global__ void transpose_dynamic(const float *in, float *out, int rows, int cols)
{
    extern __shared__ float tile[];                 // blockDim.x * (blockDim.x + 1) floats
    int w = blockDim.x;
    int c = blockIdx.x * w + threadIdx.x, r = blockIdx.y * w + threadIdx.y;
    if (r < rows && c < cols) tile[threadIdx.y * (w + 1) + threadIdx.x] = in[r * cols + c];
    __syncthreads();
    int oc = blockIdx.y * w + threadIdx.x, orow = blockIdx.x * w + threadIdx.y;
    if (orow < cols && oc < rows) out[orow * rows + oc] = tile[threadIdx.x * (w + 1) + threadIdx.y];
}
"""


@case("transpose: the tile in extern __shared__ memory sized by the launch", "extern_shared")
def dynamic_tile(rng):
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    out = np.empty((COLS, ROWS), np.float32)
    w = 16
    k = gpu.SourceModule(DYNAMIC_TILE).get_function("transpose_dynamic")
    k(gpu.In(a), gpu.Out(out), np.int32(ROWS), np.int32(COLS), block=(w, w, 1),
      grid=((COLS + w - 1) // w, (ROWS + w - 1) // w), shared=w * (w + 1) * 4)
    return out, a.T.copy()
