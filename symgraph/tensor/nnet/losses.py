"""Cross-entropy losses: categorical (integer or one-hot targets) and binary.

The integer-target case is an op of its own, ``CrossentropyCategorical1Hot``,
rather than an indexing expression, so that rewrites can find it next to a
softmax and replace the pair by one stable op.  Its gradient is another op,
``CrossentropyCategorical1HotGrad``, which scatters ``-g / p`` into the target
entries without building a one-hot matrix.
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.tensor import math
from symgraph.tensor.basic import arange, cast, zeros_like
from symgraph.tensor.elemwise import broadcast_static_shape
from symgraph.tensor.nnet.basic import log_softmax, softmax
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable, constant


def _check_targets(coding_dist, targets, who):
    if coding_dist.ndim < 1 or coding_dist.dtype in DISCRETE_DTYPES:
        raise TypeError(f"{who}: coding_dist must be a float tensor of 1+ dims, "
                        f"got {coding_dist.type}")
    if targets.dtype not in INT_DTYPES or targets.ndim != coding_dist.ndim - 1:
        raise TypeError(f"{who}: targets must be integers with one dimension fewer than "
                        f"coding_dist {coding_dist.type}, got {targets.type}")


def _target_column(targets, coding_dist):
    """``targets`` with a trailing axis, checked to be valid class indices for ``coding_dist``."""
    if targets.shape != coding_dist.shape[:-1]:
        raise ValueError(f"targets of shape {targets.shape} do not match probabilities of shape "
                         f"{coding_dist.shape} (want {coding_dist.shape[:-1]})")
    n_classes = coding_dist.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        bad = targets[(targets < 0) | (targets >= n_classes)][0]
        raise ValueError(f"class index {bad} is out of range for {n_classes} classes")
    return targets[..., None]


def _one_hot_mask(targets, coding_dist):
    """Boolean ``mask[..., k] = (targets[...] == k)``, shaped like ``coding_dist``."""
    column = targets.dimshuffle(*range(targets.ndim), "x")
    return math.eq(column, arange(coding_dist.shape[-1]))


class CrossentropyCategorical1Hot(Op):
    """``-log(coding_dist[..., targets])``: the cross-entropy against integer class labels.

    The last axis of ``coding_dist`` holds the class probabilities; the labels
    get no gradient (they are not differentiable).
    """

    __props__ = ()

    def make_node(self, coding_dist, targets):
        coding_dist, targets = as_tensor_variable(coding_dist), as_tensor_variable(targets)
        _check_targets(coding_dist, targets, "CrossentropyCategorical1Hot")
        shape = broadcast_static_shape([coding_dist.type.shape[:-1], targets.type.shape],
                                       "CrossentropyCategorical1Hot")
        out = TensorType(coding_dist.dtype, shape).make_variable()
        return Apply(self, [coding_dist, targets], [out])

    def perform(self, node, inputs, output_storage):
        coding_dist, targets = inputs
        column = _target_column(targets, coding_dist)
        picked = np.take_along_axis(coding_dist, column, axis=-1)[..., 0]
        output_storage[0][0] = np.asarray(-np.log(picked), dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0][:-1])]

    def L_op(self, inputs, outputs, output_grads):
        coding_dist, targets = inputs
        g_coding = CrossentropyCategorical1HotGrad()(output_grads[0], coding_dist, targets)
        return [g_coding, zeros_like(targets, dtype=upgrade_to_float(targets.dtype))]


class CrossentropyCategorical1HotGrad(Op):
    """The gradient of ``CrossentropyCategorical1Hot`` w.r.t. ``coding_dist``: zeros,
    except ``-g / coding_dist`` at each target entry."""

    __props__ = ()

    def make_node(self, g, coding_dist, targets):
        g, coding_dist = as_tensor_variable(g), as_tensor_variable(coding_dist)
        targets = as_tensor_variable(targets)
        _check_targets(coding_dist, targets, "CrossentropyCategorical1HotGrad")
        if g.ndim != targets.ndim:
            raise TypeError(f"CrossentropyCategorical1HotGrad: g {g.type} must match the "
                            f"targets {targets.type}")
        return Apply(self, [g, coding_dist, targets], [coding_dist.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        g, coding_dist, targets = inputs
        column = _target_column(targets, coding_dist)
        picked = np.take_along_axis(coding_dist, column, axis=-1)
        out = np.zeros_like(coding_dist)
        np.put_along_axis(out, column, -np.broadcast_to(g, targets.shape)[..., None] / picked,
                          axis=-1)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        # out = mask * (-g / p): d/dg is -mask / p (summed over classes), d/dp is mask * g / p^2.
        # switch keeps the non-target entries exactly 0 even where p is 0 there.
        g, coding_dist, targets = inputs
        (upstream,) = output_grads
        mask = _one_hot_mask(targets, coding_dist)
        g_column = g.dimshuffle(*range(g.ndim), "x")
        zero = zeros_like(coding_dist)
        g_g = -math.sum(math.switch(mask, upstream / coding_dist, zero), axis=-1)
        g_p = math.switch(mask, upstream * g_column / (coding_dist * coding_dist), zero)
        g_targets = zeros_like(targets, dtype=upgrade_to_float(targets.dtype))
        return [cast(g_g, g.dtype), cast(g_p, coding_dist.dtype), g_targets]


crossentropy_categorical_1hot = CrossentropyCategorical1Hot()


def categorical_crossentropy(coding_dist, true_dist):
    """Cross-entropy between predicted distributions and targets, one value per row.

    ``coding_dist`` holds probabilities along its last axis.  ``true_dist`` is either
    integer class indices (one dimension fewer) giving ``-log(coding_dist[i, true_dist[i]])``,
    or a one-hot / probability tensor of the same shape giving
    ``-sum(true_dist * log(coding_dist), axis=-1)``.

    >>> import symgraph.tensor as T
    >>> p = T.as_tensor([[0.5, 0.25, 0.25]])
    >>> categorical_crossentropy(p, T.as_tensor([1])).eval().round(4).tolist()
    [1.3863]
    >>> categorical_crossentropy(p, T.as_tensor([[0.0, 1.0, 0.0]])).eval().round(4).tolist()
    [1.3863]
    """
    coding_dist, true_dist = as_tensor_variable(coding_dist), as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim - 1:
        return crossentropy_categorical_1hot(coding_dist, true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -math.sum(true_dist * math.log(coding_dist), axis=-1)
    raise TypeError(f"categorical_crossentropy: true_dist {true_dist.type} must have the ndim "
                    f"of coding_dist {coding_dist.type} (probabilities) or one fewer (indices)")


def crossentropy_softmax_1hot(x, y_idx):
    """``(categorical_crossentropy(softmax(x), y_idx), softmax(x))`` for a matrix of logits,
    with the loss computed from ``log_softmax`` so that it stays finite for any logits.

    >>> import symgraph.tensor as T
    >>> nll, sm = crossentropy_softmax_1hot(T.as_tensor([[0.0, 0.0]]), T.as_tensor([0]))
    >>> nll.eval().round(4).tolist(), sm.eval().tolist()
    ([0.6931], [[0.5, 0.5]])
    """
    x, y_idx = as_tensor_variable(x), as_tensor_variable(y_idx)
    if x.ndim != 2 or y_idx.ndim != 1 or y_idx.dtype not in INT_DTYPES:
        raise TypeError(f"crossentropy_softmax_1hot: want a matrix of logits and an integer "
                        f"vector, got {x.type} and {y_idx.type}")
    nll = -log_softmax(x)[arange(x.shape[0]), y_idx]
    return nll, softmax(x)


def crossentropy_softmax_1hot_with_bias(x, b, y_idx):
    """``crossentropy_softmax_1hot(x + b, y_idx)``."""
    return crossentropy_softmax_1hot(as_tensor_variable(x) + b, y_idx)


def binary_crossentropy(output, target):
    """``-(target * log(output) + (1 - target) * log(1 - output))``, elementwise.

    ``output`` holds probabilities; prefer :func:`sigmoid_binary_crossentropy` on logits.

    >>> import symgraph.tensor as T
    >>> cost = binary_crossentropy(T.as_tensor([0.5, 0.9]), T.as_tensor([1.0, 0.0]))
    >>> cost.eval().round(4).tolist()
    [0.6931, 2.3026]
    """
    output, target = as_tensor_variable(output), as_tensor_variable(target)
    # log1p(-p) keeps precision when p is tiny, where log(1 - p) rounds to 0
    return -(target * math.log(output) + (1 - target) * math.log1p(-output))


def sigmoid_binary_crossentropy(output, target):
    """``binary_crossentropy(sigmoid(output), target)`` for logits ``output``, computed as
    ``softplus(output) - target * output``, which is finite for logits of any size.

    >>> import symgraph.tensor as T
    >>> cost = sigmoid_binary_crossentropy(T.as_tensor([0.0, 1000.0]), T.as_tensor([1.0, 0.0]))
    >>> cost.eval().round(4).tolist()
    [0.6931, 1000.0]
    """
    output, target = as_tensor_variable(output), as_tensor_variable(target)
    return math.softplus(output) - target * output


# -- regression and margin losses (Lasagne's ``objectives``) -----------------------
def squared_error(a, b):
    """``(a - b) ** 2``, elementwise (Lasagne's ``squared_error``; take the mean yourself).

    >>> import symgraph.tensor as T
    >>> squared_error(T.as_tensor([1.0, 2.0]), T.as_tensor([3.0, 2.5])).eval().tolist()
    [4.0, 0.25]
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    return math.sqr(a - b)


def hinge(predictions, targets, delta=1):
    """The binary hinge loss ``max(0, delta - targets * predictions)``, elementwise, for
    targets in {-1, +1} and real-valued scores (see :func:`binary_hinge_loss` for 0/1
    targets and :func:`multiclass_hinge_loss` for several classes).

    >>> import symgraph.tensor as T
    >>> hinge(T.as_tensor([2.0, 0.5, -1.0]), T.as_tensor([1.0, 1.0, 1.0])).eval().tolist()
    [0.0, 0.5, 2.0]
    """
    predictions, targets = as_tensor_variable(predictions), as_tensor_variable(targets)
    return math.relu(delta - targets * predictions)


def binary_hinge_loss(predictions, targets, delta=1, log_odds=True, binary=True):
    """Lasagne's ``binary_hinge_loss``: :func:`hinge` with 0/1 ``targets`` (``binary=True``
    maps them to -1/+1) and scores that are log-odds (``log_odds=False``: probabilities,
    turned into log-odds first).

    >>> import symgraph.tensor as T
    >>> scores, labels = T.as_tensor([2.0, 0.5, 0.5]), T.as_tensor([1.0, 1.0, 0.0])
    >>> binary_hinge_loss(scores, labels).eval().tolist()
    [0.0, 0.5, 1.5]
    """
    predictions, targets = as_tensor_variable(predictions), as_tensor_variable(targets)
    if not log_odds:
        predictions = math.log(predictions) - math.log1p(-predictions)
    if binary:
        targets = 2 * targets - 1
    return hinge(predictions, targets, delta)


def multiclass_hinge_loss(predictions, targets, delta=1):
    """The multiclass hinge loss of Crammer and Singer (Lasagne's ``multiclass_hinge_loss``):
    ``max(0, max_{k != t} predictions[k] - predictions[t] + delta)`` per row, classes on
    the last axis.  ``targets`` are integer class indices (one dimension fewer) or a
    one-hot tensor shaped like ``predictions``; indices must be in range.

    >>> import symgraph.tensor as T
    >>> scores = T.as_tensor([[3.0, 1.0, 2.5], [0.0, 2.0, 1.0]])
    >>> multiclass_hinge_loss(scores, T.as_tensor([0, 2])).eval().tolist()
    [0.5, 2.0]
    """
    predictions, targets = as_tensor_variable(predictions), as_tensor_variable(targets)
    if predictions.ndim < 1 or predictions.dtype in DISCRETE_DTYPES:
        raise TypeError(f"multiclass_hinge_loss: predictions must be float scores with classes "
                        f"on the last axis, got {predictions.type}")
    if targets.ndim == predictions.ndim - 1 and targets.dtype in INT_DTYPES:
        is_target = _one_hot_mask(targets, predictions)
    elif targets.ndim == predictions.ndim:
        is_target = math.neq(targets, 0)
    else:
        raise TypeError(f"multiclass_hinge_loss: targets {targets.type} must be integer indices "
                        f"with one dimension fewer than predictions {predictions.type}, or "
                        f"one-hot with the same shape")
    zero = constant(0, dtype=predictions.dtype)
    lowest = constant(-np.inf, dtype=predictions.dtype)
    correct = math.sum(math.switch(is_target, predictions, zero), axis=-1)
    best_other = math.max(math.switch(is_target, lowest, predictions), axis=-1)
    return math.relu(best_other - correct + delta)
