"""Building tensors: casts, allocation, joins and splits, ranges, dimension changes."""
import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Apply, Constant, LinearInFirstInput, Op
from symgraph.scalar import basic as scal
from symgraph.tensor import math
from symgraph.tensor.elemwise import DimShuffle, Elemwise, sum_to_like
from symgraph.tensor.shape import Reshape, shape, shape_i, specify_shape
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType, upcast
from symgraph.tensor.var import TensorConstant, as_tensor_variable, constant

_casts = {}


def cast(x, dtype):
    """``x`` converted to ``dtype`` (``'floatX'`` allowed); identity if already so.

    >>> cast(np.array([1.7, -0.5]), "int32").eval().tolist()
    [1, 0]
    """
    x = as_tensor_variable(x)
    dtype = config.floatX if dtype == "floatX" else str(np.dtype(dtype))
    if x.dtype == dtype:
        return x
    if dtype not in _casts:
        _casts[dtype] = Elemwise(scal.Cast(dtype))
    return _casts[dtype](x)


# -- constants and shapes ------------------------------------------------------
def get_scalar_constant_value(v):
    """The value of ``v`` if it is a constant scalar (seen through casts, shapes), else raise
    NotScalarConstantError.

    >>> import symgraph.tensor as T
    >>> get_scalar_constant_value(T.tensor("float64", (None, 3)).shape[1])
    3
    """
    if isinstance(v, (int, float, np.integer, np.floating)):
        return v
    if isinstance(v, Constant):
        if np.ndim(v.data) == 0:
            return v.data.item()
        raise NotScalarConstantError(f"{v} is not a scalar")
    owner = getattr(v, "owner", None)
    if owner is not None:
        op = owner.op
        if isinstance(op, Elemwise) and isinstance(op.scalar_op, scal.Cast):
            return get_scalar_constant_value(owner.inputs[0])
        from symgraph.tensor.shape import Shape_i

        if isinstance(op, Shape_i) and owner.inputs[0].type.shape[op.i] is not None:
            return owner.inputs[0].type.shape[op.i]
        if hasattr(op, "scalar_constant_value"):
            return op.scalar_constant_value(owner)
    raise NotScalarConstantError(f"{v} is not constant")


class NotScalarConstantError(ValueError):
    """``get_scalar_constant_value`` was given something whose value is not known."""


def get_scalar_constant_entries(vec, n):
    """Best-effort static values of the ``n`` entries of an int vector (None if unknown)."""
    if isinstance(vec, Constant):
        return [int(s) for s in vec.data]
    if vec.owner is not None and isinstance(vec.owner.op, MakeVector):
        out = []
        for e in vec.owner.inputs:
            try:
                out.append(int(get_scalar_constant_value(e)))
            except NotScalarConstantError:
                out.append(None)
        return out
    return [None] * n


class MakeVector(Op):
    """Stack scalars into a vector (used for symbolic shapes)."""

    __props__ = ("dtype",)

    def __init__(self, dtype="int64"):
        self.dtype = dtype

    def make_node(self, *scalars):
        scalars = [as_tensor_variable(s) for s in scalars]
        if any(s.ndim != 0 for s in scalars):
            raise TypeError("MakeVector takes scalars")
        scalars = [cast(s, self.dtype) for s in scalars]
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars),)).make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs, dtype=self.dtype).reshape(len(inputs))

    def infer_shape(self, fgraph, node, input_shapes):
        return [(len(node.inputs),)]

    def grad(self, inputs, output_grads):
        (g,) = output_grads
        if self.dtype in DISCRETE_DTYPES:
            return [zeros_like(i, dtype=config.floatX) for i in inputs]
        return [g[i] for i in range(len(inputs))]

    def R_op(self, inputs, eval_points):
        if any(e is None for e in eval_points):
            return [None]
        return [self(*eval_points)]


def as_shape_tuple_variable(shape_like):
    """A shape given as ints/scalars/a vector, as an int64 vector variable."""
    if isinstance(shape_like, (list, tuple)):
        if all(isinstance(s, (int, np.integer)) for s in shape_like):
            return constant(np.asarray(shape_like, dtype="int64").reshape(len(shape_like)))
        return MakeVector("int64")(*[as_tensor_variable(s) for s in shape_like])
    v = as_tensor_variable(shape_like)
    if v.ndim == 0:
        return MakeVector("int64")(v)
    return v if v.dtype == "int64" else cast(v, "int64")


def shape_tuple_entries(vec, n):
    """The ``n`` entries of the shape vector ``vec``, as symbolic scalars."""
    return tuple(vec[i] for i in range(n))


def broadcast_shape(input_shapes, static_shapes):
    """Symbolic broadcast of ``input_shapes`` (for ``infer_shape``)."""
    ndim = len(static_shapes[0])
    out = []
    for d in range(ndim):
        statics = [s[d] for s in static_shapes]
        known = [s for s in statics if s is not None and s != 1]
        if known:
            out.append(as_tensor_variable(np.int64(known[0])))
            continue
        candidates = [shp[d] for shp, s in zip(input_shapes, statics) if s != 1]
        if not candidates:
            out.append(as_tensor_variable(np.int64(1)))
        elif len(candidates) == 1:
            out.append(candidates[0])
        else:
            result = candidates[0]
            for c in candidates[1:]:  # not maximum: a size 0 beats a runtime size 1
                result = math.switch(math.eq(result, 1), c, result)
            out.append(result)
    return tuple(out)


# -- allocation ----------------------------------------------------------------
class Alloc(LinearInFirstInput, Op):
    """A new array of ``shape`` filled with ``value`` broadcast to it."""

    __props__ = ()

    def make_node(self, value, *shape):
        value = as_tensor_variable(value)
        shape = [as_tensor_variable(s) for s in shape]
        if len(shape) < value.ndim:
            raise ValueError(f"alloc: {len(shape)} dims requested for a {value.ndim}-d value")
        for s in shape:
            if s.ndim != 0 or s.dtype not in INT_DTYPES:
                raise TypeError(f"alloc: shape entries must be integer scalars, got {s.type}")
        static = []
        for s in shape:
            try:
                static.append(int(get_scalar_constant_value(s)))
            except NotScalarConstantError:
                static.append(None)
        return Apply(self, [value] + shape, [TensorType(value.dtype, tuple(static)).make_variable()])

    def perform(self, node, inputs, output_storage):
        value, *shape = inputs
        out = np.empty(tuple(int(s) for s in shape), dtype=value.dtype)
        out[...] = value
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(node.inputs[1:])]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        value = inputs[0]
        (gz,) = output_grads
        g = sum_to_like(gz, value) if value.ndim else math.sum(gz)
        return [g] + [disconnected_type() for _ in inputs[1:]]



alloc = Alloc()


def _shape_args(shape):
    if isinstance(shape, (int, np.integer)) or (hasattr(shape, "ndim") and shape.ndim == 0):
        return [shape]
    if hasattr(shape, "ndim"):
        if shape.type.shape[0] is None:
            raise ValueError("the length of a symbolic shape vector must be static")
        return [shape[i] for i in range(shape.type.shape[0])]
    return list(shape)


def zeros(shape, dtype=None):
    """An array of zeros; ``shape`` may mix ints and symbolic scalars, or be a shape vector.

    >>> zeros((2, 1), dtype="int8").eval().tolist()
    [[0], [0]]
    """
    return alloc(np.asarray(0, dtype=dtype or config.floatX), *_shape_args(shape))


def ones(shape, dtype=None):
    """An array of ones (see ``zeros``).

    >>> ones(3).eval().tolist()
    [1.0, 1.0, 1.0]
    """
    return alloc(np.asarray(1, dtype=dtype or config.floatX), *_shape_args(shape))


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (which may be symbolic).

    >>> full((1, 2), 7).eval().tolist()
    [[7, 7]]
    """
    value = as_tensor_variable(fill_value)
    return alloc(cast(value, dtype) if dtype else value, *_shape_args(shape))


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape and (unless given) dtype.

    >>> zeros_like(np.ones((1, 2))).eval().tolist()
    [[0.0, 0.0]]
    """
    x = as_tensor_variable(x)
    return alloc(np.asarray(0, dtype=dtype or x.dtype), *[shape_i(x, i) for i in range(x.ndim)])


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape and (unless given) dtype.

    >>> ones_like(np.zeros(2), dtype="int64").eval().tolist()
    [1, 1]
    """
    x = as_tensor_variable(x)
    return alloc(np.asarray(1, dtype=dtype or x.dtype), *[shape_i(x, i) for i in range(x.ndim)])


def fill(model, value):
    """``value`` broadcast to ``model``'s shape (Theano's ``fill``).

    >>> fill(np.zeros((2, 2)), 3.0).eval().tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    model = as_tensor_variable(model)
    value = as_tensor_variable(value)
    return alloc(value, *[shape_i(model, i) for i in range(model.ndim)])


second = fill


def eye(n, m=None, k=0, dtype=None):
    """An ``n`` x ``m`` matrix with ones on diagonal ``k`` (sizes may be symbolic).

    >>> eye(2, 3, k=1).eval().tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    return Eye(dtype or config.floatX)(n, n if m is None else m, k)


class Eye(Op):
    """``np.eye(n, m, k)`` with integer scalar inputs."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def make_node(self, n, m, k):
        n, m, k = (as_tensor_variable(v) for v in (n, m, k))
        for v in (n, m, k):
            if v.ndim != 0 or v.dtype not in INT_DTYPES:
                raise TypeError(f"eye: n, m and k must be integer scalars, got {v.type}")
        static = []
        for v in (n, m):
            try:
                static.append(int(get_scalar_constant_value(v)))
            except NotScalarConstantError:
                static.append(None)
        return Apply(self, [n, m, k], [TensorType(self.dtype, tuple(static)).make_variable()])

    def perform(self, node, inputs, output_storage):
        n, m, k = (int(v) for v in inputs)
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        n, m, _ = node.inputs
        return [(cast(n, "int64"), cast(m, "int64"))]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        return [disconnected_type()] * 3

    def connection_pattern(self, node):
        return [[False]] * 3


# -- dimension changes ---------------------------------------------------------
def dimshuffle(x, pattern):
    """Reorder dimensions, insert broadcastable ones (``'x'``), drop size-1 ones.

    >>> dimshuffle(np.zeros((2, 3)), (1, "x", 0)).eval().shape
    (3, 1, 2)
    """
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern)(x)


def _normalize_axes(axes, ndim, what):
    """``axes`` as non-negative ints, each checked against ``ndim`` like NumPy does."""
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(f"{what}: axis {a} is out of bounds for "
                                          f"{ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {tuple(axes)}")
    return out


def transpose(x, axes=None):
    """Permute dimensions (reverse them by default).

    >>> transpose(np.zeros((2, 3, 4)), (1, 2, 0)).eval().shape
    (3, 4, 2)
    """
    x = as_tensor_variable(x)
    if axes is None:
        return dimshuffle(x, tuple(reversed(range(x.ndim))))
    axes = _normalize_axes(axes, x.ndim, "transpose")
    if len(axes) != x.ndim:
        raise ValueError(f"transpose: axes {tuple(axes)} do not match {x.ndim} dimensions")
    return dimshuffle(x, axes)


def swapaxes(x, a, b):
    """``x`` with axes ``a`` and ``b`` exchanged.

    >>> swapaxes(np.zeros((2, 3, 4)), 0, -1).eval().shape
    (4, 3, 2)
    """
    x = as_tensor_variable(x)
    order = list(range(x.ndim))
    (a,), (b,) = _normalize_axes([a], x.ndim, "swapaxes"), _normalize_axes([b], x.ndim, "swapaxes")
    order[a], order[b] = order[b], order[a]
    return dimshuffle(x, order)


def expand_dims(x, axis):
    """Insert size-1 dimensions at ``axis`` (an int or a sequence; positions in the result).

    >>> expand_dims(np.zeros((2, 3)), (0, -1)).eval().shape
    (1, 2, 3, 1)
    """
    x = as_tensor_variable(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = x.ndim + len(axes)
    axes = _normalize_axes(axes, out_ndim, "expand_dims")
    pattern, k = [], 0
    for i in range(out_ndim):
        if i in axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return dimshuffle(x, pattern)


def squeeze(x, axis=None):
    """Drop size-1 dimensions: all statically known ones, or those in ``axis`` (checked
    at run time when their size is not static).

    >>> squeeze(np.zeros((1, 3, 1))).eval().shape
    (3,)
    """
    x = as_tensor_variable(x)
    if axis is None:
        drop = [i for i, s in enumerate(x.type.shape) if s == 1]
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
        drop = _normalize_axes(axes, x.ndim, "squeeze")
    return dimshuffle(x, [i for i in range(x.ndim) if i not in drop])


def addbroadcast(x, *axes):
    """``x`` with the dimensions ``axes`` marked broadcastable (size 1, checked at run time).

    >>> import symgraph.tensor as T
    >>> addbroadcast(T.dmatrix(), 0).type.shape
    (1, None)
    """
    x = as_tensor_variable(x)
    return specify_shape(x, [1 if i in axes else s for i, s in enumerate(x.type.shape)])


def reshape(x, newshape, ndim=None):
    """``x`` with a new shape (ints and symbolic scalars; one entry may be -1).

    >>> import symgraph.tensor as T
    >>> reshape(T.as_tensor(np.arange(6)), (2, -1)).eval().shape
    (2, 3)
    """
    x = as_tensor_variable(x)
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    shp = as_shape_tuple_variable(newshape)
    if ndim is None:
        ndim = shp.type.shape[0]
        if ndim is None:
            raise ValueError("reshape: the length of the new shape is not static; pass ndim=")
    return Reshape(int(ndim))(x, shp)


def flatten(x, ndim=1):
    """Collapse the trailing dimensions so ``ndim`` remain (Theano's ``flatten``).

    >>> flatten(np.zeros((2, 3, 4)), 2).eval().shape
    (2, 12)
    """
    x = as_tensor_variable(x)
    if ndim < 1 or ndim > max(x.ndim, 1):
        raise ValueError(f"flatten: ndim={ndim} for a {x.ndim}-d tensor")
    if ndim == x.ndim:
        return x
    lead = [shape_i(x, i) for i in range(ndim - 1)]
    # the trailing size as a product, not -1, which NumPy cannot resolve when lead has a 0
    trailing_static = x.type.shape[ndim - 1:]
    if None not in trailing_static:
        tail = int(np.prod(trailing_static, dtype="int64"))
    else:
        tail = as_tensor_variable(np.int64(1))
        for i in range(ndim - 1, x.ndim):
            tail = tail * shape_i(x, i)
    return reshape(x, lead + [tail], ndim=ndim)


# -- joining and splitting -----------------------------------------------------
class Join(Op):
    """Concatenate tensors along ``axis``."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def make_node(self, *tensors):
        tensors = [as_tensor_variable(t) for t in tensors]
        if not tensors:
            raise ValueError("join needs at least one tensor")
        ndim = tensors[0].ndim
        if any(t.ndim != ndim for t in tensors):
            raise TypeError(f"join: all tensors need {ndim} dims; got {[t.type for t in tensors]}")
        axis = self.axis
        dtype = upcast(*[t.dtype for t in tensors])
        tensors = [cast(t, dtype) for t in tensors]
        shape = []
        for d in range(ndim):
            sizes = [t.type.shape[d] for t in tensors]
            if d == axis:
                shape.append(None if None in sizes else sum(sizes))
            else:
                known = {s for s in sizes if s is not None}
                if len(known) > 1:
                    raise ValueError(f"join along {axis}: shapes differ in dimension {d}: "
                                     f"{[t.type.shape for t in tensors]}")
                shape.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorType(dtype, tuple(shape)).make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.concatenate(inputs, axis=self.axis)

    def infer_shape(self, fgraph, node, input_shapes):
        out = list(input_shapes[0])
        total = input_shapes[0][self.axis]
        for s in input_shapes[1:]:
            total = total + s[self.axis]
        out[self.axis] = total
        return [tuple(out)]

    def grad(self, inputs, output_grads):
        (gz,) = output_grads
        sizes = [shape_i(t, self.axis) for t in inputs]
        parts = split(gz, sizes, len(inputs), self.axis)
        parts = parts if isinstance(parts, list) else [parts]
        return [p if p.dtype == t.dtype else zeros_like(t, dtype=config.floatX)
                if t.dtype in DISCRETE_DTYPES else cast(p, t.dtype) for p, t in zip(parts, inputs)]

    def R_op(self, inputs, eval_points):
        if any(e is None for e in eval_points):
            return [None]
        return [self(*eval_points)]


def concatenate(tensor_list, axis=0):
    """Join tensors along an existing ``axis``, like ``np.concatenate``.

    >>> concatenate([np.ones((1, 2)), np.zeros((1, 2))], axis=0).eval().tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    tensors = [as_tensor_variable(t) for t in tensor_list]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be joined; use stack")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for {ndim} dimensions")
    if len(tensors) == 1:
        return tensors[0]
    return Join(int(axis) % ndim)(*tensors)


def join(axis, *tensors):
    """Theano's argument order: ``join(axis, *tensors)``.

    >>> join(1, np.zeros((2, 1)), np.ones((2, 2))).eval().shape
    (2, 3)
    """
    return concatenate(tensors, axis)


def stack(tensors, axis=0):
    """Join tensors of equal shape along a new ``axis``.

    >>> stack([np.zeros(3), np.ones(3)], axis=1).eval().shape
    (3, 2)
    """
    if not isinstance(tensors, (list, tuple)):
        raise TypeError("stack takes a list of tensors")
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    (axis,) = _normalize_axes([axis], tensors[0].ndim + 1, "stack")
    if all(t.ndim == 0 for t in tensors) and axis == 0:
        return MakeVector(upcast(*[t.dtype for t in tensors]))(*tensors)
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


class Split(Op):
    """Split along ``axis`` into ``n_splits`` pieces of the given sizes."""

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits, axis):
        self.n_splits, self.axis = n_splits, axis

    def make_node(self, x, sizes):
        x = as_tensor_variable(x)
        sizes = as_shape_tuple_variable(sizes)
        outs = []
        static = get_scalar_constant_entries(sizes, self.n_splits)
        for s in static:
            shape = list(x.type.shape)
            shape[self.axis] = s
            outs.append(TensorType(x.dtype, tuple(shape)).make_variable())
        return Apply(self, [x, sizes], outs)

    def perform(self, node, inputs, output_storage):
        x, sizes = inputs
        if len(sizes) != self.n_splits or sizes.sum() != x.shape[self.axis] or (sizes < 0).any():
            raise ValueError(f"Split: sizes {sizes.tolist()} do not split dimension "
                             f"{self.axis} of shape {x.shape}")
        bounds = np.cumsum(sizes)[:-1]
        for cell, piece in zip(output_storage, np.split(x, bounds, axis=self.axis)):
            cell[0] = piece.copy()

    def infer_shape(self, fgraph, node, input_shapes):
        x, sizes = node.inputs
        out = []
        for i in range(self.n_splits):
            shp = list(input_shapes[0])
            shp[self.axis] = sizes[i]
            out.append(tuple(shp))
        return out

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.gradient import DisconnectedType, disconnected_type

        x, sizes = inputs
        grads = [zeros_like(o) if isinstance(g.type, DisconnectedType) else g
                 for o, g in zip(outputs, output_grads)]
        return [concatenate(grads, self.axis), disconnected_type()]

    def connection_pattern(self, node):
        return [[True] * self.n_splits, [False] * self.n_splits]


def split(x, splits_size, n_splits, axis=0):
    """Theano's ``split(x, splits_size, n_splits, axis)``: a list of ``n_splits`` tensors.

    >>> [p.eval().tolist() for p in split(np.arange(5), [2, 3], 2)]
    [[0, 1], [2, 3, 4]]
    """
    x = as_tensor_variable(x)
    outs = Split(int(n_splits), int(axis) % x.ndim)(x, splits_size)
    return outs if isinstance(outs, list) else [outs]


# -- ranges --------------------------------------------------------------------
class ARange(Op):
    """``np.arange(start, stop, step, dtype)`` with scalar inputs."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def make_node(self, start, stop, step):
        start, stop, step = (as_tensor_variable(v) for v in (start, stop, step))
        if any(v.ndim != 0 for v in (start, stop, step)):
            raise TypeError(f"arange: start, stop and step must be scalars, got "
                            f"{[v.type for v in (start, stop, step)]}")
        length = None
        try:
            vals = [get_scalar_constant_value(v) for v in (start, stop, step)]
            if vals[2] == 0:
                raise ValueError("arange: step must not be zero")
            length = len(np.arange(*vals))
        except NotScalarConstantError:
            pass
        return Apply(self, [start, stop, step], [TensorType(self.dtype, (length,)).make_variable()])

    def perform(self, node, inputs, output_storage):
        start, stop, step = (v.item() for v in inputs)
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        start, stop, step = node.inputs
        n = math.ceil((stop - start) / step)
        return [(math.maximum(cast(n, "int64"), 0),)]

    def L_op(self, inputs, outputs, output_grads):
        # out[k] = start + k * step: the length is piecewise constant in the bounds
        start, stop, step = inputs
        (gz,) = output_grads
        if self.dtype in DISCRETE_DTYPES:
            return [zeros_like(i, dtype=config.floatX) for i in inputs]
        steps = cast(ARange(self.dtype)(0, shape_i(outputs[0], 0), 1), gz.dtype)
        grads = [math.sum(gz), zeros_like(stop, dtype=gz.dtype), math.sum(gz * steps)]
        return [g if i.dtype in DISCRETE_DTYPES or g.dtype == i.dtype else cast(g, i.dtype)
                for g, i in zip(grads, inputs)]


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values (NumPy's ``arange``); bounds may be symbolic.

    >>> import symgraph.tensor as T
    >>> n = T.lscalar("n")
    >>> arange(n, 0, -2).eval({n: 5}).tolist()
    [5, 3, 1]
    """
    if stop is None:
        start, stop = 0, start
    start, stop, step = (as_tensor_variable(v) for v in (start, stop, step))
    if dtype is None:
        dtype = str(np.result_type(*[np.dtype(v.dtype) for v in (start, stop, step)]))
        if all(isinstance(v, TensorConstant) and v.weak for v in (start, stop, step)) \
                and dtype.startswith("float"):
            dtype = config.floatX
    return ARange(dtype)(start, stop, step)
