"""Evaluating a small DAG of scalar ops on arrays, in one pass where NumPy allows.

A ``ScalarProgram`` is compiled once per input dtypes from statements
``(scalar_op, argument refs)`` (refs below ``nin`` name inputs, the others name
earlier statements).  Each statement becomes one or more *steps*: a ufunc call
that can write into a given buffer (``out=``), a cast, or a plain call of the
op's ``impl``.  Steps reproduce ``Elemwise.perform`` exactly: inputs of
float-valued ops are cast to the op's compute dtype, variadic add/mul fold left
to right with NumPy's dtype for each pair, and results are cast to the op's
output dtype.

Two ways to run:

- *whole arrays*: each step over the whole (broadcast) arrays; a temporary
  whose last reader has run goes back to a pool and becomes the ``out=`` of a
  later step of the same shape and dtype, so a chain of n ops allocates about
  one array, not n;
- *chunked*, when the output is large and every input is either C-contiguous
  with the output's shape or a single element: the steps run over blocks of
  ``CHUNK`` elements with block-sized temporaries, so the intermediate values
  stay in cache and memory is read and written once (what a fused C loop does).
  Steps that only depend on single-element inputs are computed once, before
  the loop.

An output may be given an input to overwrite (in-place Elemwise): its last
step writes there when no later step reads that input (or anything sharing its
memory); otherwise the output gets its own array, which is still correct.

>>> import numpy as np
>>> from symgraph.scalar import basic as scal
>>> prog = ScalarProgram(2, [(scal.mul, (0, 1)), (scal.exp, (2,))], [3], ("float64", "float64"))
>>> prog.run([np.array([0.0, 1.0]), np.array(2.0)])[0].round(3).tolist()
[1.0, 7.389]
"""
import math

import numpy as np

from symgraph.scalar import basic as scal

# Measured on a 2-core EPYC (2 MiB L2, 32 MiB L3), 10-op float32 chains: NumPy's call
# overhead (~2 us a step) makes blocks under ~64k elements slower than whole arrays, and
# whole arrays with reused temporaries stay in L3 up to a few million elements (1e6: 1.4 ms
# whole, 1.7 ms in blocks; 1e7: 31 ms whole, 22 ms in blocks).
CHUNK = 1 << 16  # elements per block
CHUNK_MIN = 1 << 22  # smaller outputs run on whole arrays
POOL_MIN = 1 << 14  # smaller outputs allocate freely: the pool's bookkeeping costs more

_VARIADIC_UFUNCS = {"add": np.add, "mul": np.multiply}
# ops whose impl wraps a SciPy ufunc (imported on first use)
_SCIPY_UFUNCS = {"sigmoid": "expit", "erf": "erf", "erfc": "erfc"}


def ufunc_of(op, nargs):
    """The NumPy ufunc computing ``op`` on ``nargs`` arguments exactly as its ``impl``, or None.

    >>> ufunc_of(scal.add, 2) is np.add, ufunc_of(scal.switch, 3)
    (True, None)
    """
    if op.nin == -1:
        ufunc = _VARIADIC_UFUNCS.get(op.name)
        return ufunc if ufunc is not None and nargs == 2 else None
    if isinstance(op.impl, np.ufunc) and op.impl.nin == nargs and op.impl.nout == 1:
        return op.impl
    name = _SCIPY_UFUNCS.get(op.name)
    if name is not None and type(op) is scal.ScalarOp:
        import scipy.special

        return getattr(scipy.special, name)
    return None


def _resolved_dtype(ufunc, dtypes):
    """The dtype ``ufunc`` computes in for arguments of ``dtypes`` (None: cannot tell)."""
    try:
        return str(ufunc.resolve_dtypes(tuple(np.dtype(d) for d in dtypes) + (None,))[-1])
    except (TypeError, ValueError, AttributeError):
        return None


class Step:
    """One call: ``kind`` is 'ufunc' (may write into ``out``), 'cast' or 'call'."""

    __slots__ = ("kind", "fn", "args", "out", "dtype")

    def __init__(self, kind, fn, args, out, dtype):
        self.kind, self.fn, self.args, self.out, self.dtype = kind, fn, tuple(args), out, dtype

    def run(self, values, out=None):
        """The step's result for argument ``values``, written into ``out`` when given."""
        if self.kind == "ufunc":
            return self.fn(*values, out=out) if out is not None else self.fn(*values)
        if self.kind == "cast":
            if out is not None:
                np.copyto(out, values[0], casting="unsafe")
                return out
            return np.asarray(values[0]).astype(self.dtype)
        result = self.fn(*values)
        if not isinstance(result, np.ndarray) or result.dtype != self.dtype:
            result = np.asarray(result, dtype=self.dtype)
        if out is not None:
            np.copyto(out, result)
            return out
        return result


class ScalarProgram:
    """Statements over ``nin`` inputs compiled to steps for inputs of ``in_dtypes``.

    ``statements``: ``(scalar_op, refs)`` pairs; ``outputs``: refs.  See the module
    docstring.
    """

    def __init__(self, nin, statements, outputs, in_dtypes):
        self.nin = nin
        self.steps = []
        self.slot_dtypes = [str(d) for d in in_dtypes]
        slot_of = list(range(nin))  # ref -> slot
        for op, refs in statements:
            slot_of.append(self._compile(op, [slot_of[r] for r in refs]))
        self.output_slots = [slot_of[r] for r in outputs]
        self.output_dtypes = [self.slot_dtypes[s] for s in self.output_slots]
        self._liveness()

    # -- compiling ---------------------------------------------------------------------
    def _new_slot(self, dtype):
        self.slot_dtypes.append(str(dtype))
        return len(self.slot_dtypes) - 1

    def _emit(self, kind, fn, args, dtype):
        out = self._new_slot(dtype)
        self.steps.append(Step(kind, fn, args, out, str(dtype)))
        return out

    def _cast(self, slot, dtype):
        return slot if self.slot_dtypes[slot] == dtype else self._emit("cast", None, [slot], dtype)

    def _compile(self, op, slots):
        """Steps for one statement; returns the slot holding its result."""
        dtypes = [self.slot_dtypes[s] for s in slots]
        out_dtype = str(op.output_dtype(*dtypes))
        if isinstance(op, scal.Cast):
            return self._emit("cast", None, slots, out_dtype)
        compute = op.compute_dtype(*dtypes)
        if compute is not None:
            slots = [self._cast(s, str(compute)) for s in slots]
            dtypes = [self.slot_dtypes[s] for s in slots]
        if op.nin == -1 and op.name in _VARIADIC_UFUNCS and len(slots) != 2:
            return self._fold(op, slots, out_dtype)
        ufunc = ufunc_of(op, len(slots))
        natural = _resolved_dtype(ufunc, dtypes) if ufunc is not None else None
        if natural is None:
            return self._emit("call", op.impl, slots, out_dtype)
        return self._cast(self._emit("ufunc", ufunc, slots, natural), out_dtype)

    def _fold(self, op, slots, out_dtype):
        """add/mul of 1 or 3+ inputs: pairwise, left to right, as ``functools.reduce``."""
        if len(slots) == 1:  # a copy, never the input itself
            return self._emit("call", op.impl, slots, out_dtype)
        ufunc = _VARIADIC_UFUNCS[op.name]
        acc = slots[0]
        for s in slots[1:]:
            pair = (self.slot_dtypes[acc], self.slot_dtypes[s])
            natural = _resolved_dtype(ufunc, pair)
            if natural is None:
                return self._emit("call", op.impl, slots, out_dtype)
            acc = self._emit("ufunc", ufunc, [acc, s], natural)
        return self._cast(acc, out_dtype)

    def _liveness(self):
        n_slots = len(self.slot_dtypes)
        self.last_read = [-1] * n_slots
        for k, step in enumerate(self.steps):
            for a in step.args:
                self.last_read[a] = k
        self.writer = {step.out: k for k, step in enumerate(self.steps)}
        kept = set(self.output_slots) | set(range(self.nin))
        self.frees = [[] for _ in self.steps]  # temporaries whose last reader is step k
        for slot in range(self.nin, n_slots):
            k = self.last_read[slot]
            if k >= 0 and slot not in kept:
                self.frees[k].append(slot)
        # outputs that must be copied at the end: an input itself, a value another output
        # already returns, or the result of a plain call (which might alias an input)
        kinds = {step.out: step.kind for step in self.steps}
        self.copy_output = [s < self.nin or s in self.output_slots[:o] or kinds[s] == "call"
                            for o, s in enumerate(self.output_slots)]
        self._tail = [None] * (n_slots - self.nin)
        # one ufunc over the inputs, giving the only output: Elemwise calls it directly
        self.single_ufunc = len(self.steps) == 1 and self.steps[0].kind == "ufunc" \
            and self.output_slots == [self.steps[0].out]

    # -- running -----------------------------------------------------------------------
    def run(self, inputs, targets=None, shape=None):
        """The outputs (arrays of the broadcast shape) for ``inputs``.

        ``targets[o]``: the index of an input that output ``o`` may overwrite (it has
        the output's shape and dtype), or None.  ``shape``: the broadcast shape, if
        the caller knows it.
        """
        if shape is None:
            shape = broadcast_shape([x.shape for x in inputs])
        dest = self._destinations(inputs, targets) if targets else None
        size = math.prod(shape)
        if size < POOL_MIN:
            outputs = self._run_small(inputs, dest)
        elif size >= CHUNK_MIN and self.steps and _chunkable(inputs, shape):
            outputs = self._run_chunked(inputs, dest or [None] * len(self.output_slots),
                                        shape, size)
        else:
            outputs = self._run_whole(inputs, dest or ())
        return self._finish(outputs, inputs, dest, shape)

    def _destinations(self, inputs, targets):
        """Per output: the input array its last step may write into, or None."""
        dest = [None] * len(self.output_slots)
        if not targets:
            return dest
        for o, k in enumerate(targets):
            if k is None:
                continue
            buffer = inputs[k]
            step = self.writer.get(self.output_slots[o])
            if step is None or self.output_slots.count(self.output_slots[o]) > 1:
                continue
            aliases = [j for j, x in enumerate(inputs)
                       if x is buffer or np.may_share_memory(x, buffer)]
            if all(self.last_read[j] <= step for j in aliases):
                dest[o] = buffer
        return dest

    def _run_small(self, inputs, dest):
        """Small arrays: allocation is cheap, Python's overhead is not; no pool."""
        values = list(inputs) + self._tail
        if dest:
            final = {self.output_slots[o]: d for o, d in enumerate(dest) if d is not None}
            for step in self.steps:
                values[step.out] = step.run([values[a] for a in step.args], final.get(step.out))
        else:
            for step in self.steps:
                if step.kind == "ufunc":
                    values[step.out] = step.fn(*[values[a] for a in step.args])
                else:
                    values[step.out] = step.run([values[a] for a in step.args])
        return [values[s] for s in self.output_slots]

    def _run_whole(self, inputs, dest):
        values = list(inputs) + self._tail
        owned = [False] * len(values)  # arrays this run allocated and may reuse
        final = {self.output_slots[o]: d for o, d in enumerate(dest) if d is not None}
        pool = {}
        for k, step in enumerate(self.steps):
            args = [values[a] for a in step.args]
            for slot in self.frees[k]:  # an argument dying here may be this step's out=
                if owned[slot]:
                    buffer = values[slot]
                    pool.setdefault((buffer.shape, buffer.dtype), []).append(buffer)
                values[slot] = None
            out = final.get(step.out)
            if out is None and step.kind != "call":
                out = _take(pool, args, step.dtype)
            result = step.run(args, out)
            values[step.out] = result
            owned[step.out] = isinstance(result, np.ndarray) and step.kind != "call" \
                and step.out not in final
        return [values[s] for s in self.output_slots]

    def _run_chunked(self, inputs, dest, shape, size):
        single = [np.size(x) == 1 for x in inputs]
        values = [np.asarray(x).reshape(()) if one else None for x, one in zip(inputs, single)]
        values += [None] * (len(self.slot_dtypes) - self.nin)
        flat_in = [None if one else x.reshape(-1) for x, one in zip(inputs, single)]
        outputs = [d if d is not None else np.empty(shape, self.slot_dtypes[s])
                   for d, s in zip(dest, self.output_slots)]
        flat_out = {}
        for o, s in enumerate(self.output_slots):
            flat_out.setdefault(s, outputs[o].reshape(-1))
        loop, single = self._chunk_plan(single, values, flat_out)
        vector_inputs = [j for j in range(self.nin) if not single[j]]
        for start in range(0, size, CHUNK):
            stop = min(start + CHUNK, size)
            for j in vector_inputs:
                values[j] = flat_in[j][start:stop]
            for step, buffer, flat in loop:
                args = [values[a] for a in step.args]
                if flat is not None:
                    out = flat[start:stop]
                elif buffer is not None:
                    out = buffer if stop - start == CHUNK else buffer[:stop - start]
                else:
                    out = None
                values[step.out] = step.run(args, out)
        first = {}
        for o, s in enumerate(self.output_slots):
            if s in first:  # a second output of the same value: its own copy
                outputs[o][...] = outputs[first[s]]
                continue
            first[s] = o
            if s < self.nin:
                outputs[o][...] = inputs[s]
            elif single[s]:  # computed before the loop
                outputs[o][...] = values[s]
        return outputs

    def _chunk_plan(self, single, values, flat_out):
        """Run the steps on single-element inputs now; plan the others per block:
        ``(step, block buffer or None, flat output or None)``.  Also returns which slots
        hold single elements."""
        single = list(single) + [False] * (len(self.slot_dtypes) - self.nin)
        plan, free = [], {}
        for k, step in enumerate(self.steps):
            if all(single[a] for a in step.args):
                single[step.out] = True
                values[step.out] = step.run([values[a] for a in step.args])
                continue
            for slot in self.frees[k]:  # a block dying here may be this step's out=
                buffer = None if single[slot] else _block_of(plan, slot)
                if buffer is not None:
                    free.setdefault(buffer.dtype, []).append(buffer)
            flat = flat_out.get(step.out)
            buffer = None
            if flat is None and step.kind != "call":
                stack = free.get(np.dtype(step.dtype))
                buffer = stack.pop() if stack else np.empty(CHUNK, step.dtype)
            plan.append((step, buffer, flat))
        return plan, single

    def _finish(self, outputs, inputs, dest, shape):
        """Full-shape arrays of the output dtypes, none aliasing an input (unless it is
        the destination it was given) or another output."""
        result = []
        for o, value in enumerate(outputs):
            if type(value) is not np.ndarray:  # a NumPy scalar, from 0-d arguments
                value = np.asarray(value, dtype=self.output_dtypes[o])
            if value.shape != shape:
                value = np.broadcast_to(value, shape).copy()
            elif self.copy_output[o] and (dest is None or value is not dest[o]) and (
                    any(value is r for r in result) or any(
                        np.may_share_memory(value, x) for x in inputs)):
                value = value.copy()
            result.append(value)
        return result


def broadcast_shape(shapes):
    """NumPy's broadcast of ``shapes``, fast for the common cases (equal shapes, size-1
    dimensions, scalars); an impossible broadcast is left to NumPy to report.

    >>> broadcast_shape([(3, 1), (1, 4), ()])
    (3, 4)
    """
    out = shapes[0]
    for shape in shapes[1:]:
        if shape == out or not shape:
            continue
        if not out:
            out = shape
            continue
        if len(shape) != len(out):
            return np.broadcast_shapes(*shapes)
        merged = []
        for a, b in zip(out, shape):
            if a == b or b == 1:
                merged.append(a)
            elif a == 1:
                merged.append(b)
            else:
                return np.broadcast_shapes(*shapes)  # raises with NumPy's message
        out = tuple(merged)
    return tuple(out)


def _take(pool, args, dtype):
    """A pooled buffer of the step's result shape and dtype, or None."""
    if not pool:
        return None
    stack = pool.get((broadcast_shape([np.shape(a) for a in args]), np.dtype(dtype)))
    return stack.pop() if stack else None


def _block_of(plan, slot):
    for step, buffer, _ in plan:
        if step.out == slot:
            return buffer
    return None


def _chunkable(inputs, shape):
    return all(isinstance(x, np.ndarray) and (x.size == 1 or (
        x.shape == shape and x.flags.c_contiguous)) for x in inputs)


_programs = {}


def program_for(op, in_dtypes):
    """The ScalarProgram of ``op`` (a ScalarOp or a Composite) for inputs of ``in_dtypes``.

    >>> program_for(scal.exp, ("float32",)).output_dtypes
    ['float32']
    """
    in_dtypes = tuple(str(d) for d in in_dtypes)
    own = getattr(op, "program", None)
    if own is not None:
        return own(in_dtypes)
    key = (op, in_dtypes)
    program = _programs.get(key)
    if program is None:
        nin = len(in_dtypes)
        program = _programs[key] = ScalarProgram(nin, [(op, tuple(range(nin)))], [nin],
                                                 in_dtypes)
    return program
