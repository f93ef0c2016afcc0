"""What a CUDA kernel may use, declared for the parser.

:mod:`.cuda_parse` reads a student's CUDA C with libclang in CUDA mode but
without the CUDA toolkit (no GPU machine has to be there), so the names that
nvcc's headers declare are declared here instead: the qualifiers
(``__global__``, ``__shared__``, ...), ``threadIdx`` and friends, the vector
types, the device math library, atomics, ``printf``, ``assert``. Each has an
OpenCL counterpart in :mod:`.opencl_prelude`.

A few CUDA built-ins are declared only so that the parser accepts them; the
CPU backends cannot run them (warp shuffles and votes need 32 threads that
run in lockstep, which OpenCL 1.2 does not have). :data:`NOT_ON_CPU` says why,
and the translation names the construct and its line.

:data:`HEADERS` are the system headers a kernel may ``#include`` (their
content is here, so nothing on disk is read); any other header is refused by
name.
"""
from __future__ import annotations

__all__ = ["HEADERS", "NOT_ON_CPU", "STUB", "STUB_NAME"]

STUB_NAME = "/course_lib/cuda_device.h"

_VECTORS = {"char": "char", "uchar": "unsigned char", "short": "short", "ushort": "unsigned short",
            "int": "int", "uint": "unsigned int", "long": "long", "ulong": "unsigned long",
            "longlong": "long long", "ulonglong": "unsigned long long", "float": "float", "double": "double"}


def _vector_types() -> str:
    out = []
    for short, c in _VECTORS.items():
        size = {"char": 1, "uchar": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4, "float": 4}.get(short, 8)
        for n in (1, 2, 3, 4):
            fields = "xyzw"[:n]
            align_attr = f" __attribute__((aligned({min(size * n, 16)})))" if n in (2, 4) else ""
            out.append(f"struct{align_attr} {short}{n} {{ {c} {', '.join(fields)}; }};")
            args = ", ".join(f"{c} {f}" for f in fields)
            out.append(f"__device__ {short}{n} make_{short}{n}({args});")
    return "\n".join(out)


_MATH1 = ("sqrt rsqrt cbrt exp exp2 exp10 expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh tanh "
          "asinh acosh atanh fabs floor ceil round trunc rint nearbyint erf erfc lgamma tgamma").split()
_MATH2 = "pow atan2 fmin fmax fmod remainder hypot copysign fdim".split()


def _math() -> str:
    out = []
    for f in _MATH1:
        out.append(f"__device__ float {f}f(float); __device__ float {f}(float); __device__ double {f}(double);")
    for f in _MATH2:
        out.append(f"__device__ float {f}f(float, float); __device__ float {f}(float, float); "
                   f"__device__ double {f}(double, double);")
    out.append("__device__ float fmaf(float, float, float); __device__ float fma(float, float, float); "
               "__device__ double fma(double, double, double);")
    out.append("__device__ float powif(float, int); __device__ float ldexpf(float, int); "
               "__device__ double ldexp(double, int);")
    for f in ("__expf", "__logf", "__sinf", "__cosf", "__tanf", "__log2f", "__exp10f", "__saturatef",
              "__frcp_rn", "__fsqrt_rn"):
        out.append(f"__device__ float {f}(float);")
    for f in ("__powf", "__fdividef", "__fadd_rn", "__fsub_rn", "__fmul_rn", "__fdiv_rn"):
        out.append(f"__device__ float {f}(float, float);")
    out.append("__device__ float __fmaf_rn(float, float, float);")
    for t in ("int", "unsigned int", "long", "unsigned long", "long long", "unsigned long long", "float", "double"):
        out.append(f"__device__ {t} min({t}, {t}); __device__ {t} max({t}, {t});")
    for a, b, r in (("int", "unsigned int", "unsigned int"), ("long long", "unsigned long long", "unsigned long long"),
                    ("long", "unsigned long", "unsigned long"), ("float", "double", "double"),
                    ("int", "float", "float"), ("int", "double", "double")):
        out.append(f"__device__ {r} min({a}, {b}); __device__ {r} min({b}, {a}); "
                   f"__device__ {r} max({a}, {b}); __device__ {r} max({b}, {a});")
    out.append("__device__ int abs(int); __device__ long abs(long); __device__ long long abs(long long); "
               "__device__ float abs(float); __device__ double abs(double); __device__ long labs(long); "
               "__device__ long long llabs(long long);")
    for f in ("isnan", "isinf", "isfinite", "signbit"):
        out.append(f"__device__ bool {f}(float); __device__ bool {f}(double);")
    out.append("__device__ int __popc(unsigned int); __device__ int __popcll(unsigned long long); "
               "__device__ int __clz(int); __device__ int __ffs(int); __device__ unsigned int __brev(unsigned int); "
               "__device__ int __mul24(int, int); __device__ unsigned int __umul24(unsigned int, unsigned int); "
               "__device__ int __float2int_rn(float); __device__ int __float2int_rz(float); "
               "__device__ float __int2float_rn(int); __device__ int __float_as_int(float); "
               "__device__ float __int_as_float(int); __device__ unsigned int __float_as_uint(float); "
               "__device__ float __uint_as_float(unsigned int);")
    return "\n".join(out)


def _atomics() -> str:
    out = []
    table = {
        "atomicAdd": ("int", "unsigned int", "unsigned long long", "float", "double"),
        "atomicSub": ("int", "unsigned int"),
        "atomicExch": ("int", "unsigned int", "unsigned long long", "float"),
        "atomicMin": ("int", "unsigned int", "long long", "unsigned long long"),
        "atomicMax": ("int", "unsigned int", "long long", "unsigned long long"),
        "atomicAnd": ("int", "unsigned int", "unsigned long long"),
        "atomicOr": ("int", "unsigned int", "unsigned long long"),
        "atomicXor": ("int", "unsigned int", "unsigned long long"),
    }
    for name, types in table.items():
        for t in types:
            out.append(f"__device__ {t} {name}({t} *, {t});")
    for t in ("int", "unsigned int", "unsigned long long"):
        out.append(f"__device__ {t} atomicCAS({t} *, {t}, {t});")
    out.append("__device__ unsigned int atomicInc(unsigned int *, unsigned int); "
               "__device__ unsigned int atomicDec(unsigned int *, unsigned int);")
    return "\n".join(out)


#: CUDA built-ins the parser accepts but the CPU backends cannot run, and why.
NOT_ON_CPU: dict[str, str] = {
    **{name: "a warp shuffle: it needs the 32 threads of a warp to run in lockstep, which the CPU backends "
             "(OpenCL 1.2) do not model; use a __shared__ array and __syncthreads() instead"
       for name in ("__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync", "__shfl",
                    "__shfl_up", "__shfl_down", "__shfl_xor")},
    **{name: "a warp vote: it needs the threads of a warp to run in lockstep, which the CPU backends do not "
             "model; use a __shared__ array and __syncthreads() instead"
       for name in ("__ballot_sync", "__any_sync", "__all_sync", "__activemask", "__ballot", "__any", "__all",
                    "__match_any_sync", "__reduce_add_sync")},
    "__syncwarp": "a warp barrier: the CPU backends have no warps; use __syncthreads() (every thread of the block)",
    **{name: "a barrier that also counts or votes; use __syncthreads() and a __shared__ counter instead"
       for name in ("__syncthreads_count", "__syncthreads_and", "__syncthreads_or")},
    **{name: "a GPU clock counter: it has no meaning on the CPU backends; time launches from Python instead "
             "(time_kernel=True or gpu.Event)"
       for name in ("clock", "clock64", "__nanosleep", "globaltimer")},
}


def _unsupported() -> str:
    out = []
    for name in NOT_ON_CPU:
        if name.startswith("__shfl"):
            for t in ("int", "unsigned int", "float", "double"):
                if name.endswith("_sync"):
                    out.append(f"__device__ {t} {name}(unsigned int, {t}, int, int = 32);")
                else:
                    out.append(f"__device__ {t} {name}({t}, int, int = 32);")
        elif name in ("__ballot_sync", "__any_sync", "__all_sync", "__match_any_sync", "__reduce_add_sync"):
            out.append(f"__device__ unsigned int {name}(unsigned int, int);")
        elif name in ("__ballot", "__any", "__all", "__syncthreads_count", "__syncthreads_and",
                      "__syncthreads_or"):
            out.append(f"__device__ int {name}(int);")
        elif name == "__activemask":
            out.append("__device__ unsigned int __activemask();")
        elif name == "__syncwarp":
            out.append("__device__ void __syncwarp(unsigned int = 0xffffffffu);")
        elif name in ("clock", "clock64", "globaltimer"):
            out.append(f"__device__ long long {name}();")
        elif name == "__nanosleep":
            out.append("__device__ void __nanosleep(unsigned int);")
    return "\n".join(out)


_LIMITS = """
#define INT_MAX 2147483647
#define INT_MIN (-2147483647 - 1)
#define UINT_MAX 4294967295u
#define LONG_MAX 9223372036854775807L
#define LONG_MIN (-9223372036854775807L - 1)
#define ULONG_MAX 18446744073709551615UL
#define SHRT_MAX 32767
#define SHRT_MIN (-32768)
#define USHRT_MAX 65535
#define CHAR_BIT 8
#define FLT_MAX 3.402823466e+38F
#define FLT_MIN 1.175494351e-38F
#define FLT_EPSILON 1.192092896e-07F
#define DBL_MAX 1.7976931348623158e+308
#define DBL_MIN 2.2250738585072014e-308
#define DBL_EPSILON 2.2204460492503131e-16
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VALF __builtin_huge_valf()
#define M_PI 3.14159265358979323846
#define M_PI_F 3.14159265358979323846f
#define M_E 2.7182818284590452354
#define CUDART_PI_F 3.141592654f
#define CUDART_INF_F __builtin_inff()
#define NULL 0
"""

STUB = f"""
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __managed__ __attribute__((managed))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
typedef unsigned long size_t;
typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned long ulong;
typedef long ptrdiff_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;
typedef unsigned long uint64_t;
{_vector_types()}
struct dim3 {{ unsigned int x, y, z; }};
extern const __device__ uint3 threadIdx;
extern const __device__ uint3 blockIdx;
extern const __device__ dim3 blockDim;
extern const __device__ dim3 gridDim;
extern const __device__ int warpSize;
__device__ void __syncthreads(void);
__device__ void __threadfence(void);
__device__ void __threadfence_block(void);
__device__ int printf(const char *, ...);
__device__ void assert(bool);
template <class T> __device__ T __ldg(const T *);
{_math()}
{_atomics()}
{_unsupported()}
{_LIMITS}
"""

_EMPTY = "#pragma once\n"
#: Headers a kernel may include: everything they would declare is in :data:`STUB` already.
HEADERS: dict[str, str] = {name: _EMPTY for name in (
    "stdio.h", "cstdio", "stdlib.h", "cstdlib", "math.h", "cmath", "assert.h", "cassert", "stdint.h", "cstdint",
    "limits.h", "climits", "float.h", "cfloat", "cuda.h", "cuda_runtime.h", "cuda_runtime_api.h",
    "device_launch_parameters.h", "device_functions.h", "math_constants.h", "vector_types.h",
    "sm_20_atomic_functions.h", "sm_60_atomic_functions.h", "stddef.h", "cstddef", "stdbool.h")}
