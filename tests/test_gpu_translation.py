"""CUDA C on the CPU backends, finding by finding (issue 21): what public kernels
use and the regex translation refused, what cannot run on a CPU and is named
with its line, a crashing kernel that no longer takes the notebook down,
builds that take seconds, and checks that test what the cell above defines."""
from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest

from course_lib import gpu
from course_lib.checks import CheckFailure
from course_lib.checks.gpu import check_doublify, check_matmul
from course_lib.gpu import backends, worker
from course_lib.gpu.cuda_c import kernels, to_opencl
from course_lib.gpu.opencl_prelude import PRELUDE

BOTH = ["cpu", "checked"]


def run_1d(src: str, name: str, *arrays_and_scalars, n_threads: int, block: int = 64, backend: str = "cpu",
           **launch):
    with gpu.using(backend):
        f = gpu.SourceModule(src).get_function(name)
        f(*arrays_and_scalars, block=(block, 1, 1), grid=((n_threads + block - 1) // block, 1), **launch)


def translated(src: str) -> str:
    return to_opencl(src)[len(PRELUDE):]


# ---------------------------------------------------------------- what public kernels use
@pytest.mark.parametrize("backend", BOTH)
def test_file_scope_const_is_a_compile_time_constant(backend):
    src = r"""
const int TILE = 8;
static const unsigned int HALF = TILE / 2;
__global__ void tile_sum(const float *x, float *out, int n)
{
    __shared__ float s[TILE];
    int i = blockIdx.x * TILE + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    if (threadIdx.x < HALF) s[threadIdx.x] += s[threadIdx.x + HALF];
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = s[0] + s[1] + s[2] + s[3];
}
"""
    assert "enum { TILE = (8) };" in translated(src) and "((uint)HALF)" in translated(src)
    x = np.arange(20, dtype=np.float32)
    out = np.zeros(3, np.float32)
    run_1d(src, "tile_sum", gpu.In(x), gpu.Out(out), np.int32(20), n_threads=24, block=8, backend=backend)
    assert np.array_equal(out, [x[:8].sum(), x[8:16].sum(), x[16:].sum()])


@pytest.mark.parametrize("backend", BOTH)
def test_a_pointer_declared_in_a_kernel_gets_the_space_it_points_into(backend):
    src = r"""
__global__ void row_sum(const float *A, float *s, int rows, int cols)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) {
        const float *row = A + r * cols;
        float acc = 0.0f;
        for (int c = 0; c < cols; c++) acc += row[c];
        s[r] = acc;
    }
}
"""
    assert "const float __global *row = A + r * cols;" in translated(src)
    A = np.arange(12, dtype=np.float32).reshape(4, 3)
    s = np.zeros(4, np.float32)
    run_1d(src, "row_sum", gpu.In(A), gpu.Out(s), np.int32(4), np.int32(3), n_threads=4, backend=backend)
    assert np.array_equal(s, A.sum(axis=1))


@pytest.mark.parametrize("backend", BOTH)
def test_shared_arrays_declared_in_loops_move_to_the_top_of_the_kernel(backend):
    src = r"""
__global__ void twice(const float *x, float *y)
{
    for (int pass = 0; pass < 2; pass++) {
        __shared__ float buf[32];
        buf[threadIdx.x] = x[threadIdx.x] + pass;
        __syncthreads();
        y[pass * 32 + threadIdx.x] = buf[31 - threadIdx.x];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        __shared__ float buf[1];       // another array of the same name
        buf[0] = 5.0f;
        y[64] = buf[0];
    }
}
"""
    cl = translated(src)
    body = cl[cl.index("course_kernel_twice"):]
    assert body.index("__shared__ float buf_4[32];") < body.index("for (int pass")
    assert "__shared__ float buf_11[1];" in body
    x = np.arange(32, dtype=np.float32)
    y = np.zeros(65, np.float32)
    run_1d(src, "twice", gpu.In(x), gpu.Out(y), n_threads=32, block=32, backend=backend)
    assert np.array_equal(y, np.concatenate([x[::-1], x[::-1] + 1, [5]]))


@pytest.mark.parametrize("backend", BOTH)
def test_a_device_function_taking_pointers_gets_a_copy_per_address_space(backend):
    src = r"""
__device__ float total(const float *v, int n) { float s = 0.0f; for (int i = 0; i < n; i++) s += v[i]; return s; }

__global__ void sums(const float *x, float *out)
{
    __shared__ float copy[4];
    float mine[2] = {1.0f, 2.0f};
    if (threadIdx.x < 4) copy[threadIdx.x] = 2.0f * x[threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) {
        out[0] = total(x, 4);         // global memory
        out[1] = total(copy, 4);      // shared memory
        out[2] = total(mine, 2);      // the thread's own array
    }
}
"""
    cl = translated(src)
    for space in ("g", "l", "p"):
        assert f"course_fn_total_{space}(" in cl
    x = np.array([1, 2, 3, 4], np.float32)
    out = np.zeros(3, np.float32)
    run_1d(src, "sums", gpu.In(x), gpu.Out(out), n_threads=4, block=4, backend=backend)
    assert np.array_equal(out, [10, 20, 3])


@pytest.mark.parametrize("backend", BOTH)
def test_a_kernel_named_like_an_opencl_builtin_launches(backend):
    src = "__global__ void dot(const float *a, const float *b, float *c) { c[0] = a[0] * b[0] + a[1] * b[1]; }"
    c = np.zeros(1, np.float32)
    run_1d(src, "dot", gpu.In(np.array([1, 2], np.float32)), gpu.In(np.array([3, 4], np.float32)), gpu.Out(c),
           n_threads=1, block=1, backend=backend)
    assert c[0] == 11


@pytest.mark.parametrize("backend", BOTH)
def test_assert_passes_quietly_and_a_failure_is_named(backend):
    src = r"""
#include <assert.h>
__global__ void checked_copy(const int *x, int *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        assert(x[i] >= 0);
        y[i] = x[i];
    }
}
"""
    y = np.zeros(10, np.int32)
    run_1d(src, "checked_copy", gpu.In(np.arange(10, dtype=np.int32)), gpu.Out(y), np.int32(10), n_threads=10,
           block=8, backend=backend)
    assert np.array_equal(y, np.arange(10))
    bad = np.arange(10, dtype=np.int32)
    bad[9] = -1
    with pytest.raises(gpu.KernelFault) as info:
        run_1d(src, "checked_copy", gpu.In(bad), gpu.Out(y), np.int32(10), n_threads=10, block=8, backend=backend)
    assert "checked_copy: assert(x[i] >= 0) failed at line 6, in thread (1, 0, 0) of block (1, 0, 0)" in str(
        info.value)


@pytest.mark.parametrize("backend", BOTH)
def test_extern_shared_memory_is_sized_by_the_launch(backend):
    src = r"""
__global__ void reverse(float *d, int n)
{
    extern __shared__ float s[];
    int t = threadIdx.x;
    s[t] = d[t];
    __syncthreads();
    d[t] = s[n - t - 1];
}
"""
    d = np.arange(50, dtype=np.float32)
    run_1d(src, "reverse", gpu.InOut(d), np.int32(50), n_threads=50, block=50, backend=backend, shared=50 * 4)
    assert np.array_equal(d, np.arange(50)[::-1])
    with pytest.raises(gpu.LaunchError, match=r"extern __shared__.*pass shared=<bytes>"):
        run_1d(src, "reverse", gpu.InOut(d), np.int32(50), n_threads=50, block=50, backend=backend)


@pytest.mark.parametrize("backend", BOTH)
def test_atomic_add_on_floats(backend):
    src = "__global__ void acc(const float *x, float *t, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; " \
          "if (i < n) atomicAdd(t, x[i]); }"
    x = np.arange(1000, dtype=np.float32) % 7
    t = np.zeros(1, np.float32)
    run_1d(src, "acc", gpu.In(x), gpu.InOut(t), np.int32(1000), n_threads=1000, block=128, backend=backend)
    assert t[0] == x.sum()


@pytest.mark.parametrize("backend", BOTH)
def test_launch_bounds_reinterpret_cast_size_t_and_extern_c_without_braces(backend):
    src = r"""
extern "C" __global__ void __launch_bounds__(64) halves(const float *x, float *y, size_t n4)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n4) {
        float4 v = reinterpret_cast<const float4 *>(x)[i];
        reinterpret_cast<float4 *>(y)[i] = make_float4(v.x / 2, v.y / 2, v.z / 2, v.w / 2);
    }
}
"""
    k = kernels(src)["halves"]
    assert k.params[2].dtype == np.uint64 and str(k.params[2]) == "size_t n4"
    x = np.arange(64, dtype=np.float32)
    y = np.zeros(64, np.float32)
    run_1d(src, "halves", gpu.In(x), gpu.Out(y), np.uint64(16), n_threads=16, backend=backend)
    assert np.array_equal(y, x / 2)
    with gpu.using("cpu"), pytest.raises(gpu.LaunchError, match=r"`size_t` is uint64"):
        gpu.SourceModule(src).get_function("halves")(gpu.In(x), gpu.Out(y), np.int32(16), block=(64, 1, 1))


# ---------------------------------------------------------------- lines, and what cannot run on a CPU
def test_line_numbers_are_the_ones_the_student_counts():
    src = 'K = r"""\n__global__ void k(float *a)\n{\n    a[0] = nope;\n}\n"""'.split('r"""')[1].split('"""')[0]
    assert src.startswith("\n")                 # the rest of the r""" line
    for backend in BOTH:
        with gpu.using(backend), pytest.raises(gpu.CompileError) as info:
            gpu.SourceModule(src)
        assert "line 3: use of undeclared identifier 'nope' `a[0] = nope;`" in str(info.value)
    assert kernels(src.replace("nope", "1.0f"))["k"].line == 1


@pytest.mark.parametrize("src, phrases", [
    ("__global__ void k(float *a) {\n  float v = a[threadIdx.x];\n  v += __shfl_down_sync(0xffffffff, v, 1);\n"
     "  a[threadIdx.x] = v;\n}",
     [r"^line 3: `v \+= __shfl_down_sync\(0xffffffff, v, 1\);`", r"`__shfl_down_sync` cannot run on the CPU "
      r"backends: a warp shuffle", "__syncthreads", r"On a CUDA GPU \(Colab\) it runs as written"]),
    ("__global__ void k(float *a, int n) {\n  __shared__ float s[4];\n  float *p = a;\n  if (n > 1) p = s;\n"
     "  p[0] = 1.0f;\n}",
     [r"^line 4: `if \(n > 1\) p = s;`", r"the pointer `p` points into global memory .* into __shared__ memory",
      "use a second pointer"]),
    ("__global__ void k(float3 *points) {\n  points[threadIdx.x].x = 0.0f;\n}",
     [r"^line 1: ", "`points`, an array of float3, cannot run on the CPU backends: OpenCL stores a 3-vector in 16 bytes"]),
    ("__global__ void k(float *a) {\n  a[threadIdx.x] = clock();\n}",
     [r"^line 2: `a\[threadIdx.x\] = clock\(\);`", "`clock` cannot run on the CPU backends: a GPU clock"]),
])
def test_what_cannot_run_on_a_cpu_is_named_with_its_line(src, phrases):
    with gpu.using("cpu"), pytest.raises(gpu.NotOnCpu) as info:
        gpu.SourceModule(src)
    for phrase in phrases:
        assert re.search(phrase, str(info.value), re.M), f"{phrase!r} not in {info.value}"


def test_the_source_must_have_a_kernel():
    with pytest.raises(gpu.CompileError, match="has no kernel"):
        gpu.SourceModule("__device__ float f(float x) { return x; }")
    with pytest.raises(gpu.CompileError, match=r"line 1: the kernel `k` is a template"):
        gpu.SourceModule("template <int B> __global__ void k(float *a) { a[0] = B; }")
    # __launch_bounds__ used to hide the kernel from the regex translation
    assert "k" in kernels("__global__ void __launch_bounds__(256, 2) k(float *a) { a[0] = 1.0f; }")


# ---------------------------------------------------------------- crashes and build times
def test_an_out_of_bounds_write_on_the_fast_backend_is_named_and_the_notebook_survives():
    past_end = "__global__ void fill(float *a) { int i = blockIdx.x * blockDim.x + threadIdx.x; a[i] = 1.0f; }"
    wild = "__global__ void wild(float *a) { int i = threadIdx.x; a[(long)i * 100000000000L] = 1.0f; }"
    with gpu.using("cpu"):
        fill = gpu.SourceModule(past_end).get_function("fill")
        with pytest.raises(gpu.KernelFault) as info:
            fill(gpu.Out(np.zeros(100, np.float32)), block=(64, 1, 1), grid=(2, 1))
        assert ("fill: the kernel wrote outside the array a (a has 100 elements, indices 0 to 99): past its end, "
                "at a[100]") in str(info.value) and "checked mode" in str(info.value)
        with pytest.raises(gpu.KernelFault, match=r"your kernel crashed \(an out-of-bounds write\?\): run it with "
                                                   r"checked mode to see where"):
            gpu.SourceModule(wild).get_function("wild")(gpu.Out(np.zeros(4, np.float32)), block=(4, 1, 1))
        ok = np.zeros(128, np.float32)
        fill(gpu.Out(ok), block=(64, 1, 1), grid=(2, 1))        # this process, and the backend, go on
    assert np.all(ok == 1)


def test_kernels_with_barriers_in_unrolled_loops_build_in_seconds(monkeypatch, capsys):
    """PoCL's default work-group method took 70 s here for this kernel (the reviewer: 60-126 s)."""
    src = r"""
const int TILE = 64, ROWS = 8;
__global__ void t(float *out, const float *in, int w, int h)
{
    __shared__ float tile[TILE][TILE + 1];
    #pragma unroll
    for (int j = 0; j < TILE; j += ROWS) {
        int x = blockIdx.x * TILE + threadIdx.x, y = blockIdx.y * TILE + threadIdx.y + j;
        if (x < w && y < h) tile[threadIdx.y + j][threadIdx.x] = in[y * w + x];
        __syncthreads();
    }
    #pragma unroll
    for (int j = 0; j < TILE; j += ROWS) {
        int x = blockIdx.y * TILE + threadIdx.x, y = blockIdx.x * TILE + threadIdx.y + j;
        if (x < h && y < w) out[y * h + x] = tile[threadIdx.x][threadIdx.y + j];
        __syncthreads();
    }
}
"""
    monkeypatch.setenv("POCL_KERNEL_CACHE", "0")           # a real first build
    fresh = worker.WorkerBackend("cpu")
    monkeypatch.setitem(backends._made, "cpu", fresh)
    a = np.random.default_rng(0).standard_normal((128, 128)).astype(np.float32)
    out = np.zeros_like(a)
    try:
        start = time.perf_counter()
        with gpu.using("cpu"):
            k = gpu.SourceModule(src).get_function("t")
            k(gpu.Out(out), gpu.In(a), np.int32(128), np.int32(128), block=(64, 8, 1), grid=(2, 2))
        seconds = time.perf_counter() - start
    finally:
        fresh._stop()
    assert np.array_equal(out, a.T)
    assert seconds < 25, f"build and first launch took {seconds:.1f} s"
    assert os.environ.get("POCL_WORK_GROUP_METHOD") is None    # set for the worker only


def test_printf_in_a_kernel_shows_in_the_notebook(capfd):
    src = '#include <stdio.h>\n__global__ void hello(int n) { if (threadIdx.x == 0) printf("hello %d\\n", n); }'
    for backend in BOTH:
        with gpu.using(backend):
            gpu.SourceModule(src).get_function("hello")(np.int32(7), block=(4, 1, 1))
    assert capfd.readouterr().out.count("hello 7\n") == 2


def test_the_backend_shows_as_a_readable_line():
    for name in BOTH:
        shown = repr(gpu.use(name, quiet=True))
        assert "object at 0x" not in shown and "PoCL" in shown or "Oclgrind" in shown, shown
    gpu.use("cpu", quiet=True)


# ---------------------------------------------------------------- checks test what the cell above defines
MATMUL = r"""
__global__ void matmul(const float *A, const float *B, float *C, int n, int m, int p)
{
    int r = blockIdx.y * blockDim.y + threadIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < n && c < p) { float s = 0; for (int k = 0; k < m; k++) s += A[r * m + k] * B[k * p + c]; C[r * p + c] = s; }
}
"""


def _matmul_cell(src: str):
    """What notebook 05's matmul cell does: compile, then define matmul (not reached if the kernel fails)."""
    kernel = gpu.SourceModule(src).get_function("matmul")

    def matmul(A, B):
        n, m = A.shape
        p = B.shape[1]
        C = np.empty((n, p), np.float32)
        kernel(gpu.In(A), gpu.In(B), gpu.Out(C), np.int32(n), np.int32(m), np.int32(p), block=(16, 16, 1),
               grid=((p + 15) // 16, (n + 15) // 16))
        return C
    return matmul


def test_a_check_does_not_pass_an_old_kernel_when_the_new_one_does_not_compile(capsys):
    with gpu.using("cpu"):
        matmul = _matmul_cell(MATMUL)
        check_matmul(matmul)
        assert "PASSED: matmul" in capsys.readouterr().out
        with pytest.raises(gpu.CompileError):
            matmul = _matmul_cell(MATMUL.replace("float s = 0;", "float s = 0"))   # the edit stops the cell
    with pytest.raises(CheckFailure) as info:
        check_matmul(matmul)                    # the function from before the edit
    message = str(info.value)
    assert "matmul: the kernel `matmul` in the cell above does not compile, so this check cannot test it" in message
    assert "line 4: expected ';' at end of declaration" in message and "PASSED" not in capsys.readouterr().out
    with gpu.using("cpu"):
        check_matmul(_matmul_cell(MATMUL))     # fixed and run again: tested again


def test_a_name_error_after_a_kernel_that_does_not_compile_says_why():
    from course_lib.gpu.notebook_hint import hint_for

    with gpu.using("cpu"), pytest.raises(gpu.CompileError):
        _matmul_cell(MATMUL.replace("int r =", "int r ="[:-1]))
    hint = hint_for(NameError("name 'matmul' is not defined", name="matmul"))
    assert hint.startswith("course_lib.gpu: `matmul` may be undefined because the cell that defines it stopped at "
                           "its SourceModule(...): the kernel `matmul` does not compile (line 3: expected ';'"), hint
    assert hint_for(ValueError("x")) is None
    with gpu.using("cpu"):
        _matmul_cell(MATMUL)
    assert hint_for(NameError("name 'matmul' is not defined", name="matmul")) is None


def test_the_hint_for_a_missing_guard_fits_a_one_dimensional_kernel():
    src = "__global__ void doublify(float *a, int n)\n{\n    int i = blockIdx.x * blockDim.x + threadIdx.x;\n" \
          "    a[i] = 2.0f * a[i];\n}\n"
    kernel = gpu.SourceModule(src).get_function("doublify")

    def doublify(a):
        kernel(gpu.InOut(a), np.int32(a.size), block=(256, 1, 1), grid=((a.size + 255) // 256, 1))
        return a

    with pytest.raises(CheckFailure) as info:
        check_doublify(doublify)
    message = str(info.value)
    assert "out-of-bounds read of a[1] (a has 1 elements" in message and "line 4 of your kernel" in message
    assert "guard the access with `if (i < n)`" in message and "row" not in message


def test_the_name_error_hint_is_shown_by_ipython(monkeypatch):
    from course_lib.gpu import notebook_hint

    class Shell:
        """What the hint uses of IPython's shell."""
        custom_exceptions, CustomTB, shown = (), None, []

        class InteractiveTB:
            @staticmethod
            def structured_traceback(etype, value, tb, tb_offset=None):
                return [f"{etype.__name__}: {value}"]

        def set_custom_exc(self, types, handler):
            self.custom_exceptions, self.CustomTB = types, handler

        def _showtraceback(self, etype, value, stb):
            self.shown.append(stb)

    shell = Shell()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert notebook_hint.install() and shell.custom_exceptions == (NameError,)
    with gpu.using("cpu"), pytest.raises(gpu.CompileError):
        gpu.SourceModule("__global__ void doublify(float *a) { a[0] = twice; }")
    shell.CustomTB(shell, NameError, NameError("name 'doublify' is not defined", name="doublify"), None)
    assert shell.shown[-1][0] == "NameError: name 'doublify' is not defined"
    assert "the kernel `doublify` does not compile (line 1: use of undeclared identifier 'twice'" in shell.shown[-1][1]
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not notebook_hint.install()          # never while grading
    with gpu.using("cpu"):
        gpu.SourceModule("__global__ void doublify(float *a) { a[0] = 2.0f; }")


@pytest.mark.parametrize("backend", BOTH)
def test_pointer_casts_and_declarations_written_without_spaces(backend):
    src = r"""
__global__ void bits(const float* x, unsigned int* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned int* u = (const unsigned int*)x;
    if (i < n) out[i] = u[i] ^ ((unsigned int*)out)[i];
}
"""
    x = np.array([1.0, -2.0, 0.5], np.float32)
    out = np.zeros(3, np.uint32)
    run_1d(src, "bits", gpu.In(x), gpu.InOut(out), np.int32(3), n_threads=3, backend=backend)
    assert np.array_equal(out, x.view(np.uint32))


def test_an_out_of_bounds_atomic_is_placed_on_the_students_line():
    src = "\n__global__ void hist(const int *v, int *bins, int n)\n{\n    int i = blockIdx.x * blockDim.x + " \
          "threadIdx.x;\n    if (i < n) atomicAdd(&bins[v[i]], 1);\n}\n"
    with gpu.using("checked"), pytest.raises(gpu.KernelFault) as info:
        gpu.SourceModule(src).get_function("hist")(gpu.In(np.array([0, 1, 5, 2], np.int32)),
                                                   gpu.InOut(np.zeros(4, np.int32)), np.int32(4), block=(4, 1, 1))
    assert ("of bins[5] (bins has 4 elements, indices 0 to 3) by thread (2, 0, 0) of block (0, 0, 0), at line 4 of "
            "your kernel: `if (i < n) atomicAdd(&bins[v[i]], 1);` (inside the atomic operation)") in str(info.value)


@pytest.mark.parametrize("backend", BOTH)
def test_more_shared_memory_than_a_cuda_block_has_is_refused(backend):
    src = "__global__ void k(float *a) { __shared__ float big[13000]; big[threadIdx.x] = 1.0f; a[0] = big[0]; }"
    with gpu.using(backend), pytest.raises(gpu.LaunchError, match=r"uses 52000 bytes of __shared__ memory per "
                                                                   r"block; a CUDA block may have at most 49152"):
        gpu.SourceModule(src).get_function("k")(gpu.Out(np.zeros(1, np.float32)), block=(4, 1, 1))
