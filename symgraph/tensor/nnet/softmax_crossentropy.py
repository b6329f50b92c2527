"""Softmax and categorical cross-entropy against integer targets as one op.

``CrossentropySoftmax1Hot(x, y)`` returns ``(nll, sm)``: the loss
``-log(softmax(x)[..., y])``, computed as ``logsumexp(x) - x[..., y]`` so that it is
finite for logits of any size, and the softmax itself (the gradient needs it, and
other parts of a graph often do too).  Its gradient with respect to the logits is
``CrossentropySoftmax1HotGrad(g, sm, y) = (sm - onehot(y)) * g``, which never
divides by a probability, unlike the chain ``SoftmaxGrad(-g / sm[y], sm)``, which is
nan where a probability underflows to 0.

The stabilize rewrites (``symgraph/tensor/nnet/rewriting.py``) put these ops in place
of ``categorical_crossentropy(softmax(x), y)`` and its hand-written forms.  The
classes are on the last axis; the targets broadcast to the logits' other dimensions
(the indexing form ``-log(softmax(x))[arange(n), y]`` broadcasts a single target).

>>> import symgraph.tensor as T
>>> nll, sm = crossentropy_softmax_1hot_fused(T.as_tensor([[1e4, -1e4]]), T.as_tensor([1]))
>>> nll.eval().tolist(), sm.eval().tolist()
([20000.0], [[1.0, 0.0]])
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.tensor import math
from symgraph.tensor.basic import arange, cast, zeros_like
from symgraph.tensor.elemwise import broadcast_static_shape, sum_to_like
from symgraph.tensor.nnet.basic import SoftmaxGrad
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable


def _check_operands(who, probs_or_logits, targets):
    if probs_or_logits.ndim < 1 or probs_or_logits.dtype in DISCRETE_DTYPES:
        raise TypeError(f"{who}: want float logits with 1+ dims, got {probs_or_logits.type}")
    if targets.dtype not in INT_DTYPES or targets.ndim != probs_or_logits.ndim - 1:
        raise TypeError(f"{who}: targets must be integers with one dimension fewer than "
                        f"{probs_or_logits.type}, got {targets.type}")


def _row_shape(who, x, targets):
    """Static shape of one value per row: the logits' leading dims, refined by the targets'."""
    return broadcast_static_shape([x.type.shape[:-1], targets.type.shape], who)


def _target_index(who, targets, x):
    """``targets`` broadcast to ``x``'s leading dims, with a trailing axis, checked."""
    lead, n_classes = x.shape[:-1], x.shape[-1]
    try:
        targets = np.broadcast_to(targets, lead)
    except ValueError:
        raise ValueError(f"{who}: targets of shape {targets.shape} do not match logits of shape "
                         f"{x.shape} (want {lead})") from None
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        bad = targets[(targets < 0) | (targets >= n_classes)][0]
        raise ValueError(f"{who}: class index {bad} is out of range for {n_classes} classes")
    return targets[..., None]


def _one_hot(targets, like):
    """``onehot[..., k] = (targets[...] == k)`` in ``like``'s dtype."""
    column = targets.dimshuffle(*range(targets.ndim), "x")
    return cast(math.eq(column, arange(like.shape[-1])), like.dtype)


def _is_zeros(g):
    """True for the zeros the gradient machinery passes for an unused output."""
    from symgraph.tensor.basic import Alloc
    from symgraph.tensor.rewriting.utils import is_constant

    return g.owner is not None and isinstance(g.owner.op, Alloc) and \
        is_constant(g.owner.inputs[0], 0)


class CrossentropySoftmax1Hot(Op):
    """``(nll, sm)`` with ``sm = softmax(x)`` along the last axis and
    ``nll[...] = -log(sm[..., y[...]])``, the loss computed from log-softmax.

    >>> import symgraph.tensor as T
    >>> x, y = T.dmatrix('x'), T.lvector('y')
    >>> nll, sm = CrossentropySoftmax1Hot()(x, y)
    >>> nll.eval({x: [[0.0, 0.0]], y: [1]}).round(4).tolist()
    [0.6931]
    """

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        _check_operands("CrossentropySoftmax1Hot", x, y)
        nll = TensorType(x.dtype, _row_shape("CrossentropySoftmax1Hot", x, y)).make_variable()
        return Apply(self, [x, y], [nll, x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        index = _target_index("CrossentropySoftmax1Hot", y, x)
        shifted = x - np.max(x, axis=-1, keepdims=True) if x.size else x.copy()
        e = np.exp(shifted)
        total = np.sum(e, axis=-1, keepdims=True)
        picked = np.take_along_axis(shifted, index, axis=-1)
        output_storage[0][0] = np.asarray((np.log(total) - picked)[..., 0], dtype=x.dtype)
        output_storage[1][0] = e / total

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0][:-1]), input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        x, y = inputs
        g_nll, g_sm = output_grads
        sm = outputs[1]
        terms = []
        if not _is_zeros(g_nll):
            terms.append(crossentropy_softmax_1hot_grad(g_nll, sm, y))
        if not _is_zeros(g_sm):
            terms.append(SoftmaxGrad(x.ndim - 1)(g_sm, sm))
        g_x = zeros_like(x) if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]
        return [g_x, zeros_like(y, dtype=upgrade_to_float(y.dtype))]


class CrossentropySoftmax1HotGrad(Op):
    """``(sm - onehot(y)) * g[..., None]``: the gradient of ``CrossentropySoftmax1Hot``'s
    loss with respect to the logits, given the loss's gradient ``g`` and the softmax ``sm``.

    >>> import symgraph.tensor as T
    >>> g = CrossentropySoftmax1HotGrad()(T.as_tensor([2.0]), T.as_tensor([[0.25, 0.75]]),
    ...                                   T.as_tensor([1]))
    >>> g.eval().tolist()
    [[0.5, -0.5]]
    """

    __props__ = ()

    def make_node(self, g, sm, y):
        g, sm, y = (as_tensor_variable(v) for v in (g, sm, y))
        _check_operands("CrossentropySoftmax1HotGrad", sm, y)
        if g.ndim != y.ndim:
            raise TypeError(f"CrossentropySoftmax1HotGrad: g {g.type} must have the targets' "
                            f"ndim ({y.type})")
        if g.dtype != sm.dtype:
            g = cast(g, sm.dtype)
        return Apply(self, [g, sm, y], [sm.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        g, sm, y = inputs
        index = _target_index("CrossentropySoftmax1HotGrad", y, sm)
        try:
            g_column = np.broadcast_to(g, sm.shape[:-1])[..., None]
        except ValueError:
            raise ValueError(f"CrossentropySoftmax1HotGrad: g of shape {g.shape} does not match "
                             f"the softmax of shape {sm.shape}") from None
        out = np.asarray(sm * g_column, dtype=sm.dtype)
        picked = np.take_along_axis(out, index, axis=-1)
        np.put_along_axis(out, index, picked - g_column, axis=-1)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        g, sm, y = inputs
        (upstream,) = output_grads
        diff = sm - _one_hot(y, sm)
        g_g = sum_to_like(math.sum(upstream * diff, axis=-1), g)
        g_sm = upstream * g.dimshuffle(*range(g.ndim), "x")
        return [g_g, g_sm, zeros_like(y, dtype=upgrade_to_float(y.dtype))]


crossentropy_softmax_1hot_grad = CrossentropySoftmax1HotGrad()
_crossentropy_softmax_1hot = CrossentropySoftmax1Hot()


def crossentropy_softmax_1hot_fused(x, y):
    """``(nll, softmax(x))`` from one ``CrossentropySoftmax1Hot`` node: the
    categorical cross-entropy of ``softmax(x)`` (last axis) against integer targets ``y``.

    >>> import symgraph.tensor as T
    >>> nll, sm = crossentropy_softmax_1hot_fused(T.as_tensor([[0.0, 0.0]]), T.as_tensor([0]))
    >>> nll.eval().round(4).tolist(), sm.eval().tolist()
    ([0.6931], [[0.5, 0.5]])
    """
    return _crossentropy_softmax_1hot(x, y)


__all__ = ["CrossentropySoftmax1Hot", "CrossentropySoftmax1HotGrad",
           "crossentropy_softmax_1hot_fused", "crossentropy_softmax_1hot_grad"]
