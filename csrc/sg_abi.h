/* sg_abi.h: the contract between the C VM (cvm.c) and generated node functions.
 *
 * Generated modules are plain C (no Python.h, no NumPy headers), so they
 * compile fast; the VM hands each node function views of its input arrays
 * and a context through which the function asks the VM for output buffers.
 * Bump SG_ABI_VERSION whenever a struct below changes: the VM refuses
 * modules built for another version.
 */
#ifndef SG_ABI_H
#define SG_ABI_H

#include <stdint.h>

#define SG_ABI_VERSION 3
#define SG_MAXDIMS 64     /* as NumPy */
#define SG_MAXOPS 64      /* operands of one elementwise loop, output included */
#define SG_MESSAGE_SIZE 512

/* A borrowed view of an n-d array: shape and strides (in bytes) point into
 * the NumPy array object that the VM keeps alive during the call. */
typedef struct sg_array {
    char *data;
    const int64_t *shape;
    const int64_t *strides;
    int ndim;
} sg_array;

typedef struct sg_ctx sg_ctx;

/* Inner loop over n elements; p[k] and s[k]: operand k's pointer and stride (bytes). */
typedef void (*sg_inner_fn)(int64_t n, char *const *p, const int64_t *s);

struct sg_ctx {
    /* Give output k a fresh (or, without GC, a recycled) C-contiguous buffer of
     * this shape, with the dtype the node's type says; fills *result. */
    int (*alloc)(sg_ctx *ctx, int k, int ndim, const int64_t *shape, sg_array *result);
    /* Make output k the very buffer of input i (an op that destroys input i):
     * 0 done, 1 refused (the array is read-only: allocate instead), -1 error. */
    int (*alias)(sg_ctx *ctx, int k, int i, sg_array *result);
    /* The shared runtime (sg_runtime.c, compiled into the VM): */
    /* set error_kind and the message (printf-style); returns -1 */
    int (*fail)(sg_ctx *ctx, int kind, const char *format, ...);
    /* NumPy's broadcast of nin arrays of ndim dims into shape, or fail */
    int (*broadcast)(sg_ctx *ctx, const char *what, int nin, const sg_array *in, int ndim,
                     int64_t *shape);
    /* run inner over every element of shape; strides laid out [operand * ndim + dim] */
    void (*iterate)(int nop, int ndim, const int64_t *shape, char *const *data,
                    const int64_t *strides, sg_inner_fn inner);
    /* may an elementwise loop write into input target (no other input reads its memory)? */
    int (*can_overwrite)(int nin, const sg_array *in, const int64_t *itemsizes, int target);
    void *vm;
    int step;
    int error_kind;                  /* one of SG_ERR_* when a function returns nonzero */
    char message[SG_MESSAGE_SIZE];
};

enum {
    SG_ERR_NONE = 0,
    SG_ERR_PYTHON = 1,   /* a Python exception is already set (by a VM callback) */
    SG_ERR_VALUE,
    SG_ERR_TYPE,
    SG_ERR_INDEX,
    SG_ERR_MEMORY,
    SG_ERR_RUNTIME,
    SG_ERR_ZERO_DIVISION
};

/* Every node function: 0 on success, nonzero with ctx->error_kind/message set. */
typedef int (*sg_node_fn)(sg_ctx *ctx, const sg_array *in, sg_array *out);

#endif
