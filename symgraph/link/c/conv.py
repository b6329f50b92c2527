"""C code for the convolution ops (``symgraph/tensor/nnet/conv.py``): im2col + BLAS gemm.

Each image of the batch in turn is unrolled into a column buffer (one row per
filter tap and input channel, one column per output pixel; padding taps are
zeros, so the input is read in place through its strides, never padded), and
one gemm through ``ctx->blas`` (SciPy's BLAS, csrc/sg_abi.h) does the
products:

- forward: ``out[n] (O x P) = K (O x CKK) @ col_n (CKK x P)``;
- filter gradient: ``dK += top[n] (O x P) @ col_n^T``, summed over the batch;
- image gradient: ``dcol = K^T @ top[n]``, then col2im scatter-adds it into ``dx[n]``.

``K`` is the filters packed contiguous (rotated 180 degrees when the op flips
them).  Row-major products are handed to the column-major BLAS as the
transposed product, so nothing is transposed in memory.  Scratch buffers are
malloc'ed per call.  The geometry (padding, output size) and the shape checks
are those of ``perform``.

The images are independent, so the loop over them is an OpenMP loop (each
thread with its own column buffer; the filter gradient sums per-thread partial
sums) when the module is compiled with ``-fopenmp``; without it the pragmas are
compiled out and one buffer serves every image.

The helpers take the op's parameters at run time (in ``sg_conv_geom``) and are
emitted once per module and dtype (include guards), so a network with many
convolutions compiles them once; each node function only fills in its
parameters and calls them.
"""
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.tensor.nnet.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights

_C_TYPES = {"float32": ("float", "f32", "sgemm"), "float64": ("double", "f64", "dgemm")}
_FULL, _HALF = -1, -2  # sg_conv_geom.mode_h/mode_w for 'full' and 'half'; >= 0: the padding


def _mode_code(mode):
    return {"full": _FULL, "half": _HALF}.get(mode, mode) if isinstance(mode, str) else int(mode)


def _substitutions(node, name):
    op = node.op
    dtype = node.outputs[0].type.dtype
    if dtype not in _C_TYPES or any(v.type.dtype != dtype for v in node.inputs[:2]):
        return None
    ctype, suffix, gemm = _C_TYPES[dtype]
    modes = (op.border_mode,) * 2 if isinstance(op.border_mode, str) else op.border_mode
    params = [*op.subsample, *op.filter_dilation, *(_mode_code(m) for m in modes),
              int(op.filter_flip)]
    return {"@NAME@": name, "@T@": ctype, "@S@": suffix, "@GEMM@": gemm,
            "@LABEL@": c_string(str(op)), "@PARAMS@": ", ".join(map(str, params))}


def _fill(template, subs):
    for key, value in subs.items():
        template = template.replace(key, value)
    return template


def _generator(body):
    def generate(node, name):
        """The C source of the node function ``name`` (float32/float64 nodes), or None.

        >>> import symgraph.tensor as T
        >>> from symgraph.tensor.nnet import conv2d
        >>> src = conv2d_c_function(conv2d(T.ftensor4(), T.ftensor4()).owner, "sg_fn_0")
        >>> "static int sg_fn_0(sg_ctx *ctx" in src and "ctx->blas->sgemm" in src
        True
        """
        subs = _substitutions(node, name)
        return None if subs is None else _fill(_COMMON + _TYPED + body, subs)

    return generate


# Shape logic, the same for every dtype.
_COMMON = r"""
#ifndef SG_CONV_COMMON
#define SG_CONV_COMMON
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* below this many multiply-adds a parallel region costs more than it saves */
#define SG_CONV_PARALLEL_WORK (1 << 18)

typedef struct {
    int64_t sh, sw, dh, dw;  /* stride, dilation */
    int64_t mode_h, mode_w;  /* padding: >= 0, or -1 'full', -2 'half' */
    int64_t flip;            /* the kernel is the filters rotated by 180 degrees */
    const char *label;       /* the op, for error messages */
    int64_t n, c, h, w;      /* images */
    int64_t o, kh, kw;       /* filters */
    int64_t ph, pw, oh, ow;  /* padding and output size (sg_conv_geometry) */
} sg_conv_geom;

/* The threads for a loop over n images of this much work each (1 without OpenMP). */
static int sg_conv_threads(int64_t n, int64_t work_per_image)
{
#ifdef _OPENMP
    if (n < 2 || n * work_per_image < SG_CONV_PARALLEL_WORK)
        return 1;
    int64_t t = omp_get_max_threads();
    return (int)(t < n ? t : n);
#else
    (void)n;
    (void)work_per_image;
    return 1;
#endif
}

static int sg_conv_thread(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int64_t sg_conv_ceil_div(int64_t a, int64_t b)  /* b > 0, any a */
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static int64_t sg_conv_pad(int64_t mode, int64_t dilated)
{
    return mode == -1 ? dilated - 1 : (mode == -2 ? dilated / 2 : mode);
}

/* Padding and output size, as _Geometry in tensor/nnet/conv.py. */
static int sg_conv_geometry(sg_ctx *ctx, sg_conv_geom *g)
{
    if (g->kh < 1 || g->kw < 1)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: filters of spatial shape (%lld, %lld) are empty",
                         g->label, (long long)g->kh, (long long)g->kw);
    const int64_t dkh = (g->kh - 1) * g->dh + 1, dkw = (g->kw - 1) * g->dw + 1;
    g->ph = sg_conv_pad(g->mode_h, dkh);
    g->pw = sg_conv_pad(g->mode_w, dkw);
    const int64_t hp = g->h + 2 * g->ph, wp = g->w + 2 * g->pw;
    if (hp < dkh || wp < dkw)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: the image of spatial shape (%lld, %lld), padded "
                         "to (%lld, %lld), is smaller than the filters of spatial shape "
                         "(%lld, %lld) (dilated to (%lld, %lld))", g->label, (long long)g->h,
                         (long long)g->w, (long long)hp, (long long)wp, (long long)g->kh,
                         (long long)g->kw, (long long)dkh, (long long)dkw);
    g->oh = (hp - dkh) / g->sh + 1;
    g->ow = (wp - dkw) / g->sw + 1;
    if (g->c * g->kh * g->kw > INT32_MAX || g->oh * g->ow > INT32_MAX || g->o > INT32_MAX)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: the matrices are too large for BLAS (int sizes)",
                         g->label);
    if (ctx->blas == NULL)
        return ctx->fail(ctx, SG_ERR_RUNTIME, "%s: the VM has no BLAS (ctx->blas)", g->label);
    return 0;
}

/* The output columns j whose tap b reads the image, not the zero padding: [*lo, *hi). */
static void sg_conv_columns(const sg_conv_geom *g, int64_t b, int64_t *lo, int64_t *hi)
{
    int64_t first = sg_conv_ceil_div(g->pw - b * g->dw, g->sw);
    int64_t end = sg_conv_ceil_div(g->w + g->pw - b * g->dw, g->sw);
    *lo = first < 0 ? 0 : (first > g->ow ? g->ow : first);
    *hi = end > g->ow ? g->ow : (end < *lo ? *lo : end);
}

/* The filter tap (a, b) of kernel tap (a, b): rotated when the op flips filters. */
static int64_t sg_conv_tap(const sg_conv_geom *g, int64_t a, int64_t b)
{
    const int64_t fa = g->flip ? g->kh - 1 - a : a, fb = g->flip ? g->kw - 1 - b : b;
    return fa * g->kw + fb;
}

static int sg_conv_read_hw(sg_ctx *ctx, const sg_conv_geom *g, const sg_array *v, int64_t *h,
                           int64_t *w)
{
    if (v->ndim != 1 || v->shape[0] != 2)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: a spatial shape must have 2 entries", g->label);
    *h = *(const int64_t *)v->data;
    *w = *(const int64_t *)(v->data + v->strides[0]);
    if (*h < 0 || *w < 0)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: negative spatial shape (%lld, %lld)", g->label,
                         (long long)*h, (long long)*w);
    return 0;
}

static int sg_conv_check_top(sg_ctx *ctx, const sg_conv_geom *g, const sg_array *top)
{
    const int64_t *s = top->shape;
    if (s[0] != g->n || s[1] != g->o || s[2] != g->oh || s[3] != g->ow)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: the output gradient has shape (%lld, %lld, "
                         "%lld, %lld), but the convolution of spatial shape (%lld, %lld) with "
                         "filters of spatial shape (%lld, %lld) gives (%lld, %lld, %lld, %lld)",
                         g->label, (long long)s[0], (long long)s[1], (long long)s[2],
                         (long long)s[3], (long long)g->h, (long long)g->w, (long long)g->kh,
                         (long long)g->kw, (long long)g->n, (long long)g->o, (long long)g->oh,
                         (long long)g->ow);
    return 0;
}

static int sg_conv_no_memory(sg_ctx *ctx, const sg_conv_geom *g, void *a, void *b, void *c)
{
    free(a);
    free(b);
    free(c);
    return ctx->fail(ctx, SG_ERR_MEMORY, "%s: out of memory for the im2col buffers", g->label);
}
#endif
"""

# im2col, col2im, packing and gemm for one dtype (@T@, suffix @S@).
_TYPED = r"""
#ifndef SG_CONV_@S@
#define SG_CONV_@S@
/* col[(c*kh + a)*kw + b][i*ow + j] = the padded image at (c, i*sh + a*dh, j*sw + b*dw) */
static void sg_conv_im2col_@S@(const sg_conv_geom *g, const char *image, const int64_t *st,
                               @T@ *col)
{
    const int64_t npix = g->oh * g->ow, item = sizeof(@T@);
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t a = 0; a < g->kh; a++)
            for (int64_t b = 0; b < g->kw; b++) {
                @T@ *row = col + ((c * g->kh + a) * g->kw + b) * npix;
                int64_t lo, hi;
                sg_conv_columns(g, b, &lo, &hi);
                const int64_t step = g->sw * st[2];
                for (int64_t i = 0; i < g->oh; i++) {
                    @T@ *dst = row + i * g->ow;
                    const int64_t y = i * g->sh + a * g->dh - g->ph;
                    if (y < 0 || y >= g->h || lo == hi) {
                        memset(dst, 0, (size_t)g->ow * sizeof(@T@));
                        continue;
                    }
                    const char *src = image + c * st[0] + y * st[1] +
                                      (lo * g->sw + b * g->dw - g->pw) * st[2];
                    memset(dst, 0, (size_t)lo * sizeof(@T@));
                    if (step == item) {
                        memcpy(dst + lo, src, (size_t)(hi - lo) * sizeof(@T@));
                    } else {
                        for (int64_t j = lo; j < hi; j++, src += step)
                            dst[j] = *(const @T@ *)src;
                    }
                    memset(dst + hi, 0, (size_t)(g->ow - hi) * sizeof(@T@));
                }
            }
}

/* The adjoint of im2col: adds col into the contiguous (c, h, w) image gradient dx. */
static void sg_conv_col2im_@S@(const sg_conv_geom *g, const @T@ *col, @T@ *dx)
{
    const int64_t npix = g->oh * g->ow;
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t a = 0; a < g->kh; a++)
            for (int64_t b = 0; b < g->kw; b++) {
                const @T@ *row = col + ((c * g->kh + a) * g->kw + b) * npix;
                int64_t lo, hi;
                sg_conv_columns(g, b, &lo, &hi);
                for (int64_t i = 0; i < g->oh; i++) {
                    const int64_t y = i * g->sh + a * g->dh - g->ph;
                    if (y < 0 || y >= g->h)
                        continue;
                    @T@ *dst = dx + (c * g->h + y) * g->w + lo * g->sw + b * g->dw - g->pw;
                    const @T@ *src = row + i * g->ow;
                    if (g->sw == 1) {
                        for (int64_t j = lo; j < hi; j++)
                            dst[j - lo] += src[j];
                    } else {
                        for (int64_t j = lo; j < hi; j++, dst += g->sw)
                            *dst += src[j];
                    }
                }
            }
}

/* The kernel K (o x c*kh*kw, contiguous) from the filters' strided view. */
static void sg_conv_pack_kernel_@S@(const sg_conv_geom *g, const sg_array *f, @T@ *K)
{
    for (int64_t o = 0; o < g->o; o++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t a = 0; a < g->kh; a++)
                for (int64_t b = 0; b < g->kw; b++) {
                    const int64_t t = sg_conv_tap(g, a, b);
                    *K++ = *(const @T@ *)(f->data + o * f->strides[0] + c * f->strides[1] +
                                          (t / g->kw) * f->strides[2] +
                                          (t % g->kw) * f->strides[3]);
                }
}

/* The inverse of pack_kernel, into contiguous (o, c, kh, kw) filters. */
static void sg_conv_unpack_kernel_@S@(const sg_conv_geom *g, const @T@ *K, @T@ *filters)
{
    for (int64_t o = 0; o < g->o; o++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t a = 0; a < g->kh; a++)
                for (int64_t b = 0; b < g->kw; b++)
                    filters[(o * g->c + c) * g->kh * g->kw + sg_conv_tap(g, a, b)] = *K++;
}

/* top[n] (o x oh*ow) as a contiguous matrix: the array itself when it is one, else a copy. */
static const @T@ *sg_conv_top_matrix_@S@(const sg_conv_geom *g, const sg_array *top, int64_t n,
                                         @T@ *scratch)
{
    const int64_t *s = top->strides;
    const int64_t item = sizeof(@T@);
    const char *base = top->data + n * s[0];
    if (s[3] == item && s[2] == g->ow * item && s[1] == g->oh * g->ow * item)
        return (const @T@ *)base;
    @T@ *next = scratch;
    for (int64_t o = 0; o < g->o; o++)
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++)
                *next++ = *(const @T@ *)(base + o * s[1] + i * s[2] + j * s[3]);
    return scratch;
}

/* C (row-major m x n) = op(A) @ op(B) + beta * C through the column-major BLAS, which sees
 * each row-major matrix as its transpose: it computes C^T = op(B)^T op(A)^T. */
static void sg_conv_gemm_@S@(sg_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                             int64_t k, const @T@ *A, const @T@ *B, @T@ beta, @T@ *C)
{
    char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
    int M = (int)n, N = (int)m, K = (int)k;
    int lda = (int)(trans_b ? k : n), ldb = (int)(trans_a ? m : k), ldc = (int)n;
    lda = lda > 0 ? lda : 1;
    ldb = ldb > 0 ? ldb : 1;
    ldc = ldc > 0 ? ldc : 1;
    @T@ one = 1;
    ctx->blas->@GEMM@(&ta, &tb, &M, &N, &K, &one, (@T@ *)B, &lda, (@T@ *)A, &ldb, &beta, C,
                      &ldc);
}
#endif
"""

_FORWARD = r"""
/* in: images (n, c, h, w), filters (o, c, kh, kw); out: (n, o, oh, ow) */
static int @NAME@(sg_ctx *ctx, const sg_array *in, sg_array *out)
{
    const sg_array *x = &in[0], *f = &in[1];
    sg_conv_geom g = {@PARAMS@, @LABEL@, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                      f->shape[0], f->shape[2], f->shape[3], 0, 0, 0, 0};
    if (f->shape[1] != g.c)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: the input of shape (%lld, %lld, %lld, %lld) has "
                         "%lld channels but the filters of shape (%lld, %lld, %lld, %lld) expect "
                         "%lld", g.label, (long long)g.n, (long long)g.c, (long long)g.h,
                         (long long)g.w, (long long)g.c, (long long)g.o, (long long)f->shape[1],
                         (long long)g.kh, (long long)g.kw, (long long)f->shape[1]);
    if (sg_conv_geometry(ctx, &g))
        return -1;
    const int64_t shape[4] = {g.n, g.o, g.oh, g.ow};
    if (ctx->alloc(ctx, 0, 4, shape, &out[0]))
        return -1;
    const int64_t npix = g.oh * g.ow, taps = g.c * g.kh * g.kw;
    @T@ *result = (@T@ *)out[0].data;
    if (g.n * g.o * npix == 0)
        return 0;
    if (taps == 0) {
        memset(result, 0, (size_t)(g.n * g.o * npix) * sizeof(@T@));
        return 0;
    }
    const int threads = sg_conv_threads(g.n, g.o * taps * npix);
    @T@ *K = malloc((size_t)(g.o * taps) * sizeof(@T@));
    @T@ *cols = malloc((size_t)(threads * taps * npix) * sizeof(@T@));
    if (K == NULL || cols == NULL)
        return sg_conv_no_memory(ctx, &g, K, cols, NULL);
    sg_conv_pack_kernel_@S@(&g, f, K);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t n = 0; n < g.n; n++) {
        @T@ *col = cols + sg_conv_thread() * taps * npix;
        sg_conv_im2col_@S@(&g, x->data + n * x->strides[0], x->strides + 1, col);
        sg_conv_gemm_@S@(ctx, 0, 0, g.o, npix, taps, K, col, 0, result + n * g.o * npix);
    }
    free(K);
    free(cols);
    return 0;
}
"""

_GRAD_WEIGHTS = r"""
/* in: images (n, c, h, w), output gradient (n, o, oh, ow), filter spatial shape (2,);
 * out: the filter gradient (o, c, kh, kw) */
static int @NAME@(sg_ctx *ctx, const sg_array *in, sg_array *out)
{
    const sg_array *x = &in[0], *top = &in[1];
    sg_conv_geom g = {@PARAMS@, @LABEL@, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                      top->shape[1], 0, 0, 0, 0, 0, 0};
    if (sg_conv_read_hw(ctx, &g, &in[2], &g.kh, &g.kw) || sg_conv_geometry(ctx, &g) ||
        sg_conv_check_top(ctx, &g, top))
        return -1;
    const int64_t shape[4] = {g.o, g.c, g.kh, g.kw};
    if (ctx->alloc(ctx, 0, 4, shape, &out[0]))
        return -1;
    const int64_t npix = g.oh * g.ow, taps = g.c * g.kh * g.kw;
    @T@ *result = (@T@ *)out[0].data;
    if (g.o * taps == 0)
        return 0;
    if (g.n * npix == 0) {
        memset(result, 0, (size_t)(g.o * taps) * sizeof(@T@));
        return 0;
    }
    const int threads = sg_conv_threads(g.n, g.o * taps * npix);
    const int64_t kernel = g.o * taps;
    /* one partial sum of the kernel gradient per thread, added up at the end */
    @T@ *dKs = calloc((size_t)(threads * kernel), sizeof(@T@));
    @T@ *cols = malloc((size_t)(threads * taps * npix) * sizeof(@T@));
    @T@ *scratch = malloc((size_t)(threads * g.o * npix) * sizeof(@T@));
    if (dKs == NULL || cols == NULL || scratch == NULL)
        return sg_conv_no_memory(ctx, &g, dKs, cols, scratch);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t n = 0; n < g.n; n++) {
        const int me = sg_conv_thread();
        @T@ *col = cols + me * taps * npix;
        sg_conv_im2col_@S@(&g, x->data + n * x->strides[0], x->strides + 1, col);
        const @T@ *t = sg_conv_top_matrix_@S@(&g, top, n, scratch + me * g.o * npix);
        sg_conv_gemm_@S@(ctx, 0, 1, g.o, taps, npix, t, col, 1, dKs + me * kernel);
    }
    for (int k = 1; k < threads; k++)
        for (int64_t i = 0; i < kernel; i++)
            dKs[i] += dKs[k * kernel + i];
    sg_conv_unpack_kernel_@S@(&g, dKs, result);
    free(dKs);
    free(cols);
    free(scratch);
    return 0;
}
"""

_GRAD_INPUTS = r"""
/* in: filters (o, c, kh, kw), output gradient (n, o, oh, ow), image spatial shape (2,);
 * out: the image gradient (n, c, h, w) */
static int @NAME@(sg_ctx *ctx, const sg_array *in, sg_array *out)
{
    const sg_array *f = &in[0], *top = &in[1];
    sg_conv_geom g = {@PARAMS@, @LABEL@, top->shape[0], f->shape[1], 0, 0, f->shape[0],
                      f->shape[2], f->shape[3], 0, 0, 0, 0};
    if (sg_conv_read_hw(ctx, &g, &in[2], &g.h, &g.w) || sg_conv_geometry(ctx, &g) ||
        sg_conv_check_top(ctx, &g, top))
        return -1;
    const int64_t shape[4] = {g.n, g.c, g.h, g.w};
    if (ctx->alloc(ctx, 0, 4, shape, &out[0]))
        return -1;
    const int64_t npix = g.oh * g.ow, taps = g.c * g.kh * g.kw, image = g.c * g.h * g.w;
    @T@ *result = (@T@ *)out[0].data;
    memset(result, 0, (size_t)(g.n * image) * sizeof(@T@));
    if (g.n * npix * taps == 0 || g.o == 0)
        return 0;
    const int threads = sg_conv_threads(g.n, g.o * taps * npix);
    @T@ *K = malloc((size_t)(g.o * taps) * sizeof(@T@));
    @T@ *cols = malloc((size_t)(threads * taps * npix) * sizeof(@T@));
    @T@ *scratch = malloc((size_t)(threads * g.o * npix) * sizeof(@T@));
    if (K == NULL || cols == NULL || scratch == NULL)
        return sg_conv_no_memory(ctx, &g, K, cols, scratch);
    sg_conv_pack_kernel_@S@(&g, f, K);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t n = 0; n < g.n; n++) {
        const int me = sg_conv_thread();
        @T@ *col = cols + me * taps * npix;
        const @T@ *t = sg_conv_top_matrix_@S@(&g, top, n, scratch + me * g.o * npix);
        sg_conv_gemm_@S@(ctx, 1, 0, taps, npix, g.o, K, t, 0, col);  /* col = K^T t */
        sg_conv_col2im_@S@(&g, col, result + n * image);
    }
    free(K);
    free(cols);
    free(scratch);
    return 0;
}
"""

conv2d_c_function = register_c_generator(Conv2d)(_generator(_FORWARD))
conv2d_grad_weights_c_function = register_c_generator(Conv2dGradWeights)(
    _generator(_GRAD_WEIGHTS))
conv2d_grad_inputs_c_function = register_c_generator(Conv2dGradInputs)(
    _generator(_GRAD_INPUTS))
