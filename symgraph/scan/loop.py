"""The Python loop behind ``Scan.perform``.

The inner function's program is called once per step with its input cells set to
views: a sequence's row, a state buffer's rows at the taps, the shared states'
current values and the non-sequences (set once).  Each step's outputs are copied
into preallocated buffers, so the inner function's outputs may be borrowed.
A while loop grows its buffers geometrically instead of allocating ``n_steps`` rows
(``n_steps`` is then only an upper bound, often a large one).
"""
import copy

import numpy as np


def run_loop(op, node, inputs):
    """Run the loop; return the outer output values (see info.py for the layout)."""
    loop = _Loop(op, node, inputs)
    try:
        loop.run()
    finally:
        for cell in loop.cells:  # do not keep the caller's arrays alive
            cell[0] = None
    return loop.results()


class _Loop:
    def __init__(self, op, node, inputs):
        info = self.info = op.info
        self.op, self.node = op, node
        self.program = op.inner_program()
        self.cells, self.out_cells = self.program.input_cells, self.program.output_cells
        n_steps, self.seqs, inits, self.shared_inits, non_seqs = info.split_outer_inputs(inputs)
        self.n_steps = int(n_steps)
        self.lags = info.state_lags
        _check_lengths(op, self.n_steps, self.seqs, inits)
        self.capacity = min(self.n_steps, 16) if info.as_while else self.n_steps
        self.states = [_state_buffer(init, lag, self.capacity, out.type.dtype)
                       for init, lag, out in zip(inits, self.lags, node.outputs)]
        self.nit_vars = node.outputs[info.n_states:info.n_states + info.n_nit_sot]
        self.nits = [None] * info.n_nit_sot
        self.shared = list(self.shared_inits)
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        for k, value in enumerate(non_seqs):
            self.cells[first_non_seq + k][0] = value
        self.steps_run = self.n_steps

    def _reads(self):
        """``(cell, array, offset)``: at step t the cell gets ``array[offset + t]``."""
        reads = [(self.cells[k], seq, 0) for k, seq in enumerate(self.seqs)]
        pos = self.info.n_seqs
        for buf, taps, lag in zip(self.states, self.info.state_taps, self.lags):
            for k in taps:
                reads.append((self.cells[pos], buf, lag + k))
                pos += 1
        return reads

    def _writes(self):
        """``(out cell, array, offset, what)``: step t's value goes to row offset + t."""
        writes = [(self.out_cells[i], buf, lag, f"state {i}")
                  for i, (buf, lag) in enumerate(zip(self.states, self.lags))]
        n_states = self.info.n_states
        writes += [(self.out_cells[n_states + j], buf, 0, f"output {n_states + j}")
                   for j, buf in enumerate(self.nits) if buf is not None]
        return [(cell, buf, offset, buf.shape[1:], what) for cell, buf, offset, what in writes]

    def run(self):
        info, program, shared = self.info, self.program, self.shared
        shared_cells = self.cells[info.n_seqs + info.n_taps:][:info.n_shared_outs]
        first_shared_out = info.n_states + info.n_nit_sot
        shared_out_cells = self.out_cells[first_shared_out:first_shared_out + len(shared)]
        cond_cell = self.out_cells[-1] if info.as_while else None
        reads, writes = self._reads(), self._writes()
        for t in range(self.n_steps):
            if t == self.capacity:  # a while loop that outgrew its buffers
                self._grow()
                reads, writes = self._reads(), self._writes()
            for cell, array, offset in reads:
                cell[0] = array[offset + t, ...]
            for cell, value in zip(shared_cells, shared):
                cell[0] = value
            program()
            if t == 0 and self.nits:
                self._allocate_nits()
                writes = self._writes()
            for cell, array, offset, shape, what in writes:
                value = cell[0]
                if getattr(value, "shape", ()) != shape:
                    self._shape_error(t, what, value, shape)
                array[offset + t] = value
            for j, cell in enumerate(shared_out_cells):
                value = cell[0]
                # an array may be a buffer the inner function reuses: keep a copy
                shared[j] = np.array(value, copy=True) if isinstance(value, np.ndarray) \
                    else value
            if cond_cell is not None and cond_cell[0]:
                self.steps_run = t + 1
                return

    def _grow(self):
        self.capacity = min(self.n_steps, 2 * self.capacity)
        self.states = [_grow(b, lag + self.capacity) for b, lag in zip(self.states, self.lags)]
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
        results = [b[:lag + steps] for b, lag in zip(self.states, self.lags)]
        for b, var in zip(self.nits, self.nit_vars):
            if b is None:  # no step ran: the static shape, unknown sizes taken as 0
                b = np.empty((0,) + tuple(s or 0 for s in var.type.shape[1:]), var.type.dtype)
            results.append(b[:steps])
        results += [_own_copy(v) if v is s else v for v, s in zip(self.shared, self.shared_inits)]
        return results


def _own_copy(value):
    """A copy the loop owns (an op's output must not be one of its inputs)."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    return copy.deepcopy(value)  # a random generator, say


def _check_lengths(op, n_steps, seqs, inits):
    if n_steps < 0:
        raise ValueError(f"{op}: n_steps is {n_steps}; it must be >= 0")
    for k, seq in enumerate(seqs):
        if seq.shape[0] < n_steps:
            raise ValueError(f"{op}: sequence {k} has {seq.shape[0]} steps, fewer than the "
                             f"{n_steps} steps to run")
    for i, (init, lag) in enumerate(zip(inits, op.info.state_lags)):
        if init.shape[0] != lag:
            raise ValueError(f"{op}: the initial value of state {i} has {init.shape[0]} rows; "
                             f"its taps {list(op.info.state_taps[i])} need exactly {lag}")


def _state_buffer(init, lag, capacity, dtype):
    buf = np.empty((lag + capacity,) + init.shape[1:], dtype)
    buf[:lag] = init
    return buf


def _grow(buf, rows):
    if buf.shape[0] >= rows:
        return buf
    bigger = np.empty((rows,) + buf.shape[1:], buf.dtype)
    bigger[:buf.shape[0]] = buf
    return bigger
