"""The OpenCL C that comes before every translated kernel: CUDA's names in OpenCL.

Macros map CUDA's qualifiers, built-in variables and math functions onto
OpenCL's (``threadIdx`` → ``get_local_id``, ``__syncthreads()`` →
``barrier``, ``sqrtf`` → ``sqrt``). CUDA's atomics are functions here,
overloaded (clang's ``overloadable``) by type and by address space; the ones
OpenCL 1.2 lacks (``atomicAdd`` on floats and doubles, ``atomicInc``) are
compare-and-swap loops, as on GPUs before they had them. ``assert`` records
its first failure in a flags buffer the launcher reads back.

The translated student code follows, starting with ``#line 1``, so compiler
and simulator messages carry the student's own line numbers.
"""
from __future__ import annotations

__all__ = ["DYNAMIC_SHARED", "FLAGS", "FLAG_WORDS", "PRELUDE", "PRELUDE_NAME", "SOURCE_NAME"]

#: File names in ``#line`` directives: messages say which part a line is in.
PRELUDE_NAME = "course_lib_prelude.cl"
SOURCE_NAME = "kernel.cu"

#: Name of the hidden kernel argument that holds dynamic ``extern __shared__`` memory.
DYNAMIC_SHARED = "course_dynamic_shared"
#: Name of the hidden kernel argument where ``assert`` records its first failure.
FLAGS = "course_flags"
#: int32 words of the flags buffer: failed assert (id + 1), then thread x, y, z and block x, y, z.
FLAG_WORDS = 8

_HEAD = r"""#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
#pragma OPENCL EXTENSION cl_khr_int64_extended_atomics : enable
#define __global__ __kernel
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ __local
#define __constant__ __constant
#define __restrict__ restrict
#define __restrict restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __syncthreads() barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)
#define __threadfence() mem_fence(CLK_GLOBAL_MEM_FENCE)
#define __threadfence_block() mem_fence(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)
#define threadIdx ((uint3)((uint)get_local_id(0), (uint)get_local_id(1), (uint)get_local_id(2)))
#define blockIdx ((uint3)((uint)get_group_id(0), (uint)get_group_id(1), (uint)get_group_id(2)))
#define blockDim ((uint3)((uint)get_local_size(0), (uint)get_local_size(1), (uint)get_local_size(2)))
#define gridDim ((uint3)((uint)get_num_groups(0), (uint)get_num_groups(1), (uint)get_num_groups(2)))
#define warpSize 32
#define CUDART_PI_F 3.141592654f
#define CUDART_INF_F INFINITY
typedef uint3 dim3;
typedef char int8_t;
typedef uchar uint8_t;
typedef short int16_t;
typedef ushort uint16_t;
typedef int int32_t;
typedef uint uint32_t;
typedef long int64_t;
typedef ulong uint64_t;
typedef long2 longlong2;
typedef long3 longlong3;
typedef long4 longlong4;
typedef ulong2 ulonglong2;
typedef ulong3 ulonglong3;
typedef ulong4 ulonglong4;
#define __ldg(p) (*(p))
#define __expf exp
#define __logf log
#define __sinf sin
#define __cosf cos
#define __tanf tan
#define __log2f log2
#define __exp10f exp10
#define __powf pow
#define __fsqrt_rn sqrt
#define __fmaf_rn fma
#define __fdividef(a, b) ((a) / (b))
#define __frcp_rn(x) (1.0f / (x))
#define __fadd_rn(a, b) ((a) + (b))
#define __fsub_rn(a, b) ((a) - (b))
#define __fmul_rn(a, b) ((a) * (b))
#define __fdiv_rn(a, b) ((a) / (b))
#define __saturatef(x) clamp((x), 0.0f, 1.0f)
#define nearbyintf rint
#define nearbyint rint
#define powif pown
#define __popc(x) ((int)popcount((uint)(x)))
#define __popcll(x) ((int)popcount((ulong)(x)))
#define __clz(x) ((int)clz((int)(x)))
#define __mul24(a, b) mul24((int)(a), (int)(b))
#define __umul24(a, b) mul24((uint)(a), (uint)(b))
#define __float2int_rn(x) convert_int_rte(x)
#define __float2int_rz(x) convert_int_rtz(x)
#define __int2float_rn(x) convert_float_rte(x)
#define __float_as_int(x) as_int(x)
#define __int_as_float(x) as_float(x)
#define __float_as_uint(x) as_uint(x)
#define __uint_as_float(x) as_float(x)
#define course_overload __attribute__((overloadable))
inline int __ffs(int x) { return x == 0 ? 0 : (int)popcount((uint)(x & -x) - 1u) + 1; }
inline uint __brev(uint x) { uint r = 0u; for (int i = 0; i < 32; i++) { r = (r << 1) | (x & 1u); x >>= 1; } return r; }
course_overload inline int course_abs(int x) { return x < 0 ? -x : x; }
course_overload inline long course_abs(long x) { return x < 0 ? -x : x; }
course_overload inline float course_abs(float x) { return fabs(x); }
course_overload inline double course_abs(double x) { return fabs(x); }
"""

_MATH_F = ("sqrt rsqrt cbrt exp exp2 exp10 expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh tanh "
           "asinh acosh atanh fabs floor ceil round trunc rint erf erfc lgamma tgamma pow atan2 fmin fmax fmod "
           "remainder hypot copysign fdim fma ldexp").split()

_VECTORS = ("char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "float", "double")


def _vectors() -> str:
    out = []
    for t in _VECTORS:
        for n in (2, 3, 4):
            args = ", ".join("xyzw"[:n])
            body = ", ".join(f"({a})" for a in "xyzw"[:n])
            out.append(f"#define make_{t}{n}({args}) (({t}{n})({body}))")
    for n in (2, 3, 4):
        args = ", ".join("xyzw"[:n])
        body = ", ".join(f"({a})" for a in "xyzw"[:n])
        out.append(f"#define make_longlong{n}({args}) ((long{n})({body}))")
        out.append(f"#define make_ulonglong{n}({args}) ((ulong{n})({body}))")
    return "\n".join(out)


def _atomics() -> str:
    """CUDA's atomics for __global and __local memory."""
    out = []
    native32 = {"atomicAdd": "atomic_add", "atomicSub": "atomic_sub", "atomicExch": "atomic_xchg",
                "atomicMin": "atomic_min", "atomicMax": "atomic_max", "atomicAnd": "atomic_and",
                "atomicOr": "atomic_or", "atomicXor": "atomic_xor"}
    native64 = {"atomicAdd": "atom_add", "atomicExch": "atom_xchg", "atomicMin": "atom_min", "atomicMax": "atom_max",
                "atomicAnd": "atom_and", "atomicOr": "atom_or", "atomicXor": "atom_xor"}
    for space in ("__global", "__local"):
        p = f"volatile {space}"
        for cuda, ocl in native32.items():
            for t in ("int", "uint"):
                out.append(f"course_overload inline {t} {cuda}({p} {t} *a, {t} v) {{ return {ocl}(a, v); }}")
        out.append(f"course_overload inline float atomicExch({p} float *a, float v) {{ return atomic_xchg(a, v); }}")
        for t in ("int", "uint"):
            out.append(f"course_overload inline {t} atomicCAS({p} {t} *a, {t} c, {t} v) "
                       f"{{ return atomic_cmpxchg(a, c, v); }}")
        out.append(f"course_overload inline float atomicAdd({p} float *a, float v) {{\n"
                   f"  {p} uint *u = ({p} uint *)a; uint old = 0u;\n"
                   f"  for (;;) {{ uint seen = atomic_cmpxchg(u, old, as_uint(as_float(old) + v));\n"
                   f"    if (seen == old) return as_float(old); old = seen; }}\n}}")
        out.append(f"course_overload inline uint atomicInc({p} uint *a, uint m) {{\n"
                   f"  uint old = 0u;\n"
                   f"  for (;;) {{ uint seen = atomic_cmpxchg(a, old, old >= m ? 0u : old + 1u);\n"
                   f"    if (seen == old) return old; old = seen; }}\n}}")
        out.append(f"course_overload inline uint atomicDec({p} uint *a, uint m) {{\n"
                   f"  uint old = 0u;\n"
                   f"  for (;;) {{ uint seen = atomic_cmpxchg(a, old, (old == 0u || old > m) ? m : old - 1u);\n"
                   f"    if (seen == old) return old; old = seen; }}\n}}")
        out.append("#ifdef cl_khr_int64_base_atomics")
        for cuda, ocl in native64.items():
            for t in ("long", "ulong"):
                if cuda in ("atomicAdd", "atomicExch", "atomicAnd", "atomicOr", "atomicXor") and t == "long":
                    continue
                out.append(f"course_overload inline {t} {cuda}({p} {t} *a, {t} v) {{ return {ocl}(a, v); }}")
        out.append(f"course_overload inline ulong atomicCAS({p} ulong *a, ulong c, ulong v) "
                   f"{{ return atom_cmpxchg(a, c, v); }}")
        out.append(f"course_overload inline double atomicAdd({p} double *a, double v) {{\n"
                   f"  {p} ulong *u = ({p} ulong *)a; ulong old = 0ul;\n"
                   f"  for (;;) {{ ulong seen = atom_cmpxchg(u, old, as_ulong(as_double(old) + v));\n"
                   f"    if (seen == old) return as_double(old); old = seen; }}\n}}")
        out.append("#endif")
    return "\n".join(out)


_ASSERT = r"""
void course_assert_failed(__global volatile int *flags, int id) {
  if (atomic_cmpxchg(flags, 0, id) == 0) {
    flags[1] = (int)get_local_id(0); flags[2] = (int)get_local_id(1); flags[3] = (int)get_local_id(2);
    flags[4] = (int)get_group_id(0); flags[5] = (int)get_group_id(1); flags[6] = (int)get_group_id(2);
  }
}
"""

PRELUDE = "\n".join([
    _HEAD.replace("\n", f'\n#line 2 "{PRELUDE_NAME}"\n', 1),
    "\n".join(f"#define {f}f {f}" for f in _MATH_F),
    _vectors(),
    _atomics(),
    _ASSERT,
])
