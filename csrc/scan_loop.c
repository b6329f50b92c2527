/* scan_loop.c: a Scan's loop in C (included by cvm.c; the caller is symgraph/scan/loop.py).
 *
 * VM.loop runs the inner function of a scan (this VM) once per step without
 * entering Python between steps: it points the input slots at the rows each
 * step reads, runs the schedule, copies the step's outputs into rows of
 * preallocated buffers and checks the until condition.  Row views are made
 * once and then moved from row to row by changing their data pointer, which
 * is safe while nobody but the loop holds them (reference count 1: a view of
 * a view gets the array that owns the memory as its base, not our view).
 *
 * VM.loop(scan, start, stop, reads, fixed, writes, feedback, cond) runs steps
 * start..stop-1, with (scan: the op, named in messages; indices: the VM's inputs
 * and outputs)
 *   reads     [(input, array, offset, wrap)]: step t reads array[offset + t]
 *             (modulo wrap when wrap > 0: a circular buffer);
 *   fixed     [(input, value)]: the same value at every step (non-sequences);
 *   writes    [(output, buffer or None, offset, wrap, what, typenum)]: step t's
 *             value is copied into buffer[offset + t]; None: a buffer of
 *             offset + stop rows (or wrap) is made at the first step;
 *   feedback  [(output, input, initial value)]: each step's output is the
 *             input at the next step (shared variables updated in the loop);
 *   cond      the output holding the until condition, or -1;
 * and returns (end, stopped, buffers, shared values): end is the step after
 * the last one run, stopped says the until condition held.  Other inputs
 * (shared variables of the inner function itself) are read from their cells.
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

/* Room for one entry per item of `list` (zeroed); *n the count. */
static int loop_entries(PyObject *list, size_t size, void **array, int *n, const char *what)
{
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "VM.loop: %s must be a list", what);
        return -1;
    }
    *n = (int)PyList_GET_SIZE(list);
    *array = PyMem_Calloc(*n ? (size_t)*n : 1, size);
    if (!*array) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int loop_input(VM *vm, int index, char *covered)
{
    if (index < 0 || index >= vm->n_inputs || covered[index]) {
        PyErr_Format(PyExc_ValueError, "VM.loop: input %d is out of range or given twice", index);
        return -1;
    }
    covered[index] = 1;
    return vm->in_slots[index];
}

static int loop_output(VM *vm, int index)
{
    if (index < 0 || index >= vm->n_outputs) {
        PyErr_Format(PyExc_ValueError, "VM.loop: output %d out of range", index);
        return -1;
    }
    return vm->out_slots[index];
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
        PyErr_Format(PyExc_IndexError, "VM.loop: %s %d has %zd rows; steps %zd..%zd need rows "
                     "%zd..%zd", what, index, (Py_ssize_t)PyArray_DIMS(a)[0], L->start,
                     L->stop - 1, offset + L->start, offset + L->stop - 1);
        return -1;
    }
    return 0;
}

static int parse_reads(ScanLoop *L, VM *vm, PyObject *list, char *covered)
{
    if (loop_entries(list, sizeof(LoopRead), (void **)&L->reads, &L->n_reads, "reads") < 0)
        return -1;
    for (int k = 0; k < L->n_reads; k++) {
        LoopRead *r = &L->reads[k];
        int index;
        PyObject *array;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, k), "iOnn", &index, &array, &r->offset,
                              &r->wrap) ||
            (r->slot = loop_input(vm, index, covered)) < 0)
            return -1;
        if (!PyArray_Check(array) || PyArray_NDIM((PyArrayObject *)array) < 1) {
            PyErr_Format(PyExc_TypeError, "VM.loop: read %d needs an ndarray with a time axis",
                         k);
            return -1;
        }
        PyArrayObject *a = (PyArrayObject *)array;
        int typenum = vm->check_typenum[r->slot];
        if (typenum >= 0 && (PyArray_TYPE(a) != typenum ||
                             PyArray_NDIM(a) - 1 != vm->check_ndim[r->slot])) {
            PyErr_Format(PyExc_TypeError, "VM.loop: the rows of read %d (input %d) do not have "
                         "the dtype and rank the C code of the inner function reads", k, index);
            return -1;
        }
        if (rows_in_range(L, a, r->offset, r->wrap, "read", k) < 0)
            return -1;
        if (PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a)) {
            Py_INCREF(array);
        } else {  /* C code reads aligned native values: a copy that is */
            array = PyArray_FROM_OTF(array, PyArray_TYPE(a),
                                     NPY_ARRAY_ALIGNED | NPY_ARRAY_NOTSWAPPED);
            if (!array)
                return -1;
        }
        r->array = (PyArrayObject *)array;
    }
    return 0;
}

static int parse_fixed(ScanLoop *L, VM *vm, PyObject *list, char *covered)
{
    if (loop_entries(list, sizeof(LoopFixed), (void **)&L->fixed, &L->n_fixed, "fixed") < 0)
        return -1;
    for (int k = 0; k < L->n_fixed; k++) {
        LoopFixed *f = &L->fixed[k];
        int index;
        PyObject *value;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, k), "iO", &index, &value) ||
            (f->slot = loop_input(vm, index, covered)) < 0 ||
            !(f->value = slot_value(vm, f->slot, value, "non-sequence", k)))
            return -1;
    }
    return 0;
}

static int parse_writes(ScanLoop *L, VM *vm, PyObject *list)
{
    if (loop_entries(list, sizeof(LoopWrite), (void **)&L->writes, &L->n_writes, "writes") < 0)
        return -1;
    for (int k = 0; k < L->n_writes; k++) {
        LoopWrite *w = &L->writes[k];
        int index;
        PyObject *buffer;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, k), "iOnnUi", &index, &buffer, &w->offset,
                              &w->wrap, &w->what, &w->typenum) ||
            (w->slot = loop_output(vm, index)) < 0)
            return -1;
        if (buffer == Py_None) {
            PyArray_Descr *descr = PyArray_DescrFromType(w->typenum);
            if (!descr)
                return -1;
            Py_DECREF(descr);
            continue;
        }
        PyArrayObject *b = (PyArrayObject *)buffer;
        if (!PyArray_Check(buffer) || PyArray_NDIM(b) < 1 || !PyArray_ISWRITEABLE(b) ||
            !PyArray_ISALIGNED(b) || !PyArray_ISNOTSWAPPED(b)) {
            PyErr_Format(PyExc_TypeError, "VM.loop: the buffer of %U must be a writeable, "
                         "aligned native ndarray with a time axis", w->what);
            return -1;
        }
        if (rows_in_range(L, b, w->offset, w->wrap, "buffer", k) < 0)
            return -1;
        Py_INCREF(buffer);
        w->buffer = b;
    }
    return 0;
}

static int parse_feedback(ScanLoop *L, VM *vm, PyObject *list, char *covered)
{
    if (loop_entries(list, sizeof(LoopFeedback), (void **)&L->feedback, &L->n_feedback,
                     "feedback") < 0)
        return -1;
    for (int k = 0; k < L->n_feedback; k++) {
        LoopFeedback *f = &L->feedback[k];
        int out, in;
        PyObject *value;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, k), "iiO", &out, &in, &value) ||
            (f->out_slot = loop_output(vm, out)) < 0 ||
            (f->in_slot = loop_input(vm, in, covered)) < 0)
            return -1;
        f->index = k;
        Py_INCREF(value);
        f->value = value;
    }
    return 0;
}

static int parse_loop(ScanLoop *L, VM *vm, PyObject *reads, PyObject *fixed, PyObject *writes,
                      PyObject *feedback, int cond)
{
    char *covered = PyMem_Calloc((size_t)vm->n_inputs + 1, 1);
    L->cell_inputs = PyMem_Calloc((size_t)vm->n_inputs + 1, sizeof(int));
    if (!covered || !L->cell_inputs) {
        PyMem_Free(covered);
        PyErr_NoMemory();
        return -1;
    }
    int rc = -1;
    if (parse_reads(L, vm, reads, covered) == 0 && parse_fixed(L, vm, fixed, covered) == 0 &&
        parse_writes(L, vm, writes) == 0 && parse_feedback(L, vm, feedback, covered) == 0 &&
        (cond < 0 || (L->cond_slot = loop_output(vm, cond)) >= 0))
        rc = 0;
    if (cond < 0)
        L->cond_slot = -1;
    for (int i = 0; rc == 0 && i < vm->n_inputs; i++)
        if (!covered[i])
            L->cell_inputs[L->n_cells++] = i;
    PyMem_Free(covered);
    return rc;
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
            PyErr_Format(PyExc_RuntimeError, "VM.loop: input cell %d is empty", i);
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
        PyErr_Format(PyExc_RuntimeError, "VM.loop: %U was not computed", w->what);
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
            PyErr_Format(PyExc_RuntimeError, "VM.loop: shared state %d was not computed", k);
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
                    PyErr_SetString(PyExc_RuntimeError, "VM.loop: until condition not computed");
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

static PyObject *loop_result(ScanLoop *L, Py_ssize_t end, int stopped)
{
    PyObject *buffers = PyList_New(L->n_writes);
    PyObject *shared = PyList_New(L->n_feedback);
    for (int k = 0; buffers && k < L->n_writes; k++) {
        PyObject *b = L->writes[k].buffer ? (PyObject *)L->writes[k].buffer : Py_None;
        Py_INCREF(b);
        PyList_SET_ITEM(buffers, k, b);
    }
    for (int k = 0; shared && k < L->n_feedback; k++) {
        Py_INCREF(L->feedback[k].value);
        PyList_SET_ITEM(shared, k, L->feedback[k].value);
    }
    PyObject *result = buffers && shared
        ? Py_BuildValue("(nOOO)", end, stopped ? Py_True : Py_False, buffers, shared) : NULL;
    Py_XDECREF(buffers);
    Py_XDECREF(shared);
    return result;
}

static PyObject *VM_loop(VM *vm, PyObject *args)
{
    ScanLoop L;
    memset(&L, 0, sizeof L);
    PyObject *reads, *fixed, *writes, *feedback;
    int cond;
    if (!PyArg_ParseTuple(args, "OnnOOOOi", &L.name, &L.start, &L.stop, &reads, &fixed,
                          &writes, &feedback, &cond))
        return NULL;
    if (L.start < 0 || L.stop < L.start) {
        PyErr_Format(PyExc_ValueError, "VM.loop: bad step range %zd..%zd", L.start, L.stop);
        return NULL;
    }
    if (vm->running) {
        PyErr_SetString(PyExc_RuntimeError, "VM.loop: the VM is already running (recursion)");
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t end = L.start;
    int stopped = 0;
    if (parse_loop(&L, vm, reads, fixed, writes, feedback, cond) == 0) {
        vm->running = 1;
        int rc = run_loop_steps(&L, vm, &end, &stopped);
        clear_slots(vm, rc == 0 ? !vm->gc : 0);
        vm->running = 0;
        if (rc == 0)
            result = loop_result(&L, end, stopped);
    }
    loop_free(&L);
    return result;
}
