/* sg_kernels.h: inline helpers for generated node functions.
 *
 * Pasted (so its text is part of every module's cache key) after sg_abi.h
 * into each generated module.  Only small inline functions live here; the
 * larger shared machinery (broadcasting, the n-d loop driver, errors) is in
 * sg_runtime.c, compiled once into the VM and reached through sg_ctx.  The
 * scalar functions below have NumPy's semantics where C's differ (floor
 * division, modulo, NaN-propagating max/min, overflow-free softplus).
 */
#ifndef SG_KERNELS_H
#define SG_KERNELS_H

#include <math.h>
#include <stdio.h>

/* glibc's vector math (libmvec): declared SIMD-callable, gcc vectorizes loops that
 * call these (e.g. 8 or 16 expf at once) instead of one scalar call per element.
 * The level (compiler.vector_math_level) says which ones this glibc has. */
#if defined(SG_VECTOR_MATH) && SG_VECTOR_MATH >= 1
#define SG_SIMD __attribute__((__simd__("notinbranch")))
#define SG_VECTORIZE(name) float name##f(float) SG_SIMD; double name(double) SG_SIMD;
SG_VECTORIZE(exp) SG_VECTORIZE(log) SG_VECTORIZE(sin) SG_VECTORIZE(cos)
float powf(float, float) SG_SIMD; double pow(double, double) SG_SIMD;
#if SG_VECTOR_MATH >= 2
SG_VECTORIZE(tanh) SG_VECTORIZE(expm1) SG_VECTORIZE(log1p) SG_VECTORIZE(log2)
SG_VECTORIZE(log10) SG_VECTORIZE(exp2) SG_VECTORIZE(sinh) SG_VECTORIZE(cosh)
SG_VECTORIZE(tan) SG_VECTORIZE(asin) SG_VECTORIZE(acos) SG_VECTORIZE(atan)
SG_VECTORIZE(asinh) SG_VECTORIZE(acosh) SG_VECTORIZE(atanh) SG_VECTORIZE(erf)
SG_VECTORIZE(erfc) SG_VECTORIZE(cbrt)
float atan2f(float, float) SG_SIMD; double atan2(double, double) SG_SIMD;
#endif
#endif

#include <tgmath.h>   /* exp(float) is expf: float32 stays float32 */

/* Loops shorter than this run on one core even when built with OpenMP: below it,
 * waking the thread team (a few microseconds) costs more than it saves. */
#define SG_OMP_MIN_ELEMENTS 32768

/* Data pointers and strides of nin inputs then nout outputs, strides laid out
 * [operand * ndim + dim]; a broadcast (size-1) input dim gets stride 0. */
static inline void sg_operands(int nin, const sg_array *in, int nout, const sg_array *out,
                               int ndim, char **data, int64_t *strides)
{
    for (int i = 0; i < nin; i++) {
        data[i] = in[i].data;
        for (int d = 0; d < ndim; d++)
            strides[i * ndim + d] = in[i].shape[d] == 1 ? 0 : in[i].strides[d];
    }
    for (int k = 0; k < nout; k++) {
        data[nin + k] = out[k].data;
        for (int d = 0; d < ndim; d++)
            strides[(nin + k) * ndim + d] = out[k].strides[d];
    }
}

static inline int sg_same_shape(const sg_array *a, const int64_t *shape, int ndim)
{
    for (int d = 0; d < ndim; d++)
        if (a->shape[d] != shape[d])
            return 0;
    return 1;
}

/* "(3, 4)" into buf, as NumPy prints shapes (for error messages). */
static const char *sg_shape_text(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %lld" : "%lld",
                                 (long long)shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
    return buf;
}

/* -- scalar functions with NumPy's semantics ------------------------------- */

/* Integer floor division and modulo as NumPy: x // 0 == 0, x % 0 == 0, and
 * INT_MIN // -1 wraps (computed through unsigned arithmetic: no C overflow). */
static inline int64_t sg_floordiv_i64(int64_t a, int64_t b)
{
    if (b == 0)
        return 0;
    if (b == -1)
        return (int64_t)(0 - (uint64_t)a);
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q -= 1;
    return q;
}

static inline int64_t sg_mod_i64(int64_t a, int64_t b)
{
    if (b == 0 || b == -1)
        return 0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return r;
}

static inline uint64_t sg_floordiv_u64(uint64_t a, uint64_t b) { return b ? a / b : 0; }
static inline uint64_t sg_mod_u64(uint64_t a, uint64_t b) { return b ? a % b : 0; }

/* Float modulo and floor division as Python and NumPy define them: the
 * remainder takes the divisor's sign, and the quotient is snapped to the
 * integer that makes a == q * b + r hold as closely as rounding allows. */
#define SG_FLOAT_DIVMOD(T, SUFFIX)                                              \
    static inline T sg_mod_##SUFFIX(T a, T b)                                   \
    {                                                                           \
        T r = fmod(a, b);                                                       \
        if (b == 0)                                                             \
            return r;                                                           \
        if (r != 0) {                                                           \
            if ((b < 0) != (r < 0))                                             \
                r += b;                                                         \
        } else {                                                                \
            r = copysign((T)0, b);                                              \
        }                                                                       \
        return r;                                                               \
    }                                                                           \
    static inline T sg_floordiv_##SUFFIX(T a, T b)                              \
    {                                                                           \
        if (b == 0)                                                             \
            return a / b;                                                       \
        T r = fmod(a, b);                                                       \
        T q = (a - r) / b;                                                      \
        if (r != 0 && ((b < 0) != (r < 0)))                                     \
            q -= 1;                                                             \
        if (q == 0)                                                             \
            return copysign((T)0, a / b);                                       \
        T f = floor(q);                                                         \
        return q - f > (T)0.5 ? f + 1 : f;                                      \
    }                                                                           \
    /* NumPy's maximum/minimum propagate NaN from either side */               \
    static inline T sg_max_##SUFFIX(T a, T b) { return (a >= b || a != a) ? a : b; } \
    static inline T sg_min_##SUFFIX(T a, T b) { return (a <= b || a != a) ? a : b; } \
    static inline T sg_sign_##SUFFIX(T a)                                       \
    {                                                                           \
        return a > 0 ? (T)1 : (a < 0 ? (T)-1 : (a == 0 ? (T)0 : a));           \
    }                                                                           \
    /* log(1 + exp(a)) without overflow for large a */                          \
    static inline T sg_softplus_##SUFFIX(T a)                                   \
    {                                                                           \
        return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));                      \
    }

SG_FLOAT_DIVMOD(float, f32)
SG_FLOAT_DIVMOD(double, f64)

#endif
