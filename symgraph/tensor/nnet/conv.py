"""2-d convolution (Theano's ``nnet.conv2d``) and its gradients, as three ops.

``Conv2d`` is the forward convolution of NCHW images with (out, in, kh, kw)
filters; ``Conv2dGradInputs`` and ``Conv2dGradWeights`` are its gradients with
respect to the images and the filters, as ops of their own so that rewrites
and backends see them.  The three ops are each other's adjoints, so the
gradient of any of them is built from the other two and second derivatives work.

Every op computes a *correlation* with a kernel ``k``: the filters themselves
with ``filter_flip=False``, else the filters rotated by 180 degrees (a true
convolution, Theano's default).  With padding ``p``, stride ``s`` and dilation
``d`` (per spatial axis)::

    out[n, o, i, j] = sum_{c, a, b} xpad[n, c, i*s + a*d, j*s + b*d] * k[o, c, a, b]

``perform`` unrolls the windows of the padded image into a matrix (im2col, one
copy through ``sliding_window_view``) and does one matrix product.
"""
import numpy as np

from symgraph.graph.basic import Apply, Op, format_trace, user_trace
from symgraph.tensor.basic import (as_shape_tuple_variable, cast, get_scalar_constant_entries,
                                   specify_shape)
from symgraph.tensor.shape import shape_i
from symgraph.tensor.type import TensorType, upcast, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable

BORDER_MODES = ("valid", "full", "half")


# -- geometry --------------------------------------------------------------------
def normalize_border_mode(border_mode):
    """``'full'``, ``'half'``, or a pair of ints (``'valid'`` is ``(0, 0)``).

    >>> normalize_border_mode('valid'), normalize_border_mode(2), normalize_border_mode((1, 0))
    ((0, 0), (2, 2), (1, 0))
    """
    if isinstance(border_mode, str):
        if border_mode not in BORDER_MODES:
            raise ValueError(f"border_mode must be one of {BORDER_MODES}, an int or a pair of "
                             f"ints, not {border_mode!r}")
        return (0, 0) if border_mode == "valid" else border_mode
    if isinstance(border_mode, (int, np.integer)):
        border_mode = (border_mode, border_mode)
    pads = tuple(border_mode)
    if len(pads) != 2 or not all(isinstance(p, (int, np.integer)) and p >= 0 for p in pads):
        raise ValueError(f"border_mode must be one of {BORDER_MODES}, an int or a pair of "
                         f"non-negative ints, not {border_mode!r}")
    return (int(pads[0]), int(pads[1]))


def _int_pair(value, what):
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in pair):
        raise ValueError(f"{what} must be a pair of positive ints, not {value!r}")
    return (int(pair[0]), int(pair[1]))


def padding(border_mode, kernel_size, dilation):
    """The padding of one spatial axis for a kernel of ``kernel_size`` taps (an int or
    a symbolic scalar); ``border_mode`` is ``'full'``, ``'half'`` or an int.

    >>> padding('full', 3, 2), padding('half', 3, 2), padding(1, 3, 2)
    (4, 2, 1)
    """
    if border_mode == "full":
        return (kernel_size - 1) * dilation
    if border_mode == "half":
        return ((kernel_size - 1) * dilation + 1) // 2
    return border_mode


def output_length(size, kernel_size, border_mode, stride, dilation):
    """Output length along one axis (ints or symbolic scalars; None when unknown).

    >>> output_length(28, 5, 0, 1, 1), output_length(11, 3, 'full', 2, 1)
    (24, 7)
    """
    if size is None or kernel_size is None:
        return None
    dilated = (kernel_size - 1) * dilation + 1
    pad = padding(border_mode, kernel_size, dilation)
    return (size + 2 * pad - dilated) // stride + 1


def get_conv_output_shape(image_shape, kernel_shape, border_mode, subsample,
                          filter_dilation=(1, 1)):
    """The output shape of ``conv2d`` (Theano's helper); None entries stay unknown.

    >>> get_conv_output_shape((64, 1, 28, 28), (20, 1, 5, 5), 'valid', (1, 1))
    (64, 20, 24, 24)
    """
    pads = _per_axis(normalize_border_mode(border_mode))
    subsample = _int_pair(subsample, "subsample")
    filter_dilation = _int_pair(filter_dilation, "filter_dilation")
    spatial = tuple(output_length(image_shape[2 + a], kernel_shape[2 + a], pads[a],
                                  subsample[a], filter_dilation[a]) for a in range(2))
    return (image_shape[0], kernel_shape[0]) + spatial


def _per_axis(border_mode):
    """The border mode of each spatial axis: ``('full', 'full')`` or the int pair."""
    return (border_mode, border_mode) if isinstance(border_mode, str) else border_mode


# -- NumPy kernels ---------------------------------------------------------------
class _Geometry:
    """Padding, dilated kernel size and output size of one op on concrete shapes."""

    def __init__(self, op, image_hw, kernel_hw):
        self.image_hw, self.kernel_hw = tuple(image_hw), tuple(kernel_hw)
        self.pads = tuple(padding(m, k, d) for m, k, d in
                          zip(_per_axis(op.border_mode), kernel_hw, op.filter_dilation))
        self.dilated = tuple((k - 1) * d + 1 for k, d in zip(kernel_hw, op.filter_dilation))
        self.padded = tuple(s + 2 * p for s, p in zip(image_hw, self.pads))
        self.out_hw = tuple((p - k) // s + 1 if p >= k else 0 for p, k, s in
                            zip(self.padded, self.dilated, op.subsample))

    def check(self, op):
        if min(self.padded[a] - self.dilated[a] for a in range(2)) < 0:
            raise ValueError(f"{op}: the image of spatial shape {self.image_hw}, padded to "
                             f"{self.padded}, is smaller than the filters of spatial shape "
                             f"{self.kernel_hw} (dilated to {self.dilated})")


def _kernel(op, filters):
    """The correlation kernel: the filters, rotated by 180 degrees when ``filter_flip``."""
    return filters[:, :, ::-1, ::-1] if op.filter_flip else filters


def _im2col(op, images, geometry):
    """The padded image's windows as a (N*Ho*Wo, C*kh*kw) matrix (one copy)."""
    (ph, pw), (sh, sw), (dh, dw) = geometry.pads, op.subsample, op.filter_dilation
    if ph or pw:
        images = np.pad(images, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(images, geometry.dilated, axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, Ho, Wo, kh, kw)
    n, c, ho, wo, kh, kw = windows.shape
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)


def _check_channels(op, image_shape, filter_shape):
    if image_shape[1] != filter_shape[1]:
        raise ValueError(f"{op}: the input of shape {image_shape} has {image_shape[1]} channels "
                         f"but the filters of shape {filter_shape} expect {filter_shape[1]}")


def _check_top(op, top_shape, geometry, expected_batch, expected_channels):
    expected = (expected_batch, expected_channels) + geometry.out_hw
    if tuple(top_shape) != expected:
        raise ValueError(f"{op}: the output gradient has shape {tuple(top_shape)}, but the "
                         f"convolution of spatial shape {geometry.image_hw} with filters of "
                         f"spatial shape {geometry.kernel_hw} gives {expected}")


def conv_forward(op, images, filters, dtype):
    """``op``'s correlation of ``images`` with ``_kernel(op, filters)`` in NumPy.

    >>> conv_forward(Conv2d(filter_flip=False), np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
    ...              "float64")[0, 0].tolist()
    [[4.0, 4.0], [4.0, 4.0]]
    """
    images, filters = images.astype(dtype, copy=False), filters.astype(dtype, copy=False)
    _check_channels(op, images.shape, filters.shape)
    geometry = _Geometry(op, images.shape[2:], filters.shape[2:])
    geometry.check(op)
    n, o = images.shape[0], filters.shape[0]
    cols = _im2col(op, images, geometry)
    kernel = _kernel(op, filters).reshape(o, -1)
    out = (cols @ kernel.T).reshape((n,) + geometry.out_hw + (o,))
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def conv_grad_weights(op, images, top, filter_hw, dtype):
    """d<top, conv(images, f)>/df: the gradient of the filters.

    >>> conv_grad_weights(Conv2d(), np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), (2, 2),
    ...                   "float64")[0, 0].tolist()
    [[4.0, 4.0], [4.0, 4.0]]
    """
    images, top = images.astype(dtype, copy=False), top.astype(dtype, copy=False)
    geometry = _Geometry(op, images.shape[2:], filter_hw)
    geometry.check(op)
    _check_top(op, top.shape, geometry, images.shape[0], top.shape[1])
    cols = _im2col(op, images, geometry)
    top_rows = top.transpose(0, 2, 3, 1).reshape(cols.shape[0], top.shape[1])
    grad = (top_rows.T @ cols).reshape((top.shape[1], images.shape[1]) + tuple(filter_hw))
    return np.ascontiguousarray(_kernel(op, grad))


def conv_grad_inputs(op, filters, top, image_hw, dtype):
    """d<top, conv(x, filters)>/dx: the gradient of the images (col2im of the product).

    >>> conv_grad_inputs(Conv2d(), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), (3, 3),
    ...                  "float64")[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    filters, top = filters.astype(dtype, copy=False), top.astype(dtype, copy=False)
    geometry = _Geometry(op, image_hw, filters.shape[2:])
    geometry.check(op)
    _check_top(op, top.shape, geometry, top.shape[0], filters.shape[0])
    n, c, (kh, kw) = top.shape[0], filters.shape[1], filters.shape[2:]
    (sh, sw), (dh, dw), (ho, wo) = op.subsample, op.filter_dilation, geometry.out_hw
    # cols[c, a, b] holds, for every window, tap (a, b)'s share of the image gradient
    cols = np.tensordot(_kernel(op, filters), top, axes=([0], [1]))  # (C, kh, kw, N, Ho, Wo)
    padded = np.zeros((c, n) + geometry.padded, dtype=dtype)
    for a in range(kh):  # scatter-add each tap: kh * kw array additions, no pixel loop
        rows = slice(a * dh, a * dh + sh * (ho - 1) + 1, sh)
        for b in range(kw):
            padded[:, :, rows, b * dw:b * dw + sw * (wo - 1) + 1:sw] += cols[:, a, b]
    (ph, pw), (h, w) = geometry.pads, image_hw
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))


# -- ops -------------------------------------------------------------------------
class _ConvOp(Op):
    """Shared parameters of the three convolution ops."""

    __props__ = ("border_mode", "subsample", "filter_flip", "filter_dilation")

    def __init__(self, border_mode="valid", subsample=(1, 1), filter_flip=True,
                 filter_dilation=(1, 1)):
        self.border_mode = normalize_border_mode(border_mode)
        self.subsample = _int_pair(subsample, "subsample")
        self.filter_flip = bool(filter_flip)
        self.filter_dilation = _int_pair(filter_dilation, "filter_dilation")

    def _params(self):
        return dict(border_mode=self.border_mode, subsample=self.subsample,
                    filter_flip=self.filter_flip, filter_dilation=self.filter_dilation)

    def _out_hw(self, image_hw, kernel_hw):
        """Static output spatial sizes (None where unknown)."""
        out = self._symbolic_out_hw(image_hw, kernel_hw)
        if any(length is not None and length < 1 for length in out):
            raise ValueError(f"{self}: an image of spatial shape {tuple(image_hw)} is smaller "
                             f"than filters of spatial shape {tuple(kernel_hw)} (after padding "
                             f"and dilation); built at {format_trace(user_trace())}")
        return out

    def _symbolic_out_hw(self, image_hw, kernel_hw):
        """Output spatial sizes from ints or symbolic scalars (None where unknown)."""
        return tuple(output_length(image_hw[a], kernel_hw[a], mode, self.subsample[a],
                                   self.filter_dilation[a])
                     for a, mode in enumerate(_per_axis(self.border_mode)))


def _float_operands(*xs):
    """The tensors, upcast to one float dtype (ints to floatX-ish, as Theano)."""
    xs = [as_tensor_variable(x) for x in xs]
    dtype = upgrade_to_float(upcast(*[x.dtype for x in xs]))
    return [x if x.dtype == dtype else cast(x, dtype) for x in xs], dtype


def _check_4d(x, what, op):
    if x.ndim != 4:
        raise TypeError(f"{op}: {what} must be 4-d, got {x.type}")


def _spatial(x):
    """``x``'s spatial sizes as an int64 vector (a constant when static)."""
    return as_shape_tuple_variable([shape_i(x, 2), shape_i(x, 3)])


def _hw_vector(hw, op):
    hw = as_shape_tuple_variable(hw)
    if hw.ndim != 1 or hw.type.shape[0] not in (2, None):
        raise TypeError(f"{op}: a spatial shape must be a vector of 2 ints, got {hw.type}")
    return hw


def _static_channel_check(op, images, filters):
    c_in, c_filt = images.type.shape[1], filters.type.shape[1]
    if c_in is not None and c_filt is not None and c_in != c_filt:
        raise ValueError(f"{op}: the input of shape {images.type.shape} has {c_in} channels but "
                         f"the filters of shape {filters.type.shape} expect {c_filt}; built at "
                         f"{format_trace(user_trace())}")


class Conv2d(_ConvOp):
    """``conv2d(images, filters)`` as an op: (N, C, H, W) x (O, C, kh, kw) -> (N, O, Ho, Wo)."""

    def make_node(self, images, filters):
        (images, filters), dtype = _float_operands(images, filters)
        _check_4d(images, "the input", self)
        _check_4d(filters, "the filters", self)
        _static_channel_check(self, images, filters)
        out_hw = self._out_hw(images.type.shape[2:], filters.type.shape[2:])
        shape = (images.type.shape[0], filters.type.shape[0]) + out_hw
        return Apply(self, [images, filters], [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        images, filters = inputs
        output_storage[0][0] = conv_forward(self, images, filters, node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        images, filters = input_shapes
        return [(images[0], filters[0]) + self._symbolic_out_hw(images[2:], filters[2:])]

    def L_op(self, inputs, outputs, output_grads):
        images, filters = inputs
        (top,) = output_grads
        params = self._params()
        d_images = Conv2dGradInputs(**params)(filters, top, _spatial(images))
        d_filters = Conv2dGradWeights(**params)(images, top, _spatial(filters))
        return [d_images, d_filters]


class Conv2dGradInputs(_ConvOp):
    """The gradient of ``Conv2d`` with respect to its images:
    ``(filters, output gradient, image spatial shape) -> image gradient``.

    The image's spatial shape is an input because with a stride several image sizes
    give the same output size."""

    def make_node(self, filters, top, image_hw):
        (filters, top), dtype = _float_operands(filters, top)
        _check_4d(filters, "the filters", self)
        _check_4d(top, "the output gradient", self)
        image_hw = _hw_vector(image_hw, self)
        static_hw = tuple(get_scalar_constant_entries(image_hw, 2))
        self._out_hw(static_hw, filters.type.shape[2:])  # raises when too small
        shape = (top.type.shape[0], filters.type.shape[1]) + static_hw
        return Apply(self, [filters, top, image_hw], [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        filters, top, image_hw = inputs
        hw = (int(image_hw[0]), int(image_hw[1]))
        output_storage[0][0] = conv_grad_inputs(self, filters, top, hw, node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        filters, top, _ = input_shapes
        image_hw = node.inputs[2]
        return [(top[0], filters[1], image_hw[0], image_hw[1])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def L_op(self, inputs, outputs, output_grads):
        # <G, gi(f, top)> = <conv(G, f), top> = <gw(G, top), f>
        from symgraph.gradient import disconnected_type

        filters, top, _ = inputs
        (g,) = output_grads
        params = self._params()
        d_filters = Conv2dGradWeights(**params)(g, top, _spatial(filters))
        d_top = Conv2d(**params)(g, filters)
        return [d_filters, d_top, disconnected_type()]


class Conv2dGradWeights(_ConvOp):
    """The gradient of ``Conv2d`` with respect to its filters:
    ``(images, output gradient, filter spatial shape) -> filter gradient``."""

    def make_node(self, images, top, filter_hw):
        (images, top), dtype = _float_operands(images, top)
        _check_4d(images, "the input", self)
        _check_4d(top, "the output gradient", self)
        filter_hw = _hw_vector(filter_hw, self)
        static_hw = tuple(get_scalar_constant_entries(filter_hw, 2))
        self._out_hw(images.type.shape[2:], static_hw)
        shape = (top.type.shape[1], images.type.shape[1]) + static_hw
        return Apply(self, [images, top, filter_hw], [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        images, top, filter_hw = inputs
        hw = (int(filter_hw[0]), int(filter_hw[1]))
        output_storage[0][0] = conv_grad_weights(self, images, top, hw, node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        images, top, _ = input_shapes
        filter_hw = node.inputs[2]
        return [(top[1], images[1], filter_hw[0], filter_hw[1])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def L_op(self, inputs, outputs, output_grads):
        # <G, gw(x, top)> = <x, gi(G, top)> = <conv(x, G), top>
        from symgraph.gradient import disconnected_type

        images, top, _ = inputs
        (g,) = output_grads
        params = self._params()
        d_images = Conv2dGradInputs(**params)(g, top, _spatial(images))
        d_top = Conv2d(**params)(images, g)
        return [d_images, d_top, disconnected_type()]


# -- the user-facing functions ---------------------------------------------------
def _apply_shape_hint(x, hint, what):
    """``x`` with the static shape ``hint`` (Theano's ``input_shape``/``filter_shape``:
    a tuple of ints or None) merged into its type; conflicts are errors."""
    if hint is None:
        return x
    hint = tuple(None if s is None else int(s) for s in hint)
    if len(hint) != x.ndim:
        raise ValueError(f"conv: {what} {hint} has {len(hint)} entries for a {x.ndim}-d tensor")
    for have, want in zip(x.type.shape, hint):
        if have is not None and want is not None and have != want:
            raise ValueError(f"conv: {what} {hint} contradicts the static shape "
                             f"{x.type.shape} of {x}")
    if all(want is None or have == want for have, want in zip(x.type.shape, hint)):
        return x
    return specify_shape(x, hint)


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, image_shape=None, filter_dilation=(1, 1),
           num_groups=1, unshared=False):
    """2-d convolution of NCHW images with (out channels, in channels, kh, kw) filters
    (Theano's ``tensor.nnet.conv2d``, same arguments in the same order).

    ``border_mode``: ``'valid'`` (no padding), ``'full'`` (every partial overlap),
    ``'half'`` (pad by half the filter: the output keeps the input's size at stride 1
    and odd filter sizes), an int or a pair of ints (explicit zero padding).
    ``subsample`` is the stride, ``filter_dilation`` the spacing of filter taps.  The
    filters are flipped (a true convolution) unless ``filter_flip=False`` (a
    correlation, as in most deep-learning libraries).  ``input_shape`` and
    ``filter_shape`` (``image_shape`` is the old name of the former) give static
    sizes (None entries: unknown), checked at run time.

    >>> import numpy as np, symgraph.tensor as T
    >>> x, w = T.tensor4('x'), T.tensor4('w')
    >>> y = conv2d(x, w, border_mode='half')
    >>> image = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> y.eval({x: image, w: np.ones((1, 1, 3, 3))})[0, 0]
    array([[ 8., 15., 12.],
           [21., 36., 27.],
           [20., 33., 24.]])
    """
    if num_groups != 1 or unshared:
        raise NotImplementedError("conv2d: grouped (num_groups > 1) and unshared convolutions "
                                  "are not supported")
    if image_shape is not None:
        if input_shape is not None:
            raise TypeError("conv2d: give input_shape or its old name image_shape, not both")
        input_shape = image_shape
    op = Conv2d(border_mode, subsample, filter_flip, filter_dilation)
    input, filters = as_tensor_variable(input), as_tensor_variable(filters)
    input = _apply_shape_hint(input, input_shape, "input_shape")
    filters = _apply_shape_hint(filters, filter_shape, "filter_shape")
    return op(input, filters)


def _time_border_mode(border_mode):
    if isinstance(border_mode, str):  # 'full'/'half' pad nothing along a unit axis
        return border_mode
    if isinstance(border_mode, (int, np.integer)):
        return (0, int(border_mode))
    (pad,) = tuple(border_mode)
    return (0, int(pad))


def _single(value, what):
    if isinstance(value, (int, np.integer)):
        return int(value)
    values = tuple(value)
    if len(values) != 1:
        raise ValueError(f"conv1d: {what} must be an int or a 1-tuple, not {value!r}")
    return int(values[0])


def conv1d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=1, filter_flip=True, filter_dilation=1):
    """1-d convolution over the time axis of (batch, channels, time) inputs with
    (out channels, in channels, width) filters, for text and audio: ``conv2d`` on a unit
    height.  The arguments are ``conv2d``'s, with ints (or 1-tuples) for one axis.

    >>> import numpy as np, symgraph.tensor as T
    >>> x, w = T.tensor3('x'), T.tensor3('w')
    >>> y = conv1d(x, w, filter_flip=False)
    >>> y.eval({x: np.arange(5.0).reshape(1, 1, 5), w: np.array([[[1.0, -1.0]]])}).tolist()
    [[[-1.0, -1.0, -1.0, -1.0]]]
    """
    from symgraph.tensor.basic import expand_dims, squeeze

    input, filters = as_tensor_variable(input), as_tensor_variable(filters)
    for x, what in ((input, "input"), (filters, "filters")):
        if x.ndim != 3:
            raise TypeError(f"conv1d: the {what} must be 3-d, got {x.type}")
    input = _apply_shape_hint(input, input_shape, "input_shape")
    filters = _apply_shape_hint(filters, filter_shape, "filter_shape")
    out = conv2d(expand_dims(input, 2), expand_dims(filters, 2),
                 border_mode=_time_border_mode(border_mode),
                 subsample=(1, _single(subsample, "subsample")), filter_flip=filter_flip,
                 filter_dilation=(1, _single(filter_dilation, "filter_dilation")))
    return squeeze(out, 2)
