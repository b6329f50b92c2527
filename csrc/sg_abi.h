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

#define SG_ABI_VERSION 4
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

/* BLAS, as SciPy exports it (scipy.linalg.cython_blas): Fortran conventions,
 * column-major, every argument by pointer.  Filled once per process by the VM
 * before it runs a module that uses it; generated code never links a BLAS. */
typedef struct sg_blas {
    void (*sgemm)(char *ta, char *tb, int *m, int *n, int *k, float *alpha, float *a, int *lda,
                  float *b, int *ldb, float *beta, float *c, int *ldc);
    void (*dgemm)(char *ta, char *tb, int *m, int *n, int *k, double *alpha, double *a,
                  int *lda, double *b, int *ldb, double *beta, double *c, int *ldc);
    void (*sgemv)(char *t, int *m, int *n, float *alpha, float *a, int *lda, float *x,
                  int *incx, float *beta, float *y, int *incy);
    void (*dgemv)(char *t, int *m, int *n, double *alpha, double *a, int *lda, double *x,
                  int *incx, double *beta, double *y, int *incy);
    void (*sger)(int *m, int *n, float *alpha, float *x, int *incx, float *y, int *incy,
                 float *a, int *lda);
    void (*dger)(int *m, int *n, double *alpha, double *x, int *incx, double *y, int *incy,
                 double *a, int *lda);
    float (*sdot)(int *n, float *x, int *incx, float *y, int *incy);
    double (*ddot)(int *n, double *x, int *incx, double *y, int *incy);
    void (*saxpy)(int *n, float *alpha, float *x, int *incx, float *y, int *incy);
    void (*daxpy)(int *n, double *alpha, double *x, int *incx, double *y, int *incy);
    void (*sscal)(int *n, float *alpha, float *x, int *incx);
    void (*dscal)(int *n, double *alpha, double *x, int *incx);
} sg_blas;

/* The names of sg_blas's members, in order (the VM fills them by name). */
#define SG_BLAS_NAMES "sgemm", "dgemm", "sgemv", "dgemv", "sger", "dger", "sdot", "ddot", \
    "saxpy", "daxpy", "sscal", "dscal"

/* Inner loop over n elements; p[k] and s[k]: operand k's pointer and stride (bytes). */
typedef void (*sg_inner_fn)(int64_t n, char *const *p, const int64_t *s);

struct sg_ctx {
    /* Give output k a fresh (or, without GC, a recycled) C-contiguous buffer of
     * this shape, with the dtype the node's type says; fills *result. */
    int (*alloc)(sg_ctx *ctx, int k, int ndim, const int64_t *shape, sg_array *result);
    /* Make output k the very buffer of input i (an op that destroys input i):
     * 0 done, 1 refused (the array is read-only: allocate instead), -1 error. */
    int (*alias)(sg_ctx *ctx, int k, int i, sg_array *result);
    /* Make output k a view of input i's memory: `data` points into input i's
     * buffer, with this shape and these strides (bytes); the VM keeps input i
     * alive for as long as the view.  Writeable when input i is. */
    int (*view)(sg_ctx *ctx, int k, int i, char *data, int ndim, const int64_t *shape,
                const int64_t *strides, sg_array *result);
    /* BLAS (see sg_blas): set by the VM when the module needs it, else NULL */
    const sg_blas *blas;
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
    SG_ERR_ZERO_DIVISION,
    SG_ERR_ASSERTION     /* AssertionError (a failed run-time check, e.g. SpecifyShape) */
};

/* Every node function: 0 on success, nonzero with ctx->error_kind/message set. */
typedef int (*sg_node_fn)(sg_ctx *ctx, const sg_array *in, sg_array *out);

#endif
