"""course_lib.gpu: CUDA C signatures and translation, launches validated
before they run, the CPU backend, checked mode, memory and timing; and the
release tool's C solution regions. Tests marked ``gpu`` need a CUDA GPU."""
from __future__ import annotations

import numpy as np
import pytest

from course_lib import gpu
from course_lib.gpu import backends, worker
from course_lib.gpu.cuda_c import Param, kernels, to_opencl
from course_lib.gpu.opencl_prelude import PRELUDE
from course_lib.instructor.clear_solutions import C_STUB, clear_c_regions

SAXPY = r"""
// y = a x + y
__global__ void saxpy(int n, float a, const float * __restrict__ x, float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;   /* one element per thread */
    if (i < n) y[i] = a * x[i] + y[i];
}
"""


@pytest.fixture(scope="module")
def saxpy():
    with gpu.using("cpu"):
        yield gpu.SourceModule(SAXPY).get_function("saxpy")


# ---------------------------------------------------------------- CUDA C
def test_signatures_are_read_with_types_and_lines():
    k = kernels(SAXPY)["saxpy"]
    assert k.params == (Param("n", "int", False), Param("a", "float", False), Param("x", "float", True),
                        Param("y", "float", True))
    # line 2 as the student counts it: the blank rest of the r""" line is not line 1
    assert k.line == 2 and k.params[2].dtype == np.float32 and str(k.params[3]) == "float *y"
    assert kernels("__global__ void f(unsigned int n, double *d) {}")["f"].params[0].dtype == np.uint32
    with pytest.raises(gpu.CompileError, match="pointer to a pointer"):
        kernels("__global__ void f(float **a) {}")


def test_translation_keeps_lines_and_adds_address_spaces():
    cl = to_opencl(SAXPY)
    assert cl.startswith(PRELUDE)
    body = cl[len(PRELUDE):]
    assert '#line 2 "kernel.cu"\n__global__ void course_kernel_saxpy(int n, float a, const float __global * ' \
           '__restrict__ x, float __global *y)' in body
    assert "#define __syncthreads() barrier(" in cl and "#define __shared__ __local" in cl


# ---------------------------------------------------------------- launches
def test_cpu_backend_runs_cuda_c(saxpy):
    n = 1000
    x = np.arange(n, dtype=np.float32)
    y = np.ones(n, dtype=np.float32)
    with gpu.using("cpu"):
        seconds = saxpy(np.int32(n), np.float32(2), gpu.In(x), gpu.InOut(y), block=(128, 1, 1),
                        grid=((n + 127) // 128, 1), time_kernel=True)
    assert np.array_equal(y, 2 * x + 1) and seconds > 0
    last = gpu.launches[-1]
    assert (last.kernel, last.block, last.grid, last.backend) == ("saxpy", (128, 1, 1), (8, 1, 1), "cpu")


@pytest.mark.parametrize("args, kwargs, phrase", [
    ((np.int32(4), np.float32(2), np.ones(4, np.float32), gpu.InOut(np.ones(4, np.float32))), {},
     r"argument 2 \(`float \*x`\) is a bare numpy array.*In\(a\)"),
    ((4, np.float32(2), gpu.In(np.ones(4, np.float32)), gpu.InOut(np.ones(4, np.float32))), {},
     r"argument 0 \(`int n`\): got a Python int.*np.int32\(4\)"),
    ((np.int64(4), np.float32(2), gpu.In(np.ones(4, np.float32)), gpu.InOut(np.ones(4, np.float32))), {},
     r"got np.int64, but `int` is int32"),
    ((np.int32(4), np.float32(2), gpu.In(np.ones(4)), gpu.InOut(np.ones(4, np.float32))), {},
     r"dtype float64, but `float \*` needs float32.*astype\(np.float32\)"),
    ((np.int32(4), np.float32(2), gpu.In(np.ones(4, np.float32))), {}, r"takes 4 arguments .* was given 3"),
    ((np.int32(4), np.float32(2), gpu.In(np.ones(4, np.float32)), gpu.InOut(np.ones(4, np.float32))),
     {"block": (64, 32, 1)}, r"2048 threads; a block may have at most 1024"),
    ((np.int32(4), np.float32(2), gpu.In(np.ones(4, np.float32)), gpu.InOut(np.ones(4, np.float32))),
     {"block": (1, 1, 128)}, r"dimension z is 128, more than CUDA's 64"),
    ((np.int32(4), np.float32(2), gpu.In(np.ones(4, np.float32)), gpu.InOut(np.ones(4, np.float32))),
     {"grid": (2.0, 1)}, r"holds the float 2.0: use ints"),
    ((np.int32(4), np.float32(2), gpu.In(np.ones(4, np.float32)), gpu.InOut(np.ones(4, np.float32))),
     {"block": None}, r"block= is required"),
])
def test_bad_launches_are_refused_with_the_reason(saxpy, args, kwargs, phrase):
    kw = {"block": (4, 1, 1), "grid": (1, 1), **kwargs}
    with gpu.using("cpu"), pytest.raises(gpu.LaunchError, match=phrase):
        saxpy(*args, **kw)


def test_wrappers_refuse_what_cannot_be_copied():
    with pytest.raises(gpu.LaunchError, match="not contiguous"):
        gpu.In(np.ones((4, 4), np.float32).T)
    with pytest.raises(gpu.LaunchError, match="wraps a numpy array"):
        gpu.Out([1.0, 2.0])


def test_compile_errors_name_the_students_line():
    src = "__global__ void f(float *a)\n{\n    a[0] = undefined_name;\n}\n"
    for name in ("cpu", "checked"):
        with gpu.using(name), pytest.raises(gpu.CompileError) as info:
            gpu.SourceModule(src)
        assert "line 3: use of undeclared identifier 'undefined_name' `a[0] = undefined_name;`" in str(info.value)
    with pytest.raises(gpu.CompileError, match="has no kernel"):
        gpu.SourceModule("int f(void) { return 1; }")
    with gpu.using("cpu"), pytest.raises(gpu.CompileError, match="no kernel named 'g'.*its kernels: f"):
        gpu.SourceModule("__global__ void f(float *a) { a[0] = 1.0f; }").get_function("g")


def test_device_memory_and_events():
    src = "__global__ void inc(float *a, int n) { int i = threadIdx.x; if (i < n) a[i] += 1.0f; }"
    with gpu.using("cpu"):
        inc = gpu.SourceModule(src).get_function("inc")
        a = np.arange(8, dtype=np.float32)
        dev = gpu.to_device(a)
        start, end = gpu.Event(), gpu.Event()
        start.record()
        inc(dev, np.int32(8), block=(8, 1, 1))
        inc(dev, np.int32(8), block=(8, 1, 1))
        end.record()
        end.synchronize()
        assert np.array_equal(dev.get(), a + 2) and start.time_till(end) >= 0
        raw = gpu.mem_alloc(a.nbytes)
        gpu.memcpy_htod(raw, a)
        inc(raw, np.int32(8), block=(8, 1, 1))
        back = np.empty_like(a)
        gpu.memcpy_dtoh(back, raw)
        assert np.array_equal(back, a + 1)
        with pytest.raises(gpu.LaunchError, match="holds float64 but `float \\*` needs float32"):
            inc(gpu.to_device(np.ones(8)), np.int32(8), block=(8, 1, 1))
        with pytest.raises(gpu.LaunchError, match="only 4"):
            gpu.memcpy_htod(gpu.mem_alloc(4), a)


# ---------------------------------------------------------------- checked mode
def test_checked_mode_reports_an_out_of_bounds_write_by_name():
    src = "__global__ void w(float *out, int n)\n{\n    int i = blockIdx.x * blockDim.x + threadIdx.x;\n    out[i] = 1.0f;\n}\n"
    with gpu.using("checked"):
        w = gpu.SourceModule(src).get_function("w")
        with pytest.raises(gpu.KernelFault) as info:
            w(gpu.Out(np.zeros(10, np.float32)), np.int32(10), block=(8, 1, 1), grid=(2, 1))
        # the next launch, in a fresh worker, still reports
        with pytest.raises(gpu.KernelFault):
            w(gpu.Out(np.zeros(3, np.float32)), np.int32(3), block=(4, 1, 1), grid=(1, 1))
        ok = np.zeros(16, np.float32)
        w(gpu.Out(ok), np.int32(16), block=(8, 1, 1), grid=(2, 1))
    message = str(info.value)
    assert "out-of-bounds write of out[10] (out has 10 elements, indices 0 to 9)" in message
    assert "by thread (2, 0, 0) of block (1, 0, 0)" in message
    assert "line 4 of your kernel: `out[i] = 1.0f;`" in message and "6 such reports" in message
    assert np.all(ok == 1)


def test_checked_mode_stops_an_endless_kernel(monkeypatch):
    monkeypatch.setattr(worker, "LAUNCH_TIMEOUT_S", 3.0)
    src = "__global__ void spin(float *a) { int i = 0; while (a[0] >= 0.0f) { i++; } a[1] = i; }"
    with gpu.using("checked"):
        spin = gpu.SourceModule(src).get_function("spin")
        with pytest.raises(gpu.KernelFault, match="did not finish within 3 s in checked mode"):
            spin(gpu.InOut(np.zeros(2, np.float32)), block=(1, 1, 1))
        done = np.ones(2, np.float32)
        gpu.SourceModule("__global__ void z(float *a) { a[0] = 0.0f; }").get_function("z")(
            gpu.InOut(done), block=(1, 1, 1))
    assert done[0] == 0


# ---------------------------------------------------------------- backend choice
def test_asking_for_a_gpu_without_one_explains_and_falls_back(capsys, monkeypatch):
    monkeypatch.setattr(backends, "_cuda_available", lambda: (False, "no CUDA GPU is visible"))
    previous = backends._active
    try:
        chosen = gpu.use("cuda")
        out = capsys.readouterr().out
    finally:
        backends._active = previous
    assert chosen.name == "cpu"
    assert "A GPU was asked for, but no CUDA GPU is visible: falling back to the CPU" in out
    assert "Colab" in out and "Runtime → Change runtime type" in out
    with pytest.raises(ValueError, match="one of auto, cuda, cpu, checked"):
        gpu.use("tpu")


@pytest.mark.gpu
def test_the_same_code_runs_on_a_cuda_gpu():
    pytest.importorskip("pycuda")
    import gpu_kernels as K
    from course_lib.checks.gpu import check_matmul

    previous = backends._active
    try:
        assert gpu.use("cuda").name == "cuda"
        check_matmul(K.wrapper(K.NAIVE), hard=True)
        check_matmul(K.wrapper(K.TILED), hard=True)
    finally:
        backends._active = previous


# ---------------------------------------------------------------- release: C regions
def test_c_solution_regions_become_a_c_comment():
    src = 'K = r"""\n__global__ void f(float *a)\n{\n    /// BEGIN SOLUTION\n    a[0] = 1.0f;\n    /// END SOLUTION\n}\n"""'
    out, replaced = clear_c_regions(src)
    assert replaced and out == f'K = r"""\n__global__ void f(float *a)\n{{\n    {C_STUB}\n}}\n"""'
    assert clear_c_regions("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION") == (
        "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION", False)
    with pytest.raises(RuntimeError, match="no // END SOLUTION"):
        clear_c_regions("// BEGIN SOLUTION\nx")


def test_an_interrupted_checked_launch_leaves_a_working_backend(monkeypatch):
    from course_lib.checks._harness import StudentTimeout, time_budget

    src = "__global__ void spin(float *a) { int i = 0; while (a[0] >= 0.0f) { i++; } a[1] = i; }"
    with gpu.using("checked"):
        spin = gpu.SourceModule(src).get_function("spin")
        with pytest.raises(StudentTimeout), time_budget(1.0):
            spin(gpu.InOut(np.zeros(2, np.float32)), block=(1, 1, 1))
        done = np.ones(2, np.float32)
        gpu.SourceModule("__global__ void z(float *a) { a[0] = 0.0f; }").get_function("z")(
            gpu.InOut(done), block=(1, 1, 1))
    assert done[0] == 0


def test_launches_since_survives_the_bounded_history():
    from course_lib.gpu import module

    with gpu.using("cpu"):
        z = gpu.SourceModule("__global__ void z(float *a) { a[0] = 0.0f; }").get_function("z")
        before = module.launch_count()
        for _ in range(module._KEEP + 5):
            z(gpu.InOut(np.ones(1, np.float32)), block=(1, 1, 1))
        mark = module.launch_count()
        z(gpu.InOut(np.ones(1, np.float32)), block=(1, 1, 1))
    assert mark - before == module._KEEP + 5 and len(module.launches) == module._KEEP
    assert [launch.number for launch in module.launches_since(mark)] == [mark + 1]
