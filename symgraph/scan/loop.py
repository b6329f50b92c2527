"""The loop behind ``Scan.perform``: in C when the inner function runs on the C VM.

Each step gives the inner function views: a sequence's row, a state buffer's rows
at the taps, the shared states' current values and the non-sequences (the same
every step).  Each step's outputs are copied into preallocated buffers, so the
inner function's outputs may be borrowed.  When the inner program is a C VM (the
``cvm`` and ``cvm_nogc`` linkers) the whole loop runs in C (csrc/scan_loop.c) from
a plan worked out once per op (``c_loop_plan``): the outer C VM runs such a Scan as a
"loop" step, with no Python at all, and ``perform`` calls the same C.  Otherwise (the
Python VM) a Python loop sets the program's input cells and calls it once per step.
A while loop grows its buffers geometrically instead of allocating ``n_steps`` rows
(``n_steps`` is then only an upper bound, often a large one).
A state with ``info.state_keep[i] = k > 0`` lives in a circular buffer of
``max(k, L_i + 1)`` rows (row r at r % size): it never grows, and only its last k
rows come out (info.py).
"""
import contextlib
import copy
import functools

import numpy as np

_use_c_loop = True  # python_loops() turns it off


@contextlib.contextmanager
def python_loops():
    """Within this block every scan runs its Python loop, even over a C VM (tests and
    benchmarks compare the two loops).

    >>> with python_loops():
    ...     pass
    """
    global _use_c_loop
    from symgraph.link.c.runtime import cvm

    saved, _use_c_loop = _use_c_loop, False
    previous = cvm().set_c_loops(False)
    try:
        yield
    finally:
        _use_c_loop = saved
        cvm().set_c_loops(previous)


def c_loop_plan(op):
    """The plan from which csrc/scan_loop.c runs ``op``'s loop, or None when its inner
    program is not a C VM (the layout of info.py as tuples of ints: see ScanPlan there).

    >>> import symgraph as sg, symgraph.tensor as T
    >>> from symgraph.scan import scan
    >>> x = T.dvector('x')
    >>> hs, _ = scan(lambda v, h: h + v, sequences=x, outputs_info=T.constant(0.0),
    ...              mode=sg.Mode(linker='cvm'))
    >>> plan = c_loop_plan(hs.owner.inputs[0].owner.op)
    >>> plan[2:6], plan[6]
    ((1, 0, 0, False), ((1, 0, 0, 12, 'state 0'),))
    """
    program = op.inner_program()
    if type(program).__module__ != "symgraph.link.c._cvm":
        return None
    info, layout = op.info, _layout(op.info)
    _, taps, _, _ = info.split_inner_inputs(op.inner_inputs)
    _, nits, _, _ = info.split_inner_outputs(op.inner_outputs)
    states = tuple((lag, wrap, keep, np.dtype(t[0].type.dtype).num, what)
                   for lag, wrap, keep, t, what in zip(layout.lags, layout.wraps,
                                                       info.state_keep, taps, layout.whats))
    nit_plans = tuple((np.dtype(v.type.dtype).num, what,
                       (0,) + tuple(s or 0 for s in v.type.shape))
                      for v, what in zip(nits, layout.whats[info.n_states:]))
    return (op, program, info.n_seqs, info.n_shared_outs, info.n_non_seqs, info.as_while,
            states, layout.tap_reads, nit_plans)


def run_loop(op, node, inputs):
    """Run the loop; return the outer output values (see info.py for the layout)."""
    plan = c_loop_plan(op) if _use_c_loop else None
    if plan is not None:
        from symgraph.link.c.runtime import cvm

        return cvm().scan(plan, list(inputs))
    loop = _Loop(op, node, inputs)
    try:
        loop.run()
    finally:
        for cell in loop.cells:  # do not keep the caller's arrays alive
            cell[0] = None
    return loop.results()


@functools.lru_cache(maxsize=512)
def _layout(info):
    return _Layout(info)


class _Layout:
    """What a loop needs from its ScanInfo, worked out once per info (a call of a short
    scan must not pay for it): input and output indices, row offsets, names."""

    def __init__(self, info):
        self.lags = info.state_lags
        # rows per state buffer when circular, else 0 (the buffer holds every row)
        self.wraps = tuple(max(k, lag + 1) if k else 0
                           for k, lag in zip(info.state_keep, self.lags))
        taps, pos = [], info.n_seqs  # per tap: (inner input, state, row offset at step 0)
        for i, (state_taps, lag) in enumerate(zip(info.state_taps, self.lags)):
            for k in state_taps:
                taps.append((pos, i, lag + k))
                pos += 1
        self.tap_reads = tuple(taps)
        self.first_non_seq = info.n_inner_inputs - info.n_non_seqs
        self.first_nit = info.n_states
        self.first_shared_out = info.n_states + info.n_nit_sot
        self.whats = tuple([f"state {i}" for i in range(info.n_states)] +
                           [f"output {info.n_states + j}" for j in range(info.n_nit_sot)])


class _Loop:
    def __init__(self, op, node, inputs):
        info = self.info = op.info
        layout = self.layout = _layout(info)
        self.op, self.node = op, node
        self.program = op.inner_program()
        self.cells, self.out_cells = self.program.input_cells, self.program.output_cells
        n_steps, self.seqs, inits, self.shared_inits, non_seqs = info.split_outer_inputs(inputs)
        self.n_steps = int(n_steps)
        self.lags, self.wraps = layout.lags, layout.wraps
        _check_lengths(op, self.n_steps, self.seqs, inits, self.lags)
        self.capacity = min(self.n_steps, 16) if info.as_while else self.n_steps
        self.states = [_state_buffer(init, lag, wrap or lag + self.capacity, out.type.dtype)
                       for init, lag, wrap, out in zip(inits, self.lags, self.wraps,
                                                       node.outputs)]
        self.nit_vars = node.outputs[layout.first_nit:layout.first_shared_out]
        self.nits = [None] * info.n_nit_sot
        self.shared = list(self.shared_inits)
        self.non_seqs = non_seqs
        self.steps_run = self.n_steps

    def _reads(self):
        """``(inner input index, array, offset, wrap)``: at step t the input is
        ``array[offset + t]`` (modulo ``wrap`` for a circular buffer)."""
        reads = [(k, seq, 0, 0) for k, seq in enumerate(self.seqs)]
        states, wraps = self.states, self.wraps
        reads += [(k, states[i], offset, wraps[i]) for k, i, offset in self.layout.tap_reads]
        return reads

    def _writes(self):
        """``(inner output index, array, offset, wrap, what)``: step t's value goes
        to row offset + t (modulo ``wrap`` for a circular buffer); the array of a nit-sot
        output is None until the first step gives its shape."""
        whats = self.layout.whats
        writes = [(i, buf, lag, wrap, whats[i])
                  for i, (buf, lag, wrap) in enumerate(zip(self.states, self.lags, self.wraps))]
        n_states = self.layout.first_nit
        writes += [(n_states + j, buf, 0, 0, whats[n_states + j])
                   for j, buf in enumerate(self.nits)]
        return writes

    def run(self):
        self._run_python()

    def _run_python(self):
        info, program, shared = self.info, self.program, self.shared
        cells, out_cells = self.cells, self.out_cells
        first_non_seq = self.layout.first_non_seq
        for k, value in enumerate(self.non_seqs):
            cells[first_non_seq + k][0] = value
        shared_cells = cells[info.n_seqs + info.n_taps:][:info.n_shared_outs]
        first_shared_out = self.layout.first_shared_out
        shared_out_cells = out_cells[first_shared_out:first_shared_out + len(shared)]
        cond_cell = out_cells[-1] if info.as_while else None
        reads, writes = self._python_reads(), self._python_writes()
        for t in range(self.n_steps):
            if t == self.capacity:  # a while loop that outgrew its buffers
                self._grow()
                reads, writes = self._python_reads(), self._python_writes()
            for cell, array, offset, wrap in reads:
                cell[0] = array[(offset + t) % wrap if wrap else offset + t, ...]
            for cell, value in zip(shared_cells, shared):
                cell[0] = value
            try:
                program()
            except Exception as exc:
                annotated = _in_step(exc, t, self.op)
                if annotated is exc:
                    raise
                raise annotated.with_traceback(exc.__traceback__) from exc
            if t == 0 and self.nits:
                self._allocate_nits()
                writes = self._python_writes()
            for cell, array, offset, wrap, shape, what in writes:
                value = cell[0]
                if getattr(value, "shape", ()) != shape:
                    self._shape_error(t, what, value, shape)
                array[(offset + t) % wrap if wrap else offset + t] = value
            for j, cell in enumerate(shared_out_cells):
                value = cell[0]
                # an array may be a buffer the inner function reuses: keep a copy
                shared[j] = np.array(value, copy=True) if isinstance(value, np.ndarray) \
                    else value
            if cond_cell is not None and cond_cell[0]:
                self.steps_run = t + 1
                return

    def _python_reads(self):
        return [(self.cells[k], array, offset, wrap) for k, array, offset, wrap in self._reads()]

    def _python_writes(self):
        return [(self.out_cells[k], array, offset, wrap, array.shape[1:], what)
                for k, array, offset, wrap, what in self._writes() if array is not None]

    def _grow(self):
        self.capacity = min(self.n_steps, 2 * self.capacity)
        self.states = [b if wrap else _grow(b, lag + self.capacity)
                       for b, lag, wrap in zip(self.states, self.lags, self.wraps)]
        self.nits = [None if b is None else _grow(b, self.capacity) for b in self.nits]

    def _allocate_nits(self):
        n_states = self.info.n_states
        for j, var in enumerate(self.nit_vars):
            shape = np.shape(self.out_cells[n_states + j][0])
            self.nits[j] = np.empty((self.capacity,) + shape, var.type.dtype)

    def _shape_error(self, t, what, value, shape):
        raise ValueError(f"{self.op}: at step {t}, {what} has shape {np.shape(value)} but "
                         f"earlier steps (or its initial value) have shape {shape}; a scan "
                         f"output must keep one shape")

    def results(self):
        steps = self.steps_run
        results = [_last_rows(b, lag + steps, keep) if keep else b[:lag + steps]
                   for b, lag, keep in zip(self.states, self.lags, self.info.state_keep)]
        for b, var in zip(self.nits, self.nit_vars):
            if b is None:  # no step ran: the static shape, unknown sizes taken as 0
                b = np.empty((0,) + tuple(s or 0 for s in var.type.shape[1:]), var.type.dtype)
            results.append(b[:steps])
        results += [_own_copy(v) if v is s else v for v, s in zip(self.shared, self.shared_inits)]
        return results


def _last_rows(circular, n_rows, keep):
    """The last ``min(keep, n_rows)`` of the ``n_rows`` rows written to a circular buffer,
    in order."""
    size = circular.shape[0]
    first = max(0, n_rows - keep)
    start = first % size
    if start + (n_rows - first) <= size:  # no wrap: a slice (the buffer is this call's own)
        return circular[start:start + n_rows - first]
    rows = np.arange(first, n_rows) % size
    return np.take(circular, rows, axis=0)


def _in_step(exc, t, op):
    """``exc`` (same type) with the step appended to its message, as the C loop does;
    ``exc`` itself when its type cannot be made from a message."""
    try:
        annotated = type(exc)(f"{exc}\nIn step {t} of {op}")
    except Exception:
        return exc
    if hasattr(exc, "node"):
        annotated.node = exc.node
    return annotated


def _own_copy(value):
    """A copy the loop owns (an op's output must not be one of its inputs)."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    return copy.deepcopy(value)  # a random generator, say


def _check_lengths(op, n_steps, seqs, inits, lags):
    if n_steps < 0:
        raise ValueError(f"{op}: n_steps is {n_steps}; it must be >= 0")
    for k, seq in enumerate(seqs):
        if seq.shape[0] < n_steps:
            raise ValueError(f"{op}: sequence {k} has {seq.shape[0]} steps, fewer than the "
                             f"{n_steps} steps to run")
    for i, (init, lag) in enumerate(zip(inits, lags)):
        if init.shape[0] != lag:
            raise ValueError(f"{op}: the initial value of state {i} has {init.shape[0]} rows; "
                             f"its taps {list(op.info.state_taps[i])} need exactly {lag}")


def _state_buffer(init, lag, rows, dtype):
    buf = np.empty((rows,) + init.shape[1:], dtype)
    buf[:lag] = init
    return buf


def _grow(buf, rows):
    if buf.shape[0] >= rows:
        return buf
    bigger = np.empty((rows,) + buf.shape[1:], buf.dtype)
    bigger[:buf.shape[0]] = buf
    return bigger
