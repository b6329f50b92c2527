"""Sorting: ``sort`` and ``argsort`` along an axis.

The gradient of ``sort`` sends each output gradient back to the position its
value came from: a scatter through the permutation ``argsort`` gives.
``argsort`` is piecewise constant, so its gradient is zero.
"""
import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Apply, Op
from symgraph.tensor.basic import arange, expand_dims, shape_i, zeros_like
from symgraph.tensor.type import DISCRETE_DTYPES, TensorType
from symgraph.tensor.var import as_tensor_variable

__all__ = ["SortOp", "ArgSortOp", "sort", "argsort"]

_KINDS = ("quicksort", "mergesort", "heapsort", "stable")


class _AlongAxisOp(Op):
    __props__ = ("axis", "kind")

    def __init__(self, axis, kind="quicksort"):
        if kind not in _KINDS:
            raise ValueError(f"{type(self).__name__}: unknown sort kind {kind!r}; use one of "
                             f"{_KINDS}")
        self.axis, self.kind = int(axis), kind

    def _check(self, a):
        a = as_tensor_variable(a)
        if not 0 <= self.axis < a.ndim:
            raise ValueError(f"{self}: axis {self.axis} is out of range for {a.type}")
        return a

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


class SortOp(_AlongAxisOp):
    """The values of ``a`` sorted along ``axis`` (NaNs last, as NumPy)."""

    def make_node(self, a):
        a = self._check(a)
        return Apply(self, [a], [a.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.sort(inputs[0], axis=self.axis, kind=self.kind)

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.tensor.subtensor import set_subtensor

        (a,), (gz,) = inputs, output_grads
        if a.dtype in DISCRETE_DTYPES:
            return [zeros_like(a, dtype=config.floatX)]
        perm = ArgSortOp(self.axis, self.kind)(a)
        target = zeros_like(a)[_along_axis_index(perm, self.axis)]
        return [set_subtensor(target, gz)]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        perm = ArgSortOp(self.axis, self.kind)(inputs[0])
        return [eval_points[0][_along_axis_index(perm, self.axis)]]


class ArgSortOp(_AlongAxisOp):
    """The indices (int64) that sort ``a`` along ``axis``."""

    def make_node(self, a):
        a = self._check(a)
        return Apply(self, [a], [TensorType("int64", a.type.shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        perm = np.argsort(inputs[0], axis=self.axis, kind=self.kind)
        output_storage[0][0] = perm.astype("int64", copy=False)

    def L_op(self, inputs, outputs, output_grads):
        (a,) = inputs
        return [zeros_like(a, dtype=a.dtype if a.dtype not in DISCRETE_DTYPES
                           else config.floatX)]

    def R_op(self, inputs, eval_points):
        return [None]


def _along_axis_index(perm, axis):
    """The advanced index ``idx`` with ``x[idx] == np.take_along_axis(x, perm, axis)``:
    ``perm`` on ``axis`` and, on every other dimension, an ``arange`` broadcast along it."""
    index = []
    for d in range(perm.ndim):
        if d == axis:
            index.append(perm)
        else:
            positions = arange(shape_i(perm, d))
            others = [k for k in range(perm.ndim) if k != d]
            index.append(expand_dims(positions, others) if others else positions)
    return tuple(index)


def _prepare(a, axis, what):
    a = as_tensor_variable(a)
    if axis is None:
        return a.flatten(), 0
    if a.ndim == 0:
        raise ValueError(f"{what}: cannot sort a 0-d tensor along an axis; use axis=None")
    if not -a.ndim <= int(axis) < a.ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for {a.type}")
    return a, int(axis) % a.ndim


def sort(a, axis=-1, kind="quicksort", order=None):
    """``a`` sorted along ``axis`` (``None``: the flattened array), like ``np.sort``.

    >>> import symgraph.tensor as T
    >>> sort(T.as_tensor([[3.0, 1.0], [0.0, 2.0]])).eval().tolist()
    [[1.0, 3.0], [0.0, 2.0]]
    """
    if order is not None:
        raise ValueError("sort: structured arrays (order=) are not supported")
    a, axis = _prepare(a, axis, "sort")
    return SortOp(axis, kind)(a)


def argsort(a, axis=-1, kind="quicksort", order=None):
    """The int64 indices that sort ``a`` along ``axis``, like ``np.argsort``.

    >>> import symgraph.tensor as T
    >>> argsort(T.as_tensor([3.0, 1.0, 2.0])).eval().tolist()
    [1, 2, 0]
    """
    if order is not None:
        raise ValueError("argsort: structured arrays (order=) are not supported")
    a, axis = _prepare(a, axis, "argsort")
    return ArgSortOp(axis, kind)(a)
