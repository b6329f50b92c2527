"""Elementwise maps, dimension shuffles and reductions.

``Elemwise`` applies a ScalarOp over broadcast inputs with NumPy's rules,
including runtime broadcasting of dimensions whose size is not known
statically.  Its gradient sums back over broadcast dimensions: statically
where the types say which, with ``SumToShape`` (a no-op when shapes already
match) where only run time can tell.
"""
import numpy as np

from symgraph.graph.basic import Apply, Op, format_trace, user_trace
from symgraph.scalar import basic as scal
from symgraph.tensor.type import DISCRETE_DTYPES, TensorType, upcast
from symgraph.tensor.var import TensorConstant, as_tensor_variable, constant


class BroadcastError(ValueError):
    """Static shapes that cannot broadcast together."""


def broadcast_static_shape(shapes, what="elementwise op"):
    """The static output shape of broadcasting ``shapes`` (each a tuple of int|None).

    >>> broadcast_static_shape([(3, 1), (None, 4), (4,)])
    (3, 4)
    """
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for dim in range(ndim):
        sizes = [s[dim] for s in padded]
        known = {s for s in sizes if s is not None and s != 1}
        if len(known) > 1:
            raise BroadcastError(
                f"{what}: static shapes {[tuple(s) for s in shapes]} cannot broadcast "
                f"(dimension {dim} has sizes {sorted(known)}); built at {format_trace(user_trace())}"
            )
        if known:
            out.append(known.pop())
        elif all(s == 1 for s in sizes):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def _promote_weak(inputs, dtype_inputs=None):
    """Give weak (Python-scalar) constants the dtype NumPy 2 would give them.

    Only the inputs at positions ``dtype_inputs`` (None: all) take part: a
    switch's condition does not decide the dtype of its branches.
    """
    positions = range(len(inputs)) if dtype_inputs is None else dtype_inputs
    weak = [k for k in positions if _is_weak(inputs[k])]
    strong = [inputs[k] for k in positions if not _is_weak(inputs[k])]
    if not weak or not strong:
        return inputs
    weak_values = [_python_value(inputs[k]) for k in weak]
    common = np.result_type(*[np.dtype(v.dtype) for v in strong], *weak_values)
    for value in weak_values:
        common = _widen_int_for(common, value)
    out = list(inputs)
    for k in weak:
        out[k] = constant(np.asarray(_python_value(inputs[k]), dtype=common))
        out[k].weak, out[k].python_value = True, inputs[k].python_value
    return out


def _python_value(const):
    """The exact Python scalar behind a weak constant (its data may be floatX-rounded)."""
    return const.python_value if const.python_value is not None else const.data.item()


def _is_weak(v):
    return isinstance(v, TensorConstant) and v.weak


def _widen_int_for(dtype, value):
    """The smallest int dtype holding ``dtype`` and the Python int ``value``.

    NumPy 2 raises for ``int8_array + 1000``; a symbolic graph widens instead (to int16).
    """
    if dtype.kind not in "iu" or isinstance(value, bool) or not isinstance(value, int):
        return dtype
    info = np.iinfo(dtype)
    if info.min <= value <= info.max:
        return dtype
    ladder = ("uint16", "uint32", "uint64") if dtype.kind == "u" and value >= 0 \
        else ("int16", "int32", "int64")
    for name in ladder:
        wider = np.dtype(name)
        if np.can_cast(dtype, wider) and np.iinfo(wider).min <= value <= np.iinfo(wider).max:
            return wider
    return np.dtype("float64")


class Elemwise(Op):
    """``Elemwise(scalar_op)``: the scalar op applied to every element.

    ``inplace_pattern`` maps an output index to the input it overwrites.
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op, inplace_pattern=None, name=None):
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(sorted((inplace_pattern or {}).items()))
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}
        self.name = name
        self.nout = getattr(scalar_op, "nout", 1)  # a Composite may have several outputs
        # in place, several outputs or a Composite: perform goes through a ScalarProgram
        self._general = bool(self.inplace_pattern) or hasattr(scalar_op, "program")

    def __str__(self):
        if self.inplace_pattern:
            return f"Elemwise{{{self.scalar_op},inplace}}"
        return self.name or f"Elemwise{{{self.scalar_op}}}"

    def make_node(self, *inputs):
        inputs = _promote_weak([as_tensor_variable(i) for i in inputs],
                               self.scalar_op.dtype_inputs)
        nin = self.scalar_op.nin
        if nin != -1 and len(inputs) != nin:
            raise TypeError(f"{self} takes {nin} inputs, got {len(inputs)}")
        ndim = max(i.ndim for i in inputs)
        inputs = [_pad_left(i, ndim) for i in inputs]
        shape = broadcast_static_shape([i.type.shape for i in inputs], str(self))
        if self.nout != 1:
            dtypes = self.scalar_op.output_dtypes(*[i.dtype for i in inputs])
            return Apply(self, inputs, [TensorType(d, shape).make_variable() for d in dtypes])
        dtype = self.scalar_op.output_dtype(*[i.dtype for i in inputs])
        return Apply(self, inputs, [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        if self._general:
            return _perform_with_program(self, node, inputs, output_storage)
        try:
            cdtype, out_dtype = node._elemwise_dtypes
        except AttributeError:  # computed once per node: perform runs on every call
            cdtype = self.scalar_op.compute_dtype(*[i.dtype for i in node.inputs])
            out_dtype = np.dtype(node.outputs[0].type.dtype)
            node._elemwise_dtypes = (cdtype, out_dtype)
        if cdtype is not None:
            inputs = [x if x.dtype == cdtype else x.astype(cdtype) for x in inputs]
        result = self.scalar_op.impl(*inputs)
        if not isinstance(result, np.ndarray) or result.dtype != out_dtype:
            result = np.asarray(result, dtype=out_dtype)
        if result.ndim != node.outputs[0].type.ndim or (len(inputs) > 1 and result.size == 0):
            result = np.broadcast_to(result, _broadcast_runtime(inputs)).copy()
        output_storage[0][0] = result

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor.basic import broadcast_shape

        return [broadcast_shape(input_shapes, [i.type.shape for i in node.inputs])] * self.nout

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.tensor.basic import zeros_like, cast

        if self.nout != 1:
            from symgraph.gradient import DisconnectedType

            grads = self.scalar_op.grad_outputs(inputs, [
                None if isinstance(g.type, DisconnectedType) else g for g in output_grads])
        else:
            grads = self.scalar_op.grad(inputs, outputs[0], output_grads[0])
        result = []
        for k, (x, g) in enumerate(zip(inputs, grads)):
            if x.dtype in DISCRETE_DTYPES:
                result.append(zeros_like(x, dtype=_float_for(x.dtype)))
            elif g is None:
                result.append(zeros_like(x))
            else:
                g = sum_to_like(as_tensor_variable(g), x, runtime_broadcast_axes(inputs, k))
                result.append(g if g.dtype == x.dtype else cast(g, x.dtype))
        return result

    def R_op(self, inputs, eval_points):
        from symgraph.gradient import elemwise_rop

        if self.nout != 1:
            raise NotImplementedError("several outputs: the R-op comes from the L-op")
        return elemwise_rop(self, inputs, eval_points)


def _perform_with_program(op, node, inputs, output_storage):
    """perform for in-place nodes and Composites (fused, maybe several outputs): the
    scalar op compiled to a ScalarProgram (symgraph/scalar/program.py), which writes an
    output into the input it destroys when that input has the output's shape (a
    runtime-broadcast input gets a new array instead: correct, only not in place)."""
    from symgraph.scalar.program import broadcast_shape, program_for

    try:
        program, direct = node._scalar_program
    except AttributeError:  # compiled once per node: perform runs on every call
        program = program_for(op.scalar_op, [i.dtype for i in node.inputs])
        direct = None  # (ufunc, input index): one ufunc call writing into that input
        if program.single_ufunc and op.inplace_pattern:
            k = op.inplace_pattern[0][1]
            if node.inputs[k].dtype == program.output_dtypes[0]:
                direct = (program.steps[0].fn, k)
        node._scalar_program = (program, direct)
    if direct is not None:
        try:
            output_storage[0][0] = direct[0](*inputs, out=inputs[direct[1]])
            return
        except (ValueError, TypeError):  # smaller than the output, or read-only: the
            pass  # general path gives the output its own array (or the real error)
    shape = broadcast_shape([x.shape for x in inputs])
    targets = None
    if op.inplace_pattern:
        targets = [None] * op.nout
        for o, i in op.inplace_pattern:
            x = inputs[i]
            if isinstance(x, np.ndarray) and x.shape == shape and x.flags.writeable \
                    and x.dtype == program.output_dtypes[o]:
                targets[o] = i
    for cell, value in zip(output_storage, program.run(inputs, targets, shape)):
        cell[0] = value


def _float_for(dtype):
    from symgraph.config import config

    return config.floatX


def _broadcast_runtime(arrays):
    return np.broadcast_shapes(*[a.shape for a in arrays])


def _pad_left(x, ndim):
    if x.ndim == ndim:
        return x
    return DimShuffle(x.ndim, ["x"] * (ndim - x.ndim) + list(range(x.ndim)))(x)


class DimShuffle(Op):
    """Reorder, add ('x') and drop (size-1) dimensions; returns a view.

    ``DimShuffle(2, [1, 'x', 0])`` turns a (3, 4) array into (4, 1, 3).
    """

    __props__ = ("input_ndim", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_ndim, new_order):
        self.input_ndim = input_ndim
        self.new_order = tuple(new_order)
        kept = [d for d in self.new_order if d != "x"]
        if sorted(kept) != sorted(set(kept)) or any(not 0 <= d < input_ndim for d in kept):
            raise ValueError(f"bad dimshuffle pattern {new_order} for {input_ndim} dims")
        self.drop = tuple(d for d in range(input_ndim) if d not in kept)
        rank = {d: r for r, d in enumerate(sorted(kept))}
        self.shuffle = tuple(rank[d] for d in kept)
        self.augment = tuple(i for i, d in enumerate(self.new_order) if d == "x")

    def __str__(self):
        return f"DimShuffle{{{','.join(str(d) for d in self.new_order)}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self} expects {self.input_ndim} dims, got {x.type}")
        for d in self.drop:
            if x.type.shape[d] not in (1, None):
                raise ValueError(f"{self}: cannot drop dimension {d} of {x.type}: size "
                                 f"{x.type.shape[d]} is not 1")
        shape = tuple(1 if d == "x" else x.type.shape[d] for d in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if self.drop:
            bad = [d for d in self.drop if x.shape[d] != 1]
            if bad:
                raise ValueError(f"{self}: dimension {bad[0]} of an array of shape {x.shape} "
                                 f"must have size 1 to be dropped")
            x = x.reshape([s for i, s in enumerate(x.shape) if i not in self.drop])
        if self.shuffle != tuple(range(len(self.shuffle))):
            x = x.transpose(self.shuffle)
        if self.augment:
            x = np.expand_dims(x, self.augment)
        output_storage[0][0] = x

    def infer_shape(self, fgraph, node, input_shapes):
        (shape,) = input_shapes
        return [tuple(1 if d == "x" else shape[d] for d in self.new_order)]

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        (x,) = inputs
        gz = as_tensor_variable(gz)
        kept_positions = [i for i, d in enumerate(self.new_order) if d != "x"]
        kept = [self.new_order[i] for i in kept_positions]
        # drop the added axes, undo the permutation, re-insert the dropped axes
        if self.augment:
            gz = gz.sum(axis=self.augment) if any(gz.type.shape[a] != 1 for a in self.augment) \
                else DimShuffle(gz.ndim, kept_positions)(gz)
        inverse = ["x"] * self.input_ndim
        for pos, d in enumerate(kept):
            inverse[d] = pos
        g = DimShuffle(gz.ndim, inverse)(gz)
        return [g if g.dtype == x.dtype else g.astype(x.dtype)]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


class SumToShape(Op):
    """Sum ``g`` over the axes where ``shape`` has size 1 and ``g`` does not.

    The gradient of runtime broadcasting: a no-op (a view) when the shapes match.
    """

    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, g, shape):
        from symgraph.tensor.basic import as_shape_tuple_variable

        g = as_tensor_variable(g)
        shape = as_shape_tuple_variable(shape)
        out_shape = tuple(1 if s == 1 else None for s in g.type.shape)
        return Apply(self, [g, shape], [TensorType(g.dtype, out_shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        g, shape = inputs
        axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if a != b)
        if any(shape[i] != 1 for i in axes):
            raise ValueError(f"SumToShape: cannot reduce shape {g.shape} to {tuple(shape)}")
        output_storage[0][0] = g.sum(axis=axes, keepdims=True, dtype=g.dtype) if axes else g

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor.basic import shape_tuple_entries

        return [shape_tuple_entries(node.inputs[1], len(input_shapes[0]))]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.basic import alloc, shape_i

        g, shape = inputs
        gz = output_grads[0]
        return [alloc(gz, *[shape_i(g, i) for i in range(g.ndim)]), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def sum_to_like(g, x, runtime_axes=None):
    """``g`` summed down to ``x``'s shape, where ``x`` was broadcast to ``g``'s shape.

    ``runtime_axes``: the axes where ``x`` may have been broadcast at run time
    (None: any axis whose size is not static).

    >>> import symgraph.tensor as T
    >>> g = T.as_tensor(np.ones((2, 3)))
    >>> sum_to_like(g, T.tensor("float64", (1, 3))).eval().tolist()
    [[2.0, 2.0, 2.0]]
    """
    from symgraph.tensor import math

    if g.ndim > x.ndim:
        g = math.sum(g, axis=tuple(range(g.ndim - x.ndim)))
    static_axes = tuple(i for i in range(x.ndim) if x.type.shape[i] == 1 and g.type.shape[i] != 1)
    if static_axes:
        g = math.sum(g, axis=static_axes, keepdims=True)
    if runtime_axes is None:
        runtime_axes = [i for i, s in enumerate(x.type.shape) if s is None]
    if any(g.type.shape[i] != 1 for i in runtime_axes):
        g = SumToShape()(g, x.shape)
    return g


def runtime_broadcast_axes(inputs, k):
    """Axes where input ``k`` might be broadcast at run time against the other inputs.

    >>> import symgraph.tensor as T
    >>> runtime_broadcast_axes([T.dmatrix(), T.tensor("float64", (1, 3))], 0)
    [1]
    """
    x = inputs[k]
    return [d for d in range(x.ndim) if x.type.shape[d] is None and any(
        j != k and other.type.shape[d] != 1 for j, other in enumerate(inputs))]
