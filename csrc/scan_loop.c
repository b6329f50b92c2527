/* scan_loop.c: a Scan's whole loop in C (included by cvm.c).
 *
 * A Scan node whose inner function runs on the C VM is a "loop" step of the
 * outer VM: scan_run takes the node's input values, allocates the output
 * buffers, runs the inner VM once per step without entering Python, and hands
 * back the node's outputs.  The static layout of the loop (ScanPlan) is worked
 * out once from the op's ScanInfo (symgraph/scan/loop.py: c_loop_plan) and
 * parsed when the outer VM is built; see symgraph/scan/info.py for the layout.
 *
 * Each step points the inner VM's input slots at the rows it reads (a
 * sequence's row, a state buffer's rows at the taps), runs the schedule,
 * copies the step's outputs into rows of the buffers and checks the until
 * condition.  Row views are made once and then moved from row to row by
 * changing their data pointer, which is safe while nobody but the loop holds
 * them (reference count 1: a view of a view gets the array that owns the memory
 * as its base, not our view).  A while loop runs in stretches: when its
 * buffers are full they grow geometrically and the next stretch starts.  A
 * state with keep = k > 0 lives in a circular buffer of `wrap` rows.
 */

typedef struct {
    int slot;
    PyArrayObject *array;   /* owned: rows are read from it */
    Py_ssize_t offset;      /* step t reads row offset + t ... */
    Py_ssize_t wrap;        /* ... modulo wrap when wrap > 0 (a circular buffer) */
    PyObject *view;         /* owned: the row view handed to the inner graph, or NULL */
} LoopRead;

typedef struct {
    int slot;
    PyObject *value;        /* owned: the same value at every step */
} LoopFixed;

typedef struct {
    int slot;               /* the output slot copied into a row */
    PyArrayObject *buffer;  /* owned; NULL until the first step gives the row's shape */
    Py_ssize_t offset;      /* step t writes row offset + t ... */
    Py_ssize_t wrap;        /* ... modulo wrap when wrap > 0 (a circular buffer) */
    PyObject *what;         /* borrowed: "state 0", "output 2", ... for errors */
    int typenum;            /* the dtype of a buffer made here */
} LoopWrite;

typedef struct {
    int out_slot, in_slot;  /* the output's value is the input at the next step */
    int index;
    PyObject *value;        /* owned: the current value */
} LoopFeedback;

typedef struct {
    PyObject *name;         /* borrowed: the Scan (its str() names it in messages) */
    Py_ssize_t start, stop;
    int n_reads, n_fixed, n_writes, n_feedback, n_cells;
    LoopRead *reads;
    LoopFixed *fixed;
    LoopWrite *writes;
    LoopFeedback *feedback;
    int *cell_inputs;       /* inputs no argument covers: loaded from their cells */
    int cond_slot;          /* the until condition's slot, or -1 */
} ScanLoop;

static void loop_free(ScanLoop *L)
{
    for (int i = 0; L->reads && i < L->n_reads; i++) {
        Py_XDECREF(L->reads[i].view);
        Py_XDECREF(L->reads[i].array);
    }
    for (int i = 0; L->fixed && i < L->n_fixed; i++)
        Py_XDECREF(L->fixed[i].value);
    for (int i = 0; L->writes && i < L->n_writes; i++)
        Py_XDECREF(L->writes[i].buffer);
    for (int i = 0; L->feedback && i < L->n_feedback; i++)
        Py_XDECREF(L->feedback[i].value);
    PyMem_Free(L->reads), PyMem_Free(L->fixed), PyMem_Free(L->writes);
    PyMem_Free(L->feedback), PyMem_Free(L->cell_inputs);
}

/* The value for `slot` as C steps read it (checked_array), or itself (new reference). */
static PyObject *slot_value(VM *vm, int slot, PyObject *value, const char *what, int index)
{
    if (vm->check_typenum[slot] >= 0)
        return checked_array(value, vm->check_typenum[slot], vm->check_ndim[slot], what, index);
    Py_INCREF(value);
    return value;
}

/* The row of step t for an array read or written at offset + t (modulo wrap if > 0). */
static inline Py_ssize_t step_row(Py_ssize_t offset, Py_ssize_t wrap, Py_ssize_t t)
{
    return wrap > 0 ? (offset + t) % wrap : offset + t;
}

/* Do the rows of steps [start, stop) exist in `a`? */
static int rows_in_range(ScanLoop *L, PyArrayObject *a, Py_ssize_t offset, Py_ssize_t wrap,
                         const char *what, int index)
{
    Py_ssize_t last = wrap > 0 ? wrap : offset + L->stop;
    if (wrap < 0 || (L->stop > L->start &&
                     (offset + L->start < 0 || last > PyArray_DIMS(a)[0]))) {
        PyErr_Format(PyExc_IndexError, "%S: %s %d has %zd rows; steps %zd..%zd need rows "
                     "%zd..%zd", L->name, what, index, (Py_ssize_t)PyArray_DIMS(a)[0], L->start,
                     L->stop - 1, offset + L->start, offset + L->stop - 1);
        return -1;
    }
    return 0;
}

/* -- one step ------------------------------------------------------------------ */

static PyObject *row_view(PyArrayObject *a, char *data)
{
    PyArray_Descr *descr = PyArray_DESCR(a);
    Py_INCREF(descr);
    PyObject *view = PyArray_NewFromDescr(&PyArray_Type, descr, PyArray_NDIM(a) - 1,
                                          PyArray_DIMS(a) + 1, PyArray_STRIDES(a) + 1, data,
                                          PyArray_FLAGS(a) & NPY_ARRAY_WRITEABLE, NULL);
    if (!view)
        return NULL;
    Py_INCREF(a);
    if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)a) < 0) {
        Py_DECREF(view);
        return NULL;
    }
    PyArray_UpdateFlags((PyArrayObject *)view, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_F_CONTIGUOUS |
                        NPY_ARRAY_ALIGNED);
    return view;
}

static void set_input(VM *vm, int slot, PyObject *value)
{
    Py_INCREF(value);
    Py_XSETREF(vm->slots[slot], value);
}

/* Point each input slot at what step t reads. */
static int load_step_inputs(ScanLoop *L, VM *vm, Py_ssize_t t)
{
    for (int k = 0; k < L->n_reads; k++) {
        LoopRead *r = &L->reads[k];
        Py_CLEAR(vm->slots[r->slot]);  /* the slot's reference to last step's view */
        char *data = PyArray_BYTES(r->array) +
            step_row(r->offset, r->wrap, t) * PyArray_STRIDES(r->array)[0];
        if (r->view && Py_REFCNT(r->view) == 1) {
            ((PyArrayObject_fields *)r->view)->data = data;  /* nobody else sees it */
        } else {
            Py_XDECREF(r->view);  /* someone kept it: it keeps its row, we take a new view */
            if (!(r->view = row_view(r->array, data)))
                return -1;
        }
        set_input(vm, r->slot, r->view);
    }
    for (int k = 0; k < L->n_fixed; k++)
        if (vm->slots[L->fixed[k].slot] != L->fixed[k].value)  /* freed after its last use */
            set_input(vm, L->fixed[k].slot, L->fixed[k].value);
    for (int k = 0; k < L->n_feedback; k++) {
        LoopFeedback *f = &L->feedback[k];
        PyObject *v = slot_value(vm, f->in_slot, f->value, "shared state", f->index);
        if (!v)
            return -1;
        Py_XSETREF(vm->slots[f->in_slot], v);
    }
    for (int k = 0; k < L->n_cells; k++) {  /* shared variables of the inner function */
        int i = L->cell_inputs[k];
        PyObject *cell = vm->in_cells[i];
        if (PyList_GET_SIZE(cell) < 1) {
            PyErr_Format(PyExc_RuntimeError, "scan loop: input cell %d is empty", i);
            return -1;
        }
        PyObject *v = slot_value(vm, vm->in_slots[i], PyList_GET_ITEM(cell, 0), "input", i);
        if (!v)
            return -1;
        Py_XSETREF(vm->slots[vm->in_slots[i]], v);
    }
    return 0;
}

static void copy_strided(char *dst, const npy_intp *dst_strides, const char *src,
                         const npy_intp *src_strides, const npy_intp *shape, int ndim,
                         size_t itemsize)
{
    if (ndim == 0) {
        memcpy(dst, src, itemsize);
        return;
    }
    for (npy_intp i = 0; i < shape[0]; i++)
        copy_strided(dst + i * dst_strides[0], dst_strides + 1, src + i * src_strides[0],
                     src_strides + 1, shape + 1, ndim - 1, itemsize);
}

static PyObject *dims_tuple(int ndim, const npy_intp *dims)
{
    PyObject *t = PyTuple_New(ndim);
    for (int d = 0; t && d < ndim; d++) {
        PyObject *n = PyLong_FromSsize_t(dims[d]);
        if (!n) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, d, n);
    }
    return t;
}

static int shape_error(ScanLoop *L, LoopWrite *w, Py_ssize_t t, PyArrayObject *value)
{
    PyArrayObject *b = w->buffer;
    PyObject *got = dims_tuple(PyArray_NDIM(value), PyArray_DIMS(value));
    PyObject *want = dims_tuple(PyArray_NDIM(b) - 1, PyArray_DIMS(b) + 1);
    if (got && want)
        PyErr_Format(PyExc_ValueError, "%S: at step %zd, %U has shape %R but earlier steps (or "
                     "its initial value) have shape %R; a scan output must keep one shape",
                     L->name, t, w->what, got, want);
    Py_XDECREF(got);
    Py_XDECREF(want);
    return -1;
}

/* The step's value of a written output as an ndarray of the buffer's dtype (new ref). */
static PyArrayObject *written_value(VM *vm, LoopWrite *w)
{
    PyObject *v = vm->slots[w->slot];
    if (!v) {
        PyErr_Format(PyExc_RuntimeError, "scan loop: %U was not computed", w->what);
        return NULL;
    }
    int typenum = w->buffer ? PyArray_TYPE(w->buffer) : w->typenum;
    if (PyArray_Check(v) && PyArray_TYPE((PyArrayObject *)v) == typenum) {
        Py_INCREF(v);
        return (PyArrayObject *)v;
    }
    return (PyArrayObject *)PyArray_FromAny(v, PyArray_DescrFromType(typenum), 0, 0,
                                            NPY_ARRAY_FORCECAST, NULL);
}

/* Has `value` the shape of a row of `buffer`? */
static inline int same_row_shape(PyArrayObject *value, PyArrayObject *buffer)
{
    int ndim = PyArray_NDIM(value);
    if (ndim != PyArray_NDIM(buffer) - 1)
        return 0;
    for (int d = 0; d < ndim; d++)
        if (PyArray_DIMS(value)[d] != PyArray_DIMS(buffer)[d + 1])
            return 0;
    return 1;
}

/* Copy output w's value at step t into row offset + t of its buffer. */
static int write_row(ScanLoop *L, VM *vm, LoopWrite *w, Py_ssize_t t)
{
    PyArrayObject *v = written_value(vm, w);
    if (!v)
        return -1;
    int ndim = PyArray_NDIM(v);
    if (!w->buffer) {  /* the first step: now the row's shape is known */
        npy_intp dims[NPY_MAXDIMS];
        dims[0] = w->wrap > 0 ? w->wrap : w->offset + L->stop;
        memcpy(dims + 1, PyArray_DIMS(v), (size_t)ndim * sizeof(npy_intp));
        w->buffer = (PyArrayObject *)PyArray_EMPTY(ndim + 1, dims, w->typenum, 0);
        if (!w->buffer) {
            Py_DECREF(v);
            return -1;
        }
    }
    PyArrayObject *b = w->buffer;
    if (!same_row_shape(v, b)) {
        shape_error(L, w, t, v);
        Py_DECREF(v);
        return -1;
    }
    char *row = PyArray_BYTES(b) + step_row(w->offset, w->wrap, t) * PyArray_STRIDES(b)[0];
    if (PyArray_IS_C_CONTIGUOUS(v) && PyArray_IS_C_CONTIGUOUS(b))
        memmove(row, PyArray_BYTES(v), (size_t)PyArray_NBYTES(v));
    else
        copy_strided(row, PyArray_STRIDES(b) + 1, PyArray_BYTES(v), PyArray_STRIDES(v),
                     PyArray_DIMS(v), ndim, (size_t)PyArray_ITEMSIZE(b));
    Py_DECREF(v);
    return 0;
}

/* The shared states' new values: arrays copied (the inner function may reuse its buffers). */
static int take_feedback(ScanLoop *L, VM *vm)
{
    for (int k = 0; k < L->n_feedback; k++) {
        LoopFeedback *f = &L->feedback[k];
        PyObject *v = vm->slots[f->out_slot];
        if (!v) {
            PyErr_Format(PyExc_RuntimeError, "scan loop: shared state %d was not computed", k);
            return -1;
        }
        if (PyArray_Check(v))
            v = PyArray_NewCopy((PyArrayObject *)v, NPY_KEEPORDER);
        else
            Py_INCREF(v);
        if (!v)
            return -1;
        Py_XSETREF(f->value, v);
    }
    return 0;
}

/* An error raised inside the inner function: the same exception type, its message
 * followed by the step (as link/errors.py adds a node's details), chained to it. */
static void annotate_step_error(ScanLoop *L, Py_ssize_t t)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (!value) {
        PyErr_Restore(type, value, tb);
        return;
    }
    if (tb)
        PyException_SetTraceback(value, tb);
    PyObject *message = PyUnicode_FromFormat("%S\nIn step %zd of %S", value, t, L->name);
    PyObject *wrapped = message ? PyObject_CallOneArg(type, message) : NULL;
    Py_XDECREF(message);
    if (!wrapped || !PyExceptionInstance_Check(wrapped)) {  /* a type we cannot remake */
        Py_XDECREF(wrapped);
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
        return;
    }
    PyObject *node = PyObject_GetAttrString(value, "node");
    if (!node || PyObject_SetAttrString(wrapped, "node", node) < 0)
        PyErr_Clear();
    Py_XDECREF(node);
    if (tb)
        PyException_SetTraceback(wrapped, tb);
    PyException_SetCause(wrapped, value);  /* steals value */
    Py_DECREF(type);
    type = (PyObject *)Py_TYPE(wrapped);
    Py_INCREF(type);
    PyErr_Restore(type, wrapped, tb);
}

/* Steps start..stop-1; *end: the step after the last one run, *stopped: until held. */
static int run_loop_steps(ScanLoop *L, VM *vm, Py_ssize_t *end, int *stopped)
{
    for (Py_ssize_t t = L->start; t < L->stop; t++) {
        if (load_step_inputs(L, vm, t) < 0)
            return -1;
        if (run_steps(vm) < 0) {
            annotate_step_error(L, t);
            return -1;
        }
        if (vm->n_updates && apply_updates(vm) < 0)
            return -1;
        for (int k = 0; k < L->n_writes; k++)
            if (write_row(L, vm, &L->writes[k], t) < 0)
                return -1;
        if (take_feedback(L, vm) < 0)
            return -1;
        if (L->cond_slot >= 0) {
            PyObject *cond = vm->slots[L->cond_slot];
            int truth = cond ? PyObject_IsTrue(cond) : -1;
            if (truth < 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_RuntimeError, "scan loop: until condition not computed");
                return -1;
            }
            if (truth) {
                *end = t + 1, *stopped = 1;
                return 0;
            }
        }
    }
    *end = L->stop, *stopped = 0;
    return 0;
}


/* -- the plan ------------------------------------------------------------------ */

/* A Scan's loop layout, from the plan tuple (built by symgraph/scan/loop.py):
 *   (op, inner VM, n_seqs, n_shared, n_non_seqs, as_while,
 *    states: ((lag, wrap, keep, typenum, what), ...),
 *    taps:   ((inner input, state, row offset at step 0), ...),
 *    nits:   ((typenum, what, row shape when no step ran), ...))
 * Objects are borrowed from the tuple, which the owner keeps alive. */
struct ScanPlan {
    PyObject *op;            /* named in messages */
    VM *inner;
    int n_seqs, n_states, n_taps, n_nit, n_shared, n_non_seqs, as_while;
    Py_ssize_t *lag, *wrap, *keep;   /* per state */
    int *typenum;            /* per written output: states, then nit-sots */
    PyObject **what;         /* per written output: "state 0", "output 2", ... */
    PyObject **empty_shape;  /* per nit-sot */
    int *tap_input, *tap_state;
    Py_ssize_t *tap_offset;  /* per tap */
};

static void scan_plan_free(ScanPlan *P)
{
    if (!P)
        return;
    PyMem_Free(P->lag), PyMem_Free(P->wrap), PyMem_Free(P->keep), PyMem_Free(P->typenum);
    PyMem_Free(P->what), PyMem_Free(P->empty_shape), PyMem_Free(P->tap_input);
    PyMem_Free(P->tap_state), PyMem_Free(P->tap_offset);
    PyMem_Free(P);
}

static int plan_error(const char *message)
{
    PyErr_Format(PyExc_ValueError, "scan plan: %s", message);
    return -1;
}

static int plan_dtype(int typenum)
{
    PyArray_Descr *descr = PyArray_DescrFromType(typenum);
    Py_XDECREF(descr);
    return descr ? 0 : -1;
}

static int parse_plan_states(ScanPlan *P, PyObject *states)
{
    for (int i = 0; i < P->n_states; i++) {
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(states, i), "nnniU", &P->lag[i], &P->wrap[i],
                              &P->keep[i], &P->typenum[i], &P->what[i]) ||
            plan_dtype(P->typenum[i]) < 0)
            return -1;
        if (P->lag[i] < 1 || P->wrap[i] < 0 || P->keep[i] < 0 ||
            (P->wrap[i] && P->wrap[i] <= P->lag[i]))
            return plan_error("bad state lag, wrap or keep");
    }
    return 0;
}

static int parse_plan_taps(ScanPlan *P, PyObject *taps)
{
    for (int k = 0; k < P->n_taps; k++) {
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(taps, k), "iin", &P->tap_input[k],
                              &P->tap_state[k], &P->tap_offset[k]))
            return -1;
        int s = P->tap_state[k];
        if (s < 0 || s >= P->n_states || P->tap_input[k] != P->n_seqs + k ||
            P->tap_offset[k] < 0 || P->tap_offset[k] >= P->lag[s])
            return plan_error("bad tap");
    }
    return 0;
}

static int parse_plan_nits(ScanPlan *P, PyObject *nits)
{
    for (int j = 0; j < P->n_nit; j++) {
        int k = P->n_states + j;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(nits, j), "iUO!", &P->typenum[k], &P->what[k],
                              &PyTuple_Type, &P->empty_shape[j]) ||
            plan_dtype(P->typenum[k]) < 0)
            return -1;
    }
    return 0;
}

/* The inner VM's inputs and outputs must be laid out as info.py says. */
static int check_plan_vm(ScanPlan *P)
{
    VM *vm = P->inner;
    int n_in = P->n_seqs + P->n_taps + P->n_shared + P->n_non_seqs;
    int n_out = P->n_states + P->n_nit + P->n_shared + P->as_while;
    if (vm->n_explicit != n_in || vm->n_outputs != n_out)
        return plan_error("the inner VM's inputs or outputs do not match the layout");
    return 0;
}

/* Parse a plan tuple; NULL with an exception if it is malformed. */
static ScanPlan *scan_plan_parse(PyObject *plan)
{
    PyObject *vm, *states, *taps, *nits;
    ScanPlan *P = PyMem_Calloc(1, sizeof(ScanPlan));
    if (!P)
        return (ScanPlan *)PyErr_NoMemory();
    if (!PyTuple_Check(plan) ||
        !PyArg_ParseTuple(plan, "OO!iiipO!O!O!", &P->op, &VMType, &vm, &P->n_seqs,
                          &P->n_shared, &P->n_non_seqs, &P->as_while, &PyTuple_Type, &states,
                          &PyTuple_Type, &taps, &PyTuple_Type, &nits)) {
        if (!PyErr_Occurred())
            plan_error("not a tuple");
        scan_plan_free(P);
        return NULL;
    }
    P->inner = (VM *)vm;
    P->n_states = (int)PyTuple_GET_SIZE(states);
    P->n_taps = (int)PyTuple_GET_SIZE(taps);
    P->n_nit = (int)PyTuple_GET_SIZE(nits);
    size_t ns = (size_t)P->n_states + 1, nw = ns + (size_t)P->n_nit, nt = (size_t)P->n_taps + 1;
    P->lag = PyMem_Calloc(ns, sizeof(Py_ssize_t));
    P->wrap = PyMem_Calloc(ns, sizeof(Py_ssize_t));
    P->keep = PyMem_Calloc(ns, sizeof(Py_ssize_t));
    P->typenum = PyMem_Calloc(nw, sizeof(int));
    P->what = PyMem_Calloc(nw, sizeof(PyObject *));
    P->empty_shape = PyMem_Calloc((size_t)P->n_nit + 1, sizeof(PyObject *));
    P->tap_input = PyMem_Calloc(nt, sizeof(int));
    P->tap_state = PyMem_Calloc(nt, sizeof(int));
    P->tap_offset = PyMem_Calloc(nt, sizeof(Py_ssize_t));
    if (!P->lag || !P->wrap || !P->keep || !P->typenum || !P->what || !P->empty_shape ||
        !P->tap_input || !P->tap_state || !P->tap_offset) {
        PyErr_NoMemory();
        scan_plan_free(P);
        return NULL;
    }
    if (P->n_seqs < 0 || P->n_shared < 0 || P->n_non_seqs < 0 ||
        parse_plan_states(P, states) < 0 || parse_plan_taps(P, taps) < 0 ||
        parse_plan_nits(P, nits) < 0 || check_plan_vm(P) < 0) {
        if (!PyErr_Occurred())
            plan_error("negative counts");
        scan_plan_free(P);
        return NULL;
    }
    return P;
}

/* -- one stretch of steps, from the plan ------------------------------------------ */

static int stretch_read(ScanLoop *L, VM *vm, int k, int slot, PyArrayObject *a,
                        Py_ssize_t offset, Py_ssize_t wrap)
{
    LoopRead *r = &L->reads[k];
    r->slot = slot, r->offset = offset, r->wrap = wrap;
    int typenum = vm->check_typenum[slot];
    if (typenum >= 0 && (PyArray_TYPE(a) != typenum || PyArray_NDIM(a) - 1 != vm->check_ndim[slot])) {
        PyErr_Format(PyExc_TypeError, "%S: the rows of sequence or state %d do not have the "
                     "dtype and rank the C code of the inner function reads", L->name, k);
        return -1;
    }
    if (rows_in_range(L, a, offset, wrap, "read", k) < 0)
        return -1;
    if (PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a)) {
        Py_INCREF(a);
        r->array = a;
    } else {  /* C code reads aligned native values: a copy that is */
        r->array = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)a, PyArray_TYPE(a),
                                                    NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED);
        if (!r->array)
            return -1;
    }
    return 0;
}

static int stretch_alloc(ScanLoop *L, ScanPlan *P, VM *vm)
{
    L->n_reads = P->n_seqs + P->n_taps;
    L->n_fixed = P->n_non_seqs;
    L->n_writes = P->n_states + P->n_nit;
    L->n_feedback = P->n_shared;
    L->n_cells = vm->n_inputs - vm->n_explicit;
    L->reads = PyMem_Calloc((size_t)L->n_reads + 1, sizeof(LoopRead));
    L->fixed = PyMem_Calloc((size_t)L->n_fixed + 1, sizeof(LoopFixed));
    L->writes = PyMem_Calloc((size_t)L->n_writes + 1, sizeof(LoopWrite));
    L->feedback = PyMem_Calloc((size_t)L->n_feedback + 1, sizeof(LoopFeedback));
    L->cell_inputs = PyMem_Calloc((size_t)L->n_cells + 1, sizeof(int));
    if (!L->reads || !L->fixed || !L->writes || !L->feedback || !L->cell_inputs) {
        PyErr_NoMemory();
        return -1;
    }
    for (int k = 0; k < L->n_cells; k++)  /* shared variables of the inner function */
        L->cell_inputs[k] = vm->n_explicit + k;
    return 0;
}

/* Fill L for steps start..stop-1 over the current buffers (bufs: states, then nit-sots,
 * NULL until the first step; shared: the shared states' current values). */
static int stretch_build(ScanLoop *L, ScanPlan *P, PyObject *const *seqs,
                         PyObject *const *non_seqs, PyArrayObject **bufs, PyObject **shared)
{
    VM *vm = P->inner;
    if (stretch_alloc(L, P, vm) < 0)
        return -1;
    for (int k = 0; k < P->n_seqs; k++)
        if (stretch_read(L, vm, k, vm->in_slots[k], (PyArrayObject *)seqs[k], 0, 0) < 0)
            return -1;
    for (int k = 0; k < P->n_taps; k++) {
        int s = P->tap_state[k], input = P->tap_input[k];
        if (stretch_read(L, vm, P->n_seqs + k, vm->in_slots[input], bufs[s], P->tap_offset[k],
                         P->wrap[s]) < 0)
            return -1;
    }
    int first_non_seq = P->n_seqs + P->n_taps + P->n_shared;
    for (int k = 0; k < P->n_non_seqs; k++) {
        LoopFixed *f = &L->fixed[k];
        f->slot = vm->in_slots[first_non_seq + k];
        if (!(f->value = slot_value(vm, f->slot, non_seqs[k], "non-sequence", k)))
            return -1;
    }
    for (int k = 0; k < L->n_writes; k++) {
        LoopWrite *w = &L->writes[k];
        int state = k < P->n_states;
        w->slot = vm->out_slots[k];
        w->offset = state ? P->lag[k] : 0;
        w->wrap = state ? P->wrap[k] : 0;
        w->what = P->what[k], w->typenum = P->typenum[k];
        w->buffer = bufs[k];
        Py_XINCREF(w->buffer);
        if (w->buffer && rows_in_range(L, w->buffer, w->offset, w->wrap, "buffer", k) < 0)
            return -1;
    }
    int first_shared_in = P->n_seqs + P->n_taps, first_shared_out = P->n_states + P->n_nit;
    for (int j = 0; j < P->n_shared; j++) {
        LoopFeedback *f = &L->feedback[j];
        f->out_slot = vm->out_slots[first_shared_out + j];
        f->in_slot = vm->in_slots[first_shared_in + j];
        f->index = j;
        Py_INCREF(shared[j]);
        f->value = shared[j];
    }
    L->cond_slot = P->as_while ? vm->out_slots[first_shared_out + P->n_shared] : -1;
    return 0;
}

/* Run one stretch; afterwards bufs and shared hold the stretch's buffers and values. */
static int stretch_run(ScanPlan *P, Py_ssize_t start, Py_ssize_t stop, PyObject *const *seqs,
                       PyObject *const *non_seqs, PyArrayObject **bufs, PyObject **shared,
                       Py_ssize_t *end, int *stopped)
{
    VM *vm = P->inner;
    ScanLoop L;
    memset(&L, 0, sizeof L);
    L.name = P->op, L.start = start, L.stop = stop;
    int rc = stretch_build(&L, P, seqs, non_seqs, bufs, shared);
    if (rc == 0) {
        vm->running = 1;
        rc = run_loop_steps(&L, vm, end, stopped);
        clear_slots(vm, rc == 0 ? !vm->gc : 0);
        vm->running = 0;
    }
    if (rc == 0) {
        for (int k = P->n_states; k < L.n_writes; k++)  /* made at the first step */
            if (!bufs[k] && L.writes[k].buffer) {
                bufs[k] = L.writes[k].buffer;
                Py_INCREF(bufs[k]);
            }
        for (int j = 0; j < P->n_shared; j++) {
            Py_INCREF(L.feedback[j].value);
            Py_SETREF(shared[j], L.feedback[j].value);
        }
    }
    loop_free(&L);
    return rc;
}

/* -- the whole loop ------------------------------------------------------------- */

static PyObject *rows_slice(PyArrayObject *a, Py_ssize_t start, Py_ssize_t stop)
{
    return PySequence_GetSlice((PyObject *)a, start, stop);
}

/* An uninitialized array of `rows` rows shaped like the rows of `like` (rank >= 1). */
static PyArrayObject *empty_rows(Py_ssize_t rows, PyArrayObject *like, int typenum)
{
    npy_intp dims[NPY_MAXDIMS];
    int ndim = PyArray_NDIM(like);
    dims[0] = rows;
    memcpy(dims + 1, PyArray_DIMS(like) + 1, (size_t)(ndim - 1) * sizeof(npy_intp));
    return (PyArrayObject *)PyArray_EMPTY(ndim, dims, typenum, 0);
}

/* Copy `src` into the first rows of `dst`. */
static int copy_rows(PyArrayObject *dst, PyObject *src, Py_ssize_t rows)
{
    if (rows == 0)
        return 0;
    PyObject *head = rows_slice(dst, 0, rows);
    int rc = head ? PyArray_CopyInto((PyArrayObject *)head, (PyArrayObject *)src) : -1;
    Py_XDECREF(head);
    return rc;
}

/* A state's buffer: its initial rows, then room for `rows - lag` steps. */
static PyArrayObject *state_buffer(PyArrayObject *init, Py_ssize_t lag, Py_ssize_t rows,
                                   int typenum)
{
    PyArrayObject *buf = empty_rows(rows, init, typenum);
    if (buf && copy_rows(buf, (PyObject *)init, lag) < 0)
        Py_CLEAR(buf);
    return buf;
}

/* *buf with at least `rows` rows, its rows kept (a while loop that outgrew it). */
static int grow_rows(PyArrayObject **buf, Py_ssize_t rows)
{
    PyArrayObject *old = *buf;
    if (!old || PyArray_DIMS(old)[0] >= rows)
        return 0;
    PyArrayObject *bigger = empty_rows(rows, old, PyArray_TYPE(old));
    if (!bigger || copy_rows(bigger, (PyObject *)old, PyArray_DIMS(old)[0]) < 0) {
        Py_XDECREF(bigger);
        return -1;
    }
    Py_SETREF(*buf, bigger);
    return 0;
}

/* The last min(keep, n_rows) of the n_rows rows written to a circular buffer, in order. */
static PyObject *last_rows(PyArrayObject *circular, Py_ssize_t n_rows, Py_ssize_t keep)
{
    Py_ssize_t size = PyArray_DIMS(circular)[0];
    Py_ssize_t first = n_rows > keep ? n_rows - keep : 0, count = n_rows - first;
    Py_ssize_t start = first % size;
    if (start + count <= size)  /* no wrap: a slice (the buffer is this call's own) */
        return rows_slice(circular, start, start + count);
    PyObject *tail = rows_slice(circular, start, size);
    PyObject *head = rows_slice(circular, 0, count - (size - start));
    PyObject *parts = tail && head ? PyTuple_Pack(2, tail, head) : NULL;
    PyObject *joined = parts ? PyArray_Concatenate(parts, 0) : NULL;
    Py_XDECREF(tail), Py_XDECREF(head), Py_XDECREF(parts);
    return joined;
}

/* A copy the loop owns (an op's output must not be one of its inputs). */
static PyObject *own_copy(PyObject *value)
{
    if (PyArray_Check(value))
        return PyArray_NewCopy((PyArrayObject *)value, NPY_KEEPORDER);
    PyObject *copy = PyImport_ImportModule("copy");
    PyObject *result = copy ? PyObject_CallMethod(copy, "deepcopy", "O", value) : NULL;
    Py_XDECREF(copy);
    return result;  /* a random generator, say */
}

static int check_scan_inputs(ScanPlan *P, Py_ssize_t n_steps, PyObject *const *seqs,
                             PyObject *const *inits)
{
    if (n_steps < 0) {
        PyErr_Format(PyExc_ValueError, "%S: n_steps is %zd; it must be >= 0", P->op, n_steps);
        return -1;
    }
    for (int k = 0; k < P->n_seqs; k++) {
        PyArrayObject *a = (PyArrayObject *)seqs[k];
        if (!PyArray_Check(seqs[k]) || PyArray_NDIM(a) < 1) {
            PyErr_Format(PyExc_TypeError, "%S: sequence %d is not an array with a time axis",
                         P->op, k);
            return -1;
        }
        if (PyArray_DIMS(a)[0] < n_steps) {
            PyErr_Format(PyExc_ValueError, "%S: sequence %d has %zd steps, fewer than the %zd "
                         "steps to run", P->op, k, (Py_ssize_t)PyArray_DIMS(a)[0], n_steps);
            return -1;
        }
    }
    for (int i = 0; i < P->n_states; i++) {
        PyArrayObject *a = (PyArrayObject *)inits[i];
        if (!PyArray_Check(inits[i]) || PyArray_NDIM(a) < 1) {
            PyErr_Format(PyExc_TypeError, "%S: the initial value of state %d is not an array "
                         "with a time axis", P->op, i);
            return -1;
        }
        if (PyArray_DIMS(a)[0] != P->lag[i]) {
            PyErr_Format(PyExc_ValueError, "%S: the initial value of state %d has %zd rows; its "
                         "taps need exactly %zd", P->op, i, (Py_ssize_t)PyArray_DIMS(a)[0],
                         P->lag[i]);
            return -1;
        }
    }
    return 0;
}

/* An empty array of the given shape tuple (its first size is 0). */
static PyObject *empty_stack(PyObject *shape, int typenum)
{
    npy_intp dims[NPY_MAXDIMS];
    int ndim = (int)PyTuple_GET_SIZE(shape);
    if (ndim < 1 || ndim > NPY_MAXDIMS)
        return PyErr_Format(PyExc_ValueError, "scan plan: bad empty shape %R", shape);
    for (int d = 0; d < ndim; d++)
        if ((dims[d] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, d))) < 0)
            return PyErr_Occurred() ? NULL
                : PyErr_Format(PyExc_ValueError, "scan plan: bad empty shape %R", shape);
    return PyArray_EMPTY(ndim, dims, typenum, 0);
}

/* The outer outputs (new references into out) after `steps` steps. */
static int scan_results(ScanPlan *P, Py_ssize_t steps, PyArrayObject **bufs, PyObject **shared,
                        PyObject *const *shared_inits, PyObject **out)
{
    for (int i = 0; i < P->n_states; i++) {
        Py_ssize_t rows = P->lag[i] + steps;
        out[i] = P->keep[i] ? last_rows(bufs[i], rows, P->keep[i]) : rows_slice(bufs[i], 0, rows);
        if (!out[i])
            return -1;
    }
    for (int j = 0; j < P->n_nit; j++) {
        int k = P->n_states + j;
        if (bufs[k]) {
            out[k] = rows_slice(bufs[k], 0, steps);
        } else {  /* no step ran: an empty stack (plan: its shape, unknown sizes as 0) */
            out[k] = empty_stack(P->empty_shape[j], P->typenum[k]);
        }
        if (!out[k])
            return -1;
    }
    for (int j = 0; j < P->n_shared; j++) {
        int k = P->n_states + P->n_nit + j;
        if (shared[j] == shared_inits[j]) {
            out[k] = own_copy(shared[j]);
        } else {
            Py_INCREF(shared[j]);
            out[k] = shared[j];
        }
        if (!out[k])
            return -1;
    }
    return 0;
}

/* Run the loop of plan P on the node's input values `in` (borrowed, laid out as
 * info.py says); the node's outputs go to `out` (new references). */
static int scan_run(ScanPlan *P, PyObject *const *in, PyObject **out)
{
    VM *vm = P->inner;
    if (vm->running) {
        PyErr_Format(PyExc_RuntimeError, "%S: its inner VM is already running (recursion)",
                     P->op);
        return -1;
    }
    Py_ssize_t n_steps = PyArray_PyIntAsIntp(in[0]);
    if (n_steps == -1 && PyErr_Occurred())
        return -1;
    PyObject *const *seqs = in + 1, *const *inits = seqs + P->n_seqs;
    PyObject *const *shared_inits = inits + P->n_states, *const *non_seqs = shared_inits + P->n_shared;
    if (check_scan_inputs(P, n_steps, seqs, inits) < 0)
        return -1;
    int n_bufs = P->n_states + P->n_nit, rc = -1;
    PyArrayObject **bufs = PyMem_Calloc((size_t)n_bufs + 1, sizeof(PyArrayObject *));
    PyObject **shared = PyMem_Calloc((size_t)P->n_shared + 1, sizeof(PyObject *));
    if (!bufs || !shared) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t capacity = P->as_while && n_steps > 16 ? 16 : n_steps;
    for (int i = 0; i < P->n_states; i++)
        if (!(bufs[i] = state_buffer((PyArrayObject *)inits[i], P->lag[i],
                                     P->wrap[i] ? P->wrap[i] : P->lag[i] + capacity,
                                     P->typenum[i])))
            goto done;
    for (int j = 0; j < P->n_shared; j++) {
        Py_INCREF(shared_inits[j]);
        shared[j] = shared_inits[j];
    }
    Py_ssize_t start = 0, end = 0, steps = n_steps;
    for (;;) {
        int stopped = 0;
        if (stretch_run(P, start, capacity, seqs, non_seqs, bufs, shared, &end, &stopped) < 0)
            goto done;
        if (stopped)
            steps = end;
        if (stopped || end >= n_steps)
            break;
        start = end;  /* a while loop that filled its buffers: grow them geometrically */
        capacity = 2 * capacity < n_steps ? 2 * capacity : n_steps;
        for (int k = 0; k < n_bufs; k++)
            if ((k >= P->n_states || !P->wrap[k]) &&
                grow_rows(&bufs[k], (k < P->n_states ? P->lag[k] : 0) + capacity) < 0)
                goto done;
    }
    rc = scan_results(P, steps, bufs, shared, shared_inits, out);
    if (rc < 0)
        for (int k = 0; k < n_bufs + P->n_shared; k++)
            Py_CLEAR(out[k]);
done:
    for (int k = 0; bufs && k < n_bufs; k++)
        Py_XDECREF(bufs[k]);
    for (int j = 0; shared && j < P->n_shared; j++)
        Py_XDECREF(shared[j]);
    PyMem_Free(bufs), PyMem_Free(shared);
    return rc;
}

/* A loop step of a VM: the Scan node's inputs from their slots, its outputs into theirs. */
static int run_loop_step(VM *vm, Step *st, int index)
{
    PyObject **values = PyMem_Calloc((size_t)(st->nin + st->nout) + 1, sizeof(PyObject *));
    if (!values) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject **outs = values + st->nin;
    int rc = 0;
    for (int i = 0; i < st->nin && rc == 0; i++)
        if (!(values[i] = vm->slots[st->in_slots[i]])) {
            PyErr_Format(PyExc_RuntimeError, "VM: input %d of step %d is not computed", i, index);
            rc = -1;
        }
    if (rc == 0)
        rc = scan_run(st->loop, values, outs);
    for (int k = 0; rc == 0 && k < st->nout; k++) {
        int slot = st->out_slots[k];
        PyObject *v = outs[k];
        outs[k] = NULL;
        if (vm->check_typenum[slot] >= 0) {
            PyObject *c = checked_array(v, vm->check_typenum[slot], vm->check_ndim[slot],
                                        "scan result", k);
            Py_DECREF(v);
            if (!(v = c))
                rc = -1;
        }
        if (v)
            Py_XSETREF(vm->slots[slot], v);
    }
    for (int k = 0; k < st->nout; k++)
        Py_XDECREF(outs[k]);
    PyMem_Free(values);
    return rc;
}

/* scan(plan, inputs): a Scan's loop called from Python (Scan.perform). */
static PyObject *module_scan(PyObject *self, PyObject *args)
{
    PyObject *plan, *inputs;
    if (!PyArg_ParseTuple(args, "OO!", &plan, &PyList_Type, &inputs))
        return NULL;
    ScanPlan *P = scan_plan_parse(plan);
    if (!P)
        return NULL;
    int n_in = 1 + P->n_seqs + P->n_states + P->n_shared + P->n_non_seqs;
    int n_out = P->n_states + P->n_nit + P->n_shared;
    PyObject *result = NULL;
    if (PyList_GET_SIZE(inputs) != n_in) {
        PyErr_Format(PyExc_ValueError, "%S: expected %d inputs, got %zd", P->op, n_in,
                     PyList_GET_SIZE(inputs));
    } else {
        PyObject **outs = PyMem_Calloc((size_t)n_out + 1, sizeof(PyObject *));
        if (!outs)
            PyErr_NoMemory();
        else if (scan_run(P, PySequence_Fast_ITEMS(inputs), outs) == 0 &&
                 (result = PyList_New(n_out)))
            for (int k = 0; k < n_out; k++) {
                PyList_SET_ITEM(result, k, outs[k]);
                outs[k] = NULL;
            }
        for (int k = 0; outs && k < n_out; k++)
            Py_XDECREF(outs[k]);
        PyMem_Free(outs);
    }
    scan_plan_free(P);
    return result;
}
