/* sg_runtime.c: the helpers generated node functions call through sg_ctx.
 *
 * Compiled once, into the VM extension (cvm.c includes this file), rather
 * than into every generated module: that saves ~70 ms of gcc per module.
 * sg_runtime_install() puts them in a context.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sg_abi.h"

__attribute__((format(printf, 3, 4)))
static int sg_fail(sg_ctx *ctx, int kind, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(ctx->message, SG_MESSAGE_SIZE, format, args);
    va_end(args);
    ctx->error_kind = kind;
    return -1;
}

/* "(3, 4)" into buf (NumPy's tuple notation). */
static void sg_format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %lld" : "%lld",
                                 (long long)shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
}

/* NumPy's broadcasting of nin arrays of ndim dims each (inputs are padded
 * to the same ndim at graph-build time): size-1 dims stretch. */
static int sg_broadcast_shapes(sg_ctx *ctx, const char *what, int nin, const sg_array *in,
                               int ndim, int64_t *shape)
{
    for (int d = 0; d < ndim; d++) {
        int64_t size = 1;
        int first = -1;
        for (int i = 0; i < nin; i++) {
            int64_t s = in[i].shape[d];
            if (s == 1)
                continue;
            if (size == 1) {
                size = s;
                first = i;
            } else if (s != size) {
                char a[256], b[256];
                sg_format_shape(a, sizeof a, ndim, in[first].shape);
                sg_format_shape(b, sizeof b, ndim, in[i].shape);
                return sg_fail(ctx, SG_ERR_VALUE,
                               "%s: input shapes %s (input %d) and %s (input %d) cannot be "
                               "broadcast together (dimension %d)", what, a, first, b, i, d);
            }
        }
        shape[d] = size;
    }
    return 0;
}

/* The bytes an array's elements span: [*lo, *hi). */
static void sg_extent(const sg_array *a, int64_t itemsize, char **lo, char **hi)
{
    int64_t low = 0, high = itemsize;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] == 0) {
            *lo = *hi = a->data;
            return;
        }
        int64_t span = (a->shape[d] - 1) * a->strides[d];
        if (span < 0)
            low += span;
        else
            high += span;
    }
    *lo = a->data + low;
    *hi = a->data + high;
}

/* May an elementwise loop write its output into input `target` (of the output's
 * shape)?  Only if no other input reads that memory through a different view:
 * reading and writing the same element in one iteration is safe, reading it
 * elsewhere after it was overwritten is not. */
static int sg_can_overwrite(int nin, const sg_array *in, const int64_t *itemsizes, int target)
{
    const sg_array *t = &in[target];
    char *tlo, *thi;
    sg_extent(t, itemsizes[target], &tlo, &thi);
    for (int j = 0; j < nin; j++) {
        if (j == target)
            continue;
        const sg_array *a = &in[j];
        int same_view = a->data == t->data && a->ndim == t->ndim &&
                        itemsizes[j] == itemsizes[target];
        for (int d = 0; same_view && d < t->ndim; d++)
            same_view = a->shape[d] == t->shape[d] && a->strides[d] == t->strides[d];
        if (same_view)
            continue;
        char *lo, *hi;
        sg_extent(a, itemsizes[j], &lo, &hi);
        if (lo < thi && tlo < hi)
            return 0;
    }
    return 1;
}

/* Run `inner` over every element of `shape`.  Dims of size 1 are dropped and
 * neighbouring dims that every operand walks as one (contiguous, or stride 0
 * throughout) are merged first, so contiguous arrays and broadcast scalars
 * become one flat inner loop; otherwise the last merged dim is the inner loop. */
static void sg_iterate(int nop, int ndim, const int64_t *shape, char *const *data,
                       const int64_t *strides, sg_inner_fn inner)
{
    int64_t cshape[SG_MAXDIMS], cstride[SG_MAXOPS][SG_MAXDIMS], index[SG_MAXDIMS];
    char *ptr[SG_MAXOPS];
    int64_t inner_stride[SG_MAXOPS];
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0)
            return;
        if (shape[d] == 1)
            continue;
        int merge = nd > 0;
        for (int k = 0; k < nop && merge; k++)
            merge = cstride[k][nd - 1] == strides[k * ndim + d] * shape[d];
        if (merge) {
            cshape[nd - 1] *= shape[d];
            for (int k = 0; k < nop; k++)
                cstride[k][nd - 1] = strides[k * ndim + d];
        } else {
            cshape[nd] = shape[d];
            for (int k = 0; k < nop; k++)
                cstride[k][nd] = strides[k * ndim + d];
            nd++;
        }
    }
    for (int k = 0; k < nop; k++) {
        ptr[k] = data[k];
        inner_stride[k] = nd ? cstride[k][nd - 1] : 0;
    }
    if (nd <= 1) {
        inner(nd ? cshape[0] : 1, ptr, inner_stride);
        return;
    }
    int64_t outer = 1;
    for (int d = 0; d < nd - 1; d++) {
        outer *= cshape[d];
        index[d] = 0;
    }
    for (int64_t row = 0; row < outer; row++) {
        inner(cshape[nd - 1], ptr, inner_stride);
        for (int d = nd - 2; d >= 0; d--) {   /* odometer step over the outer dims */
            for (int k = 0; k < nop; k++)
                ptr[k] += cstride[k][d];
            if (++index[d] < cshape[d])
                break;
            index[d] = 0;
            for (int k = 0; k < nop; k++)
                ptr[k] -= cstride[k][d] * cshape[d];
        }
    }
}

static void sg_runtime_install(sg_ctx *ctx)
{
    ctx->fail = sg_fail;
    ctx->broadcast = sg_broadcast_shapes;
    ctx->iterate = sg_iterate;
    ctx->can_overwrite = sg_can_overwrite;
}
