"""C code for the matrix products: ``Gemm``, ``Gemv``, ``Ger``, ``BlasDot``, ``Dot``, ``Matmul``.

Every product calls BLAS through ``ctx->blas`` (SciPy's function pointers,
csrc/sg_abi.h): Fortran conventions, column-major.  symgraph's arrays are
row-major, and a row-major ``C = X Y`` is the column-major ``C^T = Y^T X^T``,
so the node functions swap the operands instead of transposing anything: a
row-major matrix is, to BLAS, its own transpose stored column-major.  A
C-contiguous operand, an F-contiguous one, and any view whose rows or whose
columns are contiguous (a slice, a transposed view) go to BLAS as they are,
with the 'N'/'T' flag and leading dimension that describe them; only an
operand that BLAS cannot describe (strided in both dimensions, negative or
zero strides) is first copied into a contiguous scratch buffer.

The semantics are ``perform``'s (symgraph/tensor/blas.py, math.py): the
accumulator broadcasts against the product at run time (then the product
goes to a scratch buffer and one loop combines them); where beta is 0 the
accumulator is not read; an in-place op writes into its accumulator when BLAS
can write its strides and no other operand shares its memory (else into a
fresh buffer, still correct).  Size-0 dimensions never reach BLAS (it wants
``ld >= 1``); a product over an empty inner dimension is ``alpha * 0``.  BLAS
takes ``int`` dimensions: larger ones fail with a ValueError.

The C helpers are emitted once per module: each node function's source
carries them inside ``#ifndef`` guards, so the first copy defines them and the
others are skipped by the preprocessor.  Float32 and float64 only; other
dtypes (and mixed-dtype ``Dot``) run ``perform``.
"""
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.tensor.blas import BlasDot, Gemm, Gemv, Ger
from symgraph.tensor.math import Dot, Matmul

_PREFIX = {"float32": ("float", "s"), "float64": ("double", "d")}

# -- C shared by every dtype ----------------------------------------------------------
_COMMON = r"""
#ifndef SG_BLAS_COMMON
#define SG_BLAS_COMMON
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* O1: the helpers only arrange BLAS calls and rare loops; -O3's vectorizer would
 * triple their compile time for nothing */
#pragma GCC push_options
#pragma GCC optimize ("O1")

/* A matrix as the helpers see it: rows x cols, strides in bytes.  A vector is a
 * rows x 1 matrix (its column stride is never used). */
typedef struct { char *data; int64_t rows, cols, s0, s1; } sg_mat;

static inline sg_mat sg_mat_of(const sg_array *a)  /* a matrix, or a vector as a column */
{
    sg_mat m = {a->data, a->shape[0], a->ndim > 1 ? a->shape[1] : 1, a->strides[0],
                a->ndim > 1 ? a->strides[1] : 0};
    return m;
}

static inline sg_mat sg_mat_t(sg_mat m)  /* the transposed view */
{
    sg_mat t = {m.data, m.cols, m.rows, m.s1, m.s0};
    return t;
}

/* How column-major BLAS can read the row-major matrix m without a copy:
 * 'N': its rows are contiguous, so its memory is m^T column-major, ld = row stride;
 * 'T': its columns are contiguous, so its memory is m column-major, ld = column stride.
 * 0: neither (strided both ways, negative or zero strides, an ld over INT_MAX).
 * A dimension of one element takes any stride: BLAS never steps along it. */
static char sg_blas_layout(const sg_mat *m, int64_t itemsize, int *ld)
{
    const int64_t r = m->rows, c = m->cols;
    const int64_t s0 = m->s0 % itemsize ? -1 : m->s0 / itemsize;
    const int64_t s1 = m->s1 % itemsize ? -1 : m->s1 / itemsize;
    const int64_t min_r = r > 1 ? r : 1, min_c = c > 1 ? c : 1;
    if ((c == 1 || s1 == 1) && (r == 1 || s0 >= min_c)) {
        const int64_t lead = r == 1 ? min_c : s0;
        if (lead <= INT_MAX) {
            *ld = (int)lead;
            return 'N';
        }
    }
    if ((r == 1 || s0 == 1) && (c == 1 || s1 >= min_r)) {
        const int64_t lead = c == 1 ? min_r : s1;
        if (lead <= INT_MAX) {
            *ld = (int)lead;
            return 'T';
        }
    }
    return 0;
}

/* The BLAS increment of a vector (a rows x 1 sg_mat), 0 where BLAS cannot take its
 * stride (zero from broadcasting, negative, not a whole number of items). */
static int sg_blas_inc(const sg_mat *v, int64_t itemsize)
{
    if (v->rows == 1)
        return 1;
    if (v->s0 <= 0 || v->s0 % itemsize || v->s0 / itemsize > INT_MAX)
        return 0;
    return (int)(v->s0 / itemsize);
}

/* Whether the memory two arrays span intersects (conservative: extents, not elements). */
static int sg_blas_overlap(const sg_array *a, const sg_array *b, int64_t itemsize)
{
    char *lo[2], *hi[2];
    const sg_array *ab[2] = {a, b};
    for (int q = 0; q < 2; q++) {
        lo[q] = hi[q] = ab[q]->data;
        for (int d = 0; d < ab[q]->ndim; d++) {
            if (ab[q]->shape[d] == 0)
                return 0;
            const int64_t span = (ab[q]->shape[d] - 1) * ab[q]->strides[d];
            if (span < 0)
                lo[q] += span;
            else
                hi[q] += span;
        }
        hi[q] += itemsize;
    }
    return lo[0] < hi[1] && lo[1] < hi[0];
}

static int sg_blas_fail_shapes(sg_ctx *ctx, const char *op, const char *what, int nda,
                               const int64_t *a, int ndb, const int64_t *b)
{
    char sa[160], sb[160];
    return ctx->fail(ctx, SG_ERR_VALUE, "%s: %s %s and %s", op, what,
                     sg_shape_text(sa, sizeof sa, nda, a), sg_shape_text(sb, sizeof sb, ndb, b));
}

/* The broadcast of two shapes of ndim dims (NumPy's rule), or -1. */
static int sg_blas_broadcast(int ndim, const int64_t *a, const int64_t *b, int64_t *shape)
{
    for (int d = 0; d < ndim; d++) {
        if (a[d] != b[d] && a[d] != 1 && b[d] != 1)
            return -1;
        shape[d] = a[d] == 1 ? b[d] : a[d];
    }
    return 0;
}

/* BLAS takes int dimensions. */
static int sg_blas_check_int(sg_ctx *ctx, const char *op, int64_t m, int64_t n, int64_t k)
{
    if (m <= INT_MAX && n <= INT_MAX && k <= INT_MAX)
        return 0;
    return ctx->fail(ctx, SG_ERR_VALUE, "%s: dimensions (m, n, k) = (%lld, %lld, %lld) exceed "
                     "BLAS's int range", op, (long long)m, (long long)n, (long long)k);
}

/* n items of itemsize bytes from malloc, or a MemoryError. */
static void *sg_blas_scratch(sg_ctx *ctx, int64_t rows, int64_t cols, int64_t itemsize)
{
    void *p = NULL;
    if (rows > 0 && cols > 0 && (uint64_t)rows <= SIZE_MAX / (uint64_t)cols / (uint64_t)itemsize)
        p = malloc((size_t)rows * (size_t)cols * (size_t)itemsize);
    if (!p)
        ctx->fail(ctx, SG_ERR_MEMORY, "BLAS scratch buffer of %lld x %lld items: out of memory",
                  (long long)rows, (long long)cols);
    return p;
}
#pragma GCC pop_options
#endif
"""

# -- C for one dtype: @T@ is the C type, @P@ BLAS's prefix (s, d) -----------------------
_TYPED = r"""
#ifndef SG_BLAS_@P@
#define SG_BLAS_@P@
#pragma GCC push_options
#pragma GCC optimize ("O1")
#define SG_@P@AT(m, i, j) (*(@T@ *)((m).data + (i) * (m).s0 + (j) * (m).s1))

/* dst = src, elementwise (same shapes, any strides) */
static void sg_@P@copy(sg_mat dst, sg_mat src)
{
    const int64_t row = dst.cols * (int64_t)sizeof(@T@);
    if ((dst.cols == 1 || (dst.s1 == sizeof(@T@) && src.s1 == sizeof(@T@))) &&
        (dst.rows == 1 || (dst.s0 == row && src.s0 == row))) {
        memcpy(dst.data, src.data, (size_t)(dst.rows * row));
        return;
    }
    for (int64_t i = 0; i < dst.rows; i++)
        for (int64_t j = 0; j < dst.cols; j++)
            SG_@P@AT(dst, i, j) = SG_@P@AT(src, i, j);
}

static void sg_@P@fill(sg_mat dst, @T@ value)
{
    for (int64_t i = 0; i < dst.rows; i++)
        for (int64_t j = 0; j < dst.cols; j++)
            SG_@P@AT(dst, i, j) = value;
}

/* *m as BLAS reads it: flag and ld of its layout; copied into *scratch (freed by the
 * caller) only when BLAS cannot read its strides (both strided, negative or zero). */
static int sg_@P@operand(sg_ctx *ctx, sg_mat *m, char *trans, int *ld, void **scratch)
{
    *trans = sg_blas_layout(m, sizeof(@T@), ld);
    if (*trans)
        return 0;
    @T@ *buf = sg_blas_scratch(ctx, m->rows, m->cols, sizeof(@T@));
    if (!buf)
        return -1;
    sg_mat packed = {(char *)buf, m->rows, m->cols, m->cols * (int64_t)sizeof(@T@),
                     sizeof(@T@)};
    sg_@P@copy(packed, *m);
    *m = packed;
    *scratch = buf;
    *trans = sg_blas_layout(m, sizeof(@T@), ld);
    return 0;
}

/* A vector's data and increment for BLAS; copied into *scratch (freed by the caller)
 * only when BLAS cannot step its stride (zero from broadcasting, negative). */
static int sg_@P@vector(sg_ctx *ctx, sg_mat *v, int *inc, void **scratch)
{
    *inc = sg_blas_inc(v, sizeof(@T@));
    if (*inc)
        return 0;
    @T@ *buf = sg_blas_scratch(ctx, v->rows, 1, sizeof(@T@));
    if (!buf)
        return -1;
    sg_mat packed = {(char *)buf, v->rows, 1, sizeof(@T@), sizeof(@T@)};
    sg_@P@copy(packed, *v);
    *v = packed;
    *scratch = buf;
    *inc = 1;
    return 0;
}

/* y = alpha a x + beta y: a (m x k), x (k), y (m) with a BLAS increment,
 * 1 <= m, k <= INT_MAX; y must hold numbers (not read by BLAS where beta == 0, but the
 * callers zero it first so that no BLAS build can carry a NaN through). */
static int sg_@P@gemv_rm(sg_ctx *ctx, sg_mat y, sg_mat a, sg_mat x, @T@ alpha, @T@ beta)
{
    int lda, incx, incy = sg_blas_inc(&y, sizeof(@T@));
    void *sa = NULL, *sx = NULL;
    char ta;
    int rc = sg_@P@operand(ctx, &a, &ta, &lda, &sa);
    if (!rc)
        rc = sg_@P@vector(ctx, &x, &incx, &sx);
    if (!rc) {
        int m = (int)a.rows, k = (int)a.cols;
        char t = ta == 'N' ? 'T' : 'N';  /* 'N': a's memory is a^T column-major */
        if (ta == 'N')
            ctx->blas->@P@gemv(&t, &k, &m, &alpha, (@T@ *)a.data, &lda, (@T@ *)x.data, &incx,
                               &beta, (@T@ *)y.data, &incy);
        else
            ctx->blas->@P@gemv(&t, &m, &k, &alpha, (@T@ *)a.data, &lda, (@T@ *)x.data, &incx,
                               &beta, (@T@ *)y.data, &incy);
    }
    free(sa);
    free(sx);
    return rc;
}

/* out += alpha x y^T: x (m), y (n), out (m x n) writable by BLAS, 1 <= m, n <= INT_MAX */
static int sg_@P@ger_rm(sg_ctx *ctx, sg_mat out, sg_mat x, sg_mat y, @T@ alpha)
{
    int ld, incx, incy;
    void *sx = NULL, *sy = NULL;
    char layout = sg_blas_layout(&out, sizeof(@T@), &ld);
    int rc = sg_@P@vector(ctx, &x, &incx, &sx);
    if (!rc)
        rc = sg_@P@vector(ctx, &y, &incy, &sy);
    if (!rc) {
        int m = (int)x.rows, n = (int)y.rows;
        if (layout == 'N')  /* row-major out: out^T += alpha y x^T, column-major */
            ctx->blas->@P@ger(&n, &m, &alpha, (@T@ *)y.data, &incy, (@T@ *)x.data, &incx,
                              (@T@ *)out.data, &ld);
        else
            ctx->blas->@P@ger(&m, &n, &alpha, (@T@ *)x.data, &incx, (@T@ *)y.data, &incy,
                              (@T@ *)out.data, &ld);
    }
    free(sx);
    free(sy);
    return rc;
}

/* out = alpha x y + beta out: x (m x k), y (k x n), out (m x n) writable by BLAS
 * (sg_blas_layout not 0), 1 <= m, n, k <= INT_MAX.  Out is not read where beta == 0. */
static int sg_@P@gemm_rm(sg_ctx *ctx, sg_mat out, sg_mat x, sg_mat y, @T@ alpha, @T@ beta)
{
    int ldc, ldx, ldy;
    if (sg_blas_layout(&out, sizeof(@T@), &ldc) == 'T') {
        /* a column-major out: compute out^T = y^T x^T, whose out is row-major */
        sg_mat new_x = sg_mat_t(y), new_y = sg_mat_t(x);
        out = sg_mat_t(out);
        x = new_x;
        y = new_y;
        sg_blas_layout(&out, sizeof(@T@), &ldc);
    }
    /* A product that is a matrix times a vector (a batch of 1), or an outer product
     * added to out (the batch-1 weight update), goes to gemv / ger: gemm's blocking
     * and packing only cost time there. */
    const int64_t item = sizeof(@T@);
    if (x.rows == 1 || y.cols == 1) {
        sg_mat out_v = {out.data, out.rows, 1, out.s0, 0};       /* out is a column */
        sg_mat a = x, v = {y.data, y.rows, 1, y.s0, 0};
        if (x.rows == 1) {  /* out is a row: out^T = y^T x^T */
            const sg_mat out_row = {out.data, out.cols, 1, out.s1, 0};
            const sg_mat x_row = {x.data, x.cols, 1, x.s1, 0};
            out_v = out_row;
            a = sg_mat_t(y);
            v = x_row;
        }
        if (sg_blas_inc(&out_v, item)) {
            if (beta == 0)
                sg_@P@fill(out_v, 0);
            return sg_@P@gemv_rm(ctx, out_v, a, v, alpha, beta);
        }
    }
    if (x.cols == 1 && beta == 1) {
        const sg_mat x_col = {x.data, x.rows, 1, x.s0, 0}, y_row = {y.data, y.cols, 1, y.s1, 0};
        return sg_@P@ger_rm(ctx, out, x_col, y_row, alpha);
    }
    void *sx = NULL, *sy = NULL;
    char tx, ty;
    int rc = sg_@P@operand(ctx, &x, &tx, &ldx, &sx);
    if (!rc)
        rc = sg_@P@operand(ctx, &y, &ty, &ldy, &sy);
    if (!rc) {
        /* row-major out = x y is column-major out^T = y^T x^T: y first */
        int m = (int)x.rows, n = (int)y.cols, k = (int)x.cols;
        ctx->blas->@P@gemm(&ty, &tx, &n, &m, &k, &alpha, (@T@ *)y.data, &ldy, (@T@ *)x.data,
                           &ldx, &beta, (@T@ *)out.data, &ldc);
    }
    free(sx);
    free(sy);
    return rc;
}

#pragma GCC pop_options
#endif
"""

_GEMM = r"""
#ifndef SG_BLAS_@P@GEMM
#define SG_BLAS_@P@GEMM
#pragma GCC push_options
#pragma GCC optimize ("O1")
/* beta z + alpha x y where z broadcasts against the product (or k == 0): the product
 * goes to scratch (alpha * 0 for an empty k, as perform's alpha * dot), then one loop. */
static int sg_@P@gemm_broadcast(sg_ctx *ctx, sg_mat out, sg_mat z, sg_mat x, sg_mat y,
                                @T@ alpha, @T@ beta)
{
    const int64_t m = x.rows, n = y.cols;
    @T@ *buf = sg_blas_scratch(ctx, m, n, sizeof(@T@));
    if (!buf)
        return -1;
    sg_mat p = {(char *)buf, m, n, n * (int64_t)sizeof(@T@), sizeof(@T@)};
    if (!x.cols)
        sg_@P@fill(p, alpha * (@T@)0);
    else if (sg_@P@gemm_rm(ctx, p, x, y, alpha, 0)) {
        free(buf);
        return -1;
    }
    for (int64_t i = 0; i < out.rows; i++)
        for (int64_t j = 0; j < out.cols; j++) {
            const @T@ product = SG_@P@AT(p, m == 1 ? 0 : i, n == 1 ? 0 : j);
            SG_@P@AT(out, i, j) = beta == 0 ? product
                : beta * SG_@P@AT(z, z.rows == 1 ? 0 : i, z.cols == 1 ? 0 : j) + product;
        }
    free(buf);
    return 0;
}

/* Gemm: in = (z, alpha, x, y, beta); out = beta z + alpha x y */
static int sg_@P@gemm_node(sg_ctx *ctx, const char *op, int inplace, const sg_array *in,
                           sg_array *out)
{
    const sg_array *z = &in[0], *x = &in[2], *y = &in[3];
    const @T@ alpha = *(const @T@ *)in[1].data, beta = *(const @T@ *)in[4].data;
    const int64_t m = x->shape[0], k = x->shape[1], n = y->shape[1], product[2] = {m, n};
    int64_t shape[2];
    int ld;
    if (y->shape[0] != k)
        return sg_blas_fail_shapes(ctx, op, "the product's inner dimensions differ: X", 2,
                                   x->shape, 2, y->shape);
    if (sg_blas_broadcast(2, z->shape, product, shape))
        return sg_blas_fail_shapes(ctx, op, "the accumulator does not broadcast with the "
                                   "product:", 2, z->shape, 2, product);
    if (sg_blas_check_int(ctx, op, m, n, k))
        return -1;
    const sg_mat zm = sg_mat_of(z), xm = sg_mat_of(x), ym = sg_mat_of(y);
    if (z->shape[0] == m && z->shape[1] == n && m && n && k) {
        if (inplace && sg_blas_layout(&zm, sizeof(@T@), &ld) &&
            !sg_blas_overlap(z, x, sizeof(@T@)) && !sg_blas_overlap(z, y, sizeof(@T@))) {
            const int rc = ctx->alias(ctx, 0, 0, &out[0]);
            if (rc <= 0)  /* BLAS reads z only where beta != 0 */
                return rc < 0 ? -1 : sg_@P@gemm_rm(ctx, sg_mat_of(&out[0]), xm, ym, alpha, beta);
        }
        if (ctx->alloc(ctx, 0, 2, shape, &out[0]))
            return -1;
        const sg_mat om = sg_mat_of(&out[0]);
        if (beta != 0)  /* else the uninitialized out is not read (BLAS's beta == 0 rule) */
            sg_@P@copy(om, zm);
        return sg_@P@gemm_rm(ctx, om, xm, ym, alpha, beta);
    }
    if (ctx->alloc(ctx, 0, 2, shape, &out[0]))
        return -1;
    if (!shape[0] || !shape[1])
        return 0;
    return sg_@P@gemm_broadcast(ctx, sg_mat_of(&out[0]), zm, xm, ym, alpha, beta);
}
#pragma GCC pop_options
#endif
"""

_GEMV = r"""
#ifndef SG_BLAS_@P@GEMV
#define SG_BLAS_@P@GEMV
#pragma GCC push_options
#pragma GCC optimize ("O1")
/* Gemv: in = (y, alpha, a, x, beta); out = beta y + alpha a x */
static int sg_@P@gemv_node(sg_ctx *ctx, const char *op, int inplace, const sg_array *in,
                           sg_array *out)
{
    const sg_array *y = &in[0], *a = &in[2], *x = &in[3];
    const @T@ alpha = *(const @T@ *)in[1].data, beta = *(const @T@ *)in[4].data;
    const int64_t m = a->shape[0], k = a->shape[1];
    int64_t shape[1];
    if (x->shape[0] != k)
        return sg_blas_fail_shapes(ctx, op, "the product's inner dimensions differ: A", 2,
                                   a->shape, 1, x->shape);
    if (sg_blas_broadcast(1, y->shape, &m, shape))
        return sg_blas_fail_shapes(ctx, op, "the accumulator does not broadcast with the "
                                   "product:", 1, y->shape, 1, &m);
    if (sg_blas_check_int(ctx, op, m, 1, k))
        return -1;
    const sg_mat ym = sg_mat_of(y), am = sg_mat_of(a), xm = sg_mat_of(x);
    if (y->shape[0] == m && m && k) {
        if (inplace && sg_blas_inc(&ym, sizeof(@T@)) && !sg_blas_overlap(y, a, sizeof(@T@)) &&
            !sg_blas_overlap(y, x, sizeof(@T@))) {
            const int rc = ctx->alias(ctx, 0, 0, &out[0]);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                const sg_mat om = sg_mat_of(&out[0]);
                if (beta == 0)
                    sg_@P@fill(om, 0);
                return sg_@P@gemv_rm(ctx, om, am, xm, alpha, beta);
            }
        }
        if (ctx->alloc(ctx, 0, 1, shape, &out[0]))
            return -1;
        const sg_mat om = sg_mat_of(&out[0]);
        if (beta != 0)
            sg_@P@copy(om, ym);
        else
            sg_@P@fill(om, 0);
        return sg_@P@gemv_rm(ctx, om, am, xm, alpha, beta);
    }
    if (ctx->alloc(ctx, 0, 1, shape, &out[0]))
        return -1;
    if (!shape[0])
        return 0;
    /* y broadcasts against the product (or k == 0): the product goes to scratch */
    @T@ *buf = sg_blas_scratch(ctx, m, 1, sizeof(@T@));
    if (!buf)
        return -1;
    const sg_mat p = {(char *)buf, m, 1, sizeof(@T@), sizeof(@T@)}, om = sg_mat_of(&out[0]);
    sg_@P@fill(p, k ? 0 : alpha * (@T@)0);
    if (k && sg_@P@gemv_rm(ctx, p, am, xm, alpha, 0)) {
        free(buf);
        return -1;
    }
    for (int64_t i = 0; i < shape[0]; i++) {
        const @T@ product = buf[m == 1 ? 0 : i];
        SG_@P@AT(om, i, 0) = beta == 0 ? product
            : beta * SG_@P@AT(ym, ym.rows == 1 ? 0 : i, 0) + product;
    }
    free(buf);
    return 0;
}
#pragma GCC pop_options
#endif
"""

_GER = r"""
#ifndef SG_BLAS_@P@GER
#define SG_BLAS_@P@GER
#pragma GCC push_options
#pragma GCC optimize ("O1")
/* Ger: in = (a, alpha, x, y); out = a + alpha outer(x, y) */
static int sg_@P@ger_node(sg_ctx *ctx, const char *op, int inplace, const sg_array *in,
                          sg_array *out)
{
    const sg_array *a = &in[0], *x = &in[2], *y = &in[3];
    const @T@ alpha = *(const @T@ *)in[1].data;
    const int64_t m = x->shape[0], n = y->shape[0], product[2] = {m, n};
    int64_t shape[2];
    int ld;
    if (sg_blas_broadcast(2, a->shape, product, shape))
        return sg_blas_fail_shapes(ctx, op, "the accumulator does not broadcast with the "
                                   "product:", 2, a->shape, 2, product);
    if (sg_blas_check_int(ctx, op, m, n, 1))
        return -1;
    const sg_mat am = sg_mat_of(a), xm = sg_mat_of(x), ym = sg_mat_of(y);
    if (a->shape[0] == m && a->shape[1] == n && m && n) {
        if (inplace && sg_blas_layout(&am, sizeof(@T@), &ld) &&
            !sg_blas_overlap(a, x, sizeof(@T@)) && !sg_blas_overlap(a, y, sizeof(@T@))) {
            const int rc = ctx->alias(ctx, 0, 0, &out[0]);
            if (rc <= 0)
                return rc < 0 ? -1 : sg_@P@ger_rm(ctx, sg_mat_of(&out[0]), xm, ym, alpha);
        }
        if (ctx->alloc(ctx, 0, 2, shape, &out[0]))
            return -1;
        const sg_mat om = sg_mat_of(&out[0]);
        sg_@P@copy(om, am);
        return sg_@P@ger_rm(ctx, om, xm, ym, alpha);
    }
    if (ctx->alloc(ctx, 0, 2, shape, &out[0]))
        return -1;
    const sg_mat om = sg_mat_of(&out[0]);
    /* a broadcasts against the product: one loop, a + alpha * (x y) as perform's NumPy */
    for (int64_t i = 0; i < shape[0]; i++)
        for (int64_t j = 0; j < shape[1]; j++)
            SG_@P@AT(om, i, j) = SG_@P@AT(am, am.rows == 1 ? 0 : i, am.cols == 1 ? 0 : j) +
                alpha * (SG_@P@AT(xm, m == 1 ? 0 : i, 0) * SG_@P@AT(ym, n == 1 ? 0 : j, 0));
    return 0;
}
#pragma GCC pop_options
#endif
"""

_DOT = r"""
#ifndef SG_BLAS_@P@DOT
#define SG_BLAS_@P@DOT
#pragma GCC push_options
#pragma GCC optimize ("O1")
/* dot(x, y) for 1-d/2-d operands (np.dot): gemm, gemv (either side) or dot */
static int sg_@P@dot_node(sg_ctx *ctx, const char *op, const sg_array *in, sg_array *out)
{
    const sg_array *x = &in[0], *y = &in[1];
    const int64_t k = x->shape[x->ndim - 1];
    if (y->shape[0] != k) {
        char what[96];
        snprintf(what, sizeof what, "not aligned (%lld in dim %d != %lld in dim 0): shapes",
                 (long long)k, x->ndim - 1, (long long)y->shape[0]);
        return sg_blas_fail_shapes(ctx, op, what, x->ndim, x->shape, y->ndim, y->shape);
    }
    int64_t shape[2];
    int nd = 0;
    if (x->ndim == 2)
        shape[nd++] = x->shape[0];
    if (y->ndim == 2)
        shape[nd++] = y->shape[1];
    if (sg_blas_check_int(ctx, op, nd > 0 ? shape[0] : 1, nd > 1 ? shape[1] : 1, k) ||
        ctx->alloc(ctx, 0, nd, shape, &out[0]))
        return -1;
    const sg_mat xm = sg_mat_of(x), ym = sg_mat_of(y);
    if (nd == 0) {  /* vector . vector */
        @T@ result = 0;
        if (k) {
            void *sx = NULL, *sy = NULL;
            sg_mat xv = xm, yv = ym;
            int incx, incy;
            int rc = sg_@P@vector(ctx, &xv, &incx, &sx);
            if (!rc)
                rc = sg_@P@vector(ctx, &yv, &incy, &sy);
            if (!rc) {
                int kk = (int)k;
                result = ctx->blas->@P@dot(&kk, (@T@ *)xv.data, &incx, (@T@ *)yv.data, &incy);
            }
            free(sx);
            free(sy);
            if (rc)
                return -1;
        }
        *(@T@ *)out[0].data = result;
        return 0;
    }
    sg_mat om = sg_mat_of(&out[0]);
    if (om.rows == 0 || om.cols == 0)
        return 0;
    if (!k || nd == 1)  /* zeros for an empty k; gemv's y must hold numbers */
        sg_@P@fill(om, 0);
    if (!k)
        return 0;
    if (nd == 2)
        return sg_@P@gemm_rm(ctx, om, xm, ym, 1, 0);
    if (x->ndim == 2)
        return sg_@P@gemv_rm(ctx, om, xm, ym, 1, 0);
    return sg_@P@gemv_rm(ctx, om, sg_mat_t(ym), xm, 1, 0);  /* x y = y^T x */
}
#pragma GCC pop_options
#endif
"""

_MATMUL = r"""
#ifndef SG_BLAS_@P@MATMUL
#define SG_BLAS_@P@MATMUL
#pragma GCC push_options
#pragma GCC optimize ("O1")
/* matmul of x (..., m, k) and y (..., k, n) into out of nd dims: one gemm per matrix
 * of the broadcast batch dimensions */
static int sg_@P@matmul_node(sg_ctx *ctx, const char *op, int nd, const sg_array *in,
                             sg_array *out)
{
    const sg_array *x = &in[0], *y = &in[1];
    const int nb = nd - 2, xb = x->ndim - 2, yb = y->ndim - 2;
    const int64_t m = x->shape[xb], k = x->shape[xb + 1], n = y->shape[yb + 1];
    int64_t shape[SG_MAXDIMS], xs[SG_MAXDIMS], ys[SG_MAXDIMS], index[SG_MAXDIMS];
    if (y->shape[yb] != k)
        return sg_blas_fail_shapes(ctx, op, "the product's inner dimensions differ:",
                                   x->ndim, x->shape, y->ndim, y->shape);
    int64_t n_matrices = 1;
    for (int d = 0; d < nb; d++) {  /* batch dims, aligned on the right */
        const int dx = d - (nb - xb), dy = d - (nb - yb);
        const int64_t sx = dx >= 0 ? x->shape[dx] : 1, sy = dy >= 0 ? y->shape[dy] : 1;
        if (sx != sy && sx != 1 && sy != 1)
            return sg_blas_fail_shapes(ctx, op, "batch dimensions do not broadcast:",
                                       x->ndim, x->shape, y->ndim, y->shape);
        shape[d] = sx == 1 ? sy : sx;
        xs[d] = sx == 1 ? 0 : x->strides[dx];
        ys[d] = sy == 1 ? 0 : y->strides[dy];
        index[d] = 0;
        n_matrices *= shape[d];
    }
    shape[nb] = m;
    shape[nb + 1] = n;
    if (sg_blas_check_int(ctx, op, m, n, k) || ctx->alloc(ctx, 0, nd, shape, &out[0]))
        return -1;
    if (!n_matrices || !m || !n)
        return 0;
    sg_mat xm = {x->data, m, k, x->strides[xb], x->strides[xb + 1]};
    sg_mat ym = {y->data, k, n, y->strides[yb], y->strides[yb + 1]};
    sg_mat om = {out[0].data, m, n, out[0].strides[nb], out[0].strides[nb + 1]};
    for (int64_t b = 0; b < n_matrices; b++) {
        if (!k)
            sg_@P@fill(om, 0);
        else if (sg_@P@gemm_rm(ctx, om, xm, ym, 1, 0))
            return -1;
        om.data += m * n * (int64_t)sizeof(@T@);  /* out is C-contiguous */
        for (int d = nb - 1; d >= 0; d--) {  /* the next batch index */
            xm.data += xs[d];
            ym.data += ys[d];
            if (++index[d] < shape[d])
                break;
            xm.data -= xs[d] * shape[d];
            ym.data -= ys[d] * shape[d];
            index[d] = 0;
        }
    }
    return 0;
}
#pragma GCC pop_options
#endif
"""

_SECTIONS = {"gemm": _GEMM, "gemv": _GEMV, "ger": _GER, "dot": _DOT, "matmul": _MATMUL}


def _helpers(dtype, section):
    """The guarded C helpers one node function of ``dtype`` needs, ``section`` last."""
    c_type, prefix = _PREFIX[dtype]
    typed = (_TYPED + _SECTIONS[section]).replace("@T@", c_type).replace("@P@", prefix)
    return _COMMON + typed


def _one_float_dtype(variables):
    """The dtype all ``variables`` share when BLAS takes it (float32/64), else None."""
    dtypes = {v.type.dtype for v in variables}
    dtype = dtypes.pop() if len(dtypes) == 1 else None
    return dtype if dtype in _PREFIX else None


def _node_function(name, dtype, section, call):
    return _helpers(dtype, section) + \
        f"\nstatic int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)\n" \
        f"{{\n    return sg_{_PREFIX[dtype][1]}{call};\n}}\n"


def _accumulating(node, name, section):
    dtype = _one_float_dtype(node.inputs + node.outputs)
    if dtype is None:
        return None
    call = f"{section}_node(ctx, {c_string(str(node.op))}, {int(node.op.inplace)}, in, out)"
    return _node_function(name, dtype, section, call)


@register_c_generator(Gemm)
def gemm_c_function(node, name):
    """The C source of a ``Gemm`` node's function ``name``, or None (perform).

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.blas import gemm
    >>> z = T.fmatrix('z')
    >>> "sg_sgemm_node" in gemm_c_function(gemm(z, 2.0, z, z, 1.0).owner, "sg_fn_0")
    True
    """
    return _accumulating(node, name, "gemm")


@register_c_generator(Gemv)
def gemv_c_function(node, name):
    """The C source of a ``Gemv`` node's function ``name``, or None (perform).

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.blas import gemv
    >>> y, a = T.dvector('y'), T.dmatrix('a')
    >>> "sg_dgemv_node" in gemv_c_function(gemv(y, 1.0, a, y, 0.0).owner, "sg_fn_0")
    True
    """
    return _accumulating(node, name, "gemv")


@register_c_generator(Ger)
def ger_c_function(node, name):
    """The C source of a ``Ger`` node's function ``name``, or None (perform).

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.blas import ger
    >>> a, x = T.imatrix('a'), T.ivector('x')
    >>> ger_c_function(ger(a, 1, x, x).owner, "sg_fn_0") is None  # integers: perform
    True
    """
    return _accumulating(node, name, "ger")


@register_c_generator(Dot)
@register_c_generator(BlasDot)
def dot_c_function(node, name):
    """The C source of a ``Dot``/``BlasDot`` node's function ``name``, or None (perform).

    >>> import symgraph.tensor as T
    >>> x, y = T.fmatrix('x'), T.fvector('y')
    >>> "sg_sdot_node" in dot_c_function(T.dot(x, y).owner, "sg_fn_0")
    True
    >>> dot_c_function(T.dot(x, T.dvector('z')).owner, "sg_fn_0") is None  # mixed dtypes
    True
    """
    dtype = _one_float_dtype(node.inputs + node.outputs)
    if dtype is None:
        return None
    return _node_function(name, dtype, "dot", f"dot_node(ctx, {c_string(str(node.op))}, in, out)")


@register_c_generator(Matmul)
def matmul_c_function(node, name):
    """The C source of a ``Matmul`` node's function ``name``, or None (perform).

    >>> import symgraph.tensor as T
    >>> a = T.tensor(dtype='float64', shape=(None, None, None))
    >>> "sg_dmatmul_node" in matmul_c_function(T.matmul(a, a).owner, "sg_fn_0")
    True
    """
    dtype = _one_float_dtype(node.inputs + node.outputs)
    if dtype is None:
        return None
    nd = node.outputs[0].type.ndim
    return _node_function(name, dtype, "matmul",
                          f"matmul_node(ctx, {c_string(str(node.op))}, {nd}, in, out)")
