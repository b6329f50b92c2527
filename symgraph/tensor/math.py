"""Tensor math: elementwise functions, reductions, and products (dot, tensordot, ...)."""
import builtins

import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.scalar import basic as scal
from symgraph.tensor.elemwise import DimShuffle, Elemwise
from symgraph.tensor.type import DISCRETE_DTYPES, TensorType, upcast, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable


def _ew(scalar_op):
    return Elemwise(scalar_op)


# -- elementwise ---------------------------------------------------------------
add, mul, sub, true_div = _ew(scal.add), _ew(scal.mul), _ew(scal.sub), _ew(scal.true_div)
int_div = floor_div = _ew(scal.int_div)
mod, pow, maximum, minimum = _ew(scal.mod), _ew(scal.pow), _ew(scal.maximum), _ew(scal.minimum)
arctan2 = _ew(scal.arctan2)
eq, neq, lt, le, gt, ge = (_ew(s) for s in (scal.eq, scal.neq, scal.lt, scal.le, scal.gt, scal.ge))
and_, or_, xor, invert = _ew(scal.and_), _ew(scal.or_), _ew(scal.xor), _ew(scal.invert)
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
isnan, isinf = _ew(scal.isnan), _ew(scal.isinf)
neg, identity, abs, sgn = _ew(scal.neg), _ew(scal.identity), _ew(scal.abs), _ew(scal.sgn)
abs_, sign = abs, sgn
sqr, sqrt, inv = _ew(scal.sqr), _ew(scal.sqrt), _ew(scal.inv)
reciprocal = inv
exp, exp2, expm1 = _ew(scal.exp), _ew(scal.exp2), _ew(scal.expm1)
log, log2, log10, log1p = _ew(scal.log), _ew(scal.log2), _ew(scal.log10), _ew(scal.log1p)
sin, cos, tan = _ew(scal.sin), _ew(scal.cos), _ew(scal.tan)
arcsin, arccos, arctan = _ew(scal.arcsin), _ew(scal.arccos), _ew(scal.arctan)
sinh, cosh, tanh = _ew(scal.sinh), _ew(scal.cosh), _ew(scal.tanh)
sigmoid, softplus, erf, erfc = _ew(scal.sigmoid), _ew(scal.softplus), _ew(scal.erf), _ew(scal.erfc)
floor, ceil, trunc = _ew(scal.floor), _ew(scal.ceil), _ew(scal.trunc)
round_half_to_even = _ew(scal.round_half_to_even)
switch = where = _ew(scal.switch)
_clip = _ew(scal.clip)
_relu = _ew(scal.relu)


def round(x, mode="half_to_even"):
    """Round to the nearest integer, halves to even (NumPy's ``np.round``), or with
    ``mode="half_away_from_zero"``.

    >>> import symgraph.tensor as T
    >>> round(T.as_tensor([0.5, 1.5, -2.5])).eval().tolist()
    [0.0, 2.0, -2.0]
    """
    if mode != "half_to_even":
        if mode == "half_away_from_zero":
            return sgn(x) * floor(abs(x) + 0.5)
        raise ValueError(f"unknown rounding mode {mode!r}")
    return round_half_to_even(x)


def clip(x, min, max):
    """Limit ``x`` to ``[min, max]``.

    >>> import symgraph.tensor as T
    >>> clip(T.as_tensor([-2.0, 0.5, 3.0]), 0, 1).eval().tolist()
    [0.0, 0.5, 1.0]
    """
    return _clip(x, min, max)


def relu(x, alpha=0):
    """max(x, 0), or the leaky form ``x if x > 0 else alpha * x``.

    >>> import symgraph.tensor as T
    >>> relu(T.as_tensor([-2.0, 3.0]), alpha=0.5).eval().tolist()
    [-1.0, 3.0]
    """
    if isinstance(alpha, (int, float)) and alpha == 0:
        return _relu(x)
    x = as_tensor_variable(x)
    return switch(gt(x, 0), x, alpha * x)


def xlogx(x):
    """x * log(x), with the limit 0 at x = 0.

    >>> import symgraph.tensor as T
    >>> xlogx(T.as_tensor([0.0, 1.0])).eval().tolist()
    [0.0, 0.0]
    """
    return switch(eq(x, 0), 0, x * log(switch(eq(x, 0), 1, x)))


# -- reductions ----------------------------------------------------------------
def normalize_axis(axis, ndim):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative ints.

    >>> normalize_axis(-1, 3), normalize_axis(None, 2), normalize_axis((2, 0), 3)
    ((2,), (0, 1), (0, 2))
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for an array of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


_REDUCERS = {
    "sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all, "any": np.any,
}


def _sum_dtype(dtype):
    if dtype == "bool" or dtype in ("int8", "int16", "int32"):
        return "int64"
    if dtype in ("uint8", "uint16", "uint32"):
        return "uint64"
    return dtype


class Reduce(Op):
    """Reduce over ``axis`` (a tuple) with ``kind`` in sum, prod, max, min, all, any."""

    __props__ = ("kind", "axis", "dtype")

    def __init__(self, kind, axis, dtype=None):
        self.kind, self.axis, self.dtype = kind, tuple(axis), dtype

    def __str__(self):
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if builtins.any(a >= x.ndim for a in self.axis):
            raise ValueError(f"{self}: axis out of range for {x.type}")
        if self.kind in ("all", "any"):
            dtype = "bool"
        elif self.kind in ("sum", "prod"):
            dtype = self.dtype or _sum_dtype(x.dtype)
        else:
            dtype = x.dtype
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        kwargs = {"dtype": node.outputs[0].type.dtype} if self.kind in ("sum", "prod") else {}
        out = _REDUCERS[self.kind](x, axis=self.axis, **kwargs)
        output_storage[0][0] = np.asarray(out, dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.tensor.basic import zeros_like

        (x,), (z,), (gz,) = inputs, outputs, output_grads
        if x.dtype in DISCRETE_DTYPES or self.kind in ("all", "any"):
            return [zeros_like(x, dtype=upgrade_to_float(x.dtype))]
        gz_b = _expand_reduced(gz, x, self.axis)
        z_b = _expand_reduced(z, x, self.axis)
        if self.kind == "sum":
            g = _broadcast_like(gz_b, x)
        elif self.kind in ("max", "min"):
            g = gz_b * eq(x, z_b)
        else:
            g = _prod_grad(x, gz_b, z_b, self.axis)
        return [g.astype(x.dtype) if g.dtype != x.dtype else g]

    def R_op(self, inputs, eval_points):
        (x,), (ev,) = inputs, eval_points
        if ev is None or self.kind in ("all", "any") or x.dtype in DISCRETE_DTYPES:
            return [None]
        if self.kind == "sum":
            return [self(ev)]
        z_b = _expand_reduced(self(x), x, self.axis)
        if self.kind in ("max", "min"):  # ties share the derivative, as subgradients may
            mask = eq(x, z_b)
            return [sum(ev * mask, self.axis) / sum(mask, self.axis)]
        # prod: <d prod / dx, ev>, exact where x has zeros (ev / x * prod is not)
        return [sum(ev * _prod_grad(x, 1, z_b, self.axis), self.axis)]


def _expand_reduced(v, x, axis):
    """Re-insert the reduced ``axis`` of ``x`` into ``v`` as size-1 dims."""
    pattern, k = [], 0
    for i in range(x.ndim):
        if i in axis:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return DimShuffle(v.ndim, pattern)(v)


def _broadcast_like(v, x):
    from symgraph.tensor.basic import alloc, shape_i

    return alloc(v, *[shape_i(x, i) for i in range(x.ndim)])


def _prod_grad(x, gz_b, prod_b, axis):
    """d prod / dx that stays exact when some elements are zero."""
    is_zero = eq(x, 0)
    n_zeros = _expand_reduced(sum(is_zero, axis), x, axis)
    prod_nonzero = _expand_reduced(prod(switch(is_zero, 1, x), axis), x, axis)
    no_zero_grad = prod_b / switch(is_zero, 1, x)
    one_zero_grad = switch(is_zero, prod_nonzero, 0)
    return gz_b * switch(eq(n_zeros, 0), no_zero_grad, switch(eq(n_zeros, 1), one_zero_grad, 0))


def _reduce(kind, x, axis, dtype=None, keepdims=False):
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = Reduce(kind, axes, dtype)(x)
    if keepdims:
        out = _expand_reduced(out, x, axes)
    return out


def sum(input, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum over ``axis``; ints accumulate in int64 like NumPy.

    >>> import symgraph.tensor as T
    >>> sum(T.as_tensor([[1, 2], [3, 4]]), axis=0).eval().tolist()
    [4, 6]
    """
    return _reduce("sum", input, axis, dtype, keepdims)


def prod(input, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Product over ``axis``; ints accumulate in int64 like NumPy.

    >>> import symgraph.tensor as T
    >>> prod(T.as_tensor([[1, 2], [3, 4]]), axis=1).eval().tolist()
    [2, 12]
    """
    return _reduce("prod", input, axis, dtype, keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``.

    >>> import symgraph.tensor as T
    >>> max(T.as_tensor([[1, 5], [3, 4]]), axis=0).eval().tolist()
    [3, 5]
    """
    return _reduce("max", x, axis, None, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``.

    >>> import symgraph.tensor as T
    >>> min(T.as_tensor([[1, 5], [3, 4]]), axis=1, keepdims=True).eval().tolist()
    [[1], [3]]
    """
    return _reduce("min", x, axis, None, keepdims)


def all(x, axis=None, keepdims=False):
    """Whether every element over ``axis`` is nonzero.

    >>> import symgraph.tensor as T
    >>> all(T.as_tensor([[1, 0], [2, 3]]), axis=1).eval().tolist()
    [False, True]
    """
    return _reduce("all", x, axis, None, keepdims)


def any(x, axis=None, keepdims=False):
    """Whether some element over ``axis`` is nonzero.

    >>> import symgraph.tensor as T
    >>> any(T.as_tensor([[0, 0], [2, 0]]), axis=1).eval().tolist()
    [False, True]
    """
    return _reduce("any", x, axis, None, keepdims)


def _count(x, axes):
    from symgraph.tensor.basic import shape_i

    n = None
    for a in axes:
        n = shape_i(x, a) if n is None else n * shape_i(x, a)
    return 1 if n is None else n


def mean(input, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Arithmetic mean over ``axis`` (ints give float64, as NumPy).

    >>> import symgraph.tensor as T
    >>> mean(T.as_tensor([[1, 2], [3, 5]]), axis=0).eval().tolist()
    [2.0, 3.5]
    """
    x = as_tensor_variable(input)
    axes = normalize_axis(axis, x.ndim)
    out_dtype = dtype or (x.dtype if x.dtype not in DISCRETE_DTYPES else "float64")
    total = sum(x, axes, dtype=out_dtype if out_dtype not in DISCRETE_DTYPES else None,
                keepdims=keepdims)
    n = _count(x, axes)
    result = true_div(total, n if isinstance(n, int) else n.astype(out_dtype))
    return result.astype(out_dtype) if result.dtype != out_dtype else result


def var(input, axis=None, ddof=0, keepdims=False, corrected=False):
    """Variance over ``axis``, dividing by ``n - ddof`` (``corrected=True``: ddof 1).

    >>> import symgraph.tensor as T
    >>> float(var(T.as_tensor([1.0, 2.0, 3.0, 4.0])).eval())
    1.25
    """
    x = as_tensor_variable(input)
    axes = normalize_axis(axis, x.ndim)
    centered = x - mean(x, axes, keepdims=True)
    total = sum(centered * centered, axes, keepdims=keepdims)
    n = _count(x, axes)
    ddof = 1 if corrected else ddof
    if isinstance(n, int):
        return total / (n - ddof)
    return total / (n - ddof).astype(total.dtype)


def std(input, axis=None, ddof=0, keepdims=False, corrected=False):
    """Standard deviation over ``axis`` (the square root of ``var``).

    >>> import symgraph.tensor as T
    >>> float(std(T.as_tensor([1.0, 3.0])).eval())
    1.0
    """
    return sqrt(var(input, axis, ddof, keepdims, corrected))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed without overflow.

    >>> import symgraph.tensor as T
    >>> float(logsumexp(T.as_tensor([1000.0, 1000.0])).eval())  # 1000 + log 2
    1000.6931471805599
    """
    from symgraph.gradient import disconnected_grad

    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    m = disconnected_grad(max(x, axes, keepdims=True))
    m = switch(isinf(m), 0, m)
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    if not keepdims:
        out = DimShuffle(out.ndim, [i for i in range(out.ndim) if i not in axes])(out)
    return out


class Argmax(Op):
    """Index of the max (or min, with ``kind='min'``) over ``axis`` (a tuple, flattened)."""

    __props__ = ("axis", "kind")

    def __init__(self, axis, kind="max"):
        self.axis, self.kind = tuple(axis), kind

    def make_node(self, x):
        x = as_tensor_variable(x)
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType("int64", shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        keep = [i for i in range(x.ndim) if i not in self.axis]
        moved = x.transpose(keep + list(self.axis))
        flat = moved.reshape(moved.shape[:len(keep)] + (-1,))
        fn = np.argmax if self.kind == "max" else np.argmin
        output_storage[0][0] = np.asarray(fn(flat, axis=-1), dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def grad(self, inputs, output_grads):
        from symgraph.tensor.basic import zeros_like

        return [zeros_like(inputs[0], dtype=upgrade_to_float(inputs[0].dtype))]


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum over ``axis`` (None: of the flattened array; a tuple: of
    those axes flattened together).

    >>> import symgraph.tensor as T
    >>> argmax(T.as_tensor([[1, 5], [3, 4]]), axis=1).eval().tolist()
    [1, 1]
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = Argmax(axes, "max")(x)
    return _expand_reduced(out, x, axes) if keepdims else out


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum over ``axis`` (see ``argmax``).

    >>> import symgraph.tensor as T
    >>> int(argmin(T.as_tensor([[1, 5], [0, 4]])).eval())
    2
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    out = Argmax(axes, "min")(x)
    return _expand_reduced(out, x, axes) if keepdims else out


def max_and_argmax(x, axis=None):
    """``(max(x, axis), argmax(x, axis))``.

    >>> import symgraph.tensor as T
    >>> [v.eval().tolist() for v in max_and_argmax(T.as_tensor([3, 7, 5]))]
    [7, 1]
    """
    return max(x, axis), argmax(x, axis)


# -- products ------------------------------------------------------------------
class Dot(Op):
    """``np.dot`` for operands of 1 or 2 dimensions (the BLAS-shaped core)."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim not in (1, 2) or y.ndim not in (1, 2):
            raise TypeError(f"Dot takes 1- or 2-d operands, got {x.type} and {y.type}")
        xs, ys = x.type.shape, y.type.shape
        inner_x, inner_y = xs[-1], ys[0]
        if inner_x is not None and inner_y is not None and inner_x != inner_y:
            from symgraph.graph.basic import format_trace, user_trace

            raise ValueError(f"dot: shapes {xs} and {ys} are not aligned ({inner_x} != {inner_y}); "
                             f"built at {format_trace(user_trace())}")
        shape = xs[:-1] + ys[1:]
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        dtype = node.outputs[0].type.dtype
        if x.dtype != dtype:
            x = x.astype(dtype)
        if y.dtype != dtype:
            y = y.astype(dtype)
        output_storage[0][0] = np.asarray(np.dot(x, y))

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]

    def grad(self, inputs, output_grads):
        x, y = inputs
        (gz,) = output_grads
        if x.ndim == 2 and y.ndim == 2:
            gx, gy = dot(gz, y.T), dot(x.T, gz)
        elif x.ndim == 1 and y.ndim == 2:
            gx, gy = dot(y, gz), outer(x, gz)
        elif x.ndim == 2 and y.ndim == 1:
            gx, gy = outer(gz, y), dot(gz, x)
        else:
            gx, gy = gz * y, gz * x
        return [_as_grad(gx, x), _as_grad(gy, y)]

    def R_op(self, inputs, eval_points):
        x, y = inputs
        ex, ey = eval_points
        terms = []
        if ex is not None:
            terms.append(self(ex, y))
        if ey is not None:
            terms.append(self(x, ey))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


_dot = Dot()


def _as_grad(g, x):
    if x.dtype in DISCRETE_DTYPES:
        from symgraph.tensor.basic import zeros_like

        return zeros_like(x, dtype=upgrade_to_float(x.dtype))
    return g.astype(x.dtype) if g.dtype != x.dtype else g


def dot(a, b):
    """NumPy's ``dot``: matrix products for 1-/2-d operands, tensordot beyond.

    >>> import symgraph.tensor as T
    >>> dot(T.as_tensor([[1.0, 2.0]]), T.as_tensor([3.0, 4.0])).eval().tolist()
    [11.0]
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    return tensordot(a, b, [[a.ndim - 1], [np.maximum(0, b.ndim - 2)]])


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` of ``a`` and ``b`` (NumPy's ``tensordot``): an int n
    (the last n axes of ``a`` with the first n of ``b``) or a pair of axis lists.

    >>> import symgraph.tensor as T
    >>> a = T.as_tensor(np.arange(6.0).reshape(2, 3))
    >>> tensordot(a, a, [[1], [1]]).eval().tolist()
    [[5.0, 14.0], [14.0, 50.0]]
    """
    from symgraph.tensor.basic import reshape, transpose

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, (int, np.integer)):
        a_axes, b_axes = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    a_axes = [int(i) % a.ndim for i in a_axes]
    b_axes = [int(i) % b.ndim for i in b_axes]
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: axes {a_axes} and {b_axes} differ in length")
    a_free = [i for i in range(a.ndim) if i not in a_axes]
    b_free = [i for i in range(b.ndim) if i not in b_axes]
    a2 = reshape(transpose(a, a_free + a_axes),
                 [_prod_dims(a, a_free), _prod_dims(a, a_axes)], ndim=2)
    b2 = reshape(transpose(b, b_axes + b_free),
                 [_prod_dims(b, b_axes), _prod_dims(b, b_free)], ndim=2)
    out_shape = [_prod_dims(a, [i]) for i in a_free] + [_prod_dims(b, [i]) for i in b_free]
    return reshape(_dot(a2, b2), out_shape, ndim=len(out_shape))


def _prod_dims(x, dims):
    from symgraph.tensor.basic import shape_i

    n = 1
    for d in dims:
        n = shape_i(x, d) * n
    return n


def outer(x, y):
    """Outer product of two vectors (other operands are flattened first, as NumPy).

    >>> import symgraph.tensor as T
    >>> outer(T.as_tensor([1, 2]), T.as_tensor([3, 4, 5])).eval().tolist()
    [[3, 4, 5], [6, 8, 10]]
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim != 1 or y.ndim != 1:
        x, y = x.flatten(), y.flatten()
    return DimShuffle(1, [0, "x"])(x) * DimShuffle(1, ["x", 0])(y)


class Matmul(Op):
    """NumPy's ``matmul`` (``@``), batched over leading dimensions with broadcasting."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim < 2 or y.ndim < 2:
            raise TypeError("Matmul takes operands of 2 or more dimensions; use matmul()")
        from symgraph.tensor.elemwise import broadcast_static_shape

        batch = broadcast_static_shape([x.type.shape[:-2], y.type.shape[:-2]], "matmul")
        shape = batch + (x.type.shape[-2], y.type.shape[-1])
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        dtype = node.outputs[0].type.dtype
        x, y = (v if v.dtype == dtype else v.astype(dtype) for v in inputs)
        output_storage[0][0] = np.matmul(x, y)

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor.basic import broadcast_shape

        n_batch = node.outputs[0].ndim - 2
        one = as_tensor_variable(np.int64(1))
        batch_shapes, batch_statics = [], []
        for var, shape in zip(node.inputs, input_shapes):
            pad = n_batch - (var.ndim - 2)
            batch_shapes.append([one] * pad + list(shape[:-2]))
            batch_statics.append((1,) * pad + var.type.shape[:-2])
        batch = broadcast_shape(batch_shapes, batch_statics) if n_batch else ()
        return [tuple(batch) + (input_shapes[0][-2], input_shapes[1][-1])]

    def grad(self, inputs, output_grads):
        from symgraph.tensor.basic import swapaxes
        from symgraph.tensor.elemwise import sum_to_like

        x, y = inputs
        (gz,) = output_grads
        gx = sum_to_like(self(gz, swapaxes(y, -1, -2)), x)
        gy = sum_to_like(self(swapaxes(x, -1, -2), gz), y)
        return [_as_grad(gx, x), _as_grad(gy, y)]


_matmul = Matmul()


def matmul(a, b):
    """``a @ b`` with NumPy's rules (1-d operands are promoted, then the added dim dropped).

    >>> import symgraph.tensor as T
    >>> matmul(T.as_tensor(np.ones((2, 3, 4))), T.as_tensor(np.ones(4))).eval().shape
    (2, 3)
    """
    from symgraph.tensor.basic import expand_dims, squeeze

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed; use *")
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    a2 = expand_dims(a, 0) if a.ndim == 1 else a
    b2 = expand_dims(b, -1) if b.ndim == 1 else b
    out = _matmul(a2, b2)
    if b.ndim == 1:
        out = squeeze(out, -1)
    if a.ndim == 1:
        out = squeeze(out, -2)
    return out


def batched_dot(a, b):
    """Dot products of matching slices along the first axis (Theano's ``batched_dot``).

    >>> import symgraph.tensor as T
    >>> a = T.as_tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> batched_dot(a, a).eval().tolist()
    [5.0, 25.0]
    """
    from symgraph.tensor.basic import expand_dims, squeeze

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 1 or b.ndim == 1:
        return a * b if a.ndim == b.ndim else (
            a * expand_dims(b, -1) if b.ndim == 1 else expand_dims(a, -1) * b)
    a3 = expand_dims(a, 1) if a.ndim == 2 else a
    b3 = expand_dims(b, 2) if b.ndim == 2 else b
    out = _matmul(a3, b3)
    if b.ndim == 2:
        out = squeeze(out, -1)
    if a.ndim == 2:
        out = squeeze(out, 1)
    return out
