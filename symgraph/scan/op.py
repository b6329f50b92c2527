"""The Scan op: a loop whose body is an inner graph, run once per step.

See info.py for the layout of inputs and outputs.  ``perform`` compiles the inner
graph once (``symgraph.compile.function`` with the op's mode, outputs borrowed; a C VM
keeps its buffers from step to step), then runs the loop (loop.py: in C when the inner
function runs on the C VM) over preallocated output buffers, writing each step's
results into them.  The gradient (backpropagation through time, as a second Scan) is in
grad.py, the R-operator (a Scan carrying tangents beside the states) in rop.py.
"""
import weakref

from symgraph.graph.basic import Apply, Op, Variable
from symgraph.graph.fgraph import FunctionGraph, MissingInputError
from symgraph.scan.info import ScanInfo
from symgraph.scan.utils import GraphSignature, input_dependencies, translate_shapes
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType


class Scan(Op):
    """A loop over an inner graph (``inner_inputs`` -> ``inner_outputs``), laid out as
    ``info`` says.  Build it with ``symgraph.scan.scan``; this class is the IR.

    >>> import numpy as np, symgraph as sg, symgraph.tensor as T
    >>> x, h = T.dscalar('x'), T.dscalar('h')
    >>> info = ScanInfo(n_seqs=1, state_taps=((-1,),), n_nit_sot=0, n_shared_outs=0,
    ...                 n_non_seqs=0)
    >>> op = Scan([x, h], [h + x], info)
    >>> seq, h0 = T.dvector('seq'), T.dvector('h0')
    >>> buf = op(seq.shape[0], seq, h0)
    >>> sg.function([seq, h0], buf)([1.0, 2.0, 3.0], [10.0]).tolist()
    [10.0, 11.0, 13.0, 16.0]
    """

    __props__ = ("info", "signature")

    def __init__(self, inner_inputs, inner_outputs, info, mode=None, name=None):
        if not isinstance(info, ScanInfo):
            raise TypeError(f"Scan: info must be a ScanInfo, got {info!r}")
        if len(inner_inputs) != info.n_inner_inputs:
            raise ValueError(f"Scan: {len(inner_inputs)} inner inputs, info says "
                             f"{info.n_inner_inputs} ({info.describe()})")
        if len(inner_outputs) != info.n_inner_outputs:
            raise ValueError(f"Scan: {len(inner_outputs)} inner outputs, info says "
                             f"{info.n_inner_outputs} ({info.describe()})")
        try:
            self.fgraph = FunctionGraph(list(inner_inputs), list(inner_outputs), clone=True)
        except MissingInputError as exc:
            raise ValueError(f"Scan: the inner graph uses a variable that is not one of its "
                             f"inputs: {exc}") from None
        self.info, self.mode, self.name = info, mode, name
        self._check_inner_types()
        self.signature = GraphSignature(self.fgraph)
        self._program = None  # the compiled inner function, made on first use

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_program"] = None  # compiled code: made again on first use
        return state

    @property
    def inner_inputs(self):
        return self.fgraph.inputs

    @property
    def inner_outputs(self):
        return self.fgraph.outputs

    def _check_inner_types(self):
        info = self.info
        _, taps, shared, _ = info.split_inner_inputs(self.inner_inputs)
        news, nits, shared_news, cond = info.split_inner_outputs(self.inner_outputs)
        for i, (tap_vars, new) in enumerate(zip(taps, news)):
            ttype = tap_vars[0].type
            if any(v.type != ttype for v in tap_vars):
                raise TypeError(f"Scan: the taps of state {i} have different types")
            if not _compatible(ttype, new.type):
                raise TypeError(f"Scan: state {i} is {ttype} but the step returns {new.type}")
        for j, (cur, new) in enumerate(zip(shared, shared_news)):
            if not _compatible(cur.type, new.type):
                raise TypeError(f"Scan: shared state {j} is {cur.type} but its update is "
                                f"{new.type}")
        for v in nits:
            if not isinstance(v.type, TensorType):
                raise TypeError(f"Scan: output {v} is not a tensor")
        if cond is not None and (not isinstance(cond.type, TensorType) or cond.ndim != 0):
            raise TypeError(f"Scan: the until condition must be a scalar, got {cond.type}")

    def __str__(self):
        return f"Scan{{{self.name or 'scan'}: {self.info.describe()}}}"

    __repr__ = __str__

    # -- building ----------------------------------------------------------------
    def make_node(self, *inputs):
        from symgraph.tensor.basic import cast
        from symgraph.tensor.var import as_tensor_variable

        info = self.info
        if len(inputs) != info.n_outer_inputs:
            raise ValueError(f"{self}: expected {info.n_outer_inputs} inputs, got {len(inputs)}")
        inputs = [v if isinstance(v, Variable) else as_tensor_variable(v) for v in inputs]
        n_steps = inputs[0]
        if n_steps.ndim != 0 or n_steps.dtype not in INT_DTYPES:
            raise TypeError(f"{self}: n_steps must be an integer scalar, got {n_steps.type}")
        inputs[0] = cast(n_steps, "int64")
        _, seqs, inits, shared, non_seqs = info.split_outer_inputs(inputs)
        inner_seqs, taps, inner_shared, inner_non_seqs = info.split_inner_inputs(
            self.inner_inputs)
        for k, (outer, inner) in enumerate(zip(seqs, inner_seqs)):
            _check_outer(self, outer, inner.type, True, f"sequence {k}")
        for i, (outer, tap_vars) in enumerate(zip(inits, taps)):
            _check_outer(self, outer, tap_vars[0].type, True, f"initial state {i}")
        for j, (outer, inner) in enumerate(zip(shared, inner_shared)):
            if isinstance(inner.type, TensorType):
                _check_outer(self, outer, inner.type, False, f"shared state {j}")
            elif outer.type != inner.type:  # a random generator, say
                raise TypeError(f"{self}: shared state {j} is {outer.type}; the inner graph "
                                f"expects {inner.type}")
        for j, (outer, inner) in enumerate(zip(non_seqs, inner_non_seqs)):
            _check_outer(self, outer, inner.type, False, f"non-sequence {j}")
        _, nits, _, _ = info.split_inner_outputs(self.inner_outputs)
        outputs = [TensorType(t[0].type.dtype, (None,) + t[0].type.shape).make_variable()
                   for t in taps]
        outputs += [TensorType(v.type.dtype, (None,) + v.type.shape).make_variable()
                    for v in nits]
        outputs += [v.type.make_variable() for v in inner_shared]
        return Apply(self, inputs, outputs)

    # -- running -----------------------------------------------------------------
    def inner_program(self):
        """The compiled inner function's program (``input_cells``, ``output_cells``, call)."""
        if self._program is None:
            from symgraph.compile.function import function
            from symgraph.compile.io import Out

            fn = function(list(self.inner_inputs),
                          [Out(o, borrow=True) for o in self.inner_outputs],
                          mode=_inner_mode(self.mode),
                          on_unused_input="ignore", accept_inplace=True,
                          name=f"{self.name or 'scan'}_inner")
            self._program = fn.fn
        return self._program

    def c_loop_plan(self):
        """The plan from which the C VM runs this loop in C, or None (scan/loop.py)."""
        from symgraph.scan.loop import c_loop_plan

        return c_loop_plan(self)

    def perform(self, node, inputs, output_storage):
        from symgraph.scan.loop import run_loop

        results = run_loop(self, node, inputs)
        for cell, value in zip(output_storage, results):
            cell[0] = value

    # -- shapes ------------------------------------------------------------------
    def infer_shape(self, fgraph, node, input_shapes):
        info = self.info
        if info.as_while:
            raise NotImplementedError("the number of steps of a while loop is not known")
        from symgraph.tensor.math import minimum

        n_steps = node.inputs[0]
        base = 1 + info.n_seqs
        shapes = [((lag + n_steps) if not keep else minimum(keep, lag + n_steps),)
                  + tuple(input_shapes[base + i][1:])
                  for i, (lag, keep) in enumerate(zip(info.state_lags, info.state_keep))]
        # nit-sot values and shared updates: their shapes come from the inner graph
        translated = self._translate_inner_shapes(
            node, input_shapes, range(info.n_states, info.n_outer_outputs))
        shapes += [(n_steps,) + s for s in translated[:info.n_nit_sot]]
        shapes += translated[info.n_nit_sot:]
        return shapes

    def _translate_inner_shapes(self, node, input_shapes, output_indices):
        info = self.info
        fg = self.fgraph.clone()
        outputs = [fg.outputs[j] for j in output_indices]
        to_outer = info.inner_to_outer_input()
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        first_shared = info.n_seqs + info.n_taps
        shape_sources, value_sources = {}, {}
        for k, outer in enumerate(to_outer):
            if k >= first_non_seq:  # the same value at every step
                value_sources[k] = node.inputs[outer]
                continue
            skip = 0 if k >= first_shared else 1  # seqs and states have a time axis outside
            shape_sources[k] = (lambda d, o=outer, s=skip: input_shapes[o][d + s])
        return translate_shapes(fg, outputs, shape_sources, value_sources)

    # -- differentiation -----------------------------------------------------------
    def connection_pattern(self, node):
        info = self.info
        conn = self.output_connections()
        return [[False] * info.n_outer_outputs] + [
            [k in conn[j] for j in range(info.n_outer_outputs)]
            for k in range(1, info.n_outer_inputs)]

    def output_connections(self):
        """For each outer output, the outer input indices it depends on through the loop
        (following the recurrences to a fixed point)."""
        info = self.info
        deps = input_dependencies(self.inner_inputs, self.inner_outputs[:info.n_outer_outputs])
        to_outer = info.inner_to_outer_input()
        # the inner inputs fed by each outer output's recurrence
        feeds = {}
        pos = info.n_seqs
        for i, t in enumerate(info.state_taps):
            for k in range(pos, pos + len(t)):
                feeds[k] = i
            pos += len(t)
        for j in range(info.n_shared_outs):
            feeds[pos + j] = info.n_states + info.n_nit_sot + j
        base = 1 + info.n_seqs
        conn = [set() for _ in range(info.n_outer_outputs)]
        for i in range(info.n_states):
            conn[i].add(base + i)
        for j in range(info.n_shared_outs):
            conn[info.n_states + info.n_nit_sot + j].add(base + info.n_states + j)
        changed = True
        while changed:
            changed = False
            for j, inner in enumerate(deps):
                new = set(conn[j])
                for k in inner:
                    new.add(to_outer[k])
                    if k in feeds:
                        new |= conn[feeds[k]]
                if new != conn[j]:
                    conn[j], changed = new, True
        return conn

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.scan.grad import scan_grad

        self._check_full_history("gradient")
        return scan_grad(self, outputs[0].owner, output_grads)

    def R_op(self, inputs, eval_points):
        from symgraph.scan.rop import scan_rop

        self._check_full_history("R-op")
        return scan_rop(self, list(inputs), list(eval_points))

    def _check_full_history(self, what):
        if any(self.info.state_keep):
            raise NotImplementedError(
                f"{self}: no {what} for a scan that keeps only the last rows of a state "
                f"(the memory-saving rewrite made it); differentiate the graph before "
                f"rewriting it")


_KEEP_BUFFERS = weakref.WeakKeyDictionary()  # a C VM mode -> its cvm_nogc twin, made once


def _inner_mode(mode):
    """The mode of a scan's inner function: ``mode``, except that a C VM keeps its buffers
    from one step to the next (``cvm_nogc``: a step reuses the last step's buffers instead
    of allocating), as Theano's scan does (``allow_gc=False``).

    >>> from symgraph.compile.mode import Mode
    >>> _inner_mode(Mode(linker="cvm")).linker, _inner_mode(Mode(linker="py")).linker
    ('cvm_nogc', 'py')
    """
    from symgraph.compile.mode import Mode, get_mode
    from symgraph.link import linker_for

    mode = get_mode(mode)
    if type(mode) is not Mode or linker_for(mode.linker) is not linker_for("cvm"):
        return mode
    if mode not in _KEEP_BUFFERS:
        _KEEP_BUFFERS[mode] = Mode(linker="cvm_nogc", optimizer=mode.optimizer)
    return _KEEP_BUFFERS[mode]


def _compatible(general, specific):
    """``specific`` values can stand where ``general`` ones are expected."""
    return general == specific or general.is_super(specific)


def _check_outer(op, outer, inner_type, has_time_axis, what):
    if not isinstance(outer.type, TensorType):
        raise TypeError(f"{op}: {what} must be a tensor, got {outer.type}")
    shape = outer.type.shape[1:] if has_time_axis else outer.type.shape
    ndim = outer.ndim - (1 if has_time_axis else 0)
    if outer.dtype != inner_type.dtype or ndim != inner_type.ndim:
        raise TypeError(f"{op}: {what} has type {outer.type}; the inner graph expects "
                        f"{'rows of ' if has_time_axis else ''}{inner_type}")
    if not _compatible(inner_type, TensorType(outer.dtype, shape)):
        raise TypeError(f"{op}: {what} has static shape {outer.type.shape}, incompatible "
                        f"with the inner graph's {inner_type}")


def is_differentiable(var):
    return isinstance(var.type, TensorType) and var.type.dtype not in DISCRETE_DTYPES

