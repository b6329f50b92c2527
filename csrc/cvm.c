/* cvm.c: the C virtual machine.
 *
 * A VM object executes a schedule fixed at compile time: an array of steps
 * over a storage plan of numbered slots (one per variable).  A step is either
 * a C node function from a generated module (sg_abi.h) or a callback into an
 * op's Python `perform`.  A call reads the input cells, runs every step,
 * frees each intermediate after its last use (unless built without GC, when
 * buffers stay in their slots and are recycled by the next call when their
 * shape still fits and nobody else holds them), and writes the output cells.
 * Errors are handed, with the failing step's index and input values, to a
 * Python handler that adds the node, shapes and the user's source line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <time.h>
#include <structmember.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "sg_abi.h"
#include "sg_runtime.c"

_Static_assert(sizeof(npy_intp) == sizeof(int64_t), "sg_array shapes alias npy_intp arrays");

enum { STEP_C = 0, STEP_PY = 1, STEP_JUMP = 2, STEP_LOOP = 3 };

typedef struct ScanPlan ScanPlan;  /* a Scan's loop layout (scan_loop.c) */

/* The buffer pool of a VM that frees intermediates: at most this many arrays, each of at
 * most SG_POOL_MAX_BYTES and SG_POOL_TOTAL_BYTES in all, so that a small graph's call
 * allocates nothing while a VM never holds more than a few MiB it does not use. */
#define SG_POOL_ENTRIES 64
#define SG_POOL_MAX_BYTES (256 * 1024)
#define SG_POOL_TOTAL_BYTES (4 * 1024 * 1024)

typedef struct {
    int kind;
    sg_node_fn fn;                    /* STEP_C */
    int lazy;                         /* STEP_C: inputs of the branch not taken are absent */
    int cond_slot, target;            /* STEP_JUMP: to target when cond is false (or -1) */
    PyObject *perform, *node, *cells; /* STEP_PY and STEP_LOOP: op.perform(node, inputs, cells) */
    PyObject *plan;                   /* STEP_LOOP: the plan tuple, parsed into `loop` */
    ScanPlan *loop;
    int nin, nout, nfree;
    int *in_slots, *out_slots, *out_typenums, *free_slots;
} Step;

typedef struct {
    PyObject_HEAD
    int n_slots;
    PyObject **slots;
    int *check_typenum; /* per slot: the dtype a C step reads it as, or -1 */
    int *check_ndim;
    char *is_constant;
    int n_inputs, n_outputs, n_steps;
    PyObject **in_cells, **out_cells;
    int *in_slots, *out_slots;
    Step *steps;
    int gc, running, max_nin, max_nout;
    /* gc: small intermediates freed by one step are kept for the next alloc of their shape
     * (in this call or a later one) instead of going back to malloc (see release_slot) */
    PyObject *pool[SG_POOL_ENTRIES];
    int pool_n;
    size_t pool_bytes;
    sg_array *arr_in, *arr_out;
    char *produced;                   /* outputs of the current C step given a buffer */
    Step *current;
    sg_ctx ctx;
    PyObject *error_handler, *keepalive, *input_cells, *output_cells, *nodes;
    PyObject *profile_seconds, *profile_calls; /* lists, one entry per step, when profiled */
    /* shared-variable updates: after a call, cell[0] = the value in slot */
    int n_updates;
    PyObject **upd_cells;
    int *upd_slots;
    /* the direct call path (VM.run): explicit inputs, their expected types */
    int n_explicit, n_returned, return_list, trust_input;
    /* the GIL, released while a C step works on large arrays (see run_c_step) */
    PyThreadState *released;
    long long gil_releases;
    int *arg_typenum, *arg_ndim;
    int64_t *arg_shape;               /* n_explicit * SG_MAXDIMS; -1: any size */
} VM;

static PyTypeObject VMType;
static int run_loop_step(VM *vm, Step *st, int index);
static ScanPlan *scan_plan_parse(PyObject *plan);
static void scan_plan_free(ScanPlan *P);
static int c_loops = 1;  /* 0: loop steps run perform (tests compare the two loops) */

/* -- small helpers ----------------------------------------------------------- */

static int *int_array(PyObject *seq, int *count, const char *what)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int *out = PyMem_Calloc(n ? n : 1, sizeof(int));
    if (!out) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            PyMem_Free(out);
            Py_DECREF(fast);
            return NULL;
        }
        out[i] = (int)v;
    }
    Py_DECREF(fast);
    *count = (int)n;
    return out;
}

static int check_slots(VM *vm, const int *slots, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (slots[i] < 0 || slots[i] >= vm->n_slots) {
            PyErr_Format(PyExc_ValueError, "VM: %s slot %d out of range", what, slots[i]);
            return -1;
        }
    return 0;
}

/* `obj` as an aligned, native-order ndarray of `typenum` and `ndim` (new
 * reference), or NULL with TypeError: C code may read it without checks. */
static PyObject *checked_array(PyObject *obj, int typenum, int ndim, const char *what, int index)
{
    if (PyArray_Check(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        if (PyArray_TYPE(a) == typenum && PyArray_NDIM(a) == ndim) {
            if (PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a)) {
                Py_INCREF(obj);
                return obj;
            }
            return PyArray_FROM_OTF(obj, typenum, NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED);
        }
    } else if (PyArray_IsScalar(obj, Generic) && ndim == 0) {
        PyObject *a = PyArray_FromScalar(obj, NULL);
        if (a && PyArray_TYPE((PyArrayObject *)a) == typenum)
            return a;
        Py_XDECREF(a);
    }
    PyObject *descr = (PyObject *)PyArray_DescrFromType(typenum);
    PyObject *got = PyArray_Check(obj)
        ? PyUnicode_FromFormat("an array of dtype %S with %d dimensions",
                               (PyObject *)PyArray_DESCR((PyArrayObject *)obj),
                               PyArray_NDIM((PyArrayObject *)obj))
        : PyUnicode_FromFormat("%s", Py_TYPE(obj)->tp_name);
    if (descr && got)
        PyErr_Format(PyExc_TypeError, "%s %d: C code needs an ndarray of dtype %S with %d "
                     "dimensions, got %U", what, index, descr, ndim, got);
    Py_XDECREF(descr);
    Py_XDECREF(got);
    return NULL;
}

static void fill_view(sg_array *view, PyArrayObject *a)
{
    view->data = PyArray_BYTES(a);
    view->shape = (const int64_t *)PyArray_DIMS(a);
    view->strides = (const int64_t *)PyArray_STRIDES(a);
    view->ndim = PyArray_NDIM(a);
}

/* -- the callbacks generated code reaches through sg_ctx ---------------------- */

static int can_recycle(PyObject *old, int typenum, int ndim, const int64_t *shape)
{
    if (!old || !PyArray_CheckExact(old) || Py_REFCNT(old) != 1)
        return 0;
    PyArrayObject *a = (PyArrayObject *)old;
    if (PyArray_TYPE(a) != typenum || PyArray_NDIM(a) != ndim ||
        !PyArray_CHKFLAGS(a, NPY_ARRAY_OWNDATA | NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_WRITEABLE))
        return 0;
    for (int d = 0; d < ndim; d++)
        if (PyArray_DIMS(a)[d] != shape[d])
            return 0;
    return 1;
}

/* Free slot s after its last reader: a small array nobody else holds goes to the pool. */
static void release_slot(VM *vm, int s)
{
    PyObject *v = vm->slots[s];
    if (!v)
        return;
    vm->slots[s] = NULL;
    if (vm->pool_n < SG_POOL_ENTRIES && PyArray_CheckExact(v) && Py_REFCNT(v) == 1 &&
        PyArray_CHKFLAGS((PyArrayObject *)v, NPY_ARRAY_OWNDATA | NPY_ARRAY_C_CONTIGUOUS |
                         NPY_ARRAY_WRITEABLE)) {
        size_t bytes = (size_t)PyArray_NBYTES((PyArrayObject *)v);
        if (bytes <= SG_POOL_MAX_BYTES && vm->pool_bytes + bytes <= SG_POOL_TOTAL_BYTES) {
            vm->pool[vm->pool_n++] = v;
            vm->pool_bytes += bytes;
            return;
        }
    }
    Py_DECREF(v);
}

/* A pooled array of this dtype and shape (new reference, out of the pool), or NULL. */
static PyObject *from_pool(VM *vm, int typenum, int ndim, const int64_t *shape)
{
    for (int k = vm->pool_n - 1; k >= 0; k--) {
        PyArrayObject *a = (PyArrayObject *)vm->pool[k];
        if (PyArray_TYPE(a) != typenum || PyArray_NDIM(a) != ndim ||
            memcmp(PyArray_DIMS(a), shape, (size_t)ndim * sizeof(int64_t)) != 0)
            continue;
        vm->pool[k] = vm->pool[--vm->pool_n];
        vm->pool_bytes -= (size_t)PyArray_NBYTES(a);
        return (PyObject *)a;
    }
    return NULL;
}

static void clear_pool(VM *vm)
{
    while (vm->pool_n > 0)
        Py_CLEAR(vm->pool[--vm->pool_n]);
    vm->pool_bytes = 0;
}

/* Callbacks that create Python objects take the GIL back if the step released it. */
static PyThreadState *hold_gil(VM *vm)
{
    PyThreadState *t = vm->released;
    if (t) {
        vm->released = NULL;
        PyEval_RestoreThread(t);
    }
    return t;
}

static void drop_gil(VM *vm, PyThreadState *t)
{
    if (t)
        vm->released = PyEval_SaveThread();
}

static int vm_alloc_locked(sg_ctx *ctx, int k, int ndim, const int64_t *shape,
                           sg_array *result);

static int vm_alloc(sg_ctx *ctx, int k, int ndim, const int64_t *shape, sg_array *result)
{
    VM *vm = (VM *)ctx->vm;
    PyThreadState *t = hold_gil(vm);
    int rc = vm_alloc_locked(ctx, k, ndim, shape, result);
    drop_gil(vm, t);
    return rc;
}

static int vm_alloc_locked(sg_ctx *ctx, int k, int ndim, const int64_t *shape,
                           sg_array *result)
{
    VM *vm = (VM *)ctx->vm;
    Step *st = vm->current;
    if (k < 0 || k >= st->nout || ndim < 0 || ndim > SG_MAXDIMS) {
        snprintf(ctx->message, SG_MESSAGE_SIZE, "alloc: bad output %d or ndim %d", k, ndim);
        ctx->error_kind = SG_ERR_RUNTIME;
        return -1;
    }
    int slot = st->out_slots[k];
    PyObject *old = vm->slots[slot];
    if (!(!vm->gc && can_recycle(old, st->out_typenums[k], ndim, shape))) {
        PyObject *fresh = vm->gc ? from_pool(vm, st->out_typenums[k], ndim, shape) : NULL;
        if (!fresh)
            fresh = PyArray_EMPTY(ndim, (npy_intp *)shape, st->out_typenums[k], 0);
        if (!fresh) {
            ctx->error_kind = SG_ERR_PYTHON;
            return -1;
        }
        Py_XSETREF(vm->slots[slot], fresh);
    }
    fill_view(result, (PyArrayObject *)vm->slots[slot]);
    vm->produced[k] = 1;
    return 0;
}

static int vm_alias_locked(sg_ctx *ctx, int k, int i, sg_array *result);

static int vm_alias(sg_ctx *ctx, int k, int i, sg_array *result)
{
    VM *vm = (VM *)ctx->vm;
    PyThreadState *t = hold_gil(vm);
    int rc = vm_alias_locked(ctx, k, i, result);
    drop_gil(vm, t);
    return rc;
}

static int vm_alias_locked(sg_ctx *ctx, int k, int i, sg_array *result)
{
    VM *vm = (VM *)ctx->vm;
    Step *st = vm->current;
    if (k < 0 || k >= st->nout || i < 0 || i >= st->nin) {
        snprintf(ctx->message, SG_MESSAGE_SIZE, "alias: bad output %d or input %d", k, i);
        ctx->error_kind = SG_ERR_RUNTIME;
        return -1;
    }
    PyObject *src = vm->slots[st->in_slots[i]];
    if (!PyArray_ISWRITEABLE((PyArrayObject *)src))
        return 1;
    Py_INCREF(src);
    Py_XSETREF(vm->slots[st->out_slots[k]], src);
    fill_view(result, (PyArrayObject *)src);
    vm->produced[k] = 1;
    return 0;
}

static int vm_view_locked(sg_ctx *ctx, int k, int i, char *data, int ndim,
                          const int64_t *shape, const int64_t *strides, sg_array *result);

/* The base NumPy gives a view of `a`: views of views collapse to the array that owns
 * the memory (PyArray_SetBaseObject's rule). */
static PyObject *view_base(PyArrayObject *a)
{
    PyObject *base = (PyObject *)a;
    while (!PyArray_CHKFLAGS((PyArrayObject *)base, NPY_ARRAY_OWNDATA)) {
        PyObject *next = PyArray_BASE((PyArrayObject *)base);
        if (!next || Py_TYPE(next) != &PyArray_Type)
            break;
        base = next;
    }
    return base;
}

/* May the view `old` (last call's value of the slot) be moved to the new view of src
 * instead of making a new one?  Only when nobody else holds it: a VM that keeps its
 * values (no gc, as a scan's inner VM) then makes no view object per step. */
static int can_move_view(PyObject *old, PyArrayObject *src, int typenum, int ndim, int flags)
{
    if (!old || !PyArray_CheckExact(old) || Py_REFCNT(old) != 1)
        return 0;
    PyArrayObject *a = (PyArrayObject *)old;
    return !PyArray_CHKFLAGS(a, NPY_ARRAY_OWNDATA) && PyArray_TYPE(a) == typenum &&
        PyArray_NDIM(a) == ndim && (PyArray_FLAGS(a) & NPY_ARRAY_WRITEABLE) == flags &&
        PyArray_BASE(a) == view_base(src);
}

static void move_view(PyArrayObject *view, char *data, const int64_t *shape,
                      const int64_t *strides)
{
    PyArrayObject_fields *fields = (PyArrayObject_fields *)view;
    fields->data = data;
    if (fields->nd > 0) {
        memcpy(fields->dimensions, shape, (size_t)fields->nd * sizeof(npy_intp));
        memcpy(fields->strides, strides, (size_t)fields->nd * sizeof(npy_intp));
    }
    PyArray_UpdateFlags(view, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_F_CONTIGUOUS |
                        NPY_ARRAY_ALIGNED);
}

static int vm_view(sg_ctx *ctx, int k, int i, char *data, int ndim, const int64_t *shape,
                   const int64_t *strides, sg_array *result)
{
    VM *vm = (VM *)ctx->vm;
    PyThreadState *t = hold_gil(vm);
    int rc = vm_view_locked(ctx, k, i, data, ndim, shape, strides, result);
    drop_gil(vm, t);
    return rc;
}

static int vm_view_locked(sg_ctx *ctx, int k, int i, char *data, int ndim,
                          const int64_t *shape, const int64_t *strides, sg_array *result)
{
    VM *vm = (VM *)ctx->vm;
    Step *st = vm->current;
    if (k < 0 || k >= st->nout || i < 0 || i >= st->nin || ndim < 0 || ndim > SG_MAXDIMS)
        return sg_fail(ctx, SG_ERR_RUNTIME, "view: bad output %d, input %d or ndim %d", k, i,
                       ndim);
    PyArrayObject *src = (PyArrayObject *)vm->slots[st->in_slots[i]];
    int flags = PyArray_ISWRITEABLE(src) ? NPY_ARRAY_WRITEABLE : 0;
    PyObject **slot = &vm->slots[st->out_slots[k]];
    if (!vm->gc && can_move_view(*slot, src, st->out_typenums[k], ndim, flags)) {
        move_view((PyArrayObject *)*slot, data, shape, strides);
        fill_view(result, (PyArrayObject *)*slot);
        vm->produced[k] = 1;
        return 0;
    }
    PyArray_Descr *descr = PyArray_DescrFromType(st->out_typenums[k]);
    if (!descr) {
        ctx->error_kind = SG_ERR_PYTHON;
        return -1;
    }
    PyObject *view = PyArray_NewFromDescr(&PyArray_Type, descr, ndim, (npy_intp *)shape,
                                          (npy_intp *)strides, data, flags, NULL);
    if (!view) {
        ctx->error_kind = SG_ERR_PYTHON;
        return -1;
    }
    Py_INCREF(src);
    if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)src) < 0) {
        Py_DECREF(view);
        ctx->error_kind = SG_ERR_PYTHON;
        return -1;
    }
    PyArray_UpdateFlags((PyArrayObject *)view, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_F_CONTIGUOUS |
                        NPY_ARRAY_ALIGNED);
    Py_XSETREF(vm->slots[st->out_slots[k]], view);
    fill_view(result, (PyArrayObject *)view);
    vm->produced[k] = 1;
    return 0;
}

/* -- BLAS: SciPy's function pointers, set once per process by set_blas() ------- */

static sg_blas blas_table;
static int blas_loaded = 0;

static PyObject *set_blas(PyObject *self, PyObject *capi)
{
    static const char *names[] = {SG_BLAS_NAMES};
    void *pointers[sizeof names / sizeof names[0]];
    _Static_assert(sizeof(sg_blas) == sizeof pointers, "SG_BLAS_NAMES matches sg_blas");
    if (!PyDict_Check(capi)) {
        PyErr_SetString(PyExc_TypeError, "set_blas: a dict name -> capsule "
                        "(scipy.linalg.cython_blas.__pyx_capi__)");
        return NULL;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        PyObject *capsule = PyDict_GetItemString(capi, names[k]);
        if (!capsule || !PyCapsule_CheckExact(capsule)) {
            PyErr_Format(PyExc_KeyError, "set_blas: no capsule for %s", names[k]);
            return NULL;
        }
        pointers[k] = PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule));
        if (!pointers[k])
            return NULL;
    }
    memcpy(&blas_table, pointers, sizeof blas_table);
    blas_loaded = 1;
    Py_RETURN_NONE;
}

/* BLAS with 64-bit integers (ILP64, as NumPy's bundled OpenBLAS exports it): the table
 * keeps its 32-bit signatures, and these adapters widen the integers.  Generated code
 * checks that every size fits an int before it calls BLAS, so widening loses nothing. */
typedef int64_t i64;
static struct {
    void (*sgemm)(char *, char *, i64 *, i64 *, i64 *, float *, float *, i64 *, float *, i64 *,
                  float *, float *, i64 *);
    void (*dgemm)(char *, char *, i64 *, i64 *, i64 *, double *, double *, i64 *, double *,
                  i64 *, double *, double *, i64 *);
    void (*sgemv)(char *, i64 *, i64 *, float *, float *, i64 *, float *, i64 *, float *,
                  float *, i64 *);
    void (*dgemv)(char *, i64 *, i64 *, double *, double *, i64 *, double *, i64 *, double *,
                  double *, i64 *);
    void (*sger)(i64 *, i64 *, float *, float *, i64 *, float *, i64 *, float *, i64 *);
    void (*dger)(i64 *, i64 *, double *, double *, i64 *, double *, i64 *, double *, i64 *);
    float (*sdot)(i64 *, float *, i64 *, float *, i64 *);
    double (*ddot)(i64 *, double *, i64 *, double *, i64 *);
    void (*saxpy)(i64 *, float *, float *, i64 *, float *, i64 *);
    void (*daxpy)(i64 *, double *, double *, i64 *, double *, i64 *);
    void (*sscal)(i64 *, float *, float *, i64 *);
    void (*dscal)(i64 *, double *, double *, i64 *);
} ilp64;

#define SG_GEMM64(name, T)                                                                    \
    static void name##_ilp64(char *ta, char *tb, int *m, int *n, int *k, T *alpha, T *a,       \
                             int *lda, T *b, int *ldb, T *beta, T *c, int *ldc)                \
    {                                                                                         \
        i64 M = *m, N = *n, K = *k, LDA = *lda, LDB = *ldb, LDC = *ldc;                       \
        ilp64.name(ta, tb, &M, &N, &K, alpha, a, &LDA, b, &LDB, beta, c, &LDC);               \
    }
#define SG_GEMV64(name, T)                                                                    \
    static void name##_ilp64(char *t, int *m, int *n, T *alpha, T *a, int *lda, T *x,         \
                             int *incx, T *beta, T *y, int *incy)                             \
    {                                                                                         \
        i64 M = *m, N = *n, LDA = *lda, INCX = *incx, INCY = *incy;                           \
        ilp64.name(t, &M, &N, alpha, a, &LDA, x, &INCX, beta, y, &INCY);                      \
    }
#define SG_GER64(name, T)                                                                     \
    static void name##_ilp64(int *m, int *n, T *alpha, T *x, int *incx, T *y, int *incy,      \
                             T *a, int *lda)                                                  \
    {                                                                                         \
        i64 M = *m, N = *n, INCX = *incx, INCY = *incy, LDA = *lda;                           \
        ilp64.name(&M, &N, alpha, x, &INCX, y, &INCY, a, &LDA);                               \
    }
#define SG_DOT64(name, T)                                                                     \
    static T name##_ilp64(int *n, T *x, int *incx, T *y, int *incy)                           \
    {                                                                                         \
        i64 N = *n, INCX = *incx, INCY = *incy;                                               \
        return ilp64.name(&N, x, &INCX, y, &INCY);                                            \
    }
#define SG_AXPY64(name, T)                                                                    \
    static void name##_ilp64(int *n, T *alpha, T *x, int *incx, T *y, int *incy)              \
    {                                                                                         \
        i64 N = *n, INCX = *incx, INCY = *incy;                                               \
        ilp64.name(&N, alpha, x, &INCX, y, &INCY);                                            \
    }
#define SG_SCAL64(name, T)                                                                    \
    static void name##_ilp64(int *n, T *alpha, T *x, int *incx)                               \
    {                                                                                         \
        i64 N = *n, INCX = *incx;                                                             \
        ilp64.name(&N, alpha, x, &INCX);                                                      \
    }
SG_GEMM64(sgemm, float) SG_GEMM64(dgemm, double) SG_GEMV64(sgemv, float)
SG_GEMV64(dgemv, double) SG_GER64(sger, float) SG_GER64(dger, double) SG_DOT64(sdot, float)
SG_DOT64(ddot, double) SG_AXPY64(saxpy, float) SG_AXPY64(daxpy, double)
SG_SCAL64(sscal, float) SG_SCAL64(dscal, double)

/* set_blas_ilp64({name: address}): NumPy's (or another ILP64) BLAS behind the table. */
static PyObject *set_blas_ilp64(PyObject *self, PyObject *addresses)
{
    static const char *names[] = {SG_BLAS_NAMES};
    void *pointers[sizeof names / sizeof names[0]];
    _Static_assert(sizeof ilp64 == sizeof pointers, "SG_BLAS_NAMES matches the ILP64 table");
    if (!PyDict_Check(addresses)) {
        PyErr_SetString(PyExc_TypeError, "set_blas_ilp64: a dict name -> function address");
        return NULL;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        PyObject *address = PyDict_GetItemString(addresses, names[k]);
        if (!address) {
            PyErr_Format(PyExc_KeyError, "set_blas_ilp64: no address for %s", names[k]);
            return NULL;
        }
        if (!(pointers[k] = PyLong_AsVoidPtr(address))) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "set_blas_ilp64: null address for %s", names[k]);
            return NULL;
        }
    }
    memcpy(&ilp64, pointers, sizeof ilp64);
    sg_blas adapters = {sgemm_ilp64, dgemm_ilp64, sgemv_ilp64, dgemv_ilp64, sger_ilp64,
                        dger_ilp64, sdot_ilp64, ddot_ilp64, saxpy_ilp64, daxpy_ilp64,
                        sscal_ilp64, dscal_ilp64};
    blas_table = adapters;
    blas_loaded = 1;
    Py_RETURN_NONE;
}

/* blas_addresses() -> {name: address} of the table generated code calls (the C
 * references of the benchmarks call the same functions). */
static PyObject *blas_addresses(PyObject *self, PyObject *unused)
{
    static const char *names[] = {SG_BLAS_NAMES};
    void *pointers[sizeof names / sizeof names[0]];
    if (!blas_loaded) {
        PyErr_SetString(PyExc_RuntimeError, "blas_addresses: no BLAS set yet (ensure_blas)");
        return NULL;
    }
    memcpy(pointers, &blas_table, sizeof blas_table);
    PyObject *result = PyDict_New();
    for (size_t k = 0; result && k < sizeof names / sizeof names[0]; k++) {
        PyObject *address = PyLong_FromVoidPtr(pointers[k]);
        if (!address || PyDict_SetItemString(result, names[k], address) < 0)
            Py_CLEAR(result);
        Py_XDECREF(address);
    }
    return result;
}

/* -- running steps ------------------------------------------------------------ */

static void raise_from_ctx(VM *vm)
{
    if (vm->ctx.error_kind == SG_ERR_PYTHON && PyErr_Occurred())
        return;
    PyObject *type;
    switch (vm->ctx.error_kind) {
    case SG_ERR_VALUE: type = PyExc_ValueError; break;
    case SG_ERR_TYPE: type = PyExc_TypeError; break;
    case SG_ERR_INDEX: type = PyExc_IndexError; break;
    case SG_ERR_MEMORY: type = PyExc_MemoryError; break;
    case SG_ERR_ZERO_DIVISION: type = PyExc_ZeroDivisionError; break;
    case SG_ERR_ASSERTION: type = PyExc_AssertionError; break;
    default: type = PyExc_RuntimeError;
    }
    PyErr_SetString(type, vm->ctx.message[0] ? vm->ctx.message : "error in generated C code");
}

#define SG_GIL_RELEASE_BYTES (1 << 18)

static int64_t input_bytes(const sg_array *in, int nin)
{
    int64_t total = 0;
    for (int i = 0; i < nin; i++) {
        if (!in[i].data)
            continue;
        int64_t n = 8;  /* itemsize is not in sg_array: 8 bytes bounds it well enough */
        for (int d = 0; d < in[i].ndim; d++)
            n *= in[i].shape[d];
        total += n;
    }
    return total;
}

static int run_c_step(VM *vm, Step *st, int index)
{
    for (int i = 0; i < st->nin; i++) {
        PyObject *v = vm->slots[st->in_slots[i]];
        if (!v && st->lazy) {  /* a branch that was not computed */
            memset(&vm->arr_in[i], 0, sizeof(sg_array));
            continue;
        }
        if (!v || !PyArray_Check(v)) {  /* cannot happen when the plan is right */
            PyErr_Format(PyExc_RuntimeError, "VM: input %d of step %d is not computed", i, index);
            return -1;
        }
        fill_view(&vm->arr_in[i], (PyArrayObject *)v);
    }
    memset(vm->produced, 0, (size_t)st->nout);
    vm->current = st;
    vm->ctx.step = index;
    vm->ctx.error_kind = SG_ERR_NONE;
    vm->ctx.message[0] = 0;
    /* Large inputs: the step's work dwarfs a GIL hand-off, so let other threads run. */
    if (input_bytes(vm->arr_in, st->nin) >= SG_GIL_RELEASE_BYTES) {
        vm->released = PyEval_SaveThread();
        vm->gil_releases++;
    }
    int rc = st->fn(&vm->ctx, vm->arr_in, vm->arr_out);
    if (vm->released) {
        PyEval_RestoreThread(vm->released);
        vm->released = NULL;
    }
    if (rc != 0) {
        raise_from_ctx(vm);
        return -1;
    }
    for (int k = 0; k < st->nout; k++)
        if (!vm->produced[k]) {
            PyErr_Format(PyExc_RuntimeError, "VM: C code of step %d did not produce output %d",
                         index, k);
            return -1;
        }
    return 0;
}

static int run_py_step(VM *vm, Step *st)
{
    PyObject *inputs = PyList_New(st->nin);
    if (!inputs)
        return -1;
    for (int i = 0; i < st->nin; i++) {
        PyObject *v = vm->slots[st->in_slots[i]];
        v = v ? v : Py_None;
        Py_INCREF(v);
        PyList_SET_ITEM(inputs, i, v);
    }
    PyObject *args[3] = {st->node, inputs, st->cells};
    PyObject *r = PyObject_Vectorcall(st->perform, args, 3, NULL);
    Py_DECREF(inputs);
    if (!r)
        return -1;
    Py_DECREF(r);
    for (int k = 0; k < st->nout; k++) {
        PyObject *cell = PyList_GET_ITEM(st->cells, k);
        if (!PyList_Check(cell) || PyList_GET_SIZE(cell) != 1) {
            PyErr_Format(PyExc_RuntimeError, "perform replaced or resized its output cell %d: "
                         "it must set output_storage[%d][0]", k, k);
            return -1;
        }
        PyObject *v = PyList_GET_ITEM(cell, 0);
        Py_INCREF(v);
        Py_INCREF(Py_None);
        PyList_SetItem(cell, 0, Py_None);  /* perform sees an empty cell every call */
        int slot = st->out_slots[k];
        if (vm->check_typenum[slot] >= 0) {
            PyObject *c = checked_array(v, vm->check_typenum[slot], vm->check_ndim[slot],
                                        "perform result", k);
            Py_DECREF(v);
            if (!c)
                return -1;
            v = c;
        }
        Py_XSETREF(vm->slots[slot], v);
    }
    return 0;
}

static void clear_slots(VM *vm, int inputs_only)
{
    if (inputs_only) {
        for (int i = 0; i < vm->n_inputs; i++)
            Py_CLEAR(vm->slots[vm->in_slots[i]]);
        return;
    }
    for (int s = 0; s < vm->n_slots; s++)
        if (!vm->is_constant[s])
            Py_CLEAR(vm->slots[s]);
}

/* Pass the pending exception, the step and its input values to the handler. */
static void report_error(VM *vm, int index)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Step *st = &vm->steps[index];
    PyObject *inputs = PyList_New(st->nin);
    for (int i = 0; inputs && i < st->nin; i++) {
        PyObject *v = vm->slots[st->in_slots[i]];
        v = v ? v : Py_None;
        Py_INCREF(v);
        PyList_SET_ITEM(inputs, i, v);
    }
    clear_slots(vm, 0);
    if (vm->error_handler == Py_None || !inputs || !value) {
        Py_XDECREF(inputs);
        PyErr_Restore(type, value, tb);
        return;
    }
    PyObject *r = PyObject_CallFunction(vm->error_handler, "iOO", index, value, inputs);
    Py_DECREF(inputs);
    if (r) {  /* the handler chose not to raise: the original error stands */
        Py_DECREF(r);
        PyErr_Restore(type, value, tb);
    } else {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
}

static int load_inputs(VM *vm)
{
    for (int i = 0; i < vm->n_inputs; i++) {
        PyObject *cell = vm->in_cells[i];
        if (PyList_GET_SIZE(cell) < 1) {
            PyErr_Format(PyExc_RuntimeError, "VM: input cell %d is empty", i);
            return -1;
        }
        PyObject *v = PyList_GET_ITEM(cell, 0);
        int slot = vm->in_slots[i];
        if (vm->check_typenum[slot] >= 0) {
            v = checked_array(v, vm->check_typenum[slot], vm->check_ndim[slot], "input", i);
            if (!v)
                return -1;
        } else {
            Py_INCREF(v);
        }
        Py_XSETREF(vm->slots[slot], v);
    }
    return 0;
}

static int store_outputs(VM *vm)
{
    for (int o = 0; o < vm->n_outputs; o++) {
        PyObject *v = vm->slots[vm->out_slots[o]];
        v = v ? v : Py_None;
        Py_INCREF(v);
        if (PyList_SetItem(vm->out_cells[o], 0, v) < 0)
            return -1;
    }
    return 0;
}

/* -- profiling: per-step time and calls, only when time_nodes() was called ---------- */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int add_time(VM *vm, int k, double seconds)
{
    PyObject *total = PyList_GET_ITEM(vm->profile_seconds, k);
    PyObject *count = PyList_GET_ITEM(vm->profile_calls, k);
    PyObject *new_total = PyFloat_FromDouble(PyFloat_AsDouble(total) + seconds);
    PyObject *new_count = PyLong_FromLongLong(PyLong_AsLongLong(count) + 1);
    if (!new_total || !new_count || PyErr_Occurred()) {
        Py_XDECREF(new_total);
        Py_XDECREF(new_count);
        return -1;
    }
    PyList_SetItem(vm->profile_seconds, k, new_total);
    PyList_SetItem(vm->profile_calls, k, new_count);
    return 0;
}

static PyObject *VM_time_nodes(VM *vm, PyObject *args)
{
    PyObject *seconds, *calls;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &seconds, &PyList_Type, &calls))
        return NULL;
    if (PyList_GET_SIZE(seconds) != vm->n_steps || PyList_GET_SIZE(calls) != vm->n_steps) {
        PyErr_Format(PyExc_ValueError, "time_nodes: one entry per node (%d) in each list",
                     vm->n_steps);
        return NULL;
    }
    Py_INCREF(seconds), Py_INCREF(calls);
    Py_XSETREF(vm->profile_seconds, seconds);
    Py_XSETREF(vm->profile_calls, calls);
    Py_RETURN_NONE;
}

/* Run every step once, over slots already holding the inputs; 0 or -1 (error reported). */
static int run_steps(VM *vm)
{
    for (int k = 0; k < vm->n_steps;) {
        Step *st = &vm->steps[k];
        if (st->kind == STEP_JUMP) {
            int jump = 1;
            if (st->cond_slot >= 0) {
                PyObject *cond = vm->slots[st->cond_slot];
                jump = cond ? !PyObject_IsTrue(cond) : -1;
                if (jump < 0) {
                    if (!PyErr_Occurred())
                        PyErr_SetString(PyExc_RuntimeError, "VM: condition not computed");
                    report_error(vm, k);
                    return -1;
                }
            }
            if (jump) {  /* a jump's frees: the values read only in the range it skips */
                if (vm->gc)
                    for (int f = 0; f < st->nfree; f++)
                        release_slot(vm, st->free_slots[f]);
                k = st->target;
            } else {
                k++;
            }
            continue;
        }
        double started = vm->profile_seconds ? now_seconds() : 0.0;
        int rc = st->kind == STEP_C ? run_c_step(vm, st, k)
            : st->kind == STEP_LOOP && c_loops ? run_loop_step(vm, st, k) : run_py_step(vm, st);
        if (rc == 0 && vm->profile_seconds)
            rc = add_time(vm, k, now_seconds() - started);
        if (rc < 0) {
            report_error(vm, k);
            return -1;
        }
        if (vm->gc)
            for (int f = 0; f < st->nfree; f++)
                release_slot(vm, st->free_slots[f]);
        k++;
    }
    return 0;
}

/* Write each update's new value into its shared variable's cell (all after all steps). */
static int apply_updates(VM *vm)
{
    for (int u = 0; u < vm->n_updates; u++) {
        PyObject *v = vm->slots[vm->upd_slots[u]];
        if (!v) {
            PyErr_Format(PyExc_RuntimeError, "VM: update %d was not computed", u);
            return -1;
        }
        Py_INCREF(v);
        if (PyList_SetItem(vm->upd_cells[u], 0, v) < 0)
            return -1;
    }
    return 0;
}

/* The function's outputs (the first n_returned fgraph outputs): one value, or a list. */
static PyObject *returned_values(VM *vm)
{
    if (!vm->return_list && vm->n_returned == 1) {
        PyObject *v = vm->slots[vm->out_slots[0]];
        v = v ? v : Py_None;
        Py_INCREF(v);
        return v;
    }
    if (!vm->return_list && vm->n_returned == 0)
        Py_RETURN_NONE;
    PyObject *list = PyList_New(vm->n_returned);
    for (int o = 0; list && o < vm->n_returned; o++) {
        PyObject *v = vm->slots[vm->out_slots[o]];
        v = v ? v : Py_None;
        Py_INCREF(v);
        PyList_SET_ITEM(list, o, v);
    }
    return list;
}

static PyObject *VM_call(VM *vm, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"n_calls", NULL};
    long n_calls = -1;
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "the VM reads its input cells: call it with no "
                        "arguments, or n_calls=N");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|l", names, &n_calls))
        return NULL;
    if (vm->running) {
        PyErr_SetString(PyExc_RuntimeError, "VM called again while it runs (recursion)");
        return NULL;
    }
    vm->running = 1;
    for (long call = 0; call < (n_calls < 0 ? 1 : n_calls); call++) {
        if (load_inputs(vm) < 0 || run_steps(vm) < 0 || store_outputs(vm) < 0 ||
            apply_updates(vm) < 0) {
            clear_slots(vm, 0);
            vm->running = 0;
            return NULL;
        }
        if (call + 1 < n_calls)
            clear_slots(vm, !vm->gc);
    }
    PyObject *result = n_calls < 0 ? (Py_INCREF(Py_None), Py_None) : returned_values(vm);
    clear_slots(vm, !vm->gc);
    vm->running = 0;
    return result;
}

/* An explicit input the caller passed: usable as is (an aligned native ndarray of the
 * input's dtype, rank and static shape)? Anything else goes through the Python filter. */
static int argument_fits(VM *vm, int i, PyObject *v)
{
    if (!PyArray_CheckExact(v))
        return 0;
    PyArrayObject *a = (PyArrayObject *)v;
    if (PyArray_TYPE(a) != vm->arg_typenum[i] || PyArray_NDIM(a) != vm->arg_ndim[i] ||
        !PyArray_ISALIGNED(a) || !PyArray_ISNOTSWAPPED(a))
        return 0;
    const int64_t *want = vm->arg_shape + (size_t)i * SG_MAXDIMS;
    for (int d = 0; d < vm->arg_ndim[i]; d++)
        if (want[d] >= 0 && want[d] != PyArray_DIMS(a)[d])
            return 0;
    return 1;
}

/* Even a trusted argument must be what C steps read it as: a wrong one would crash. */
static int read_safely(VM *vm, int i, PyObject *v)
{
    int slot = vm->in_slots[i];
    if (vm->check_typenum[slot] < 0)
        return 1;
    if (!PyArray_Check(v))
        return 0;
    PyArrayObject *a = (PyArrayObject *)v;
    return PyArray_TYPE(a) == vm->check_typenum[slot] && PyArray_NDIM(a) == vm->check_ndim[slot]
        && PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a);
}

/* VM.run(*args): the whole call in C.  Returns NotImplemented (having run nothing)
 * when an argument needs the Python filter; the caller then takes the slow path. */
static PyObject *VM_run(VM *vm, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != vm->n_explicit || vm->running)
        Py_RETURN_NOTIMPLEMENTED;
    for (int i = 0; i < vm->n_explicit; i++)
        if (!(vm->trust_input ? read_safely(vm, i, args[i]) : argument_fits(vm, i, args[i])))
            Py_RETURN_NOTIMPLEMENTED;
    vm->running = 1;
    for (int i = 0; i < vm->n_explicit; i++) {
        Py_INCREF(args[i]);
        Py_XSETREF(vm->slots[vm->in_slots[i]], args[i]);
    }
    int rc = 0;
    for (int i = vm->n_explicit; i < vm->n_inputs && rc == 0; i++) {  /* shared state */
        PyObject *v = PyList_GET_ITEM(vm->in_cells[i], 0);
        int slot = vm->in_slots[i];
        if (vm->check_typenum[slot] >= 0)
            v = checked_array(v, vm->check_typenum[slot], vm->check_ndim[slot], "input", i);
        else
            Py_INCREF(v);
        if (!v)
            rc = -1;
        else
            Py_XSETREF(vm->slots[slot], v);
    }
    PyObject *result = NULL;
    if (rc == 0 && run_steps(vm) == 0 && apply_updates(vm) == 0)
        result = returned_values(vm);
    clear_slots(vm, result ? !vm->gc : 0);
    vm->running = 0;
    return result;
}

/* -- construction ------------------------------------------------------------- */

static int parse_step(VM *vm, Step *st, PyObject *spec)
{
    /* ("c", address, in_slots, out_slots, out_typenums, free_slots, lazy),
       ("py", perform, node, cells, in_slots, out_slots, free_slots),
       ("jump", cond_slot or -1, target, free_slots) or
       ("loop", plan, perform, node, cells, in_slots, out_slots, free_slots): a Scan whose
       loop runs in C (scan_loop.c), through perform while c_loops is off */
    const char *kind;
    PyObject *a, *b, *c, *d = NULL, *e = NULL, *f = NULL, *g = NULL;
    if (!PyArg_ParseTuple(spec, "sOOO|OOOO", &kind, &a, &b, &c, &d, &e, &f, &g))
        return -1;
    if (strcmp(kind, "loop") == 0 && g) {
        if (!(st->loop = scan_plan_parse(a)))
            return -1;
        Py_INCREF(a);
        st->plan = a;
        a = b, b = c, c = d, d = e, e = f, f = g;
        kind = "py";
    }
    PyObject *ins, *outs, *frees;
    if (strcmp(kind, "jump") == 0 && !d) {
        st->kind = STEP_JUMP;
        st->cond_slot = (int)PyLong_AsLong(a);
        st->target = (int)PyLong_AsLong(b);
        if (PyErr_Occurred())
            return -1;
        if (!(st->free_slots = int_array(c, &st->nfree, "free_slots")))
            return -1;
        if ((st->cond_slot >= 0 && check_slots(vm, &st->cond_slot, 1, "condition") < 0) ||
            check_slots(vm, st->free_slots, st->nfree, "free") < 0)
            return -1;
        if (st->target < 0 || st->target > vm->n_steps) {
            PyErr_Format(PyExc_ValueError, "VM: jump target %d out of range", st->target);
            return -1;
        }
        return 0;
    }
    if (!e) {
        PyErr_Format(PyExc_ValueError, "VM: bad step spec for kind %s", kind);
        return -1;
    }
    if (strcmp(kind, "c") == 0 && f) {
        st->kind = STEP_C;
        st->lazy = PyObject_IsTrue(f);
        if (st->lazy < 0)
            return -1;
        void *address = PyLong_AsVoidPtr(a);
        if (!address) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "VM: null C function");
            return -1;
        }
        st->fn = (sg_node_fn)address;
        ins = b, outs = c, frees = e;
        int ntypes = 0;
        if (!(st->out_typenums = int_array(d, &ntypes, "out_typenums")))
            return -1;
        for (int k = 0; k < ntypes; k++) {
            PyArray_Descr *descr = PyArray_DescrFromType(st->out_typenums[k]);
            if (!descr)
                return -1;
            Py_DECREF(descr);
        }
    } else if (strcmp(kind, "py") == 0 && f) {
        st->kind = st->loop ? STEP_LOOP : STEP_PY;
        if (!PyList_Check(c)) {
            PyErr_SetString(PyExc_TypeError, "VM: perform cells must be a list");
            return -1;
        }
        Py_INCREF(a), Py_INCREF(b), Py_INCREF(c);
        st->perform = a, st->node = b, st->cells = c;
        ins = d, outs = e, frees = f;
    } else {
        PyErr_Format(PyExc_ValueError, "VM: bad step kind %s", kind);
        return -1;
    }
    if (!(st->in_slots = int_array(ins, &st->nin, "in_slots")) ||
        !(st->out_slots = int_array(outs, &st->nout, "out_slots")) ||
        !(st->free_slots = int_array(frees, &st->nfree, "free_slots")))
        return -1;
    if (check_slots(vm, st->in_slots, st->nin, "step input") < 0 ||
        check_slots(vm, st->out_slots, st->nout, "step output") < 0 ||
        check_slots(vm, st->free_slots, st->nfree, "free") < 0)
        return -1;
    if (st->kind == STEP_PY || st->kind == STEP_LOOP) {
        if (PyList_GET_SIZE(st->cells) != st->nout) {
            PyErr_SetString(PyExc_ValueError, "VM: one perform cell per output");
            return -1;
        }
        for (int k = 0; k < st->nout; k++) {
            PyObject *cell = PyList_GET_ITEM(st->cells, k);
            if (!PyList_Check(cell) || PyList_GET_SIZE(cell) != 1) {
                PyErr_SetString(PyExc_ValueError, "VM: a perform cell is a 1-element list");
                return -1;
            }
        }
    }
    vm->max_nin = st->nin > vm->max_nin ? st->nin : vm->max_nin;
    vm->max_nout = st->nout > vm->max_nout ? st->nout : vm->max_nout;
    return 0;
}

static int parse_cells(VM *vm, PyObject *pairs, PyObject ***cells, int **slots, int *n,
                       const char *what)
{
    PyObject *fast = PySequence_Fast(pairs, what);
    if (!fast)
        return -1;
    *n = (int)PySequence_Fast_GET_SIZE(fast);
    *cells = PyMem_Calloc(*n ? *n : 1, sizeof(PyObject *));
    *slots = PyMem_Calloc(*n ? *n : 1, sizeof(int));
    if (!*cells || !*slots) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < *n; i++) {
        PyObject *cell;
        int slot;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "Oi", &cell, &slot) ||
            check_slots(vm, &slot, 1, what) < 0) {
            Py_DECREF(fast);
            return -1;
        }
        if (!PyList_Check(cell) || PyList_GET_SIZE(cell) < 1) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_TypeError, "VM: %s cell %d is not a 1-element list", what, i);
            return -1;
        }
        Py_INCREF(cell);
        (*cells)[i] = cell;
        (*slots)[i] = slot;
    }
    Py_DECREF(fast);
    return 0;
}

static int parse_plan(VM *vm, PyObject *constants, PyObject *checks)
{
    PyObject *fast = PySequence_Fast(checks, "checks");
    if (!fast)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        int slot, typenum, ndim;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "iii", &slot, &typenum, &ndim) ||
            check_slots(vm, &slot, 1, "check") < 0) {
            Py_DECREF(fast);
            return -1;
        }
        vm->check_typenum[slot] = typenum;
        vm->check_ndim[slot] = ndim;
    }
    Py_DECREF(fast);
    if (!(fast = PySequence_Fast(constants, "constants")))
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        int slot;
        PyObject *value;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "iO", &slot, &value) ||
            check_slots(vm, &slot, 1, "constant") < 0) {
            Py_DECREF(fast);
            return -1;
        }
        if (vm->check_typenum[slot] >= 0)
            value = checked_array(value, vm->check_typenum[slot], vm->check_ndim[slot],
                                  "constant", (int)i);
        else
            Py_XINCREF(value);
        if (!value) {
            Py_DECREF(fast);
            return -1;
        }
        Py_XSETREF(vm->slots[slot], value);
        vm->is_constant[slot] = 1;
    }
    Py_DECREF(fast);
    return 0;
}

/* arg_types: per explicit input (the first inputs), (typenum, ndim, static shape with
 * None for unknown sizes), for VM.run's check. */
static int parse_arg_types(VM *vm, PyObject *arg_types)
{
    PyObject *fast = PySequence_Fast(arg_types, "arg_types");
    if (!fast)
        return -1;
    int n = (int)PySequence_Fast_GET_SIZE(fast);
    if (n > vm->n_inputs) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "VM: more arg_types than inputs");
        return -1;
    }
    vm->n_explicit = n;
    vm->arg_typenum = PyMem_Calloc(n ? n : 1, sizeof(int));
    vm->arg_ndim = PyMem_Calloc(n ? n : 1, sizeof(int));
    vm->arg_shape = PyMem_Calloc((size_t)(n ? n : 1) * SG_MAXDIMS, sizeof(int64_t));
    if (!vm->arg_typenum || !vm->arg_ndim || !vm->arg_shape) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *shape;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "iiO", &vm->arg_typenum[i],
                              &vm->arg_ndim[i], &shape) ||
            vm->arg_ndim[i] < 0 || vm->arg_ndim[i] > SG_MAXDIMS ||
            PySequence_Size(shape) != vm->arg_ndim[i]) {
            Py_DECREF(fast);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "VM: bad arg_types entry");
            return -1;
        }
        for (int d = 0; d < vm->arg_ndim[i]; d++) {
            PyObject *size = PySequence_GetItem(shape, d);
            vm->arg_shape[(size_t)i * SG_MAXDIMS + d] =
                size == Py_None ? -1 : PyLong_AsLongLong(size);
            Py_XDECREF(size);
        }
        if (PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

static int VM_init(VM *vm, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"n_slots", "constants", "checks", "inputs", "outputs", "steps",
                            "error_handler", "gc", "keepalive", "input_cells",
                            "output_cells", "nodes", "updates", "n_returned", "return_list",
                            "arg_types", NULL};
    int n_slots, gc = 1;
    PyObject *constants, *checks, *inputs, *outputs, *steps, *handler = Py_None;
    PyObject *keepalive = Py_None, *input_cells = Py_None, *output_cells = Py_None;
    PyObject *nodes = Py_None, *updates = NULL, *arg_types = NULL;
    int n_returned = 0, return_list = 1;
    if (vm->slots) {
        PyErr_SetString(PyExc_RuntimeError, "VM already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iOOOOO|OpOOOOOipO", names, &n_slots,
                                     &constants, &checks, &inputs, &outputs, &steps, &handler,
                                     &gc, &keepalive, &input_cells, &output_cells, &nodes,
                                     &updates, &n_returned, &return_list, &arg_types))
        return -1;
    if (n_slots < 0) {
        PyErr_SetString(PyExc_ValueError, "VM: n_slots < 0");
        return -1;
    }
    vm->n_slots = n_slots;
    vm->gc = gc;
    size_t n = (size_t)(n_slots ? n_slots : 1);
    vm->slots = PyMem_Calloc(n, sizeof(PyObject *));
    vm->check_typenum = PyMem_Malloc(n * sizeof(int));
    vm->check_ndim = PyMem_Malloc(n * sizeof(int));
    vm->is_constant = PyMem_Calloc(n, 1);
    if (!vm->slots || !vm->check_typenum || !vm->check_ndim || !vm->is_constant) {
        PyErr_NoMemory();
        return -1;
    }
    for (int s = 0; s < n_slots; s++)
        vm->check_typenum[s] = vm->check_ndim[s] = -1;
    Py_INCREF(handler), Py_INCREF(keepalive), Py_INCREF(input_cells), Py_INCREF(output_cells);
    Py_INCREF(nodes);
    vm->error_handler = handler, vm->keepalive = keepalive;
    vm->input_cells = input_cells, vm->output_cells = output_cells, vm->nodes = nodes;
    if (parse_plan(vm, constants, checks) < 0 ||
        parse_cells(vm, inputs, &vm->in_cells, &vm->in_slots, &vm->n_inputs, "input") < 0 ||
        parse_cells(vm, outputs, &vm->out_cells, &vm->out_slots, &vm->n_outputs, "output") < 0 ||
        (updates && parse_cells(vm, updates, &vm->upd_cells, &vm->upd_slots, &vm->n_updates,
                                "update") < 0) ||
        (arg_types && parse_arg_types(vm, arg_types) < 0))
        return -1;
    if (n_returned < 0 || n_returned > vm->n_outputs) {
        PyErr_SetString(PyExc_ValueError, "VM: n_returned out of range");
        return -1;
    }
    vm->n_returned = n_returned, vm->return_list = return_list;
    PyObject *fast = PySequence_Fast(steps, "steps");
    if (!fast)
        return -1;
    vm->n_steps = (int)PySequence_Fast_GET_SIZE(fast);
    vm->steps = PyMem_Calloc(vm->n_steps ? vm->n_steps : 1, sizeof(Step));
    if (!vm->steps) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (int k = 0; k < vm->n_steps; k++)
        if (parse_step(vm, &vm->steps[k], PySequence_Fast_GET_ITEM(fast, k)) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    Py_DECREF(fast);
    vm->arr_in = PyMem_Calloc((size_t)vm->max_nin + 1, sizeof(sg_array));
    vm->arr_out = PyMem_Calloc((size_t)vm->max_nout + 1, sizeof(sg_array));
    vm->produced = PyMem_Calloc((size_t)vm->max_nout + 1, 1);
    if (!vm->arr_in || !vm->arr_out || !vm->produced) {
        PyErr_NoMemory();
        return -1;
    }
    vm->ctx.alloc = vm_alloc;
    vm->ctx.alias = vm_alias;
    vm->ctx.view = vm_view;
    vm->ctx.blas = blas_loaded ? &blas_table : NULL;
    sg_runtime_install(&vm->ctx);
    vm->ctx.vm = vm;
    return 0;
}

/* -- GC support and deallocation ---------------------------------------------- */

static int VM_traverse(VM *vm, visitproc visit, void *arg)
{
    for (int s = 0; vm->slots && s < vm->n_slots; s++)
        Py_VISIT(vm->slots[s]);
    for (int i = 0; vm->in_cells && i < vm->n_inputs; i++)
        Py_VISIT(vm->in_cells[i]);
    for (int i = 0; vm->out_cells && i < vm->n_outputs; i++)
        Py_VISIT(vm->out_cells[i]);
    for (int i = 0; vm->upd_cells && i < vm->n_updates; i++)
        Py_VISIT(vm->upd_cells[i]);
    for (int k = 0; vm->steps && k < vm->n_steps; k++) {
        Py_VISIT(vm->steps[k].perform);
        Py_VISIT(vm->steps[k].node);
        Py_VISIT(vm->steps[k].cells);
        Py_VISIT(vm->steps[k].plan);
    }
    for (int k = 0; k < vm->pool_n; k++)
        Py_VISIT(vm->pool[k]);
    Py_VISIT(vm->error_handler);
    Py_VISIT(vm->keepalive);
    Py_VISIT(vm->input_cells);
    Py_VISIT(vm->output_cells);
    Py_VISIT(vm->nodes);
    Py_VISIT(vm->profile_seconds);
    Py_VISIT(vm->profile_calls);
    return 0;
}

static int VM_clear(VM *vm)
{
    for (int s = 0; vm->slots && s < vm->n_slots; s++)
        Py_CLEAR(vm->slots[s]);
    for (int i = 0; vm->in_cells && i < vm->n_inputs; i++)
        Py_CLEAR(vm->in_cells[i]);
    for (int i = 0; vm->out_cells && i < vm->n_outputs; i++)
        Py_CLEAR(vm->out_cells[i]);
    for (int i = 0; vm->upd_cells && i < vm->n_updates; i++)
        Py_CLEAR(vm->upd_cells[i]);
    for (int k = 0; vm->steps && k < vm->n_steps; k++) {
        Py_CLEAR(vm->steps[k].perform);
        Py_CLEAR(vm->steps[k].node);
        Py_CLEAR(vm->steps[k].cells);
        Py_CLEAR(vm->steps[k].plan);
    }
    clear_pool(vm);
    Py_CLEAR(vm->error_handler);
    Py_CLEAR(vm->keepalive);
    Py_CLEAR(vm->input_cells);
    Py_CLEAR(vm->output_cells);
    Py_CLEAR(vm->nodes);
    Py_CLEAR(vm->profile_seconds);
    Py_CLEAR(vm->profile_calls);
    return 0;
}

static void VM_dealloc(VM *vm)
{
    PyObject_GC_UnTrack(vm);
    VM_clear(vm);
    for (int k = 0; vm->steps && k < vm->n_steps; k++) {
        Step *st = &vm->steps[k];
        PyMem_Free(st->in_slots), PyMem_Free(st->out_slots);
        PyMem_Free(st->out_typenums), PyMem_Free(st->free_slots);
        scan_plan_free(st->loop);
    }
    PyMem_Free(vm->steps), PyMem_Free(vm->slots), PyMem_Free(vm->check_typenum);
    PyMem_Free(vm->check_ndim), PyMem_Free(vm->is_constant);
    PyMem_Free(vm->in_cells), PyMem_Free(vm->out_cells);
    PyMem_Free(vm->in_slots), PyMem_Free(vm->out_slots);
    PyMem_Free(vm->arr_in), PyMem_Free(vm->arr_out), PyMem_Free(vm->produced);
    PyMem_Free(vm->upd_cells), PyMem_Free(vm->upd_slots);
    PyMem_Free(vm->arg_typenum), PyMem_Free(vm->arg_ndim), PyMem_Free(vm->arg_shape);
    Py_TYPE(vm)->tp_free((PyObject *)vm);
}

static PyObject *VM_get_n_c_steps(VM *vm, void *closure)
{
    int n = 0;
    for (int k = 0; k < vm->n_steps; k++)
        n += vm->steps[k].kind == STEP_C || vm->steps[k].kind == STEP_LOOP;
    return PyLong_FromLong(n);
}

static PyObject *VM_get_step_is_c(VM *vm, void *closure)
{
    PyObject *list = PyList_New(vm->n_steps);
    for (int k = 0; list && k < vm->n_steps; k++)
        PyList_SET_ITEM(list, k, PyBool_FromLong(vm->steps[k].kind == STEP_C ||
                                                     vm->steps[k].kind == STEP_LOOP));
    return list;
}

static PyMemberDef VM_members[] = {
    {"input_cells", T_OBJECT, offsetof(VM, input_cells), READONLY,
     "one cell (a 1-element list) per explicit function input"},
    {"output_cells", T_OBJECT, offsetof(VM, output_cells), READONLY,
     "one cell per fgraph output (outputs, then update values)"},
    {"keepalive", T_OBJECT, offsetof(VM, keepalive), READONLY,
     "what must outlive the VM (the loaded module holding the C functions)"},
    {"nodes", T_OBJECT, offsetof(VM, nodes), READONLY, "the Apply node of each step"},
    {"n_steps", T_INT, offsetof(VM, n_steps), READONLY, "steps in the schedule"},
    {"gc", T_INT, offsetof(VM, gc), READONLY, "1: intermediates freed after last use"},
    {"gil_releases", T_LONGLONG, offsetof(VM, gil_releases), READONLY,
     "C steps run without the GIL so far (steps on large arrays release it)"},
    {"trust_input", T_INT, offsetof(VM, trust_input), 0,
     "1: run() takes its arguments unchecked (the caller vouches for their types)"},
    {NULL}
};

static PyObject *VM_get_vm(VM *vm, void *closure)
{
    Py_INCREF(vm);
    return (PyObject *)vm;
}

#include "scan_loop.c"

static PyMethodDef VM_methods[] = {
    {"run", (PyCFunction)(void (*)(void))VM_run, METH_FASTCALL,
     "run(*inputs): one call with the explicit inputs, updates applied; returns the "
     "function's outputs, or NotImplemented when an input needs conversion"},
    {"time_nodes", (PyCFunction)VM_time_nodes, METH_VARARGS,
     "time_nodes(seconds, calls): from now on add each step's run time to seconds[k] and "
     "count it in calls[k] (profiling; the lists have one entry per step)"},
    {NULL}
};

static PyGetSetDef VM_getset[] = {
    {"n_c_steps", (getter)VM_get_n_c_steps, NULL,
     "steps that run in C (generated node code, or a scan's loop)", NULL},
    {"step_is_c", (getter)VM_get_step_is_c, NULL,
     "per step: True when it runs in C: generated node code, or a scan's loop over its "
     "inner VM (nodes[k] is its node)", NULL},
    {"vm", (getter)VM_get_vm, NULL, "the VM itself (the program is the VM)", NULL},
    {NULL}
};

static PyTypeObject VMType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "symgraph.link.c._cvm.VM",
    .tp_doc = "The C VM: run a fixed schedule of C and Python steps over a storage plan.",
    .tp_basicsize = sizeof(VM),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)VM_init,
    .tp_dealloc = (destructor)VM_dealloc,
    .tp_traverse = (traverseproc)VM_traverse,
    .tp_clear = (inquiry)VM_clear,
    .tp_call = (ternaryfunc)VM_call,
    .tp_members = VM_members,
    .tp_methods = VM_methods,
    .tp_getset = VM_getset,
};

/* -- loading generated modules ------------------------------------------------ */

/* dlopen a generated module and return the addresses of its node functions.
 * The library is never closed: VMs hold raw pointers into it, and a module
 * is loaded once per process (the caller memoizes by path). */
static PyObject *load_library(PyObject *self, PyObject *args)
{
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        PyErr_Format(PyExc_ImportError, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    int (*abi)(void) = (int (*)(void))dlsym(handle, "sg_abi_version");
    int (*count)(void) = (int (*)(void))dlsym(handle, "sg_n_functions");
    void *(*function)(int) = (void *(*)(int))dlsym(handle, "sg_function");
    if (!abi || !count || !function) {
        PyErr_Format(PyExc_ImportError, "%s is not a symgraph module (no export table)", path);
        return NULL;
    }
    if (abi() != SG_ABI_VERSION) {
        PyErr_Format(PyExc_ImportError, "%s was built for C ABI %d; this VM speaks %d", path,
                     abi(), SG_ABI_VERSION);
        return NULL;
    }
    int n = count();
    PyObject *addresses = PyList_New(n);
    for (int i = 0; addresses && i < n; i++) {
        PyObject *address = PyLong_FromVoidPtr(function(i));
        if (!address) {
            Py_CLEAR(addresses);
            break;
        }
        PyList_SET_ITEM(addresses, i, address);
    }
    return addresses;
}

static PyObject *set_c_loops(PyObject *self, PyObject *flag)
{
    int on = PyObject_IsTrue(flag);
    if (on < 0)
        return NULL;
    PyObject *previous = PyBool_FromLong(c_loops);
    c_loops = on;
    return previous;
}

static PyMethodDef cvm_methods[] = {
    {"load_library", load_library, METH_VARARGS,
     "load_library(path) -> addresses of the node functions of a generated module"},
    {"set_blas", set_blas, METH_O,
     "set_blas(scipy.linalg.cython_blas.__pyx_capi__): the BLAS generated code calls"},
    {"blas_addresses", blas_addresses, METH_NOARGS,
     "blas_addresses() -> {name: address}: the BLAS table generated code calls"},
    {"set_blas_ilp64", set_blas_ilp64, METH_O,
     "set_blas_ilp64({name: address}): an ILP64 BLAS (64-bit integers) behind the same table"},
    {"scan", module_scan, METH_VARARGS,
     "scan(plan, inputs) -> outputs: a Scan's whole loop in C over its inner VM (see "
     "csrc/scan_loop.c; plan from symgraph.scan.loop.c_loop_plan)"},
    {"set_c_loops", set_c_loops, METH_O,
     "set_c_loops(flag) -> previous flag: False makes loop steps run perform"},
    {NULL}
};

static struct PyModuleDef cvm_module = {
    PyModuleDef_HEAD_INIT, "_cvm", "The symgraph C virtual machine.", -1, cvm_methods,
};

PyMODINIT_FUNC PyInit__cvm(void)
{
    import_array();
    if (PyType_Ready(&VMType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&cvm_module);
    if (!m)
        return NULL;
    Py_INCREF(&VMType);
    if (PyModule_AddObject(m, "VM", (PyObject *)&VMType) < 0 ||
        PyModule_AddIntConstant(m, "ABI_VERSION", SG_ABI_VERSION) < 0) {
        Py_DECREF(&VMType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
