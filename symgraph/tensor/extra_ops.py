"""Array utilities: cumsum, cumprod, diff, repeat, tile, one_hot.

``CumOp``, ``Repeat`` and ``Tile`` are ops of their own (NumPy ``perform``,
``infer_shape``, gradient, R-op); ``diff`` and ``one_hot`` are built from
indexing and elementwise ops, whose gradients they inherit.
"""
import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Apply, LinearInFirstInput, Op
from symgraph.tensor import math
from symgraph.tensor.basic import (NotScalarConstantError, arange, as_shape_tuple_variable, cast,
                                   expand_dims, get_scalar_constant_entries,
                                   get_scalar_constant_value, reshape, shape_i, squeeze,
                                   zeros_like)
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType
from symgraph.tensor.var import as_tensor_variable

__all__ = ["CumOp", "cumsum", "cumprod", "diff", "Repeat", "repeat", "Tile", "tile",
           "one_hot", "to_one_hot", "squeeze", "expand_dims"]


def _normalize_axis(axis, ndim, what):
    axis = int(axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{what}: axis {axis} is out of range for {ndim} dimensions")
    return axis % max(ndim, 1)


def _flat_static_size(x):
    """The static number of elements of ``x``, or None."""
    return None if None in x.type.shape else int(np.prod(x.type.shape, dtype="int64"))


def _reversed_along(x, axis):
    """``x`` reversed along ``axis`` (a view)."""
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


def _float_zeros_like(x):
    return zeros_like(x, dtype=config.floatX)


# -- cumulative sum and product -------------------------------------------------
class CumOp(Op):
    """Cumulative sum (``mode='add'``) or product (``mode='mul'``) along ``axis``.

    ``axis=None`` works on the flattened array, as NumPy does.  The output dtype
    is NumPy's (small integers and bool accumulate in 64 bits).
    """

    __props__ = ("axis", "mode")

    def __init__(self, axis=None, mode="add"):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        self.axis = None if axis is None else int(axis)
        self.mode = mode

    def __str__(self):
        name = "Cumsum" if self.mode == "add" else "Cumprod"
        return f"{name}{{axis={self.axis}}}"

    def _numpy(self):
        return np.cumsum if self.mode == "add" else np.cumprod

    def make_node(self, x):
        x = as_tensor_variable(x)
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self}: axis out of range for {x.type}")
        dtype = str(self._numpy()(np.zeros(1, dtype=x.dtype)).dtype)
        shape = (_flat_static_size(x),) if self.axis is None else x.type.shape
        return Apply(self, [x], [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        dtype = node.outputs[0].type.dtype
        output_storage[0][0] = np.asarray(self._numpy()(x, axis=self.axis, dtype=dtype))

    def infer_shape(self, fgraph, node, input_shapes):
        if self.axis is None:
            size = math.prod(as_tensor_variable(list(input_shapes[0]))) \
                if input_shapes[0] else as_tensor_variable(np.int64(1))
            return [(size,)]
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (y,), (gz,) = inputs, outputs, output_grads
        if x.dtype in DISCRETE_DTYPES:
            return [_float_zeros_like(x)]
        axis = 0 if self.axis is None else self.axis
        if self.mode == "add":
            g = _reverse_cumsum(gz, axis)
        else:
            g = _cumprod_grad(x.flatten() if self.axis is None else x, y, gz, axis)
        if self.axis is None:
            g = reshape(g, x.shape, ndim=x.ndim)
        return [g]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        if self.mode == "add":
            return [self(eval_points[0])]
        raise NotImplementedError("cumprod's R-op comes from its L-op")


def _reverse_cumsum(g, axis):
    """``out[i] = sum(g[i:])`` along ``axis``: the transpose of cumsum."""
    return _reversed_along(CumOp(axis, "add")(_reversed_along(g, axis)), axis)


def _cumprod_grad(x, y, gz, axis):
    """Gradient of ``y = cumprod(x)`` along ``axis``; exact where ``x`` has zeros.

    With ``z`` the first zero of a line: before ``z`` the quotient
    ``rev_cumsum(gz * y) / x`` is exact (every ``y`` from ``z`` on is 0); at ``z``
    the gradient is ``rev_cumsum(gz * y')`` with ``y'`` the cumprod of ``x`` whose
    first zero is replaced by 1; after ``z`` every product contains ``x[z]``: 0.
    """
    is_zero = math.eq(x, 0)
    zeros_so_far = CumOp(axis, "add")(is_zero)
    before_first = math.eq(zeros_so_far, 0)
    at_first = math.and_(is_zero, math.eq(zeros_so_far, 1))
    safe_x = math.switch(is_zero, 1, x)
    before = _reverse_cumsum(gz * y, axis) / safe_x
    y_skip_first = CumOp(axis, "mul")(math.switch(at_first, 1, x))
    at = _reverse_cumsum(gz * y_skip_first, axis)
    return math.switch(before_first, before, math.switch(at_first, at, 0)).astype(x.dtype)


def _cum(mode, x, axis):
    x = as_tensor_variable(x)
    if axis is not None:
        axis = _normalize_axis(axis, x.ndim, "cumsum" if mode == "add" else "cumprod")
        if x.ndim == 0:  # NumPy treats a 0-d array as 1-d here
            return CumOp(None, mode)(x)
    return CumOp(axis, mode)(x)


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (``None``: over the flattened array), like ``np.cumsum``.

    >>> import symgraph.tensor as T
    >>> cumsum(T.as_tensor([[1, 2], [3, 4]]), axis=0).eval().tolist()
    [[1, 2], [4, 6]]
    """
    return _cum("add", x, axis)


def cumprod(x, axis=None):
    """Cumulative product along ``axis`` (``None``: over the flattened array).

    >>> import symgraph.tensor as T
    >>> cumprod(T.as_tensor([1.0, 2.0, 3.0])).eval().tolist()
    [1.0, 2.0, 6.0]
    """
    return _cum("mul", x, axis)


# -- differences ------------------------------------------------------------------
def diff(x, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis``, like ``np.diff``.

    >>> import symgraph.tensor as T
    >>> diff(T.as_tensor([1, 4, 9, 16]), n=2).eval().tolist()
    [2, 2]
    """
    x = as_tensor_variable(x)
    if x.ndim == 0:
        raise ValueError("diff needs at least one dimension")
    if int(n) != n or n < 0:
        raise ValueError(f"diff: order n={n} must be a non-negative integer")
    axis = _normalize_axis(axis, x.ndim, "diff")
    lead = (slice(None),) * axis
    for _ in range(int(n)):
        later, earlier = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        # NumPy: booleans differ by "not equal", not by subtraction
        x = math.neq(later, earlier) if x.dtype == "bool" else later - earlier
    return x


# -- repeat -------------------------------------------------------------------------
class Repeat(LinearInFirstInput, Op):
    """``np.repeat(x, repeats, axis)``; ``repeats`` is an int scalar or vector (of
    length 1 or ``x.shape[axis]``).  ``axis=None`` repeats the flattened array."""

    __props__ = ("axis",)

    def __init__(self, axis=None):
        self.axis = None if axis is None else int(axis)

    def make_node(self, x, repeats):
        x = as_tensor_variable(x)
        repeats = as_tensor_variable(repeats)
        if repeats.dtype not in INT_DTYPES or repeats.ndim > 1:
            raise TypeError(f"repeat: repeats must be an integer scalar or vector, got "
                            f"{repeats.type}")
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise ValueError(f"repeat: axis {self.axis} is out of range for {x.type}")
        shape = list(x.type.shape) if self.axis is not None else [_flat_static_size(x)]
        axis = self.axis or 0
        shape[axis] = self._static_length(shape[axis], repeats)
        return Apply(self, [x, repeats], [TensorType(x.dtype, tuple(shape)).make_variable()])

    @staticmethod
    def _static_length(size, repeats):
        if repeats.ndim == 0:
            try:
                r = int(get_scalar_constant_value(repeats))
            except NotScalarConstantError:
                return None
            return None if size is None else size * r
        n = repeats.type.shape[0]
        entries = get_scalar_constant_entries(repeats, n) if n is not None else [None]
        if None in entries:
            return None
        if len(entries) == 1:
            return None if size is None else size * entries[0]
        return sum(entries)

    def perform(self, node, inputs, output_storage):
        x, repeats = inputs
        output_storage[0][0] = np.repeat(x, repeats, axis=self.axis)

    def infer_shape(self, fgraph, node, input_shapes):
        x, repeats = node.inputs
        if self.axis is None:
            size = math.prod(as_tensor_variable(list(input_shapes[0]))) \
                if input_shapes[0] else as_tensor_variable(np.int64(1))
            out, axis = [size], 0
        else:
            out, axis = list(input_shapes[0]), self.axis
        if repeats.ndim == 0:
            out[axis] = out[axis] * repeats
        else:
            broadcast = out[axis] * repeats[0]
            total = math.sum(repeats)
            out[axis] = math.switch(math.eq(input_shapes[1][0], 1), broadcast, total)
        return [tuple(cast(s, "int64") for s in out)]

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.subtensor import inc_subtensor

        (x, repeats), (gz,) = inputs, output_grads
        if x.dtype in DISCRETE_DTYPES:
            return [_float_zeros_like(x), disconnected_type()]
        # output element j comes from input element source[j]: sum gz back onto it
        base = x.flatten() if self.axis is None else x
        axis = self.axis or 0
        source = Repeat(0)(arange(shape_i(base, axis)), repeats)
        target = zeros_like(base)[(slice(None),) * axis + (source,)]
        gx = inc_subtensor(target, gz)
        if self.axis is None:
            gx = reshape(gx, x.shape, ndim=x.ndim)
        return [gx, disconnected_type()]



def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis``, like ``np.repeat``.

    >>> import symgraph.tensor as T
    >>> repeat(T.as_tensor([[1, 2], [3, 4]]), [1, 2], axis=0).eval().tolist()
    [[1, 2], [3, 4], [3, 4]]
    """
    x = as_tensor_variable(x)
    if axis is not None:
        axis = _normalize_axis(axis, x.ndim, "repeat")
        if x.ndim == 0:
            axis = None
    return Repeat(axis)(x, repeats)


# -- tile ---------------------------------------------------------------------------
class Tile(LinearInFirstInput, Op):
    """``np.tile`` for ``x`` and ``reps`` of the same length (``tile()`` pads them)."""

    __props__ = ()

    def make_node(self, x, reps):
        x = as_tensor_variable(x)
        reps = as_tensor_variable(reps)
        if reps.ndim != 1 or reps.dtype not in INT_DTYPES or reps.type.shape[0] != x.ndim:
            raise TypeError(f"Tile: reps must be an integer vector of length {x.ndim}, got "
                            f"{reps.type}")
        static_reps = get_scalar_constant_entries(reps, x.ndim)
        shape = tuple(None if s is None or r is None else s * r
                      for s, r in zip(x.type.shape, static_reps))
        return Apply(self, [x, reps], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, reps = inputs
        if (reps < 0).any():
            raise ValueError(f"Tile: negative repetitions {reps.tolist()}")
        output_storage[0][0] = np.tile(x, tuple(int(r) for r in reps))

    def infer_shape(self, fgraph, node, input_shapes):
        reps = node.inputs[1]
        return [tuple(s * reps[i] for i, s in enumerate(input_shapes[0]))]

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.gradient import disconnected_type

        (x, reps), (gz,) = inputs, output_grads
        if x.dtype in DISCRETE_DTYPES:
            return [_float_zeros_like(x), disconnected_type()]
        if x.ndim == 0:
            return [gz, disconnected_type()]
        # view the output as (r0, s0, r1, s1, ...) and sum over the repetition axes
        split_shape = []
        for i in range(x.ndim):
            split_shape += [reps[i], shape_i(x, i)]
        g = reshape(gz, split_shape, ndim=2 * x.ndim)
        return [math.sum(g, axis=tuple(range(0, 2 * x.ndim, 2))), disconnected_type()]



_tile = Tile()


def tile(x, reps):
    """``x`` repeated ``reps[i]`` times along each axis ``i``, like ``np.tile``.

    ``reps`` is an int, or a sequence of ints and symbolic scalars (or an int vector
    of static length); shorter of ``x.ndim`` and ``len(reps)`` is padded with leading 1s.

    >>> import symgraph.tensor as T
    >>> tile(T.as_tensor([1, 2]), (2, 2)).eval().tolist()
    [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    x = as_tensor_variable(x)
    if isinstance(reps, (int, np.integer)):
        reps = (reps,)
    reps = as_shape_tuple_variable(reps)
    n_reps = reps.type.shape[0]
    if n_reps is None:
        raise ValueError("tile: the number of repetitions must be known statically")
    if n_reps > x.ndim:
        x = expand_dims(x, tuple(range(n_reps - x.ndim)))
    elif n_reps < x.ndim:
        entries = [as_tensor_variable(np.int64(1))] * (x.ndim - n_reps)
        reps = as_shape_tuple_variable(entries + [reps[i] for i in range(n_reps)])
    return _tile(x, reps)


# -- one-hot ------------------------------------------------------------------------
def one_hot(indices, depth, dtype=None):
    """A one-hot encoding: ``out[..., k] = (indices[...] == k)`` for ``k < depth``.

    The output has shape ``indices.shape + (depth,)`` and dtype ``dtype``
    (default floatX).  Indices outside ``[0, depth)`` give all-zero rows.

    >>> import symgraph.tensor as T
    >>> one_hot(T.as_tensor([2, 0]), 3).eval().tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    indices = as_tensor_variable(indices)
    if indices.dtype not in INT_DTYPES:
        raise TypeError(f"one_hot: indices must be integers, got {indices.type}")
    depth = as_tensor_variable(depth)
    if depth.ndim != 0 or depth.dtype not in INT_DTYPES:
        raise TypeError(f"one_hot: depth must be an integer scalar, got {depth.type}")
    classes = arange(cast(depth, "int64"))
    hot = math.eq(expand_dims(indices, -1), classes)
    return cast(hot, dtype or config.floatX)


def to_one_hot(y, nb_class, dtype=None):
    """Theano's name: the one-hot matrix of the integer vector ``y``, ``nb_class`` columns.

    >>> import symgraph.tensor as T
    >>> to_one_hot(T.as_tensor([1, 0]), 2).eval().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    y = as_tensor_variable(y)
    if y.ndim != 1:
        raise TypeError(f"to_one_hot: y must be a vector, got {y.type}")
    return one_hot(y, nb_class, dtype)
