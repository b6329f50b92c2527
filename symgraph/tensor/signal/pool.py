"""Pooling over the last two dimensions of a tensor (Theano's ``tensor.signal.pool``).

``Pool`` takes the max, sum or average of each ``ws[0] x ws[1]`` window of
the image formed by an input's last two dimensions (every leading dimension
is a batch dimension), stepping by ``stride``, after padding the image with
``pad`` rows and columns on each side.  Its gradients are ops of their own
(``MaxPoolGrad``, ``AveragePoolGrad``) so that the C backend can run them,
and those are differentiable too (``MaxPoolGradGrad`` is the gradient of
``MaxPoolGrad`` with respect to its output gradient), so Hessians and R-ops
of pooling networks work.

The NumPy kernels never loop over pixels: the image is laid on a "canvas"
big enough for every window (the padding, and for ``ignore_border=False``
the partial windows past the edge, filled with a value that cannot win: 0
for sums, the lowest value for max), and the window at offset ``(a, b)`` of
every output position at once is the strided slice
``canvas[..., a::stride[0], b::stride[1]]``; a pooling pass is ``ws[0] *
ws[1]`` whole-array operations.

Window semantics (Theano's): ``max`` and ``sum`` ignore the padding;
``average_inc_pad`` divides by the number of window cells inside the padded
image, ``average_exc_pad`` by the number inside the unpadded image.  Both
count only the cells a partial window (``ignore_border=False``) really covers.
"""
import builtins
import warnings

import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Apply, Constant, Op, Variable
from symgraph.tensor import math
from symgraph.tensor.basic import cast, zeros_like
from symgraph.tensor.sort import _along_axis_index, argsort, sort
from symgraph.tensor.type import DISCRETE_DTYPES, TensorType, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable

__all__ = ["Pool", "MaxPoolGrad", "AveragePoolGrad", "MaxPoolGradGrad",
           "DownsampleFactorMaxGradGrad", "pool_2d", "max_pool_2d_same_size",
           "global_max_pool", "global_average_pool", "k_max_pool", "pooled_length"]

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


# -- geometry ------------------------------------------------------------------------------------
def pooled_length(size, ws, stride, pad, ignore_border):
    """The number of windows along an image axis of ``size`` cells (an int, or a symbolic
    int scalar), as Theano counts them.

    With ``ignore_border`` only whole windows of the padded axis count; without it a last
    partial window covers the cells left over.

    >>> pooled_length(5, 2, 2, 0, True), pooled_length(5, 2, 2, 0, False)
    (2, 3)
    >>> pooled_length(5, 3, 1, 1, True)
    5
    """
    size = size + 2 * pad
    if ignore_border:
        return _at_least_zero((size - ws) // stride + 1)
    if stride >= ws:
        return (size - 1) // stride + 1
    return _at_least_zero((size - 1 - ws) // stride + 1) + 1


def _at_least_zero(n):
    if isinstance(n, (int, np.integer)):
        return builtins.max(int(n), 0)
    return math.maximum(n, 0)


class _Axis:
    """Where the windows lie along one image axis of a given size."""

    def __init__(self, size, ws, stride, pad, ignore_border):
        self.size, self.ws, self.stride, self.pad = size, ws, stride, pad
        self.n_out = pooled_length(size, ws, stride, pad, ignore_border)
        # room for every window, including a partial last one past the padded image
        self.canvas = builtins.max((self.n_out - 1) * stride + ws, size + 2 * pad)

    def offset_slices(self):
        """For each offset ``a`` in a window: the canvas cells at offset ``a`` of every window."""
        span = (self.n_out - 1) * self.stride + 1
        return [slice(a, a + span, self.stride) for a in range(self.ws)]

    def image(self):
        """The slice of the canvas holding the (unpadded) image."""
        return slice(self.pad, self.pad + self.size)

    def counts(self, include_padding):
        """Per window: how many of its cells lie in the padded (or the unpadded) image."""
        starts = np.arange(self.n_out) * self.stride
        ends = np.minimum(starts + self.ws, self.size + 2 * self.pad)
        if not include_padding:
            starts = np.maximum(starts, self.pad)
            ends = np.minimum(ends, self.pad + self.size)
        return ends - starts


def _lowest(dtype):
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _canvas(x, rows, cols, fill):
    """``x`` laid on a canvas with room for every window; ``x`` itself when it fits."""
    shape = x.shape[:-2] + (rows.canvas, cols.canvas)
    if shape == x.shape:
        return x
    canvas = np.full(shape, fill, dtype=x.dtype)
    canvas[..., rows.image(), cols.image()] = x
    return canvas


def _window_cells(rows, cols):
    """Index tuples: for each (a, b), the canvas cells at offset (a, b) of every window."""
    return [(Ellipsis, r, c) for r in rows.offset_slices() for c in cols.offset_slices()]


def _pair(value, what):
    """``value`` (an int, a pair, or a constant tensor of them) as a pair of Python ints."""
    if isinstance(value, Variable):
        if not isinstance(value, Constant):
            raise TypeError(f"pooling: {what} must be known when the graph is built, "
                            f"got the symbolic {value}")
        value = value.data
    values = np.asarray(value).ravel().tolist()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(isinstance(v, int) for v in values):
        raise ValueError(f"pooling: {what} must be two ints, got {value!r}")
    return tuple(values)


# -- the ops -------------------------------------------------------------------------------------
class _PoolOp(Op):
    """Shared parameters and checks of the pooling ops (each one windows the same way)."""

    __props__ = ("ws", "ignore_border", "stride", "pad", "mode")

    def __init__(self, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
        self.ws = _pair(ws, "ws")
        self.stride = self.ws if stride is None else _pair(stride, "stride")
        self.pad = _pair(pad, "pad")
        self.ignore_border = bool(ignore_border)
        self.mode = "max" if mode == "max_deterministic" else mode
        if self.mode not in MODES:
            raise ValueError(f"pooling mode must be one of {MODES}, got {mode!r}")
        if min(self.ws) < 1 or min(self.stride) < 1 or min(self.pad) < 0:
            raise ValueError(f"pooling needs ws >= 1, stride >= 1 and pad >= 0, got ws={self.ws}"
                             f", stride={self.stride}, pad={self.pad}")
        if self.pad != (0, 0) and not self.ignore_border:
            raise ValueError("pooling with padding needs ignore_border=True (as in Theano)")
        if self.pad[0] >= self.ws[0] or self.pad[1] >= self.ws[1]:
            raise ValueError(f"pooling: pad {self.pad} must be smaller than ws {self.ws}, "
                             f"or some windows would hold padding only")

    def __str__(self):
        return (f"{type(self).__name__}{{ws={self.ws}, stride={self.stride}, pad={self.pad}, "
                f"ignore_border={self.ignore_border}, mode={self.mode}}}")

    def params(self):
        """The constructor arguments, to build a related pooling op."""
        return dict(ws=self.ws, ignore_border=self.ignore_border, stride=self.stride,
                    pad=self.pad)

    def _axes(self, image_shape):
        return [_Axis(image_shape[k], self.ws[k], self.stride[k], self.pad[k],
                      self.ignore_border) for k in (0, 1)]

    def out_shape(self, in_shape):
        """The pooled shape of an input of shape ``in_shape`` (ints or symbolic scalars;
        None entries stay None)."""
        pooled = [None if s is None else pooled_length(s, self.ws[k], self.stride[k],
                                                       self.pad[k], self.ignore_border)
                  for k, s in enumerate(in_shape[-2:])]
        return tuple(in_shape[:-2]) + tuple(pooled)

    def _divisors(self, rows, cols, dtype):
        if self.mode in ("max", "sum"):
            return None
        include = self.mode == "average_inc_pad"
        return np.multiply.outer(rows.counts(include), cols.counts(include)).astype(dtype)

    def _check_image(self, x, what):
        x = as_tensor_variable(x)
        if x.ndim < 2 or x.dtype == "bool" or x.dtype.startswith("complex"):
            raise TypeError(f"{type(self).__name__}: {what} must be a real tensor of 2 or more "
                            f"dimensions (pooled over its last two), got {x.type}")
        if self.mode.startswith("average") and x.dtype in DISCRETE_DTYPES:
            raise TypeError(f"{type(self).__name__}: average pooling needs a float input, got "
                            f"{x.type} (pool_2d casts it)")
        return x

    def _check_pooled(self, x, pooled, what):
        want = self.out_shape(x.shape)
        if pooled.shape != want:
            raise ValueError(f"{type(self).__name__}: {what} has shape {pooled.shape}, but "
                             f"pooling an input of shape {x.shape} gives {want}")


def _like_dtype(v, dtype):
    v = as_tensor_variable(v)
    return v if v.dtype == dtype else cast(v, dtype)


class Pool(_PoolOp):
    """Max, sum or average of each pooling window over the last two dimensions.

    ``Pool(ws, ignore_border=True, stride=None, pad=(0, 0), mode='max')``: see
    :func:`pool_2d`, which is the usual way to build it.
    """

    def make_node(self, x):
        x = self._check_image(x, "the input")
        out = TensorType(x.dtype, self.out_shape(x.type.shape)).make_variable()
        return Apply(self, [x], [out])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        rows, cols = self._axes(x.shape[-2:])
        if self.mode == "max":
            canvas = _canvas(x, rows, cols, _lowest(x.dtype))
            cells = _window_cells(rows, cols)
            out = canvas[cells[0]].copy()
            for cell in cells[1:]:
                np.maximum(out, canvas[cell], out=out)
        else:
            canvas = _canvas(x, rows, cols, 0)
            out = np.zeros(x.shape[:-2] + (rows.n_out, cols.n_out), dtype=x.dtype)
            for cell in _window_cells(rows, cols):
                out += canvas[cell]
            divisors = self._divisors(rows, cols, x.dtype)
            if divisors is not None:
                out /= divisors
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [self.out_shape(input_shapes[0])]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (out,), (gz,) = inputs, outputs, output_grads
        if x.dtype in DISCRETE_DTYPES:
            return [zeros_like(x, dtype=config.floatX)]
        if self.mode == "max":
            return [MaxPoolGrad(**self.params())(x, out, gz)]
        return [AveragePoolGrad(**self.params(), mode=self.mode)(x, gz)]

    def R_op(self, inputs, eval_points):
        (x,), (v,) = inputs, eval_points
        if v is None:
            return [None]
        if self.mode == "max":  # the eval point at each window's maximum
            return [MaxPoolGradGrad(**self.params())(x, self(x), v)]
        return [self(v)]  # the other modes are linear


class MaxPoolGrad(_PoolOp):
    """The gradient of max pooling: ``MaxPoolGrad(...)(x, maxout, gz)`` adds each window's
    ``gz`` to every cell of the window of ``x`` equal to the window's max ``maxout`` (ties
    all get it, as in Theano)."""

    def __init__(self, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
        if mode not in ("max", "max_deterministic"):
            raise ValueError(f"MaxPoolGrad is for mode 'max', got {mode!r}")
        super().__init__(ws, ignore_border, stride, pad, "max")

    def make_node(self, x, maxout, gz):
        x = self._check_image(x, "x")
        maxout, gz = _like_dtype(maxout, x.dtype), _like_dtype(gz, x.dtype)
        if maxout.ndim != x.ndim or gz.ndim != x.ndim:
            raise TypeError(f"MaxPoolGrad: maxout {maxout.type} and gz {gz.type} must have the "
                            f"ndim of x {x.type}")
        return Apply(self, [x, maxout, gz], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        x, maxout, gz = inputs
        self._check_pooled(x, maxout, "maxout")
        self._check_pooled(x, gz, "gz")
        rows, cols = self._axes(x.shape[-2:])
        canvas = _canvas(x, rows, cols, _lowest(x.dtype))
        g_canvas = np.zeros(canvas.shape, dtype=x.dtype)
        zero = np.zeros((), dtype=x.dtype)
        for cell in _window_cells(rows, cols):
            g_canvas[cell] += np.where(canvas[cell] == maxout, gz, zero)
        output_storage[0][0] = g_canvas[..., rows.image(), cols.image()]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        # linear in gz; which cell is a max changes only by jumps, so x and maxout get zero
        x, maxout, gz = inputs
        g_gz = MaxPoolGradGrad(**self.params())(x, maxout, output_grads[0])
        return [zeros_like(x), zeros_like(maxout), g_gz]


class MaxPoolGradGrad(_PoolOp):
    """``MaxPoolGradGrad(...)(x, maxout, ggx)``: per window, the sum of ``ggx`` over the
    cells where ``x`` equals the window's max (the adjoint of :class:`MaxPoolGrad` in its
    gradient input; Theano's ``DownsampleFactorMaxGradGrad``)."""

    def __init__(self, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
        if mode not in ("max", "max_deterministic"):
            raise ValueError(f"MaxPoolGradGrad is for mode 'max', got {mode!r}")
        super().__init__(ws, ignore_border, stride, pad, "max")

    def make_node(self, x, maxout, ggx):
        x = self._check_image(x, "x")
        maxout, ggx = _like_dtype(maxout, x.dtype), _like_dtype(ggx, x.dtype)
        if maxout.ndim != x.ndim or ggx.ndim != x.ndim:
            raise TypeError(f"MaxPoolGradGrad: maxout {maxout.type} and ggx {ggx.type} must "
                            f"have the ndim of x {x.type}")
        return Apply(self, [x, maxout, ggx], [maxout.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        x, maxout, ggx = inputs
        self._check_pooled(x, maxout, "maxout")
        if ggx.shape != x.shape:
            raise ValueError(f"MaxPoolGradGrad: ggx of shape {ggx.shape} must match x of shape "
                             f"{x.shape}")
        rows, cols = self._axes(x.shape[-2:])
        canvas = _canvas(x, rows, cols, _lowest(x.dtype))
        gg_canvas = _canvas(ggx, rows, cols, 0)
        out = np.zeros(maxout.shape, dtype=x.dtype)
        zero = np.zeros((), dtype=x.dtype)
        for cell in _window_cells(rows, cols):
            out += np.where(canvas[cell] == maxout, gg_canvas[cell], zero)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        x, maxout, ggx = inputs
        g_ggx = MaxPoolGrad(**self.params())(x, maxout, output_grads[0])
        return [zeros_like(x), zeros_like(maxout), g_ggx]


DownsampleFactorMaxGradGrad = MaxPoolGradGrad


class AveragePoolGrad(_PoolOp):
    """The gradient of sum and average pooling: ``AveragePoolGrad(...)(x, gz)`` spreads each
    window's ``gz`` (divided by the window's count for the average modes) over its cells;
    ``x`` only gives the shape."""

    def __init__(self, ws, ignore_border=True, stride=None, pad=(0, 0),
                 mode="average_inc_pad"):
        super().__init__(ws, ignore_border, stride, pad, mode)
        if self.mode == "max":
            raise ValueError("AveragePoolGrad is for the sum and average modes; use MaxPoolGrad")

    def make_node(self, x, gz):
        x = self._check_image(x, "x")
        gz = _like_dtype(gz, x.dtype)
        if gz.ndim != x.ndim:
            raise TypeError(f"AveragePoolGrad: gz {gz.type} must have the ndim of x {x.type}")
        return Apply(self, [x, gz], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        x, gz = inputs
        self._check_pooled(x, gz, "gz")
        rows, cols = self._axes(x.shape[-2:])
        divisors = self._divisors(rows, cols, x.dtype)
        share = gz if divisors is None else gz / divisors
        g_canvas = np.zeros(x.shape[:-2] + (rows.canvas, cols.canvas), dtype=x.dtype)
        for cell in _window_cells(rows, cols):
            g_canvas[cell] += share
        output_storage[0][0] = g_canvas[..., rows.image(), cols.image()]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        # the adjoint of the (linear) pooling is the pooling itself
        x, gz = inputs
        return [zeros_like(x), Pool(**self.params(), mode=self.mode)(output_grads[0])]

    def R_op(self, inputs, eval_points):
        if eval_points[1] is None:
            return [None]
        return [self(inputs[0], eval_points[1])]


# -- user functions ------------------------------------------------------------------------------
def _renamed(new, old, new_name, old_name, default=None):
    if old is None:
        return new
    if new is not None and new is not default and new != old:
        raise ValueError(f"pool_2d: give {new_name} or its old name {old_name}, not both")
    return old


_NO_PADDING = (0, 0)


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=_NO_PADDING, mode="max",
            ds=None, st=None, padding=None):
    """Pool the images in the last two dimensions of ``input`` (N >= 2 dims).

    ws: window size (rows, cols). stride: step between windows (default ``ws``: windows
    do not overlap). pad: zero rows/cols added on each side (needs ``ignore_border``;
    ``max`` and ``sum`` skip them). mode: ``'max'``, ``'sum'``, ``'average_inc_pad'``
    (padding counts in the divisor) or ``'average_exc_pad'`` (it does not).
    ignore_border: drop the partial windows at the bottom/right edge (True) or pool them
    too (False).  Not given: False, with a warning, as in Theano 1.0 (so that ported
    programs keep their output shapes), or True with padding (which needs it).  The old names ``ds``,
    ``st`` and ``padding`` are accepted for ``ws``, ``stride`` and ``pad``.  Integer
    input is cast to float for the average modes.

    >>> import numpy as np, symgraph.tensor as T
    >>> x = T.as_tensor(np.arange(16.0).reshape(4, 4))
    >>> pool_2d(x, (2, 2), ignore_border=True).eval().tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> pool_2d(x, (3, 3), ignore_border=False, mode='sum').eval().tolist()
    [[45.0, 21.0], [39.0, 15.0]]
    """
    ws = _renamed(ws, ds, "ws", "ds")
    stride = _renamed(stride, st, "stride", "st")
    pad = _renamed(pad, padding, "pad", "padding", default=_NO_PADDING)
    if ws is None:
        raise TypeError("pool_2d: the window size ws is required")
    x = as_tensor_variable(input)
    if x.ndim < 2:
        raise TypeError(f"pool_2d needs 2 or more dimensions, got {x.type}")
    if str(mode).startswith("average") and x.dtype in DISCRETE_DTYPES:
        x = cast(x, upgrade_to_float(x.dtype))
    if ignore_border is None and any(pad):  # Theano required True with padding
        ignore_border = True
    if ignore_border is None:
        warnings.warn("pool_2d: ignore_border not given; using False as Theano 1.0 does. "
                      "Pass ignore_border=True or False explicitly.", UserWarning, stacklevel=2)
        ignore_border = False
    return Pool(ws, ignore_border, stride, pad, mode)(x)


def max_pool_2d_same_size(input, patch_size):
    """``input`` with every value that is not the max of its ``patch_size`` patch set to 0
    (Theano's helper; the patches do not overlap).

    >>> import symgraph.tensor as T
    >>> max_pool_2d_same_size(T.as_tensor([[1.0, 3.0], [2.0, 0.0]]), (2, 2)).eval().tolist()
    [[0.0, 3.0], [0.0, 0.0]]
    """
    x = as_tensor_variable(input)
    maxout = Pool(patch_size, True)(x)
    return MaxPoolGrad(patch_size, True)(x, maxout, maxout)


def _global_axes(x, axis):
    if axis is not None:
        return axis
    if x.ndim < 3:
        raise ValueError(f"global pooling over the axes after (batch, channels) needs 3 or "
                         f"more dimensions, got {x.type}; pass axis=")
    return tuple(range(2, x.ndim))


def global_max_pool(x, axis=None, keepdims=False):
    """The max over ``axis``; by default every axis after the first two, so that
    ``(batch, channels, rows, cols)`` or ``(batch, channels, time)`` gives
    ``(batch, channels)`` (Lasagne's ``GlobalPoolLayer`` with ``pool_function=max``).

    >>> import numpy as np, symgraph.tensor as T
    >>> global_max_pool(T.as_tensor(np.arange(8.0).reshape(1, 2, 4))).eval().tolist()
    [[3.0, 7.0]]
    """
    x = as_tensor_variable(x)
    return math.max(x, axis=_global_axes(x, axis), keepdims=keepdims)


def global_average_pool(x, axis=None, keepdims=False):
    """The mean over ``axis``; by default every axis after the first two (see
    :func:`global_max_pool`).

    >>> import numpy as np, symgraph.tensor as T
    >>> global_average_pool(T.as_tensor(np.arange(8.0).reshape(1, 2, 4))).eval().tolist()
    [[1.5, 5.5]]
    """
    x = as_tensor_variable(x)
    return math.mean(x, axis=_global_axes(x, axis), keepdims=keepdims)


def k_max_pool(x, k, axis=-1):
    """The ``k`` largest values of ``x`` along ``axis``, kept in their original order
    (the k-max pooling of Kalchbrenner et al.'s sentence CNN).  Of equal values the
    earlier ones are kept.  ``k`` is a Python int, at most the length of the axis.

    The gradient flows to the kept positions (the selection is an advanced index).

    >>> import symgraph.tensor as T
    >>> k_max_pool(T.as_tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]), 3).eval().tolist()
    [4.0, 5.0, 9.0]
    """
    x = as_tensor_variable(x)
    if x.ndim == 0:
        raise ValueError("k_max_pool needs an axis to pool along, got a 0-d tensor")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"k_max_pool: axis {axis} is out of range for {x.type}")
    axis %= x.ndim
    k = int(k)
    length = x.type.shape[axis]
    if k < 1 or (length is not None and k > length):
        raise ValueError(f"k_max_pool: k={k} must be between 1 and the length of axis {axis} "
                         f"of {x.type}")
    # ascending stable order of -x: largest first, and of equal values the earliest first
    key = -cast(x, "int64") if x.dtype.startswith("uint") or x.dtype == "bool" else -x
    largest = argsort(key, axis=axis, kind="stable")[(slice(None),) * axis + (slice(0, k),)]
    return x[_along_axis_index(sort(largest, axis=axis), axis)]
