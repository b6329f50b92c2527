"""Softmax and log-softmax along an axis, as ops with stable NumPy kernels.

Both ops subtract the maximum along the axis before exponentiating, so logits
of any magnitude give finite results.  ``SoftmaxGrad`` is the softmax's
vector-Jacobian product as an op of its own, so rewrites can recognise (and
fuse) the softmax + cross-entropy pattern, and it is itself differentiable,
which makes Hessians of softmax models work.
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.tensor import math
from symgraph.tensor.basic import cast
from symgraph.tensor.elemwise import broadcast_static_shape
from symgraph.tensor.type import DISCRETE_DTYPES, TensorType, upcast, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable


def normalize_softmax_axis(axis, ndim):
    """``axis`` as a non-negative int, or None (every axis at once)."""
    if axis is None:
        return None
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"softmax axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % ndim if ndim else 0


def _as_float_tensor(x):
    x = as_tensor_variable(x)
    if x.dtype in DISCRETE_DTYPES:
        x = cast(x, upgrade_to_float(x.dtype))
    return x


class _AxisOp(Op):
    """An op that works along one axis (or all axes, ``axis=None``) of its inputs.

    ``make_node`` replaces a negative axis by its positive form, so ``Softmax(-1)``
    and ``Softmax(1)`` applied to a matrix make equal nodes, which merging needs.
    """

    __props__ = ("axis",)

    def __init__(self, axis=-1):
        self.axis = None if axis is None else int(axis)

    def __str__(self):
        return f"{type(self).__name__}{{axis={self.axis}}}"

    def _normalized(self, ndim):
        axis = normalize_softmax_axis(self.axis, ndim)
        return self if axis == self.axis else type(self)(axis)

    def _sum(self, v):
        """``v`` summed along this op's axis, keeping the dimension for broadcasting."""
        return math.sum(v, axis=self.axis, keepdims=True)


def _stable_shift(x, axis):
    """``x`` minus its maximum along ``axis`` (so the largest entry becomes 0)."""
    if x.size == 0:
        return x.copy()
    return x - np.max(x, axis=axis, keepdims=True)


class Softmax(_AxisOp):
    """``exp(x) / sum(exp(x), axis)``, computed after subtracting the max along ``axis``."""

    def make_node(self, x):
        x = _as_float_tensor(x)
        op = self._normalized(x.ndim)
        return Apply(op, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        e = np.exp(_stable_shift(inputs[0], self.axis))
        e /= np.sum(e, axis=self.axis, keepdims=True)
        output_storage[0][0] = e

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        return [SoftmaxGrad(self.axis)(output_grads[0], outputs[0])]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [SoftmaxGrad(self.axis)(eval_points[0], self(inputs[0]))]


class SoftmaxGrad(_AxisOp):
    """``(dy - sum(dy * sm, axis)) * sm``: the gradient through a softmax whose output
    is ``sm``, given the gradient ``dy`` of its output (also its Jacobian-vector product)."""

    def make_node(self, dy, sm):
        dy, sm = as_tensor_variable(dy), as_tensor_variable(sm)
        if dy.ndim != sm.ndim:
            raise TypeError(f"SoftmaxGrad: dy {dy.type} and sm {sm.type} differ in ndim")
        op = self._normalized(sm.ndim)
        shape = broadcast_static_shape([dy.type.shape, sm.type.shape], "SoftmaxGrad")
        out = TensorType(upcast(dy.dtype, sm.dtype), shape).make_variable()
        return Apply(op, [dy, sm], [out])

    def perform(self, node, inputs, output_storage):
        dy, sm = inputs
        if dy.shape != sm.shape:
            raise ValueError(f"SoftmaxGrad: dy of shape {dy.shape} does not match the softmax "
                             f"output of shape {sm.shape}")
        dtype = node.outputs[0].type.dtype
        dy_sm = dy * sm
        dx = (dy - np.sum(dy_sm, axis=self.axis, keepdims=True)) * sm
        output_storage[0][0] = np.asarray(dx, dtype=dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        # dx = (dy - S) * sm with S = sum(dy * sm): linear in dy, and for sm
        # d<G, dx>/d sm = G * (dy - S) - dy * sum(G * sm).
        dy, sm = inputs
        (g,) = output_grads
        g_dy = self(g, sm)
        g_sm = g * (dy - self._sum(dy * sm)) - dy * self._sum(g * sm)
        return [_like(g_dy, dy), _like(g_sm, sm)]

    def R_op(self, inputs, eval_points):
        dy, sm = inputs
        e_dy, e_sm = eval_points
        terms = []
        if e_dy is not None:
            terms.append(self(e_dy, sm))
        if e_sm is not None:
            terms.append(e_sm * (dy - self._sum(dy * sm)) - sm * self._sum(dy * e_sm))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


def _like(g, x):
    return g if g.dtype == x.dtype else cast(g, x.dtype)


class LogSoftmax(_AxisOp):
    """``x - logsumexp(x, axis)``, computed as ``x - max - log(sum(exp(x - max)))``."""

    def make_node(self, x):
        x = _as_float_tensor(x)
        op = self._normalized(x.ndim)
        return Apply(op, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        shifted = _stable_shift(inputs[0], self.axis)
        shifted -= np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))
        output_storage[0][0] = shifted

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        (g,) = output_grads
        return [_like(g - math.exp(outputs[0]) * self._sum(g), inputs[0])]

    def R_op(self, inputs, eval_points):
        (ev,) = eval_points
        if ev is None:
            return [None]
        probabilities = math.exp(self(inputs[0]))
        return [ev - self._sum(probabilities * ev)]


def softmax(c, axis=-1):
    """The softmax of ``c`` along ``axis`` (the last by default; None: over all elements).

    Unlike Theano 1.0, which only took matrices, any ndim works; a vector stays a vector.

    >>> import symgraph.tensor as T
    >>> softmax(T.as_tensor([[0.0, 0.0], [1000.0, 0.0]])).eval().tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    c = as_tensor_variable(c)
    return Softmax(normalize_softmax_axis(axis, c.ndim))(c)


def log_softmax(c, axis=-1):
    """``log(softmax(c, axis))``, computed stably (no overflow, no log of 0).

    >>> import symgraph.tensor as T
    >>> log_softmax(T.as_tensor([0.0, -1000.0])).eval().tolist()
    [0.0, -1000.0]
    """
    c = as_tensor_variable(c)
    return LogSoftmax(normalize_softmax_axis(axis, c.ndim))(c)


logsoftmax = log_softmax  # Theano 1.0's spelling


def softmax_with_bias(x, b):
    """``softmax(x + b)`` along the last axis (Theano's ``softmax_with_bias``).

    >>> import symgraph.tensor as T
    >>> softmax_with_bias(T.as_tensor([[0.0, 0.0]]), T.as_tensor([0.0, 0.0])).eval().tolist()
    [[0.5, 0.5]]
    """
    return softmax(as_tensor_variable(x) + b)
